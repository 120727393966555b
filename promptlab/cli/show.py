"""``promptlab show TRIAL``: everything about one trial, as text.

The stored row (what was asked, what came back, what it cost, who ran it),
then each evaluator's verdict (score, pass or fail, the category it chose,
its explanation, why it couldn't score, the judge's own recorded call), then
what people said (each person's current vote, corrections, comments,
actions). Nothing here reads the store; ``cli.py`` fetches and prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from promptlab.analysis.columns import (
    EVAL_ERROR_PREFIX,
    EXPLANATION_PREFIX,
    JUDGE_TRIAL_PREFIX,
    PASSED_PREFIX,
    SCORE_PREFIX,
    score_columns,
)
from promptlab.analysis.stats import params_label
from promptlab.cli.render import UNKNOWN, count, duration, is_missing, is_true, money, short_id, when
from promptlab.core.feedback import current_votes

CATEGORY_PREFIX = "label_"
"""``label_<evaluator>``: the category a score carries (``Score.label``), shown when the trials frame has it."""


def _field(label: str, value: Any) -> str:
    return f"{label + ':':<15}{UNKNOWN if is_missing(value) else value}"


def _indented(text: str, spaces: int = 2) -> list[str]:
    return [" " * spaces + line for line in text.splitlines()] or [" " * spaces]


def trial_lines(
    trial: Mapping[str, Any],
    scored: Mapping[str, Any] | None = None,
    feedback: pd.DataFrame | None = None,
    promptlab: str = "promptlab",
) -> list[str]:
    """Everything about one trial: its stored row (``Lab.trial``), the scores of its
    row in a trials frame (``scored``) and its feedback log rows (``Lab.feedback_for``).
    ``promptlab`` is the command to repeat in suggestions (with its ``--db``)."""
    lines = _call_lines(trial)
    if scored is not None:
        lines += ["", *score_lines(scored, promptlab)]
    if feedback is not None:
        lines += ["", *feedback_lines(feedback, str(trial["trial_id"]))]
    return lines


def _call_lines(trial: Mapping[str, Any]) -> list[str]:
    failed = not is_missing(trial.get("error_type"))
    cached = is_true(trial.get("cached"))
    lines = [
        f"trial {trial['trial_id']}" + ("  (FAILED)" if failed else "") + ("  (cached)" if cached else ""),
        _field("experiment", trial.get("experiment")),
        _field("run", trial.get("run_id")),
        _field("prompt", f"{trial.get('prompt_name')} (version {trial.get('prompt_version')})"),
        _field("model", f"{trial.get('model')} on {trial.get('provider')} (config {trial.get('model_id')})"),
        _field("params", params_label(trial.get("params")) or "none"),
        _field("row", f"{trial.get('row_index')}, repeat {trial.get('repeat')}"),
        "",
        "vars:",
        *_indented(json.dumps(trial.get("vars"), ensure_ascii=False, indent=2, default=str)),
        "",
        *_retrieval_lines(trial.get("retrieval")),
        "messages:",
    ]
    for message in trial.get("messages") or []:
        lines += [f"  [{message.get('role')}]", *_indented(str(message.get("content")), 4)]
    lines.append("")
    if failed:
        lines += [f"error: {trial['error_type']}", *_indented(str(trial.get("error")))]
    else:
        lines += ["output:", *_indented("" if is_missing(trial.get("output")) else str(trial["output"]))]
    return [*lines, "", *_facts(trial, cached)]


def _retrieval_lines(found: Any) -> list[str]:
    """What the trial's retriever found: the query, then each passage with its rank, document and score."""
    if not isinstance(found, Mapping):
        return []
    lines = [
        f"retrieval:     {found.get('retriever')} over {found.get('corpus')} (version {found.get('corpus_version')})",
        f"  query: {found.get('query')}",
    ]
    for hit in found.get("hits") or []:
        lines += [f"  [{hit.get('rank')}] {hit.get('chunk_id')}  score {float(hit.get('score', 0)):.3f}"]
        lines += _indented(str(hit.get("text")), 6)
    return [*lines, ""] if found.get("hits") else [*lines, "  (no passage matched)", ""]


def _facts(trial: Mapping[str, Any], cached: bool) -> list[str]:
    tokens = f"{count(trial.get('prompt_tokens'))} prompt + {count(trial.get('completion_tokens'))} completion"
    first_token = "" if is_missing(trial.get("ttft_ms")) else f" (first token {duration(trial['ttft_ms'])})"
    return [
        _field("tokens", tokens),
        _field("latency", duration(trial.get("latency_ms"))) + first_token,
        _field("cost", money(trial.get("cost_usd"))),
        _field("cached", f"yes, reused trial {trial.get('cached_from')}" if cached else "no"),
        _field("attempts", trial.get("attempts")),
        _field("finish reason", trial.get("finish_reason")),
        _field("request id", trial.get("request_id")),
        _field("user", trial.get("user")),
        _field("host", trial.get("host")),
        _field("source", trial.get("source")),
        _field("git commit", trial.get("git_commit")),
        _field("started", when(trial.get("started_at"), seconds=True) + " UTC"),
        _field("finished", when(trial.get("created_at"), seconds=True) + " UTC"),
    ]


def _verdict(row: Mapping[str, Any], label: str) -> str:
    value = row.get(SCORE_PREFIX + label)
    parts = ["no score" if value is None or is_missing(value) else f"{float(value):.3g}"]
    passed = row.get(PASSED_PREFIX + label)
    if not is_missing(passed):
        parts.append("passed" if bool(passed) else "failed")
    category = row.get(CATEGORY_PREFIX + label)
    if not is_missing(category):
        parts.append(f"label {category}")
    return ", ".join(parts)


def score_lines(row: Mapping[str, Any], promptlab: str = "promptlab") -> list[str]:
    """Each evaluator's verdict on the trial of a trials-frame ``row``: score, pass or
    fail, category, explanation, evaluator error and the judge's own call."""
    labels = score_columns(pd.DataFrame(columns=list(row)))
    if not labels:
        return ["scores: none (score stored trials with lab.evaluate(run, [...]) or an experiment's evaluators:)"]
    width = max(len(label) for label in labels)
    lines = ["scores:"]
    for label in labels:
        lines.append(f"  {label:<{width}}  {_verdict(row, label)}")
        explanation, error = row.get(EXPLANATION_PREFIX + label), row.get(EVAL_ERROR_PREFIX + label)
        judge = row.get(JUDGE_TRIAL_PREFIX + label)
        if not is_missing(error):
            lines += ["    evaluator error:", *_indented(str(error), 6)]
        if not is_missing(explanation):
            lines += ["    explanation:", *_indented(str(explanation), 6)]
        if not is_missing(judge):
            lines.append(f"    judge's call:  {judge}  ({promptlab} show {short_id(judge)})")
    return lines


def feedback_lines(rows: pd.DataFrame, trial_id: str) -> list[str]:
    """What people said about a trial (``Lab.feedback_for`` rows, oldest first):
    each person's current vote, then corrections, comments and actions."""
    if rows.empty:
        return [
            f'feedback: none yet (lab.feedback("{short_id(trial_id)}", vote=1) records a vote, a correction, '
            "a comment or an action)"
        ]
    votes = current_votes(rows)
    shown = ", ".join(f"{user} {int(vote):+d}" for user, vote in zip(votes["user"], votes["vote"], strict=True))
    lines = ["feedback:", f"  votes (each person's current one): {shown or 'none'}"]
    for row in rows.to_dict("records"):
        said = f"  {when(row.get('created_at'))}  {row.get('user')}"
        for kind in ("correction", "comment", "action"):
            if not is_missing(row.get(kind)):
                lines += [f"{said}  {kind}:", *_indented(str(row[kind]), 4)]
    return lines
