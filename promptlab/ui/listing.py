"""The lines of the history browser: a run, an experiment, a prompt version
and where a search matched, as HTML, from the rows ``lab.runs()``,
``lab.experiments()``, ``lab.prompt_versions()`` and ``lab.trials()`` return
(a run with no trials yet has ``<NA>`` lists and counts: it reads as none)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from promptlab.core.pricing import dollars
from promptlab.ui.common import RED, STATUS_COLOURS, STATUS_HINTS, escape, listed, present, status_html, version_tag

SNIPPET_WIDTH = 90
"""Characters of text shown around a search's match."""


def _count(value: Any) -> int:
    return int(value) if present(value) else 0


def counted(value: Any, noun: str) -> str:
    """``1 run``, ``3 runs``, ``0 runs`` (a missing count is none)."""
    number = _count(value)
    return f"{number} {noun}{'s' * (number != 1)}"


def _money(value: Any) -> str:
    return "cost ?" if not present(value) else dollars(float(value))


def _spend(run: Mapping[Any, Any]) -> str:
    """What the run's calls cost, its judges' calls apart: ``$0.0120 + judge $0.0004 (96 calls)``."""
    text = _money(run.get("spent_usd", run.get("cost_usd")))
    judge_calls = _count(run.get("n_judge_calls"))
    if judge_calls:
        text += f" + judge {_money(run.get('judge_spent_usd'))} ({judge_calls} call{'s' * (judge_calls != 1)})"
    return text


def milliseconds(value: float) -> str:
    """``1,234 ms``, ``12.3 ms``, ``0.052 ms``: whole milliseconds once there are
    ten, else three figures (a cached or fake call takes a fraction of one)."""
    return f"{value:,.0f} ms" if abs(value) >= 10 else f"{value:.3g} ms"


def run_line(run: Mapping[str, Any]) -> str:
    """One run as HTML: when, who, experiment, status, counts and headline numbers."""
    started = pd.Timestamp(run["started_at"]).strftime("%Y-%m-%d %H:%M") if present(run.get("started_at")) else "?"
    status = str(run.get("status"))
    hint = STATUS_HINTS.get(status, "")
    p50 = run.get("latency_p50_ms")
    latency = f" · p50 {milliseconds(float(p50))}" if present(p50) else ""
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
    """``v2 · abc12345 · terser · ana · 2026-11-22 01:59 · 8 trials · production``: one prompt version."""
    first_seen = pd.Timestamp(version["first_seen"]).strftime("%Y-%m-%d %H:%M")
    labels = ", ".join(listed(version.get("labels")))
    message = [str(version["message"])] if present(version.get("message")) else []
    parts = [
        version_tag(version["version"], version.get("number")),
        *message,
        str(version.get("created_by")),
        first_seen,
        f"{version.get('n_trials', 0)} trials",
    ]
    return " · ".join(parts + ([labels] if labels else []))


def experiment_choice(experiment: Mapping[Any, Any]) -> tuple[str, str]:
    """An experiment as a filter choice: ``("summaries · 3 runs", "summaries")``."""
    name = str(experiment["experiment"])
    return f"{name} · {counted(experiment.get('n_runs'), 'run')}", name


def experiment_line(experiment: Mapping[Any, Any]) -> str:
    """One experiment as HTML: description, tags, runs, trials, errors, spend, people, last activity."""
    last = experiment.get("last_trial_at")
    when = f"last trial {pd.Timestamp(last).strftime('%Y-%m-%d %H:%M')} UTC" if present(last) else "no trials yet"
    errors = _count(experiment.get("n_errors"))
    tags = ", ".join(listed(experiment.get("tags")))
    description = experiment.get("description")
    parts = [
        escape(description) if present(description) else "",  # pandas gives a missing text as NaN
        f"tags: {escape(tags)}" if tags else "",
        f"{counted(experiment.get('n_runs'), 'run')} · {counted(experiment.get('n_trials'), 'trial')}",
        f'<span style="color:{RED}">{counted(errors, "error")}</span>' if errors else "",
        escape(_spend(experiment)),
        escape(", ".join(listed(experiment.get("users")))),
        escape(when),
    ]
    return (
        f'<span style="font-size:12px"><b>{escape(experiment["experiment"])}</b> · '
        + " · ".join(part for part in parts if part)
        + "</span>"
    )


def search_snippet(trial: Mapping[str, Any], text: str, width: int = SNIPPET_WIDTH) -> str:
    """Where ``text`` occurs in a trial (its output, else an input value), as HTML:
    ``output: …the <mark>kettle</mark> boils…``, cut to ``width`` characters around it."""
    fields = [("output", trial.get("output"))]
    values = trial.get("vars")
    if isinstance(values, Mapping):
        fields += [(f"input {key}", value) for key, value in values.items()]
    needle = text.lower()
    for name, value in fields:
        found = str(value).lower().find(needle) if present(value) else -1
        if needle and found >= 0:
            return f"{escape(name)}: {_marked(str(value), found, len(text), width)}"
    return ""


def _marked(value: str, start: int, length: int, width: int) -> str:
    before = max(start - (width - length) // 2, 0)
    after = min(before + max(width, length), len(value))
    head = ("…" if before else "") + escape(value[before:start])
    tail = escape(value[start + length : after]) + ("…" if after < len(value) else "")
    return f"{head}<mark>{escape(value[start : start + length])}</mark>{tail}"
