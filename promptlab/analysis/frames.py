"""The DataFrames a notebook reads: trials with their scores and current
votes, runs with the status people should see, experiments with their
counts, all built from the store's reads and ``columns``' declarations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from promptlab.analysis import columns
from promptlab.core.lineage import run_status, utcnow
from promptlab.errors import ConfigError
from promptlab.store import Store, reads, run_reads


def as_utc(since: datetime | str | timedelta | None) -> datetime | None:
    """A time filter as a naive UTC datetime: a datetime (UTC when naive), an
    ISO string, or a timedelta meaning that long ago."""
    if since is None:
        return None
    if isinstance(since, timedelta):
        return utcnow() - since
    try:
        stamp = pd.Timestamp(since)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"since={since!r} is not a time; give a datetime, an ISO date such as '2026-11-30' or "
            "'2026-11-30T09:00', or a timedelta such as timedelta(days=1)"
        ) from exc
    if pd.isna(stamp):
        raise ConfigError(f"since={since!r} is not a time; give a datetime, an ISO date or a timedelta")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(UTC).tz_localize(None)
    return stamp.to_pydatetime()


def trial_filter(
    *,
    experiment: str | None = None,
    prompt: str | None = None,
    prompt_version: str | None = None,
    model: str | None = None,
    run: Any = None,
    user: str | None = None,
    since: datetime | str | timedelta | None = None,
    search: str | None = None,
    errors: bool | None = None,
    kind: str | None = "sweep",
    trial_ids: Sequence[str] | None = None,
) -> reads.TrialFilter:
    """``Lab.trials``' filters as the store's ``TrialFilter`` (``run``: an id or a ``Run``)."""
    return reads.TrialFilter(
        experiment=experiment,
        prompt=prompt,
        prompt_version=prompt_version,
        model=model,
        run=getattr(run, "run_id", run),
        user=user,
        since=as_utc(since),
        search=search,
        errors=errors,
        kind=kind,
        trial_ids=trial_ids,
    )


def read_trials(
    store: Store, where: reads.TrialFilter, limit: int | None = None, *, newest_first: bool = False
) -> pd.DataFrame:
    """The trials ``where`` selects, with a column per evaluator that scored them."""
    with store.reading() as reader:
        where = reads.narrowed(reader, where)  # once, for the trials and their scores
        stored = reads.trials(reader, columns.TRIAL_COLUMN_NAMES, where, limit, newest_first=newest_first)
        # Without a limit the filter selects these very trials, and a filter is
        # far cheaper for DuckDB than a list of 20,000 ids; not a search on a team
        # server, though: testing every trial's text again costs it more than the ids.
        searched_unindexed = bool(where.search) and not reader.indexed_search
        by_filter = limit is None and not searched_unindexed
        only_these = where if by_filter else reads.TrialFilter(trial_ids=list(stored["trial_id"]), kind=None)
        scores = reads.latest_scores(reader, only_these) if len(stored) else None
    return columns.trial_frame(stored, scores)


def read_runs(
    store: Store,
    where: run_reads.RunFilter,
    *,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    totals: bool = True,
) -> pd.DataFrame:
    """Runs, newest first, their config decoded and a dead ``running`` one shown
    ``interrupted``; only those in ``status`` (as shown) when given. ``totals=False``:
    only the runs' own state (``run_id``, ``user``, ``status``), no trial counts."""
    if status is not None or not totals:
        states = run_reads.run_states(store, where)
        states["status"] = _shown_status(states)
        if status is not None:
            states = states[states["status"] == status].reset_index(drop=True)
        if not totals:
            return states[["run_id", "user", "status"]]
        end = None if limit is None else offset + limit
        where = replace(where, run_ids=list(states["run_id"].iloc[offset:end]))
        limit, offset = None, 0
    frame = run_reads.runs(store, where, limit=limit, offset=offset)
    frame["config"] = frame["config"].map(columns.decode_json)
    frame["status"] = _shown_status(frame)
    return frame


def _shown_status(frame: pd.DataFrame) -> list[str]:
    return [
        run_status(*row)
        for row in zip(frame["status"], frame["host"], frame["pid"], frame["heartbeat_at"], strict=True)
    ]


def read_experiments(store: Store) -> pd.DataFrame:
    """Experiments with run and trial counts, most recently active first."""
    frame = run_reads.experiments(store)
    frame["tags"] = frame["tags"].map(columns.decode_json)
    return frame
