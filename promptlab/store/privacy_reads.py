"""Read queries about privacy: the audit log (``privacy_log``) and the tiers
of recorded trials."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from promptlab.store.reads import Source

_EVENTS = """
    SELECT event_id, "action", tier, "use", model, export, requested_by, approved_by, reason,
           expires_at, approval_id, detail, "user", created_at
    FROM privacy_log {where}
    ORDER BY created_at, event_id
"""


def privacy_events(store: Source, actions: Sequence[str] = ()) -> pd.DataFrame:
    """The audit log, oldest first; only ``actions`` when given."""
    if not actions:
        return store.query(_EVENTS.format(where=""))
    marks = ", ".join("?" for _ in actions)
    return store.query(_EVENTS.format(where=f'WHERE "action" IN ({marks})'), list(actions))


def trial_tiers(store: Source, trial_ids: Sequence[str]) -> dict[str, str | None]:
    """The recorded tier of each of ``trial_ids`` that exists (None: unlabelled)."""
    if not trial_ids:
        return {}
    frame = store.query("SELECT trial_id, tier FROM trials WHERE trial_id IN (SELECT unnest(?))", [list(trial_ids)])
    return {
        str(t): (None if pd.isna(tier) else str(tier)) for t, tier in zip(frame["trial_id"], frame["tier"], strict=True)
    }
