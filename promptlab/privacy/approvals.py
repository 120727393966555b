"""Approvals: a privacy approver's permission for data of a tier to go to one
model, or leave in one kind of export, for one use, until a date.

``approve`` checks the request before anything is written: the tier exists,
it names a model or an export (not both), a use, a reason, and an approver
who is not the requester and who may approve that tier. A refused request
is logged too (``refuse``), so the log shows what was asked and denied.

Who may approve, and how that is proven, depends on the store:

- a history file authenticates no one: the policy file beside it names the
  approvers (``[privacy.approvers]``), and the requester names theirs with
  ``approved_by=``, as a promotion names its approver;
- a team server knows who is logged in: the requester's call records a
  request; the approver, holding the server's ``promptlab_privacy`` role,
  runs the same call from their own session (with ``requested_by=``), and
  the server's trigger refuses an approval by anyone else, of one's own
  request, or of a request nobody made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from promptlab.core.lineage import current_user, person, utcnow
from promptlab.errors import ConfigError, PolicyError, PrivacyError
from promptlab.privacy.log import record_event
from promptlab.privacy.policy import PrivacyPolicy
from promptlab.store import Store, privacy_reads

EXPORTS = ("trials", "finetune", "preferences", "report")
"""The kinds of export an approval can name."""

Expiry = datetime | date | timedelta | str | None
"""When an approval ends: a time (UTC when naive), a date (its end), a
duration from now, or ISO text; None: never."""


@dataclass(frozen=True)
class Approval:
    """One recorded approval."""

    approval_id: str
    """Its event id in the log."""

    tier: str
    """The highest tier it lets through."""

    use: str
    """What it is for: an experiment, or an app's name."""

    model: str | None
    """The model it lets the data go to (None: it is for an export)."""

    export: str | None
    """The kind of export it lets the data leave in (None: it is for a model)."""

    requested_by: str
    """Who asked."""

    approved_by: str
    """Who approved."""

    expires_at: datetime | None
    """When it stops counting (UTC); None: never."""

    def covers(
        self, policy: PrivacyPolicy, *, tier: str, use: str, model: str | None = None, export: str | None = None
    ) -> bool:
        """Whether this approval lets ``tier`` data go to ``model`` (or leave in
        ``export``) for ``use`` now."""
        if self.expires_at is not None and self.expires_at <= utcnow():
            return False
        if self.tier not in policy.tiers or policy.rank(self.tier) < policy.rank(tier):
            return False
        return self.use == use and self.model == model and self.export == export


def expiry(value: Expiry) -> datetime | None:
    """``value`` as a naive UTC time (see ``Expiry``)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return utcnow() + value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(f"expires={value!r} is not a date or time; e.g. expires='2027-03-31'") from exc
    if not isinstance(value, datetime):  # a date: the approval lasts through that day
        value = datetime(value.year, value.month, value.day) + timedelta(days=1)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def approvals(store: Store) -> list[Approval]:
    """Every approval in the log (expired ones included), oldest first."""
    frame = privacy_reads.privacy_events(store, ["approve"])
    return [
        Approval(
            approval_id=str(row["event_id"]),
            tier=str(row["tier"]),
            use=str(row["use"]),
            model=_text(row["model"]),
            export=_text(row["export"]),
            requested_by=str(row["requested_by"]),
            approved_by=str(row["approved_by"]),
            expires_at=None if pd.isna(row["expires_at"]) else pd.Timestamp(row["expires_at"]).to_pydatetime(),
        )
        for _, row in frame.iterrows()
    ]


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def covering(
    found: Sequence[Approval],
    policy: PrivacyPolicy,
    *,
    tier: str,
    use: str,
    model: str | None = None,
    export: str | None = None,
) -> Approval | None:
    """The newest of ``found`` that covers this (None: none does)."""
    for approval in reversed(found):
        if approval.covers(policy, tier=tier, use=use, model=model, export=export):
            return approval
    return None


def approve(
    store: Store,
    policy: PrivacyPolicy,
    *,
    use: str,
    tier: str,
    approved_by: str,
    reason: str,
    model: str | None = None,
    export: str | None = None,
    expires: Expiry = None,
    requested_by: str | None = None,
) -> str:
    """Record an approval (its id), or refuse it with a ``PrivacyError`` that
    is itself logged. See the module docstring for who may approve where."""
    _check_shape(policy, use=use, tier=tier, model=model, export=export, reason=reason, approved_by=approved_by)
    ends = expiry(expires)
    fields: dict[str, Any] = {"tier": tier, "use": use, "model": model, "export": export, "reason": reason}
    if store.identity is not None:
        return _approve_on_server(store, fields, approved_by, requested_by, ends)
    requester = requested_by or current_user()
    problem = _refusal(policy, tier, approved_by, requester, ends)
    if problem:
        record_event(
            store, "refuse", requested_by=requester, approved_by=approved_by, detail={"why": problem}, **fields
        )
        raise PrivacyError(problem)
    return record_event(store, "approve", requested_by=requester, approved_by=approved_by, expires_at=ends, **fields)


def _check_shape(policy: PrivacyPolicy, **given: Any) -> None:
    policy.rank(given["tier"])
    if (given["model"] is None) == (given["export"] is None):
        raise ConfigError("an approval names either model= (where the data may go) or export= (how it may leave)")
    if given["export"] is not None and given["export"] not in EXPORTS:
        raise ConfigError(f"export={given['export']!r} is not a kind of export; the kinds are {', '.join(EXPORTS)}")
    for name in ("use", "reason", "approved_by"):
        if not isinstance(given[name], str) or not given[name].strip():
            raise ConfigError(f"an approval needs {name}= (a non-empty text)")


def _refusal(policy: PrivacyPolicy, tier: str, approver: str, requester: str, ends: datetime | None) -> str | None:
    if person(approver) == person(requester):
        return f"{approver} can't approve their own request; ask another approver for {tier!r} data"
    allowed = policy.approvers_of(tier)
    if not allowed:
        return f"nobody may approve uses of {tier!r} data ({policy.where}); name approvers in [privacy.approvers]"
    if person(approver) not in allowed:
        names = ", ".join(sorted(policy.approvers.get(tier, ())))
        return f"{approver} is not an approver for {tier!r} data ({policy.where}); approvers: {names}"
    return _expired(ends)


def _expired(ends: datetime | None) -> str | None:
    if ends is not None and ends <= utcnow():
        return f"this approval would already have expired ({ends:%Y-%m-%d %H:%M} UTC); give a later expires="
    return None


def _approve_on_server(
    store: Store, fields: dict[str, Any], approver: str, requester: str | None, ends: datetime | None
) -> str:
    me = store.identity or ""
    if person(approver) != person(me):
        request = record_event(store, "request", requested_by=me, approved_by=approver, **fields)
        raise PrivacyError(
            f"request {request[:8]} recorded; on a team server {approver} approves it from their own login: "
            f"lab.approve(..., approved_by={approver!r}, requested_by={me!r}) with the same use, tier and "
            f"{'model' if fields['model'] else 'export'}"
        )
    if not requester:
        raise ConfigError("name whose request you approve: requested_by='their login'")
    if problem := _expired(ends):
        raise PrivacyError(problem)
    try:
        return record_event(store, "approve", requested_by=requester, approved_by=me, expires_at=ends, **fields)
    except PolicyError as exc:
        raise PrivacyError(f"the server refused the approval: {exc}") from exc
