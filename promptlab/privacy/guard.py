"""Where data of each tier may go, checked before anything is called or
written: the tiers of a sweep's rows, the models they would reach, and the
trials an export would let out.

A row's tier is the highest of what labels it: its own ``tier`` column, the
tier the policy gives its data file or dataset, its experiment's, and
``tier=`` on the sweep; nothing: the policy's default. (A dataset's row made
from a trial carries that trial's tier in its ``tier`` column.)
A label can raise a tier, never lower one below what the policy says.

Data above what an endpoint may receive (``PrivacyPolicy.endpoint_tier``)
goes there only under an approval for that tier, model and use; data above
``exports`` leaves in an export only under an approval for that kind of
export and the experiment it came from. Either way the refusal is raised
before any call or write, names the rows, the model or export, and how to
get an approval, and is itself logged; every approval that lets data
through is logged as a use, and every export as an export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from promptlab.core.model import Model
from promptlab.errors import PrivacyError
from promptlab.privacy.approvals import Approval, approvals, covering
from promptlab.privacy.log import record_event
from promptlab.privacy.policy import PrivacyPolicy
from promptlab.store import Store

ROW_TIER = "tier"
"""The data column that labels a row's tier."""

_SHOWN = 8
"""How many row numbers a refusal lists."""


def row_tiers(
    policy: PrivacyPolicy,
    rows: Sequence[Mapping[str, Any]],
    *,
    declared: str | None = None,
    data: str | None = None,
    experiment: str | None = None,
) -> tuple[str, ...]:
    """The tier of each row (see the module docstring); ``data`` is the file
    path or ``dataset:NAME`` reference the rows came from."""
    base = [
        policy.checked(declared),
        policy.tier_of("data", data),
        policy.tier_of("experiments", experiment),
    ]
    return tuple(policy.highest(*base, _row_label(policy, row, i)) for i, row in enumerate(rows))


def _row_label(policy: PrivacyPolicy, row: Mapping[str, Any], index: int) -> str | None:
    label = row.get(ROW_TIER)
    if label is None or (isinstance(label, float) and pd.isna(label)):
        return None
    if not isinstance(label, str) or label not in policy.tiers:
        raise PrivacyError(f"row {index} has tier {label!r}; the tiers are {', '.join(policy.tiers)} ({policy.where})")
    return label


@dataclass(frozen=True)
class Crossing:
    """Rows whose tier is above what one model's endpoint may receive."""

    model: Model
    """The model they would go to."""

    limit: str
    """The highest tier its endpoint may receive."""

    rows: tuple[int, ...]
    """Their row numbers."""

    tier: str
    """The highest tier among them."""

    calls: int = 0
    """How many calls would carry them."""

    approval: Approval | None = field(default=None, compare=False)
    """The approval that lets them through, when one does."""


def crossings(policy: PrivacyPolicy, calls: Iterable[tuple[Model, int]], tiers: Sequence[str]) -> list[Crossing]:
    """Every model that ``calls`` (model, row number) would send rows above its
    endpoint's tier, with those rows."""
    over: dict[Model, list[int]] = {}
    limits: dict[Model, int] = {}  # a sweep has thousands of calls but few models
    ranks = [policy.rank(tier) for tier in tiers]
    for model, row in calls:
        if model not in limits:
            limits[model] = policy.rank(policy.endpoint_tier(model))
        if ranks[row] > limits[model]:
            over.setdefault(model, []).append(row)
    return [
        Crossing(
            model,
            policy.tiers[limits[model]],
            tuple(sorted(set(rows))),
            policy.highest(*(tiers[row] for row in rows)),
            len(rows),
        )
        for model, rows in over.items()
    ]


def clear_calls(
    store: Store,
    policy: PrivacyPolicy,
    *,
    use: str,
    calls: Iterable[tuple[Model, int]],
    tiers: Sequence[str],
    what: str = "sweep",
) -> list[Crossing]:
    """Refuse (``PrivacyError``, logged) unless every row above a model's
    endpoint tier is covered by an approval; log each approval used. Returns
    the crossings, each with the approval that let it through."""
    found = crossings(policy, calls, tiers)
    if not found:
        return []
    known = approvals(store)
    covered = [replace(c, approval=covering(known, policy, tier=c.tier, use=use, model=c.model.name)) for c in found]
    refused = [c for c in covered if c.approval is None]
    if refused:
        for c in refused:
            record_event(
                store, "refuse", tier=c.tier, use=use, model=c.model.name,
                detail={"what": what, "rows": len(c.rows), "calls": c.calls, "endpoint_tier": c.limit},
            )  # fmt: skip
        raise PrivacyError(_refusal(policy, use, refused, what))
    for c in covered:
        assert c.approval is not None
        record_event(
            store, "use", tier=c.tier, use=use, model=c.model.name, approval_id=c.approval.approval_id,
            detail={"what": what, "rows": len(c.rows), "calls": c.calls},
        )  # fmt: skip
    return covered


def _rows_named(rows: Sequence[int]) -> str:
    shown = ", ".join(str(row) for row in rows[:_SHOWN])
    return f"row {shown}" if len(rows) == 1 else f"rows {shown}{', …' if len(rows) > _SHOWN else ''}"


def _refusal(policy: PrivacyPolicy, use: str, refused: Sequence[Crossing], what: str) -> str:
    lines = [f"this {what} would send data to models that may not receive it ({policy.where}); nothing was called:"]
    for c in refused:
        lines.append(
            f"- {len(c.rows)} {c.tier!r} {'row' if len(c.rows) == 1 else 'rows'} ({_rows_named(c.rows)}) to "
            f"{c.model.name} (endpoint {c.model.base_url or 'OpenAI'}), which may receive {c.limit!r} at most"
        )
    c = refused[0]
    approvers = ", ".join(sorted(policy.approvers.get(c.tier, ()))) or "nobody yet: name them in [privacy.approvers]"
    lines.append(
        f"Use a model cleared for {c.tier!r} (the embedded model, a server on this machine, or an endpoint in "
        f"[privacy.endpoints]), or ask an approver ({approvers}) for an approval: lab.approve(use={use!r}, "
        f"tier={c.tier!r}, model={c.model.name!r}, approved_by=..., reason=...)"
    )
    return "\n".join(lines)


def label(value: Any) -> str | None:
    """A tier as a frame holds it: None for a missing one (None or NaN)."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
