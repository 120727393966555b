"""Read queries about production traffic: the calls applications logged
(``kind = 'production'``) for one prompt name, summed up per period, label
and prompt version, and the per-call values two versions are compared on.

Everything is summed up here, in SQL, so monitoring a million calls reads a
few hundred rows: the groups' counts and percentiles, their feedback, their
actions and their evaluators' mean scores (three queries in one read
session). Feedback is read through ``reads.FEEDBACK``, so a verdict an app
sent by its own id for the call counts like one sent by trial id. A person
has one vote per call, the newest (0 withdraws it), as in
``reads.TRIALS_WITH_FEEDBACK``; an application's end user is the person when
the feedback names one, else its ``user``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from promptlab.errors import ConfigError
from promptlab.store.reads import FEEDBACK, Source

PERIODS = ("hour", "day", "week")
"""What a period can be (``date_trunc``'s units; a week starts on Monday)."""


@dataclass(frozen=True)
class ProductionFilter:
    """Which production calls of one prompt to read; every field that is set must match."""

    prompt: str
    """Prompt name."""

    since: datetime | None = None
    """Logged at or after this time (UTC)."""

    until: datetime | None = None
    """Logged before this time (UTC)."""

    label: str | None = None
    """The label that served the prompt (``''``: calls that named a version, not a label)."""

    source: str | None = None
    """The application's name."""

    version: str | None = None
    """Prompt version (or a prefix of it)."""

    def __post_init__(self) -> None:
        for name in ("prompt", "label", "source", "version"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name}= takes a name (text), not {type(value).__name__} {value!r}")
        for name in ("since", "until"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), datetime):
                raise ConfigError(f"{name}= takes a datetime, not {getattr(self, name)!r}")

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition over ``trials`` and its parameters."""
        clauses: list[str] = ["prompt_name = ?", "kind = 'production'"]
        params: list[Any] = [self.prompt]
        for clause, value in (
            ("created_at >= ?", self.since),
            ("created_at < ?", self.until),
            ("coalesce(label, '') = ?", self.label),
            ("source = ?", self.source),
            ("starts_with(prompt_version, ?)", self.version),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params


def _calls(where: ProductionFilter, every: str) -> tuple[str, list[Any]]:
    """The chosen calls (``t``), all feedback (``f``, joined to ``t`` where used:
    cheaper than narrowing it first) and per call with feedback whether it got
    a correction and its current votes (``fb``)."""
    if every not in PERIODS:
        raise ConfigError(f"every= takes one of {', '.join(PERIODS)}, not {every!r}")
    condition, params = where.where()
    return (
        f"""
        WITH t AS (
            SELECT trial_id, created_at, date_trunc('{every}', created_at) AS period,
                   coalesce(label, '') AS label, prompt_version, error_type IS NOT NULL AS failed,
                   latency_ms, cost_usd, prompt_tokens, completion_tokens
            FROM trials WHERE {condition}
        ), f AS (
            SELECT trial_id, lower(trim(coalesce(end_user, "user"))) AS person, vote, correction, action,
                   created_at, feedback_id
            FROM {FEEDBACK}
        ), fb AS (  -- per call: any feedback, a correction, and its current votes (a person's newest)
            SELECT trial_id, count(correction) > 0 AS corrected,
                   count(*) FILTER (WHERE current_vote > 0) AS up, count(*) FILTER (WHERE current_vote < 0) AS down
            FROM (
                SELECT trial_id, correction, CASE WHEN vote IS NOT NULL AND row_number() OVER (
                    PARTITION BY trial_id, person, vote IS NULL ORDER BY created_at DESC, feedback_id DESC
                ) = 1 THEN vote END AS current_vote
                FROM f
            ) GROUP BY trial_id
        )""",
        params,
    )


_GROUP = "t.period, t.label, t.prompt_version"


def metrics(store: Source, where: ProductionFilter, every: str = "day") -> dict[str, pd.DataFrame]:
    """Per (``period``, ``label``, ``prompt_version``), oldest period first:

    - ``groups``: ``n`` calls, ``errors``, latency of successful calls
      (``latency_p50_ms``, ``latency_p95_ms``), ``cost_usd`` (total) and
      ``n_costed`` (calls with a known cost), ``prompt_tokens``,
      ``completion_tokens``, ``with_feedback`` (calls with any feedback),
      ``corrections`` (calls given a correction), ``votes_up``, ``votes_down``;
    - ``actions``: per ``action``, ``n`` calls someone took it on;
    - ``scores``: per ``evaluator``, the ``mean`` and ``n`` of each call's newest score.
    """
    calls, params = _calls(where, every)
    with store.reading() as reader:
        groups = reader.query(
            f"""{calls}
            SELECT {_GROUP}, count(*) AS n, count(*) FILTER (WHERE t.failed) AS errors,
                   quantile_cont(t.latency_ms, 0.5) FILTER (WHERE NOT t.failed) AS latency_p50_ms,
                   quantile_cont(t.latency_ms, 0.95) FILTER (WHERE NOT t.failed) AS latency_p95_ms,
                   sum(t.cost_usd) AS cost_usd, count(t.cost_usd) AS n_costed,
                   sum(t.prompt_tokens) AS prompt_tokens, sum(t.completion_tokens) AS completion_tokens,
                   count(fb.trial_id) AS with_feedback, count(*) FILTER (WHERE fb.corrected) AS corrections,
                   coalesce(sum(fb.up), 0) AS votes_up, coalesce(sum(fb.down), 0) AS votes_down
            FROM t LEFT JOIN fb ON fb.trial_id = t.trial_id
            GROUP BY {_GROUP} ORDER BY {_GROUP}
            """,
            params,
        )
        actions = reader.query(
            f"""{calls}
            SELECT {_GROUP}, a.action, count(*) AS n
            FROM t JOIN (SELECT DISTINCT trial_id, action FROM f WHERE action IS NOT NULL) a
                ON a.trial_id = t.trial_id
            GROUP BY {_GROUP}, a.action ORDER BY {_GROUP}, a.action
            """,
            params,
        )
        scores = reader.query(
            f"""{calls}
            SELECT {_GROUP}, s.evaluator, avg(s.value) AS mean, count(s.value) AS n
            FROM t JOIN ({_LATEST_SCORES}) s ON s.trial_id = t.trial_id
            GROUP BY {_GROUP}, s.evaluator ORDER BY {_GROUP}, s.evaluator
            """,
            params,
        )
    return {"groups": groups, "actions": actions, "scores": scores}


_LATEST_SCORES = """
    SELECT trial_id, evaluator, value FROM scores
    WHERE trial_id IN (SELECT trial_id FROM t)
    QUALIFY row_number() OVER (PARTITION BY trial_id, evaluator ORDER BY created_at DESC, score_id DESC) = 1
"""


def calls(store: Source, where: ProductionFilter) -> dict[str, pd.DataFrame]:
    """The chosen calls one by one, oldest first, for comparing two versions:

    - ``trials``: ``trial_id``, ``created_at``, ``label``, ``prompt_version``,
      ``failed``, ``latency_ms``, ``cost_usd``, ``with_feedback``,
      ``votes_up``, ``votes_down`` (the call's current votes);
    - ``actions``: ``trial_id``, ``action`` (each action taken on a call, once);
    - ``scores``: ``trial_id``, ``evaluator``, ``value`` (the newest score).
    """
    chosen, params = _calls(where, "day")
    with store.reading() as reader:
        trials = reader.query(
            f"""{chosen}
            SELECT t.trial_id, t.created_at, t.label, t.prompt_version, t.failed, t.latency_ms, t.cost_usd,
                   fb.trial_id IS NOT NULL AS with_feedback,
                   coalesce(fb.up, 0) AS votes_up, coalesce(fb.down, 0) AS votes_down
            FROM t LEFT JOIN fb ON fb.trial_id = t.trial_id
            ORDER BY t.created_at, t.trial_id
            """,
            params,
        )
        actions = reader.query(
            f"{chosen} SELECT DISTINCT trial_id, action FROM f WHERE action IS NOT NULL "
            "AND trial_id IN (SELECT trial_id FROM t) ORDER BY trial_id, action",
            params,
        )
        scores = reader.query(f"{chosen} {_LATEST_SCORES} ORDER BY trial_id, evaluator", params)
    return {"trials": trials, "actions": actions, "scores": scores}


def production_prompts(store: Source) -> pd.DataFrame:
    """Prompt names with production calls: ``prompt_name``, ``n`` calls, ``last_at``, most recent first."""
    return store.query(
        """
        SELECT prompt_name, count(*) AS n, max(created_at) AS last_at FROM trials
        WHERE kind = 'production' AND prompt_name IS NOT NULL
        GROUP BY prompt_name ORDER BY last_at DESC, prompt_name
        """
    )
