"""Read queries about privacy: the audit log (``privacy_log``)."""

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
