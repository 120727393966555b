"""The parts of the results grid around the matrix: the per-variant summary
(the legend of the letters), the errors by type and model, the note saying
which filters are on, and the plots section."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.analysis import plots
from promptlab.core.pricing import dollars
from promptlab.ui.common import RED, STATUS_HINTS, button, escape, muted, present, replace_children, status_html
from promptlab.ui.matrix import number
from promptlab.ui.scores import score_labels
from promptlab.ui.table import ResultsTable, variant_stats

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _count_html(count: Any) -> str:
    """A count of things that went wrong: red when there are any."""
    n = int(count) if present(count) else 0
    return f'<span style="color:{RED}">{n}</span>' if n else "0"


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f'<th style="padding:1px 8px;text-align:left">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f'<td style="padding:1px 8px">{c}</td>' for c in row) + "</tr>" for row in rows)
    return f'<table style="font-size:12px;border-collapse:collapse"><tr>{header}</tr>{body}</table>'


def summary_html(table: ResultsTable) -> str:
    """A row per variant, its letter first (the grid's legend): n, errors, evaluator
    errors (when anything was scored), per evaluator its pass rate and mean, p50 latency, cost."""
    if table.trials.empty:
        return muted("no trials yet")
    stats = variant_stats(table)
    labels = score_labels(table.scores)
    show_eval_errors = bool(labels) or bool(stats["eval_errors"].fillna(0).sum())
    head = [
        "",
        "variant",
        "n",
        "errors",
        *(["eval errors"] if show_eval_errors else []),
        *labels,
        "p50 latency",
        "cost",
    ]
    rows = []
    for j, (letter, name) in enumerate(zip(table.variants.letters, table.variants.names, strict=True)):
        figures = stats.iloc[j]
        scores = []
        for label in labels:
            rate, mean = figures.get(f"{label}_pass"), figures.get(f"{label}_mean")
            scores.append(f"{rate:.0%} pass · mean {number(mean)}" if present(rate) else number(mean))
        rows.append(
            [
                f"<b>{escape(letter)}</b>",
                escape(name),
                str(int(figures["n"])) if present(figures["n"]) else "0",
                _count_html(figures["errors"]),
                *([_count_html(figures["eval_errors"])] if show_eval_errors else []),
                *scores,
                f"{figures['latency_p50_ms']:,.0f} ms" if present(figures["latency_p50_ms"]) else "—",
                dollars(float(figures["cost_usd"])) if present(figures["cost_usd"]) else "?",
            ]
        )
    return _table(head, rows)


def errors_html(trials: pd.DataFrame) -> str:
    """Failed calls counted by error type and model, with one message of each (empty when none failed)."""
    if trials.empty or not trials["error_type"].notna().any():
        return ""
    failed = trials[trials["error_type"].notna()]
    groups = failed.groupby(["error_type", "model"], sort=True)
    rows = [
        [
            escape(kind),
            escape(model),
            f'<span style="color:{RED}">{len(group)}</span>',
            escape(str(group["error"].iloc[0])[:140]),
        ]
        for (kind, model), group in groups
    ]
    return "<b>errors by type and model</b>" + _table(["error", "model", "trials", "e.g."], rows)


def run_title(info: Mapping[str, Any], trials: pd.DataFrame) -> str:
    """``run 6245762c · summaries · done · 96/96 trials · cost $0.0065 (8 cached) · by ben``,
    with what a status means under it where that needs saying."""
    status = info.get("status")
    cells = info.get("n_cells") if present(info.get("n_cells")) else "?"
    hint = STATUS_HINTS.get(str(status))
    cost = trials["cost_usd"].sum(min_count=1) if len(trials) else None
    cached = int(trials["cached"].fillna(False).astype(bool).sum()) if "cached" in trials and len(trials) else 0
    return (
        f"<b>run {escape(str(info['run_id'])[:8])}</b> · {escape(info.get('experiment'))} · "
        f"{status_html(status)} · {len(trials)}/{cells} trials · "
        + (f"cost {dollars(float(cost))}" if present(cost) else "cost ?")
        + (f" ({cached} cached)" if cached else "")
        + f" · by {escape(info.get('user'))}"
        + (f"<br>{muted(hint)}" if hint else "")
    )


def filters_text(text: str, view: str, shown: int, total: int) -> str:
    """``filters on: text “lamp” · Failures · 3 of 12 variants`` (empty when every row and variant shows)."""
    parts = []
    if text.strip():
        parts.append(f"text “{escape(text.strip())}”")
    if view != "All":
        parts.append(escape(view))
    if 0 < shown < total:
        parts.append(f"{shown} of {total} variants")
    if not parts:
        return ""
    chip = "background:#fff3cd;padding:2px 6px;border-radius:8px;font-size:12px"
    return f'<span style="{chip}">filters on: {" · ".join(parts)}</span>'


def figure_png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes; the figure is cleared afterwards to free its memory."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    fig.clear()
    return buffer.getvalue()


def figures(trials: pd.DataFrame, scores: list[str]) -> dict[str, Figure]:
    """The plots of ``trials``: latency, cost, and per score column its mean per variant
    with CIs, quality against cost and latency (Pareto front) and against each grid param."""
    made = {"latency": plots.latency_by_variant(trials), "cost": plots.cost_by_variant(trials)}
    params = plots.numeric_params(trials) if len(trials) else []
    for column in scores:
        made[column] = plots.score_by_variant(trials, column)
        made[f"{column} vs cost"] = plots.quality_vs(trials, column, "cost_usd")
        made[f"{column} vs latency"] = plots.quality_vs(trials, column, "latency_ms")
        for param in params:
            made[f"{column} vs {param}"] = plots.score_vs_param(trials, column, param)
    return made


class PlotsSection(widgets.VBox):
    """The plots, above the grid under a heading of their own, with a button to hide them."""

    def __init__(self) -> None:
        self.heading = widgets.HTML("<b>Plots</b>")
        self.hide_button = button("Hide plots", "close the plots")
        self.images = widgets.VBox()
        self.hide_button.on_click(lambda _: self.hide())
        super().__init__([widgets.HBox([self.heading, self.hide_button]), self.images])
        self.layout.display = "none"

    def show(self, table: ResultsTable) -> None:
        """Draw the plots of the table's trials (as images, which every notebook front end shows)."""
        images = [
            widgets.Image(value=figure_png(fig), format="png", layout=widgets.Layout(max_width="760px"))
            for fig in figures(table.trials, table.scores).values()
        ]
        replace_children(self.images, images)
        self.layout.display = None

    def hide(self) -> None:
        """Close the plots."""
        replace_children(self.images, [])
        self.layout.display = "none"
