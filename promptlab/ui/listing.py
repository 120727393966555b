"""The lines of the history browser: a run, an experiment, a prompt version
as HTML, from the rows ``lab.runs()``, ``lab.experiments()`` and
``lab.prompt_versions()`` return (a run with no trials yet has ``<NA>``
lists and counts: it reads as none)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from promptlab.core.pricing import dollars
from promptlab.ui.common import RED, STATUS_COLOURS, STATUS_HINTS, escape, listed, muted, present, status_html


def _count(value: Any) -> int:
    return int(value) if present(value) else 0


def _money(value: Any) -> str:
    return "cost ?" if not present(value) else dollars(float(value))


def _spend(run: Mapping[Any, Any]) -> str:
    """What the run's calls cost, its judges' calls apart: ``$0.0120 + judge $0.0004 (96 calls)``."""
    text = _money(run.get("spent_usd", run.get("cost_usd")))
    judge_calls = _count(run.get("n_judge_calls"))
    if judge_calls:
        text += f" + judge {_money(run.get('judge_spent_usd'))} ({judge_calls} call{'s' * (judge_calls != 1)})"
    return text


def run_line(run: Mapping[str, Any]) -> str:
    """One run as HTML: when, who, experiment, status, counts and headline numbers."""
    started = pd.Timestamp(run["started_at"]).strftime("%Y-%m-%d %H:%M") if present(run.get("started_at")) else "?"
    status = str(run.get("status"))
    hint = STATUS_HINTS.get(status, "")
    p50 = run.get("latency_p50_ms")
    latency = f" · p50 {float(p50):,.0f} ms" if present(p50) else ""
    errors = _count(run.get("n_errors"))
    error_text = f' · <span style="color:{RED}">{errors} errors</span>' if errors else ""
    prompts = ", ".join(listed(run.get("prompts"))) or "—"
    models = ", ".join(listed(run.get("models"))) or "—"
    return (
        f'<span style="font-size:12px"><b>{escape(started)}</b> UTC · {escape(run.get("user"))} · '
        f"<b>{escape(run.get('experiment'))}</b> · "
        f"{status_html(status)} · {_count(run.get('n_trials'))}/"
        f"{_count(run.get('n_cells'))} trials{error_text} · {_count(run.get('n_cached'))} cached · "
        f"{escape(_spend(run))}{latency}<br>"
        f'<span style="color:#777">run {escape(str(run["run_id"])[:8])} · prompts: {escape(prompts)} · '
        f"models: {escape(models)}</span>"
        + (f'<br><span style="color:{STATUS_COLOURS.get(status, "#555")}">{escape(hint)}</span>' if hint else "")
        + "</span>"
    )


def version_label(version: Mapping[str, Any]) -> str:
    """``abc12345 · ana · 2026-11-22 01:59 · 8 trials · production``: one prompt version."""
    first_seen = pd.Timestamp(version["first_seen"]).strftime("%Y-%m-%d %H:%M")
    labels = ", ".join(listed(version.get("labels")))
    parts = [
        str(version["version"])[:8],
        str(version.get("created_by")),
        first_seen,
        f"{version.get('n_trials', 0)} trials",
    ]
    return " · ".join(parts + ([labels] if labels else []))


def experiments_html(experiments: pd.DataFrame, limit: int = 12) -> str:
    """The experiments table: name, description, tags, runs, trials, errors, spend, people, last activity."""
    if experiments.empty:
        return muted("no experiments yet: run a sweep")
    rows = []
    for e in experiments.head(limit).to_dict("records"):
        last = e.get("last_trial_at")
        when = pd.Timestamp(last).strftime("%Y-%m-%d %H:%M") if present(last) else ""
        errors = _count(e.get("n_errors"))
        cells = [
            f"<b>{escape(e['experiment'])}</b>",
            escape(e.get("description") or ""),
            escape(", ".join(listed(e.get("tags")))),
            str(_count(e.get("n_runs"))),
            str(_count(e.get("n_trials"))),
            f'<span style="color:{RED}">{errors}</span>' if errors else "0",
            escape(_spend(e)),
            escape(", ".join(listed(e.get("users")))),
            escape(when),
        ]
        rows.append("<tr>" + "".join(f'<td style="padding:1px 8px">{c}</td>' for c in cells) + "</tr>")
    head = ["experiment", "description", "tags", "runs", "trials", "errors", "spent", "people", "last trial (UTC)"]
    header = "".join(f'<th style="padding:1px 8px;text-align:left">{h}</th>' for h in head)
    more = muted(f"… and {len(experiments) - limit} more") if len(experiments) > limit else ""
    return f'<table style="font-size:12px"><tr>{header}</tr>{"".join(rows)}</table>{more}'
