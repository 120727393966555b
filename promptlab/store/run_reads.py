"""Read queries about runs and experiments: the run list with its headline
numbers, one run, where a sweep resumes, and experiments with their counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd

from promptlab.store.reads import Source, TrialFilter, narrowed, one_row
from promptlab.store.totals import known_sum


def done_cells(store: Source, run_id: str) -> set[str]:
    """Cell keys that already have a successful trial in the run."""
    frame = store.query(
        "SELECT DISTINCT cell_key FROM trials "
        "WHERE run_id = ? AND error_type IS NULL AND coalesce(kind, 'sweep') = 'sweep'",
        [run_id],
    )
    return set(frame["cell_key"])


def unfinished_runs(store: Source, experiment: str, fingerprint: str, user: str) -> list[dict[str, Any]]:
    """The user's runs of this sweep that did not finish, newest first."""
    frame = store.query(
        """
        SELECT run_id, status, host, pid, heartbeat_at FROM runs
        WHERE experiment = ? AND fingerprint = ? AND "user" = ? AND status <> 'done'
        ORDER BY started_at DESC
        """,
        [experiment, fingerprint, user],
    )
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list; every field that is set must match."""

    experiment: str | None = None
    """Experiment name."""

    user: str | None = None
    """Who started the run."""

    tag: str | None = None
    """A tag of the run's experiment."""

    prompt: str | None = None
    """A prompt name the run used."""

    model: str | None = None
    """A model name the run used."""

    since: datetime | None = None
    """Started at or after (UTC)."""

    until: datetime | None = None
    """Started before (UTC)."""

    search: str | None = None
    """Text in any of the run's inputs or outputs (any case)."""

    fingerprint: str | None = None
    """The sweep's fingerprint (same cells)."""

    run_ids: Sequence[str] | None = None
    """Only these runs."""

    search_in: Sequence[str] | None = None
    """The trials the search index says may hold ``search`` (see ``reads.narrowed``)."""

    def trial_filter(self) -> TrialFilter:
        """What the runs' trials must match."""
        return TrialFilter(prompt=self.prompt, model=self.model, search=self.search, search_in=self.search_in)

    def narrowed(self, store: Source) -> RunFilter:
        """This filter with the trials its search may match (``reads.narrowed``)."""
        return replace(self, search_in=narrowed(store, self.trial_filter()).search_in)

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition over runs ``r`` and their trials ``t``, and its parameters."""
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        for clause, value in (
            ("r.experiment = ?", self.experiment),
            ('r."user" = ?', self.user),
            ("r.fingerprint = ?", self.fingerprint),
            ("r.started_at >= ?", self.since),
            ("r.started_at < ?", self.until),
            ("list_contains(CAST(e.tags AS VARCHAR[]), ?)", self.tag),
            ("r.run_id IN (SELECT unnest(?))", None if self.run_ids is None else list(self.run_ids)),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        trial_filter = self.trial_filter()
        if any(v is not None for v in (self.prompt, self.model, self.search)):
            condition, trial_params = trial_filter.where()
            clauses.append(f"r.run_id IN (SELECT run_id FROM trials WHERE {condition})")
            params += trial_params
        return " AND ".join(clauses), params


def runs(store: Source, where: RunFilter | None = None, *, limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """Runs, newest first, with trial counts and headline numbers. The page of
    runs is chosen first, so only its totals are read, and its trials for the
    median latency."""
    condition, params = (where or RunFilter()).narrowed(store).where()
    page = (f" LIMIT {int(limit)}" if limit is not None else "") + (f" OFFSET {int(offset)}" if offset else "")
    return store.query(
        f"""
        WITH chosen AS (
            SELECT r.* FROM runs r LEFT JOIN experiments e ON e.name = r.experiment
            WHERE {condition}
            ORDER BY r.started_at DESC, r.run_id DESC{page}
        ), s AS (
            SELECT run_id, sum(n_trials)::BIGINT AS n_trials, sum(n_errors)::BIGINT AS n_errors,
                   sum(n_cached)::BIGINT AS n_cached, {known_sum("cost_usd", "n_costed")} AS cost_usd,
                   {known_sum("spent_usd", "n_spent")} AS spent_usd,
                   list(DISTINCT prompt_name ORDER BY prompt_name) FILTER (WHERE prompt_name IS NOT NULL) AS prompts,
                   list(DISTINCT model ORDER BY model) FILTER (WHERE model IS NOT NULL) AS models
            FROM trial_totals WHERE kind <> 'judge' AND run_id IN (SELECT run_id FROM chosen) GROUP BY run_id
        ), j AS (  -- a run's own trials are its cells (a sweep's) or its calls (an app's): apart from its judge's
            SELECT run_id, sum(n_trials)::BIGINT AS n_judge_calls, sum(spent_usd) AS judge_spent_usd
            FROM trial_totals WHERE kind = 'judge' AND run_id IN (SELECT run_id FROM chosen) GROUP BY run_id
        ), latency AS (  -- a median can't be summed up ahead: the chosen runs' trials
            SELECT run_id, quantile_cont(latency_ms, 0.5) AS latency_p50_ms FROM trials
            WHERE coalesce(kind, 'sweep') <> 'judge' AND error_type IS NULL AND run_id IN (SELECT run_id FROM chosen)
            GROUP BY run_id
        )
        SELECT r.run_id, r.experiment, r.status, r.n_cells,
               coalesce(s.n_trials, 0) AS n_trials, coalesce(s.n_errors, 0) AS n_errors,
               coalesce(s.n_cached, 0) AS n_cached, s.cost_usd, s.spent_usd, latency.latency_p50_ms,
               coalesce(s.prompts, []::VARCHAR[]) AS prompts, coalesce(s.models, []::VARCHAR[]) AS models,
               coalesce(j.n_judge_calls, 0) AS n_judge_calls, coalesce(j.judge_spent_usd, 0) AS judge_spent_usd,
               coalesce(s.spent_usd, 0) + coalesce(j.judge_spent_usd, 0) AS total_spent_usd,
               r.started_at, r.ended_at, r."user", r.host, r.pid, r.source, r.fingerprint, r.config,
               r.heartbeat_at
        FROM chosen r
        LEFT JOIN s USING (run_id)
        LEFT JOIN j USING (run_id)
        LEFT JOIN latency USING (run_id)
        ORDER BY r.started_at DESC, r.run_id DESC
        """,
        params,
    )


def run_states(store: Source, where: RunFilter | None = None) -> pd.DataFrame:
    """Every run matching ``where``, newest first, with only what says its state
    (``run_id``, ``"user"``, ``status``, ``host``, ``pid``, ``heartbeat_at``): no trial is read
    but those a trial filter (prompt, model, search) needs."""
    condition, params = (where or RunFilter()).narrowed(store).where()
    return store.query(
        f"""
        SELECT r.run_id, r."user", r.status, r.host, r.pid, r.heartbeat_at
        FROM runs r LEFT JOIN experiments e ON e.name = r.experiment
        WHERE {condition}
        ORDER BY r.started_at DESC, r.run_id DESC
        """,
        params,
    )


def sweep_models(store: Source) -> list[str]:
    """The names of every model a sweep has called, sorted."""
    frame = store.query("SELECT DISTINCT model FROM trial_totals WHERE kind = 'sweep' AND model IS NOT NULL ORDER BY 1")
    return [str(name) for name in frame["model"]]


def experiments(store: Source) -> pd.DataFrame:
    """Experiments, most recently active first, with run and trial counts."""
    return store.query(
        """
        WITH trial_stats AS (
            SELECT experiment,
                   coalesce(sum(n_trials) FILTER (WHERE kind <> 'judge'), 0)::BIGINT AS n_trials,
                   coalesce(sum(n_errors) FILTER (WHERE kind <> 'judge'), 0)::BIGINT AS n_errors,
                   coalesce(sum(spent_usd) FILTER (WHERE kind <> 'judge'), 0) AS spent_usd,
                   coalesce(sum(n_trials) FILTER (WHERE kind = 'judge'), 0)::BIGINT AS n_judge_calls,
                   coalesce(sum(spent_usd) FILTER (WHERE kind = 'judge'), 0) AS judge_spent_usd,
                   max(last_at) AS last_trial_at,
                   list(DISTINCT "user" ORDER BY "user") AS users
            FROM trial_totals GROUP BY experiment
        ), run_stats AS (
            SELECT experiment, count(*) AS n_runs FROM runs GROUP BY experiment
        )
        SELECT e.name AS experiment, e.description, e.tags, coalesce(r.n_runs, 0) AS n_runs,
               coalesce(t.n_trials, 0) AS n_trials, coalesce(t.n_errors, 0) AS n_errors,
               coalesce(t.spent_usd, 0) AS spent_usd, coalesce(t.n_judge_calls, 0) AS n_judge_calls,
               coalesce(t.judge_spent_usd, 0) AS judge_spent_usd,
               t.users, e.created_at, e.created_by, t.last_trial_at
        FROM experiments e
        LEFT JOIN run_stats r ON r.experiment = e.name
        LEFT JOIN trial_stats t ON t.experiment = e.name
        ORDER BY coalesce(t.last_trial_at, e.created_at) DESC
        """
    )


def experiment(store: Source, name: str) -> dict[str, Any] | None:
    """The experiment's row, or None."""
    frame = store.query("SELECT * FROM experiments WHERE name = ?", [name])
    return None if frame.empty else {str(k): v for k, v in frame.iloc[0].to_dict().items()}


def run(store: Source, run_id: str) -> dict[str, Any]:
    """One run's row; ``run_id`` may be a unique prefix."""
    frame = store.query("SELECT * FROM runs WHERE starts_with(run_id, ?)", [run_id])
    return one_row(frame, "run", run_id)
