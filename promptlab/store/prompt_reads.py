"""Read queries about prompts: names, versions, where labels point, the audit log.

Label events are ordered by their sequence number ``seq``, never by the wall
clock: a clock set wrong, or an event dated in the future, must not decide
where a label points. Only events promptlab chained (``hash`` set) carry a
trusted ``seq``; events without one (written before promptlab kept a chain,
or by something else) come first, in the order of their times, so none of
them can outrank a chained move.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from promptlab.store.reads import Source, one_row

_CHAINED = "(hash IS NOT NULL AND seq IS NOT NULL)"


def event_order(*, newest_first: bool = False) -> str:
    """The ``ORDER BY`` terms putting label events in the order they happened:
    unchained events by time, then chained ones by ``seq``."""
    way = " DESC" if newest_first else ""
    terms = (_CHAINED, f"CASE WHEN {_CHAINED} THEN seq END", "created_at", "event_id")
    return ", ".join(term + way for term in terms)


def prompt_versions(store: Source, name: str) -> pd.DataFrame:
    """Every version ever run under a prompt name, oldest first, with use counts (of sweep
    trials: what applications logged is monitoring's, ``production_reads``)."""
    return store.query(
        """
        WITH used AS (
            SELECT prompt_version, sum(n_trials)::BIGINT AS n_trials, count(DISTINCT run_id) AS n_runs,
                   min(first_at) AS first_at,
                   list(DISTINCT model ORDER BY model) FILTER (WHERE model IS NOT NULL) AS models
            FROM trial_totals WHERE prompt_name = ? AND kind = 'sweep' GROUP BY prompt_version
        )
        SELECT p.version, p.template, p.variables, coalesce(u.first_at, p.created_at) AS first_seen,
               p.created_by, coalesce(u.n_trials, 0) AS n_trials, coalesce(u.n_runs, 0) AS n_runs, u.models
        FROM prompts p LEFT JOIN used u ON u.prompt_version = p.version
        WHERE p.name = ?
        ORDER BY first_seen
        """,
        [name, name],
    )


def version_numbers(store: Source, names: Sequence[str]) -> pd.DataFrame:
    """``name``, ``version``, ``number``: each version of ``names`` counted from 1 in the
    order it first ran (``first_seen`` as ``prompt_versions`` has it; ties by version),
    as people call them (``v2``). Reads only those names' totals."""
    return store.query(
        """
        WITH used AS (
            SELECT prompt_name, prompt_version, min(first_at) AS first_at FROM trial_totals
            WHERE list_contains(?, prompt_name) GROUP BY prompt_name, prompt_version
        ), firsts AS (
            SELECT p.name, p.version, coalesce(u.first_at, p.created_at) AS first_seen
            FROM prompts p LEFT JOIN used u ON u.prompt_name = p.name AND u.prompt_version = p.version
            WHERE list_contains(?, p.name)
        )
        SELECT name, version, row_number() OVER (PARTITION BY name ORDER BY first_seen, version) AS number
        FROM firsts ORDER BY name, number
        """,
        [list(names), list(names)],
    )


def version_messages(store: Source, name: str) -> dict[str, str]:
    """Each version of ``name``'s message (``Prompt(message=...)``): the first one a
    run recorded with it in its config. Reads the runs' configs, not the trials."""
    found = store.query(
        """
        WITH listed AS (
            SELECT r.started_at, unnest(CAST(json_extract(r.config, '$.prompts') AS JSON[])) AS p FROM runs r
        )
        SELECT p ->> 'version' AS version, arg_min(p ->> 'message', started_at) AS message
        FROM listed WHERE p ->> 'name' = ? AND p ->> 'message' IS NOT NULL
        GROUP BY ALL
        """,
        [name],
    )
    return {str(v): str(m) for v, m in zip(found["version"], found["message"], strict=True)}


def prompt_names(store: Source) -> pd.DataFrame:
    """Prompt names with how many versions and trials each has."""
    return store.query(
        """
        WITH used AS (  -- summed per version first: a few groups to join
            SELECT prompt_name, prompt_version, sum(n_trials) AS n_trials, max(last_at) AS last_used
            FROM trial_totals WHERE kind = 'sweep' GROUP BY prompt_name, prompt_version
        )
        SELECT p.name, count(DISTINCT p.version) AS n_versions, coalesce(sum(u.n_trials), 0)::BIGINT AS n_trials,
               max(coalesce(u.last_used, p.created_at)) AS last_used
        FROM prompts p LEFT JOIN used u ON u.prompt_name = p.name AND u.prompt_version = p.version
        GROUP BY p.name ORDER BY last_used DESC
        """
    )


def labels_sql(*, of_name: bool) -> str:
    """The query ``labels`` runs (``of_name``: one prompt's, ``?`` its name)."""
    condition = "WHERE name = ?" if of_name else ""
    return f"""
        SELECT name, label, to_version AS version, model, "user" AS moved_by, approved_by,
               created_at AS moved_at, note
        FROM label_events {condition}
        QUALIFY row_number() OVER (PARTITION BY name, label ORDER BY {event_order(newest_first=True)}) = 1
        ORDER BY name, label
        """


def labels(store: Source, name: str | None = None) -> pd.DataFrame:
    """Where each label points now (the newest event per name and label)."""
    return store.query(labels_sql(of_name=name is not None), [name] if name is not None else None)


def label_events(store: Source, name: str | None = None, label: str | None = None) -> pd.DataFrame:
    """The label audit log, oldest first (in ``seq`` order)."""
    clauses, params = ["TRUE"], []
    for column, value in (("name", name), ("label", label)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return store.query(f"SELECT * FROM label_events WHERE {' AND '.join(clauses)} ORDER BY {event_order()}", params)


def prompt_template(store: Source, name: str, version: str) -> dict[str, Any]:
    """The stored template row of one prompt version (a unique version prefix is enough)."""
    frame = store.query(PROMPT_TEMPLATE_SQL, [name, version])
    return one_row(frame, f"version of prompt {name!r}", version)


PROMPT_TEMPLATE_SQL = (
    "SELECT name, version, template, arg_min(created_by, created_at) AS created_by, min(created_at) AS created_at "
    "FROM prompts WHERE name = ? AND starts_with(version, ?) GROUP BY name, version, template"
)
"""The query ``prompt_template`` runs."""


def model_usage(store: Source, name: str, version: str) -> pd.DataFrame:
    """The model configs a prompt version ran with, most trials first (then fewest
    errors, then by name: the same history always recommends the same model)."""
    return store.query(
        """
        SELECT m.model_id, m.provider, m.name, m.base_url, m.params, count(*) AS n_trials,
               count(t.error_type) AS n_errors, arg_max(t.run_id, t.created_at) AS last_run
        FROM trials t JOIN models m ON m.model_id = t.model_id
        WHERE t.prompt_name = ? AND t.prompt_version = ? AND coalesce(t.kind, 'sweep') = 'sweep'
        GROUP BY ALL ORDER BY n_trials DESC, n_errors, m.name, m.model_id
        """,
        [name, version],
    )


_NEWEST_SCORES = """
    SELECT s.trial_id, s.evaluator, s.value
    FROM scores s
    WHERE s.trial_id IN (
        SELECT trial_id FROM trials
        WHERE prompt_name = ? AND starts_with(prompt_version, ?) AND coalesce(kind, 'sweep') = 'sweep'
    )
    QUALIFY row_number() OVER (PARTITION BY s.trial_id, s.evaluator ORDER BY s.created_at DESC, s.score_id DESC) = 1
"""
"""The newest score per (trial, evaluator) of one prompt's sweep trials (all versions with ``''``);
an application's logged calls are scored apart (``lab.monitor``), never mixed into a version's evidence."""


def version_scores(store: Source, name: str, version: str = "") -> pd.DataFrame:
    """Each evaluator's mean over the newest scores of ``name``'s trials, per
    ``prompt_version`` and ``model`` (every parameter setting of the model
    together): ``prompt_version``, ``model``, ``evaluator``, ``mean``, ``n``
    (scored trials; a score that errored has no value and isn't counted).
    Only ``version``'s (a prefix) when given. Computed where the data is."""
    return store.query(
        f"""
        SELECT t.prompt_version, t.model, s.evaluator, avg(s.value) AS mean, count(s.value) AS n
        FROM ({_NEWEST_SCORES}) s JOIN trials t USING (trial_id)
        GROUP BY ALL
        HAVING count(s.value) > 0
        ORDER BY t.prompt_version, t.model, s.evaluator
        """,
        [name, version],
    )


def version_evidence(store: Source, name: str, version: str, runs: int) -> dict[str, Any]:
    """A version's trial and error counts and its ``runs`` most recent run ids, newest first."""
    counts = store.query(
        """
        SELECT count(*) AS n_trials, count(error_type) AS errors
        FROM trials WHERE prompt_name = ? AND starts_with(prompt_version, ?) AND coalesce(kind, 'sweep') = 'sweep'
        """,
        [name, version],
    )
    recent = store.query(
        """
        SELECT run_id FROM trials
        WHERE prompt_name = ? AND starts_with(prompt_version, ?) AND coalesce(kind, 'sweep') = 'sweep'
        GROUP BY run_id ORDER BY max(created_at) DESC, run_id LIMIT ?
        """,
        [name, version, runs],
    )
    return {
        "runs": list(recent["run_id"]),
        "n_trials": int(counts["n_trials"].iloc[0]),
        "errors": int(counts["errors"].iloc[0]),
    }


def version_configs(store: Source, name: str) -> pd.DataFrame:
    """The model configs each version of ``name`` ran with: ``prompt_version``,
    ``model``, ``params`` (JSON text), ``n_trials`` and ``n_errors`` (failed
    calls), one row per (version, model, params), in that order. The trials
    ``version_scores`` averages over, so a mean can say which configs it covers."""
    return store.query(
        """
        SELECT prompt_version, model, params::VARCHAR AS params,
               count(*) AS n_trials, count(error_type) AS n_errors
        FROM trials WHERE prompt_name = ? AND coalesce(kind, 'sweep') = 'sweep'
        GROUP BY ALL
        ORDER BY prompt_version, model, params
        """,
        [name],
    )
