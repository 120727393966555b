"""The trial table as users see it: one declaration of its columns.

``run.df`` and ``lab.trials()`` are built here from stored rows, so every
DataFrame of trials has the same columns, in the same order, with JSON
decoded into Python values. Notebooks never write the joins themselves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from json.scanner import make_scanner
from typing import Any

import pandas as pd

from promptlab.errors import ConfigError

JSON_COLUMNS = frozenset(
    {
        "params",
        "vars",
        "messages",
        "response",
        "config",
        "tags",
        "template",
        "variables",
        "metadata",
        "row",
        "retrieval",
    }
)
"""Stored columns holding JSON text."""


_SCAN = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # as JSONDecoder makes its own; typeshed disagrees


def decode_json(value: Any) -> Any:
    """The Python value of a stored JSON column (None stays None).

    Exactly ``json.loads``, about 5× faster per value (it runs once per cell
    of every trial frame): the decoder's C scanner is called directly, and a
    text it doesn't take whole (leading blanks, trailing data, not JSON) goes
    to ``json.loads`` for its answer or its error."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if not isinstance(value, str):
        return value
    try:
        decoded, end = _SCAN(value, 0)
    except StopIteration:
        return json.loads(value)
    return decoded if end == len(value) else json.loads(value)


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row with its JSON columns decoded and missing values as None."""
    decoded = {}
    for name, value in row.items():
        if name in JSON_COLUMNS:
            decoded[name] = decode_json(value)
        else:
            decoded[name] = None if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)) else value
    return decoded


@dataclass(frozen=True)
class Column:
    """A column of the trials DataFrame."""

    name: str
    """Column name (also the stored column it comes from)."""

    doc: str
    """What it holds."""

    decode: Callable[[Any], Any] | None = None
    """Turns the stored value into the Python value shown; None keeps it."""


TRIAL_COLUMNS: tuple[Column, ...] = (
    Column("trial_id", "unique id of the trial"),
    Column("run_id", "the run that recorded it"),
    Column("experiment", "experiment name"),
    Column("prompt_name", "prompt name"),
    Column("prompt_version", "content hash of the prompt template"),
    Column("model", "model name"),
    Column("params", "model parameters (dict)", decode_json),
    Column("vars", "the input row (dict)", decode_json),
    Column("messages", "rendered messages sent (list of dicts)", decode_json),
    Column("output", "the model's text; None when the call failed"),
    Column("error", "what went wrong, None on success"),
    Column("error_type", "error class: RateLimitError, CallTimeoutError, ..."),
    Column("latency_ms", "duration of the call in milliseconds"),
    Column("ttft_ms", "time to first token (streamed calls)"),
    Column("prompt_tokens", "prompt tokens"),
    Column("completion_tokens", "completion tokens"),
    Column("cost_usd", "cost of the response; None when the price is unknown"),
    Column("cached", "answered from history without a call"),
    Column("repeat", "repeat index"),
    Column("row_index", "position of the input in the data set"),
    Column("finish_reason", "why generation stopped"),
    Column("attempts", "calls made (retries included; 0 when cached)"),
    Column("created_at", "when it finished (UTC)"),
    Column("user", "who ran it"),
    Column("host", "host it ran on"),
    Column("source", "notebook or script"),
    Column("git_commit", "git commit of the working directory"),
    Column("model_id", "content hash of the model config"),
    Column("provider", "provider that ran it"),
    Column("cell_key", "hash identifying the cell"),
    Column("cache_key", "hash identifying the request"),
    Column("cached_from", "trial whose response a cached trial reused"),
    Column("request_id", "the endpoint's id for the call"),
    Column("votes_up", "thumbs-up votes people gave it"),
    Column("votes_down", "thumbs-down votes"),
    Column("correction", "the latest corrected output someone stored, if any"),
    Column("n_comments", "comments people left on it"),
    Column("truncated", "the output was longer than a trial may hold and was cut"),
    Column("kind", "sweep (a cell), judge (a judge's grading call) or production (an app's logged call)"),
    Column("label", "the label that served the prompt (production calls)"),
    Column("external_id", "the app's own id for the call (production calls)"),
    Column("end_user", "who the app served (production calls)"),
    Column("session_id", "the app's session (production calls)"),
    Column("metadata", "what the app logged with the call (dict)", decode_json),
    Column("tier", "the data tier of what went into it (promptlab.privacy); empty: the policy's default"),
    Column("retriever", "the retriever that found its context (pl.retrievers); empty: none"),
    Column(
        "retrieval",
        "what that retriever found (dict): query, corpus, corpus_version, settings, k and hits "
        "(chunk_id, doc_id, score, rank, text)",
        decode_json,
    ),
)

TRIAL_COLUMN_NAMES = [column.name for column in TRIAL_COLUMNS]


SCORE_PREFIX = "score_"
"""Each evaluator adds ``score_<label>`` (its value) and, when it decides pass or
fail, ``passed_<label>``."""

PASSED_PREFIX = "passed_"

LABEL_PREFIX = "label_"
"""``label_<label>``: the label the evaluator gave (a class, a judge's verdict), when it gave one."""

EXPLANATION_PREFIX = "explanation_"
"""``explanation_<label>``: why the evaluator (a judge, say) gave its score, when it said."""

EVAL_ERROR_PREFIX = "eval_error_"
"""``eval_error_<label>``: why the evaluator couldn't score the trial, when it couldn't."""

JUDGE_TRIAL_PREFIX = "judge_trial_"
"""``judge_trial_<label>``: the judge's own recorded trial (``lab.trial(id)`` shows its call)."""

EVAL_ERRORS = "eval_errors"
"""How many evaluators couldn't score the trial (a column of every trials frame)."""


def trial_frame(stored: pd.DataFrame, scores: pd.DataFrame | None = None, *, decode: bool = True) -> pd.DataFrame:
    """The user-facing trials DataFrame from stored rows of ``TRIAL_COLUMN_NAMES``,
    with a column per evaluator from the newest ``scores`` (long form);
    ``decode=False`` leaves JSON columns as their stored text."""
    frame = stored.reindex(columns=TRIAL_COLUMN_NAMES).copy()
    for column in TRIAL_COLUMNS:
        if column.decode is not None and decode:
            values = [column.decode(value) for value in frame[column.name].tolist()]
            frame[column.name] = pd.Series(values, index=frame.index, dtype=object)
    frame = frame.reset_index(drop=True)
    frame[EVAL_ERRORS] = 0
    if scores is None or scores.empty:
        return frame
    for evaluator, rows in scores.groupby("evaluator", sort=True):
        by_trial = rows.set_index("trial_id")
        frame[f"{SCORE_PREFIX}{evaluator}"] = frame["trial_id"].map(by_trial["value"]).astype(float)
        if by_trial["passed"].notna().any():
            frame[f"{PASSED_PREFIX}{evaluator}"] = frame["trial_id"].map(by_trial["passed"]).astype("boolean")
        for prefix, field in (
            (LABEL_PREFIX, "label"),
            (EXPLANATION_PREFIX, "explanation"),
            (EVAL_ERROR_PREFIX, "error"),
            (JUDGE_TRIAL_PREFIX, "judge_trial_id"),
        ):
            if field in by_trial and by_trial[field].notna().any():
                frame[f"{prefix}{evaluator}"] = frame["trial_id"].map(by_trial[field]).astype(object)
        if "error" in by_trial:
            frame[EVAL_ERRORS] += frame["trial_id"].map(by_trial["error"].notna()).fillna(False).astype(int)
    return frame


def metric_column(
    trials: pd.DataFrame, metric: str | None, *, plain: bool = True, error: type[ConfigError] = ConfigError
) -> str:
    """The column of ``trials`` holding ``metric``: an evaluator's score (its
    label, with or without ``score_``), with ``plain`` any other column
    (``latency_ms``), and with None the only evaluator's. Else ``error`` names
    the column it looked for and the evaluators that scored these trials."""
    labels = score_columns(trials)
    scored = ", ".join(labels) if labels else "none yet (score them first with lab.evaluate)"
    if metric is None:
        if len(labels) == 1:
            return SCORE_PREFIX + labels[0]
        raise error(f"which evaluator's score? Pass evaluator= (or metric=) one of: {scored}")
    scores = metric if metric.startswith(SCORE_PREFIX) else SCORE_PREFIX + metric
    for candidate in (scores, metric) if plain else (scores,):
        if candidate in trials.columns:
            return candidate
    raise error(
        f"no column {scores!r}: evaluator {metric!r} scored none of these trials. Evaluators that did: {scored}"
    )


def score_columns(frame: pd.DataFrame) -> list[str]:
    """The evaluator labels that have a ``score_`` column in ``frame``."""
    return [c.removeprefix(SCORE_PREFIX) for c in frame.columns if c.startswith(SCORE_PREFIX)]
