"""The privacy audit log: one append-only row per approval, request,
refusal, use, export, erasure and prune (``privacy_log``).

A row says what happened, to which tier, for which use, model or export,
who asked and who approved, and counts in ``detail``; never the data
itself. An erasure's row names how it chose what to erase (a value, an end
user, trial ids) and how much it removed, not the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from promptlab.core.hashing import new_id
from promptlab.core.lineage import current_user, utcnow
from promptlab.store import Store

ACTIONS = ("request", "approve", "refuse", "use", "export", "forget", "prune")
"""What a row of the log records."""


def record_event(
    store: Store,
    action: str,
    *,
    tier: str | None = None,
    use: str | None = None,
    model: str | None = None,
    export: str | None = None,
    requested_by: str | None = None,
    approved_by: str | None = None,
    reason: str | None = None,
    expires_at: datetime | None = None,
    approval_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    user: str | None = None,
) -> str:
    """Append one event to the log; its id."""
    if action not in ACTIONS:
        raise ValueError(f"privacy_log action {action!r} is not one of {ACTIONS}")
    event_id = new_id()
    row = {
        "event_id": event_id,
        "action": action,
        "tier": tier,
        "use": use,
        "model": model,
        "export": export,
        "requested_by": requested_by,
        "approved_by": approved_by,
        "reason": reason,
        "expires_at": expires_at,
        "approval_id": approval_id,
        "detail": dict(detail or {}),
        "user": user or current_user(),
        "created_at": utcnow(),
    }
    store.append({"privacy_log": [row]})
    return event_id
