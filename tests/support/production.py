"""A hand-built production history, for monitoring tests: what an app's
logged calls and its users' feedback look like after four days.

``support-reply`` has two versions: ``production`` serves V1 on days 1–2 and
V2 (promoted) on days 3–4; ``staging`` serves V2 all along. Calls fail now
and then, some have no known cost, latencies skew; feedback comes from end
users (one changes their mind, one withdraws a vote, two vote on one call),
some of it naming the call by the app's own id (``external_id``), with
actions, corrections and a comment; an evaluator scored some calls (one
twice: the newer score counts). A second prompt (``other-prompt``) and a sweep
trial of ``support-reply`` are in the history too, and must not leak in.

``ProductionHistory`` keeps every row written, so a test can work out the
expected numbers itself with pandas.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

import promptlab as pl
from support.history import trial_row

PROMPT = "support-reply"
OTHER = "other-prompt"
V1, V2 = "a1" * 6, "b2" * 6
START = datetime(2026, 3, 2)  # a Monday
DAYS = 4
SERVED = {("production", 0): V1, ("production", 1): V1, ("production", 2): V2, ("production", 3): V2}
"""(label, day) → version; staging serves V2 every day."""


@dataclass
class ProductionHistory:
    """The rows written by ``fill_production_history``."""

    trials: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)

    def frame(self, table: str) -> pd.DataFrame:
        return pd.DataFrame(getattr(self, table))


def _call(rng: random.Random, prompt: str, version: str, label: str, *, at: datetime, index: int) -> dict[str, Any]:
    failed = rng.random() < (0.15 if version == V1 else 0.05)
    slow = 1.0 if version == V1 else 0.8
    return trial_row(
        trial_id=uuid.uuid4().hex,
        run_id="production-support-app",
        experiment="production",
        prompt_name=prompt,
        prompt_version=version,
        model="gpt-4o-mini",
        vars={"question": f"question {index}"},
        output=None if failed else f"answer {index}",
        error_type="RateLimitError" if failed else None,
        error="RateLimitError: slow down" if failed else None,
        latency_ms=round(rng.lognormvariate(6.5, 0.5) * slow, 1),
        prompt_tokens=rng.randint(80, 200),
        completion_tokens=None if failed else rng.randint(20, 120),
        cost_usd=None if index % 11 == 0 else round(rng.uniform(0.0001, 0.0009), 6),
        created_at=at.isoformat(),
        started_at=at.isoformat(),
        user="tester",
        source="support-app",
        kind="production",
        label=label,
        external_id=f"app-{uuid.uuid4().hex[:10]}",
        end_user=f"u{rng.randint(1, 30)}",
        session_id=f"s{index // 3}",
        metadata={"channel": "web"},
    )


def _feedback(at: datetime, **values: Any) -> dict[str, Any]:
    row = {"feedback_id": uuid.uuid4().hex, "trial_id": None, "vote": None, "correction": None, "comment": None}
    row |= {"action": None, "user": "tester", "created_at": at.isoformat(), "external_id": None}
    row |= {"source": "support-app", "end_user": None}
    return row | values


def fill_production_history(lab: pl.Lab, seed: int = 7) -> ProductionHistory:
    """Write the history into ``lab`` (trials, then feedback and scores), fold it, and return its rows."""
    rng = random.Random(seed)
    history = ProductionHistory()
    index = 0
    for day in range(DAYS):
        for label in ("production", "staging"):
            version = SERVED.get((label, day), V2)
            for _ in range(14 if label == "production" else 9):
                at = START + timedelta(days=day, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
                history.trials.append(_call(rng, PROMPT, version, label, at=at, index=index))
                index += 1
    for other in range(6):  # must not leak into support-reply's numbers
        at = START + timedelta(days=other % DAYS, hours=1)
        history.trials.append(_call(rng, OTHER, "c3" * 6, "production", at=at, index=index + other))
    history.trials.append(trial_row(prompt_name=PROMPT, prompt_version=V1, kind="sweep", latency_ms=1.0))
    _give_feedback(rng, history)
    lab.store.append({"trials": history.trials})
    lab.store.append({"feedback": history.feedback, "scores": history.scores})
    lab.store.fold()  # on a server, the spool goes to the server now
    return history


def _give_feedback(rng: random.Random, history: ProductionHistory) -> None:
    calls = [t for t in history.trials if t["kind"] == "production"]
    for number, call in enumerate(calls):
        at = datetime.fromisoformat(call["created_at"]) + timedelta(minutes=5)
        # every third call by the app's own id, the rest by trial id
        by = {"external_id": call["external_id"]} if number % 3 == 0 else {"trial_id": call["trial_id"]}
        person = {"end_user": call["end_user"]}
        if number % 4 == 0:
            vote = 1 if rng.random() < (0.55 if call["prompt_version"] == V1 else 0.75) else -1
            history.feedback.append(_feedback(at, vote=vote, **by, **person))
        if number % 10 == 1:  # changes their mind: the newer vote counts
            history.feedback.append(_feedback(at, vote=-1, **by, **person))
            history.feedback.append(_feedback(at + timedelta(minutes=1), vote=1, **by, **person))
        if number % 17 == 2:  # votes, then withdraws it (0)
            history.feedback.append(_feedback(at, vote=1, **by, **person))
            history.feedback.append(_feedback(at + timedelta(minutes=2), vote=0, **by, **person))
        if number % 13 == 3:  # two people on one call
            history.feedback.append(_feedback(at, vote=1, **by, end_user="support-lead"))
            history.feedback.append(_feedback(at, vote=-1, **by, end_user="u-second"))
        if number % 5 == 0:
            action = ("copied", "edited", "ignored")[number % 3]
            history.feedback.append(_feedback(at, action=action, **by, **person))
            history.feedback.append(_feedback(at + timedelta(seconds=3), action=action, **by, **person))  # twice
        if number % 9 == 4:
            history.feedback.append(_feedback(at, correction=f"better answer {number}", action="edited", **by))
        if number % 23 == 5:
            history.feedback.append(_feedback(at, comment="too formal", **by, **person))
        if number % 2 == 0:
            history.scores.append(_score(call, rng.random(), at))
        if number % 8 == 0:  # scored again later: the newer score counts
            history.scores.append(_score(call, 0.01, at - timedelta(minutes=1)))
            history.scores.append(_score(call, 0.99, at + timedelta(minutes=1)))


def _score(call: dict[str, Any], value: float, at: datetime) -> dict[str, Any]:
    return {
        "score_id": uuid.uuid4().hex,
        "trial_id": call["trial_id"],
        "run_id": call["run_id"],
        "evaluator": "helpful",
        "evaluator_name": "helpful",
        "args": {},
        "value": round(value, 4),
        "passed": None,
        "label": None,
        "explanation": None,
        "error": None,
        "judge_trial_id": None,
        "created_at": at.isoformat(),
        "user": "tester",
    }
