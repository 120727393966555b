"""Plain-text rendering for the command line: DataFrames and rows in, strings out.

Nothing here reads the store or prints; ``cli.py`` fetches and prints (and
passes what evaluators' scores mean, ``Lab.meanings``, where it matters).
Times are shown in UTC, as they are stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from promptlab.analysis.columns import score_columns
from promptlab.analysis.stats import compare, variant_columns, variant_name, with_variant_labels
from promptlab.core.pricing import dollars
from promptlab.evals import Meaning

UNKNOWN = "—"
"""Shown for a value nobody knows (a cost without a price, tokens of a failed call)."""


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (strings and containers never are)."""
    if value is None:
        return True
    if isinstance(value, (str, list, dict, tuple, np.ndarray)):
        return False
    return bool(pd.isna(value))


def is_true(value: Any) -> bool:
    """A stored flag that is set (missing counts as not set)."""
    return not is_missing(value) and bool(value)


def short_id(value: Any) -> str:
    """The first 8 characters of an id: enough to pass to ``promptlab show``."""
    return UNKNOWN if is_missing(value) else str(value)[:8]


def duration(ms: Any) -> str:
    """``0.4ms``, ``850ms``, ``2.4s``, ``3m05s``."""
    if is_missing(ms):
        return UNKNOWN
    ms = float(ms)
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}m{seconds:02d}s"


def money(usd: Any) -> str:
    """``$1.25``, ``$0.0012``, ``$0.000043``; ``$0`` when free; ``—`` when the price is unknown."""
    if is_missing(usd):
        return UNKNOWN
    return dollars(float(usd))


def count(value: Any) -> str:
    """A whole number, or ``—``."""
    return UNKNOWN if is_missing(value) else f"{int(value)}"


def when(stamp: Any, seconds: bool = False) -> str:
    """``2026-05-01 14:03`` (UTC), or ``—``."""
    if is_missing(stamp):
        return UNKNOWN
    return pd.Timestamp(stamp).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def one_line(text: Any, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    if width <= 0:
        return ""
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Iterable[str] = ()) -> list[str]:
    """Columns padded to their widest cell; ``right`` names the right-aligned ones.
    Trailing spaces are dropped, so a free-width last column stays ragged."""
    body = [list(row) for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *body, strict=True)]
    aligned = set(right)
    lines = []
    for row in [list(headers), *body]:
        cells = [
            cell.rjust(width) if header in aligned else cell.ljust(width)
            for header, cell, width in zip(headers, row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def prompt_label(name: Any, version: Any) -> str:
    """``summarize@1a2b3c``."""
    return f"{name}@{str(version)[:6]}"


def score_cell(row: Mapping[Any, Any], label: str) -> str:
    """An evaluator's mean for one variant, with its 95% interval when known: ``0.71 [0.50, 0.86]``."""
    mean = row.get(f"{label}_mean")
    if is_missing(mean):
        return "-"
    low, high = row.get(f"{label}_ci_low"), row.get(f"{label}_ci_high")
    return f"{mean:.2f}" if is_missing(low) or is_missing(high) else f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def check_cell(row: Mapping[Any, Any], label: str) -> str:
    """A check's pass rate for one variant, then its mean when the value is a
    measure of its own (a word count): ``75% pass · 41.20 [38.00, 44.50]``."""
    rate, mean = row.get(f"{label}_pass_rate"), row.get(f"{label}_mean")
    if rate is None or is_missing(rate):
        return score_cell(row, label)
    passes = f"{float(rate):.0%} pass"
    if mean is None or is_missing(mean) or abs(float(mean) - float(rate)) < 1e-9:
        return passes
    return f"{passes} · {score_cell(row, label)}"


def summary_lines(summary: pd.DataFrame, meanings: Mapping[str, Meaning] | None = None) -> list[str]:
    """``run.summary()`` as a table: one line per variant, a column per evaluator:
    its mean score and 95% bootstrap interval, or for a check (``meanings``,
    as ``Lab.meanings`` gives them) its pass rate first."""
    checks = {label for label, meaning in (meanings or {}).items() if meaning.is_check}
    scores = [str(column).removesuffix("_mean") for column in summary.columns if str(column).endswith("_mean")]
    # Evaluator errors get a column only when there are some: a NaN score must not pass for "no errors".
    unscored = "eval_errors" in summary and bool(summary["eval_errors"].fillna(0).sum())
    headers = [
        "prompt",
        "model",
        "params",
        "n",
        "errors",
        *(["eval errors"] if unscored else []),
        "cached",
        "p50",
        "p95",
        "tokens in/out",
        "cost",
        *scores,
    ]
    rows = [
        [
            prompt_label(row["prompt_name"], row["prompt_version"]),
            str(row["model"]),
            str(row["params"]) or "-",
            count(row["n"]),
            count(row["errors"]),
            *([count(row["eval_errors"])] if unscored else []),
            count(row["cached"]),
            duration(row["latency_p50_ms"]),
            duration(row["latency_p95_ms"]),
            f"{count(row['prompt_tokens'])}/{count(row['completion_tokens'])}",
            money(row["cost_usd"]),
            *(check_cell(row, label) if label in checks else score_cell(row, label) for label in scores),
        ]
        for row in summary.to_dict("records")
    ]
    right = ["n", "errors", "eval errors", "cached", "p50", "p95", "tokens in/out", "cost", *scores]
    return table(headers, rows, right=right)


def verdict_lines(trials: pd.DataFrame, meanings: Mapping[str, Meaning] | None = None) -> list[str]:
    """For a run of exactly two variants scored by evaluators, the paired
    comparison of B against A on the first evaluator, as its meaning says
    (``meanings``, as ``Lab.meanings`` gives them: a check on its passes, a
    score in its direction); else nothing."""
    labels = score_columns(trials)
    if trials.empty or not labels:
        return []
    frame, variant = with_variant_labels(trials), variant_columns(trials)
    groups = list(frame.groupby(variant, sort=False, dropna=False))
    if len(groups) != 2:
        return []
    (key_a, a), (key_b, b) = groups
    higher, on = (meanings or {}).get(labels[0], Meaning()).compared()
    comparison = compare(a, b, labels[0], higher_is_better=higher, on=on)
    names = [variant_name(dict(zip(variant, key, strict=True))) for key in (key_a, key_b)]
    return [f"A = {names[0]}", f"B = {names[1]}", comparison.verdict]


def history_lines(trials: pd.DataFrame, width: int) -> list[str]:
    """Trials one per line, in the order given; the output is cut to fit ``width``."""
    headers = ["trial", "time (UTC)", "experiment", "prompt", "model", "latency", "cost"]
    rows = [
        [
            short_id(row["trial_id"]),
            when(row["created_at"]),
            str(row["experiment"]),
            prompt_label(row["prompt_name"], row["prompt_version"]),
            str(row["model"]),
            duration(row["latency_ms"]),
            "cached" if is_true(row["cached"]) else money(row["cost_usd"]),
        ]
        for row in trials.to_dict("records")
    ]
    lines = table(headers, rows, right=["latency", "cost"])
    return with_last_column(lines, ["output", *(_outcome(row) for row in trials.to_dict("records"))], width)


def with_last_column(lines: Sequence[str], texts: Sequence[str], width: int) -> list[str]:
    """``texts`` appended to table ``lines`` as one more column, each cut to fit ``width``
    (but never to fewer than 20 characters: a narrow terminal wraps rather than hides)."""
    start = max((len(line) for line in lines), default=0) + 2
    room = max(width - start, 20)
    return [f"{line.ljust(start)}{one_line(text, room)}".rstrip() for line, text in zip(lines, texts, strict=True)]


def _outcome(trial: Mapping[Any, Any]) -> str:
    if not is_missing(trial.get("error_type")):
        return f"ERROR {trial['error_type']}: {trial.get('error') or ''}"
    return "" if is_missing(trial.get("output")) else str(trial["output"])


def experiments_lines(experiments: pd.DataFrame, width: int) -> list[str]:
    """``Lab.experiments()`` as a table."""
    headers = ["experiment", "runs", "trials", "errors", "users", "last activity (UTC)"]
    rows, descriptions = [], ["description"]
    for row in experiments.to_dict("records"):
        users = [] if is_missing(row["users"]) else [str(user) for user in row["users"]]
        last = row["created_at"] if is_missing(row["last_trial_at"]) else row["last_trial_at"]
        rows.append(
            [
                str(row["experiment"]),
                count(row["n_runs"]),
                count(row["n_trials"]),
                count(row["n_errors"]),
                ", ".join(users) or "-",
                when(last),
            ]
        )
        descriptions.append("" if is_missing(row["description"]) else str(row["description"]))
    return with_last_column(table(headers, rows, right=["runs", "trials", "errors"]), descriptions, width)


def runs_lines(runs: pd.DataFrame) -> list[str]:
    """``Lab.runs()`` as a table."""
    judged = bool(runs["n_judge_calls"].fillna(0).sum()) if "n_judge_calls" in runs else False
    headers = [
        "run",
        "experiment",
        "status",
        "trials",
        "errors",
        "cached",
        "spent",
        *(["judge"] if judged else []),
        "started (UTC)",
        "took",
        "user",
    ]
    rows = []
    for row in runs.to_dict("records"):
        took = UNKNOWN
        if not is_missing(row["ended_at"]) and not is_missing(row["started_at"]):
            took = duration((pd.Timestamp(row["ended_at"]) - pd.Timestamp(row["started_at"])).total_seconds() * 1000)
        rows.append(
            [
                short_id(row["run_id"]),
                str(row["experiment"]),
                str(row["status"]),
                f"{count(row['n_trials'])}/{count(row['n_cells'])}",
                count(row["n_errors"]),
                count(row["n_cached"]),
                money(row["spent_usd"]),
                *([money(row["judge_spent_usd"]) if row.get("n_judge_calls") else ""] if judged else []),
                when(row["started_at"]),
                took,
                str(row["user"]),
            ]
        )
    lines = table(headers, rows, right=["trials", "errors", "cached", "spent", "judge", "took"])
    interrupted = [
        short_id(r) for r, status in zip(runs["run_id"], runs["status"], strict=True) if status == "interrupted"
    ]
    if interrupted:
        lines += [
            "",
            f"interrupted (its process died): {', '.join(interrupted)}. Run the same experiment file or sweep "
            "again to resume it; in Python: lab.sweep(..., resume=RUN_ID).",
        ]
    return lines
