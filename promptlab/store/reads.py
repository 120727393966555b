"""Read queries over the live tables (folded rows plus the journal)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from promptlab.errors import NotFoundError
from promptlab.store.database import Reader, Store

Source = Store | Reader
"""Anything with ``query(sql, params)``: a store, or a session of several reads."""


@dataclass(frozen=True)
class TrialFilter:
    """Which trials to read; every field that is set must match."""

    experiment: str | None = None
    """Experiment name."""

    prompt: str | None = None
    """Prompt name."""

    prompt_version: str | None = None
    """Prompt version (content hash, or a prefix of it)."""

    model: str | None = None
    """Model name."""

    run: str | None = None
    """Run id."""

    user: str | None = None
    """Who ran it."""

    since: datetime | None = None
    """Created at or after this time (UTC)."""

    search: str | None = None
    """Case-insensitive text to find in the inputs or the output."""

    errors: bool | None = None
    """True: only failed trials; False: only successful ones."""

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition and its parameters."""
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        for column, value in (
            ("experiment", self.experiment),
            ("prompt_name", self.prompt),
            ("model", self.model),
            ("run_id", self.run),
            ('"user"', self.user),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.prompt_version is not None:
            clauses.append("starts_with(prompt_version, ?)")
            params.append(self.prompt_version)
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(self.since)
        if self.search:
            pattern = "%" + self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # the inputs' values only: a search for "text" must not match every row with a text column
            values = "array_to_string(json_extract_string(vars, '$.*'), ' ')"
            clauses.append(f"({values} ILIKE ? ESCAPE '\\' OR output ILIKE ? ESCAPE '\\')")
            params += [pattern, pattern]
        if self.errors is not None:
            clauses.append("error_type IS NOT NULL" if self.errors else "error_type IS NULL")
        return " AND ".join(clauses), params


def trials(
    store: Source,
    columns: Sequence[str],
    where: TrialFilter,
    limit: int | None = None,
    *,
    newest_first: bool = False,
) -> pd.DataFrame:
    """Trial rows matching ``where``, oldest first (or newest first); ``limit`` keeps
    the first rows of that order."""
    condition, params = where.where()
    selected = ", ".join(f'"{c}"' for c in columns)
    order = "DESC" if newest_first else "ASC"
    limit_sql = f" LIMIT {int(limit)}" if limit is not None else ""
    return store.query(
        f"SELECT {selected} FROM trials WHERE {condition} ORDER BY created_at {order}, trial_id {order}{limit_sql}",
        params,
    )


def cached_responses(store: Store, cache_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The first successful, paid-for response per cache key that history has."""
    if not cache_keys:
        return {}
    keys = pd.DataFrame({"cache_key": list(dict.fromkeys(cache_keys))})
    with store.reading() as reader:
        reader.con.register("wanted", keys)
        rows = reader.con.execute(
            """
            SELECT t.cache_key, t.trial_id, t.output, t.finish_reason, t.latency_ms, t.ttft_ms,
                   t.prompt_tokens, t.completion_tokens, t.request_id
            FROM trials t SEMI JOIN wanted w ON t.cache_key = w.cache_key
            WHERE t.error_type IS NULL AND NOT t.cached AND t.output IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY t.cache_key ORDER BY t.created_at, t.trial_id) = 1
            """
        ).fetchall()
    names = ("cache_key", "trial_id", "output", "finish_reason", "latency_ms", "ttft_ms",
             "prompt_tokens", "completion_tokens", "request_id")  # fmt: skip
    return {row[0]: dict(zip(names, row, strict=True)) for row in rows}


def done_cells(store: Source, run_id: str) -> set[str]:
    """Cell keys that already have a successful trial in the run."""
    frame = store.query("SELECT DISTINCT cell_key FROM trials WHERE run_id = ? AND error_type IS NULL", [run_id])
    return set(frame["cell_key"])


def unfinished_runs(store: Source, experiment: str, fingerprint: str, user: str) -> list[dict[str, Any]]:
    """The user's runs of this sweep that did not finish, newest first."""
    frame = store.query(
        """
        SELECT run_id, status, host, pid FROM runs
        WHERE experiment = ? AND fingerprint = ? AND "user" = ? AND status <> 'done'
        ORDER BY started_at DESC
        """,
        [experiment, fingerprint, user],
    )
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def runs(store: Source, experiment: str | None = None, fingerprint: str | None = None) -> pd.DataFrame:
    """Runs, newest first, with trial counts."""
    condition, params = ["TRUE"], []
    if experiment is not None:
        condition.append("r.experiment = ?")
        params.append(experiment)
    if fingerprint is not None:
        condition.append("r.fingerprint = ?")
        params.append(fingerprint)
    return store.query(
        f"""
        SELECT r.run_id, r.experiment, r.status, r.n_cells,
               count(t.trial_id) AS n_trials,
               count(t.error_type) AS n_errors,
               coalesce(sum(t.cached::INTEGER), 0)::BIGINT AS n_cached,
               sum(CASE WHEN t.cached THEN 0 ELSE t.cost_usd END) AS spent_usd,
               r.started_at, r.ended_at, r."user", r.host, r.pid, r.source, r.fingerprint, r.config
        FROM runs r LEFT JOIN trials t USING (run_id)
        WHERE {" AND ".join(condition)}
        GROUP BY ALL
        ORDER BY r.started_at DESC
        """,
        params,
    )


def experiments(store: Source) -> pd.DataFrame:
    """Experiments, most recently active first, with run and trial counts."""
    return store.query(
        """
        WITH trial_stats AS (
            SELECT experiment, count(*) AS n_trials, count(error_type) AS n_errors,
                   max(created_at) AS last_trial_at,
                   list(DISTINCT "user" ORDER BY "user") AS users
            FROM trials GROUP BY experiment
        ), run_stats AS (
            SELECT experiment, count(*) AS n_runs FROM runs GROUP BY experiment
        )
        SELECT e.name AS experiment, e.description, e.tags, coalesce(r.n_runs, 0) AS n_runs,
               coalesce(t.n_trials, 0) AS n_trials, coalesce(t.n_errors, 0) AS n_errors,
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
    return _one(frame, "run", run_id)


def trial(store: Source, trial_id: str) -> dict[str, Any]:
    """One trial's stored row; ``trial_id`` may be a unique prefix."""
    frame = store.query("SELECT * FROM trials WHERE starts_with(trial_id, ?)", [trial_id])
    return _one(frame, "trial", trial_id)


def _one(frame: pd.DataFrame, what: str, wanted: str) -> dict[str, Any]:
    if frame.empty:
        raise NotFoundError(f"no {what} with id {wanted!r}; `promptlab history` lists recent ones")
    if len(frame) > 1:
        raise NotFoundError(f"{len(frame)} {what}s have ids starting {wanted!r}; give more characters")
    return {str(k): v for k, v in frame.iloc[0].to_dict().items()}
