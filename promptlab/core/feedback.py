"""People's verdicts on trials: votes, corrections, comments, actions.

Every verdict is appended to the feedback log, but a person has one current
vote per trial: a new vote replaces theirs (``vote=0`` withdraws it), so a
reviewer pressing 👍 twice counts once. Counts, filters and exports use
current votes (``current_votes``); the log keeps every change.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Unpack

import pandas as pd

from promptlab.core.hashing import new_id
from promptlab.core.lineage import current_user, person, utcnow
from promptlab.errors import ConfigError

Vote = Literal[1, -1, 0, "up", "down", "none"]
"""A thumbs-up (1, "up"), a thumbs-down (-1, "down"), or 0 / "none" to withdraw one's vote."""

_VOTES: dict[Any, int] = {1: 1, -1: -1, 0: 0, "up": 1, "down": -1, "+1": 1, "-1": -1, "none": 0}


def current_votes(rows: pd.DataFrame) -> pd.DataFrame:
    """Each person's current vote per trial (``trial_id``, ``user``, ``vote``;
    withdrawn votes dropped) from feedback log rows."""
    votes = rows[rows["vote"].notna()] if "vote" in rows else rows.iloc[:0]
    if votes.empty:
        return pd.DataFrame({"trial_id": [], "user": [], "vote": []})
    votes = votes.assign(person=votes["user"].map(person))
    order = [c for c in ("created_at", "feedback_id") if c in votes]
    latest = votes.sort_values(order, kind="stable").groupby(["trial_id", "person"], sort=False).tail(1)
    latest = latest[latest["vote"] != 0]
    return latest[["trial_id", "user", "vote"]].reset_index(drop=True)


class Verdict(TypedDict, total=False):
    """What a person says about a trial (``Lab.feedback``'s keywords)."""

    vote: Vote | None
    """1 / -1 (or "up" / "down"); 0 or "none" withdraws this person's vote."""
    correction: str | None
    """The output as it should have been (kept next to the original)."""
    comment: str | None
    """A remark."""
    action: str | None
    """What someone did with the output ("copied", "accepted", ...)."""
    user: str | None
    """Who says it; default ``PROMPTLAB_USER``, else the login name."""


REVIEWER = "reviewer"
"""The ``source`` of a verdict a person gave in promptlab (the app, a notebook, the
CLI); an application's own feedback has the app's name (``promptlab.production``)."""


def feedback_row(trial_id: str, **verdict: Unpack[Verdict]) -> dict[str, Any]:
    """One feedback row, checked: at least one verdict, a vote of ±1, text that isn't blank."""
    vote, correction, comment = verdict.get("vote"), verdict.get("correction"), verdict.get("comment")
    action, user = verdict.get("action"), verdict.get("user")
    unknown = set(verdict) - Verdict.__annotations__.keys()
    if unknown:
        raise ConfigError(f"feedback takes {', '.join(Verdict.__annotations__)}, not {', '.join(sorted(unknown))}")
    if vote is not None and (isinstance(vote, bool) or vote not in _VOTES):
        raise ConfigError(f"vote must be 1 or -1 (or 'up' / 'down'; 0 or 'none' withdraws yours), got {vote!r}")
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
        "source": REVIEWER,
    }
