"""Read queries over the live tables (folded rows plus the journal)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd

from promptlab.core.prompt import VERSION_LENGTH
from promptlab.errors import ConfigError, NotFoundError
from promptlab.store import search_index
from promptlab.store.database import Store
from promptlab.store.schema import TABLES

Source = Any
"""Anything with ``query(sql, params)``: a store (the file's ``Store``, a team
server's ``ServerStore``), or a session of several reads (a ``Reader``)."""


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

    kind: str | None = "sweep"
    """``sweep`` (the default): a sweep's cells; ``judge``: judges' calls; None: both."""

    trial_ids: Sequence[str] | None = None
    """Only these trials."""

    search_in: Sequence[str] | None = None
    """The trials the search index says may hold ``search`` (``narrowed`` sets
    it): the text is then tested on those alone."""

    def __post_init__(self) -> None:
        texts = ("experiment", "prompt", "prompt_version", "model", "run", "user", "search", "kind")
        for name in texts:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name}= takes a name (text), not {type(value).__name__} {value!r}")
        if self.errors is not None and not isinstance(self.errors, bool):
            raise ConfigError(f"errors= takes True, False or None, not {self.errors!r}")
        if self.since is not None and not isinstance(self.since, datetime):
            raise ConfigError(f"since= takes a datetime, not {self.since!r}")

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
        if self.prompt_version is not None:  # a whole version is matched as such: an index serves it
            whole = len(self.prompt_version) == VERSION_LENGTH
            clauses.append("prompt_version = ?" if whole else "starts_with(prompt_version, ?)")
            params.append(self.prompt_version)
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(self.since)
        if self.search:
            pattern = "%" + self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # the inputs' values only: a search for "text" must not match every row with a text column
            values = "array_to_string(json_extract_string(vars, '$.*'), ' ')"
            if self.search_in is not None:
                clauses.append("trial_id IN (SELECT unnest(?))")
                params.append(list(self.search_in))
            clauses.append(f"({values} ILIKE ? ESCAPE '\\' OR output ILIKE ? ESCAPE '\\')")
            params += [pattern, pattern]
        if self.errors is not None:
            clauses.append("error_type IS NOT NULL" if self.errors else "error_type IS NULL")
        if self.kind is not None:
            clauses.append("coalesce(kind, 'sweep') = ?")
            params.append(self.kind)
        if self.trial_ids is not None:
            clauses.append("trial_id IN (SELECT unnest(?))")
            params.append(list(self.trial_ids))
        return " AND ".join(clauses), params


def narrowed(store: Source, where: TrialFilter) -> TrialFilter:
    """``where`` with the trials its ``search`` may match, as the search index
    says (plus those it doesn't cover yet): the same answers, without testing
    the text of every trial. Unchanged when the index can't narrow it."""
    if not where.search or where.search_in is not None or not getattr(store, "indexed_search", True):
        return where
    patterns = search_index.patterns(where.search)
    if patterns is None:
        return where
    others = replace(where, search=None)
    if others != TrialFilter(kind=where.kind):  # other filters: how many trials do they leave?
        condition, params = others.where()
        ((selected,),) = store.query(f"SELECT count(*) FROM trials WHERE {condition}", params).itertuples(index=False)
        if selected <= search_index.SCAN_BELOW:
            return where
    candidates = search_index.weighed(patterns)
    weights = store.query(search_index.WEIGHTS_SQL, {"patterns": candidates})
    fewest = weights.sort_values(["n", "i"])["i"].head(search_index.NARROWING)
    patterns = [candidates[int(i)] for i in fewest]
    frame = store.query(
        f"{search_index.candidates_sql(len(patterns))} UNION SELECT trial_id FROM unindexed_trials", patterns
    )
    return replace(where, search_in=list(frame["trial_id"]))


_FEEDBACK_COLUMNS = ", ".join(
    "coalesce(f.trial_id, e.trial_id, f.external_id) AS trial_id" if column == "trial_id" else f'f."{column}"'
    for column in TABLES["feedback"].column_names
)
FEEDBACK = f"""(
    SELECT {_FEEDBACK_COLUMNS}
    FROM feedback f LEFT JOIN (
        SELECT external_id, arg_max(trial_id, created_at) AS trial_id FROM trials
        WHERE external_id IN (SELECT external_id FROM feedback WHERE trial_id IS NULL)
        GROUP BY external_id
    ) e ON f.trial_id IS NULL AND e.external_id = f.external_id
)"""
"""Every feedback row with the trial it is about: an application may name a
call by its own id (``external_id``, given when the call was logged) instead
of promptlab's trial id, or by a trial id it kept; the newest trial logged
with that id, else the trial with that id. Reads of feedback go through it."""

TRIALS_WITH_FEEDBACK = f"""
    SELECT t.*, coalesce(v.votes_up, 0) AS votes_up, coalesce(v.votes_down, 0) AS votes_down,
           f.correction, coalesce(f.n_comments, 0) AS n_comments
    FROM trials t LEFT JOIN (
        SELECT trial_id,
               arg_max(correction, created_at) FILTER (WHERE correction IS NOT NULL) AS correction,
               count(comment) AS n_comments
        FROM {FEEDBACK} GROUP BY trial_id
    ) f USING (trial_id) LEFT JOIN (
        SELECT trial_id, count(*) FILTER (WHERE vote > 0) AS votes_up, count(*) FILTER (WHERE vote < 0) AS votes_down
        FROM (
            SELECT trial_id, arg_max(vote, (created_at, feedback_id)) AS vote
            FROM {FEEDBACK} WHERE vote IS NOT NULL
            GROUP BY trial_id, lower(trim("user"))
        ) GROUP BY trial_id
    ) v USING (trial_id)
"""
"""Trials with their feedback summed up: current votes each way (one per person:
the newest; 0 withdraws it) and the latest correction."""


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
    condition, params = narrowed(store, where).where()
    selected = ", ".join(f'"{c}"' for c in columns)
    order = "DESC" if newest_first else "ASC"
    limit_sql = f" LIMIT {int(limit)}" if limit is not None else ""
    with contextlib.nullcontext(store) if hasattr(store, "frame") else store.reading() as reader:
        return reader.frame(
            f"SELECT {selected} FROM ({TRIALS_WITH_FEEDBACK}) WHERE {condition} "
            f"ORDER BY created_at {order}, trial_id {order}{limit_sql}",
            params,
        )


def latest_scores(store: Source, where: TrialFilter) -> pd.DataFrame:
    """The newest score per (trial, evaluator) for the trials ``where`` selects
    (a list of ids alone is matched to the scores directly, not through ``trials``)."""
    if where == TrialFilter(trial_ids=where.trial_ids, kind=None) and where.trial_ids is not None:
        chosen, params = "SELECT unnest(?)", [list(where.trial_ids)]
    else:
        condition, params = narrowed(store, where).where()
        chosen = f"SELECT trial_id FROM trials WHERE {condition}"
    return store.query(
        f"""
        SELECT trial_id, evaluator, value, passed, label, explanation, error, judge_trial_id
        FROM scores
        WHERE trial_id IN ({chosen})
        QUALIFY row_number() OVER (PARTITION BY trial_id, evaluator ORDER BY created_at DESC, score_id DESC) = 1
        """,
        params,
    )


def scored_evaluators(store: Source, where: TrialFilter) -> list[str]:
    """The evaluators that scored any of the trials ``where`` selects, sorted."""
    condition, params = narrowed(store, where).where()
    frame = store.query(
        f"SELECT DISTINCT evaluator FROM scores WHERE trial_id IN (SELECT trial_id FROM trials WHERE {condition}) "
        "ORDER BY evaluator",
        params,
    )
    return [str(evaluator) for evaluator in frame["evaluator"]]


def evaluator_specs(store: Source, where: TrialFilter) -> pd.DataFrame:
    """Per evaluator label that scored the trials ``where`` selects: the
    ``evaluator_name`` and ``args`` (JSON text) of its newest score, from which
    ``promptlab.evals.meaning`` tells what its scores mean."""
    condition, params = narrowed(store, where).where()
    return store.query(
        f"""
        SELECT evaluator, evaluator_name, CAST(args AS VARCHAR) AS args
        FROM scores
        WHERE trial_id IN (SELECT trial_id FROM trials WHERE {condition})
        QUALIFY row_number() OVER (PARTITION BY evaluator ORDER BY created_at DESC, score_id DESC) = 1
        ORDER BY evaluator
        """,
        params,
    )


def pairwise_verdicts(store: Source, trial_ids: Sequence[str]) -> pd.DataFrame:
    """The newest pairwise judge verdict per (trial, judge, opponent) on these
    trials: ``trial_id``, ``evaluator``, ``opponent``, ``label`` (win/loss/tie)."""
    return store.query(
        """
        SELECT trial_id, evaluator, json_extract_string(args, '$.opponent') AS opponent, label, created_at
        FROM scores
        WHERE evaluator_name = 'pairwise_judge' AND error IS NULL AND trial_id IN (SELECT unnest(?))
        QUALIFY row_number() OVER (
            PARTITION BY trial_id, evaluator, json_extract_string(args, '$.opponent')
            ORDER BY created_at DESC, score_id DESC) = 1
        ORDER BY created_at, trial_id
        """,
        [list(trial_ids)],
    )


CACHED_COLUMNS = (
    "cache_key",
    "trial_id",
    "output",
    "finish_reason",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "request_id",
)
"""What a cached trial takes from the trial whose response it reuses."""


def cached_responses(store: Store, cache_keys: Sequence[str], wait: float | None = None) -> dict[str, dict[str, Any]]:
    """The first successful, paid-for response per cache key that history has
    (``wait``: how long another program may hold the file; see ``Store.reading``).

    Two steps, so the cost doesn't grow with the history's outputs: the keys'
    narrow columns pick each key's first trial (its ``rowid`` when folded),
    then only those rows' outputs are read. For 2,000 keys at a million
    trials this takes 0.1 s and +50 MB, where reading every matching trial's
    columns before choosing took 0.3 s and +270 MB."""
    if not cache_keys:
        return {}
    keys = pd.DataFrame({"cache_key": list(dict.fromkeys(cache_keys))})
    usable = "t.error_type IS NULL AND NOT t.cached AND t.output IS NOT NULL"
    if not store.indexed_search:  # a team server: its index on cache_key serves one plain query
        frame = store.query(
            f"SELECT DISTINCT ON (cache_key) {', '.join(CACHED_COLUMNS)} FROM trials t "
            f"WHERE cache_key IN (SELECT unnest(?)) AND {usable} ORDER BY cache_key, created_at, trial_id",
            [list(keys["cache_key"])],
        )
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return {str(row["cache_key"]): {str(k): v for k, v in row.items()} for row in records}
    with store.reading(wait) as reader:
        reader.con.register("wanted", keys)
        folded, columns = reader.folded("trials"), ", ".join(f"t.{name}" for name in CACHED_COLUMNS)
        rows = reader.execute(
            f"""
            WITH candidates AS (
                SELECT t.cache_key, t.created_at, t.trial_id, t.rowid AS folded_row
                FROM {folded} t SEMI JOIN wanted w ON t.cache_key = w.cache_key WHERE {usable}
                UNION ALL
                SELECT t.cache_key, t.created_at, t.trial_id, NULL
                FROM journal_trials t SEMI JOIN wanted w ON t.cache_key = w.cache_key WHERE {usable}
            ), firsts AS (
                SELECT * FROM candidates
                QUALIFY row_number() OVER (PARTITION BY cache_key ORDER BY created_at, trial_id) = 1
            )
            SELECT {columns} FROM {folded} t SEMI JOIN firsts f ON t.rowid = f.folded_row
            UNION ALL
            SELECT {columns} FROM journal_trials t
            SEMI JOIN (SELECT trial_id FROM firsts WHERE folded_row IS NULL) f ON t.trial_id = f.trial_id
            """
        ).fetchall()
    return {row[0]: dict(zip(CACHED_COLUMNS, row, strict=True)) for row in rows}


def feedback(store: Source, trial_id: str | None = None) -> pd.DataFrame:
    """Feedback rows, oldest first; only one trial's when ``trial_id`` is given."""
    if trial_id is None:
        return store.query(f"SELECT * FROM {FEEDBACK} ORDER BY created_at, feedback_id")
    return store.query(f"SELECT * FROM {FEEDBACK} WHERE trial_id = ? ORDER BY created_at, feedback_id", [trial_id])


def completion_tokens(store: Source, model_names: Sequence[str]) -> pd.DataFrame:
    """Completion tokens of successful, paid-for sweep calls on these models, per
    (``model``, ``prompt_name``, ``prompt_version``): their ``total`` and ``n``."""
    return store.query(
        """
        SELECT model, coalesce(prompt_name, '') AS prompt_name, prompt_version,
               sum(completion_tokens) AS total, count(*) AS n
        FROM trials
        WHERE model IN (SELECT unnest(?)) AND NOT cached AND error_type IS NULL
              AND completion_tokens IS NOT NULL AND coalesce(kind, 'sweep') = 'sweep'
        GROUP BY model, coalesce(prompt_name, ''), prompt_version
        """,
        [list(model_names)],
    )


def trial(store: Source, trial_id: str) -> dict[str, Any]:
    """One trial's stored row; ``trial_id`` may be a unique prefix."""
    frame = store.query("SELECT * FROM trials WHERE starts_with(trial_id, ?)", [trial_id])
    return one_row(frame, "trial", trial_id)


def one_row(frame: pd.DataFrame, what: str, wanted: str) -> dict[str, Any]:
    if frame.empty:
        raise NotFoundError(f"no {what} with id {wanted!r}; `promptlab history` lists recent ones")
    if len(frame) > 1:
        raise NotFoundError(f"{len(frame)} {what}s have ids starting {wanted!r}; give more characters")
    return {str(k): v for k, v in frame.iloc[0].to_dict().items()}
