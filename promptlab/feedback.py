"""People's verdicts on trials: votes, corrections, comments, actions."""

from __future__ import annotations

from typing import Any, Literal

from promptlab.errors import ConfigError
from promptlab.keys import new_id
from promptlab.lineage import current_user, utcnow

Vote = Literal[1, -1, "up", "down"]
"""A thumbs-up (1, "up") or thumbs-down (-1, "down")."""

_VOTES: dict[Any, int] = {1: 1, -1: -1, "up": 1, "down": -1, "+1": 1, "-1": -1}


def feedback_row(
    trial_id: str,
    *,
    vote: Vote | None = None,
    correction: str | None = None,
    comment: str | None = None,
    action: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """One feedback row, checked: at least one verdict, a vote of ±1, text that isn't blank."""
    if vote is not None and (isinstance(vote, bool) or vote not in _VOTES):
        raise ConfigError(f"vote must be 1 or -1 (or 'up' / 'down'), got {vote!r}")
    for name, text in (("correction", correction), ("comment", comment), ("action", action)):
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ConfigError(f"{name} must be non-empty text, got {text!r}")
    if vote is None and correction is None and comment is None and action is None:
        raise ConfigError("give a vote, a correction, a comment or an action")
    return {
        "feedback_id": new_id(),
        "trial_id": trial_id,
        "vote": None if vote is None else _VOTES[vote],
        "correction": correction,
        "comment": comment,
        "action": action,
        "user": user or current_user(),
        "created_at": utcnow().isoformat(),
    }
