"""What may leave in an export: trials whose data is above the policy's
``exports`` tier leave only under an approval for that kind of export and
the experiment they came from; a report shows them masked instead.

Every export is logged (who, what kind, where to, why, how many trials of
each tier, how many masked, which approvals let data out); a refused one is
logged as a refusal and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from promptlab.errors import PrivacyError
from promptlab.privacy.approvals import Approval, approvals, covering
from promptlab.privacy.guard import label
from promptlab.privacy.log import record_event
from promptlab.privacy.policy import PrivacyPolicy
from promptlab.store import Store

MASK = "[restricted]"
"""What a masked text reads."""

MASKED_COLUMNS = ("output", "vars", "messages", "correction", "error", "response", "metadata")
"""The columns whose text a masked trial hides."""


def clear_export(
    store: Store,
    policy: PrivacyPolicy,
    trials: pd.DataFrame,
    *,
    export: str,
    destination: str,
    reason: str | None = None,
    mask: bool = False,
) -> pd.DataFrame:
    """``trials`` as they may leave in ``export``: unchanged when nothing in
    them is above ``policy.exports`` without an approval; else refused with a
    ``PrivacyError`` (logged), or with ``mask`` returned with those trials'
    text masked. The export is logged either way it goes ahead."""
    tiers = [label(t) for t in (trials["tier"] if "tier" in trials.columns else [None] * len(trials))]
    over = [policy.rank(t) > policy.rank(policy.exports) for t in tiers]
    used: list[Approval] = []
    hidden = pd.Series(False, index=trials.index)
    if any(over):
        known = approvals(store)
        missing = []
        chosen = trials[over]
        for experiment, group in chosen.groupby(chosen["experiment"].astype(str), sort=True):
            tier = policy.highest(*(label(t) for t in group["tier"]))
            approval = covering(known, policy, tier=tier, use=str(experiment), export=export)
            if approval is not None:
                used.append(approval)
            else:
                missing.append((str(experiment), tier, len(group)))
                hidden[group.index] = True
        if missing and not mask:
            for experiment, tier, n in missing:
                detail = {"trials": n, "destination": destination}
                record_event(store, "refuse", tier=tier, use=experiment, export=export, reason=reason, detail=detail)
            raise PrivacyError(_refusal(policy, export, missing))
    named = [t or policy.default for t in tiers]
    detail = {
        "destination": destination,
        "trials": len(trials),
        "tiers": {tier: named.count(tier) for tier in policy.tiers if tier in named},
        "masked": int(hidden.sum()),
    }
    record_event(
        store, "export", tier=policy.highest(*named) if named else None, export=export, reason=reason,
        approval_id=",".join(a.approval_id for a in used) or None, detail=detail,
    )  # fmt: skip
    return masked(trials, hidden) if hidden.any() else trials


def masked(trials: pd.DataFrame, hide: pd.Series) -> pd.DataFrame:
    """``trials`` with the text of the rows ``hide`` marks masked."""
    result = trials.copy()
    for column in MASKED_COLUMNS:
        if column in result.columns:
            result[column] = result[column].astype(object)
            result.loc[hide, column] = pd.Series(
                [_masked(v) for v in result.loc[hide, column]], index=result.index[hide], dtype=object
            )
    return result


def _masked(value: Any) -> Any:
    if isinstance(value, dict):  # a message keeps its role
        return {key: v if key == "role" else _masked(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return value
    return MASK


def _refusal(policy: PrivacyPolicy, export: str, missing: Sequence[tuple[str, str, int]]) -> str:
    parts = "; ".join(f"{n} {tier!r} trial(s) of {experiment!r}" for experiment, tier, n in missing)
    experiment, tier, _ = missing[0]
    approvers = ", ".join(sorted(policy.approvers.get(tier, ()))) or "nobody yet: name them in [privacy.approvers]"
    return (
        f"this {export} export would let out data above {policy.exports!r} ({parts}; {policy.where}); nothing "
        f"was written. Leave those experiments' trials out, or ask an approver "
        f"({approvers}): lab.approve(use={experiment!r}, tier={tier!r}, export={export!r}, approved_by=..., "
        "reason=...)"
    )
