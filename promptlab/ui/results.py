"""The results grid: inputs down, variants across, a page at a time.

Built from ``run.df`` / ``lab.trials(run=...)`` arranged by
``promptlab.ui.table``; only the rows on the visible page get widgets, so a
run of 10,000 trials pages as quickly as one of ten.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import numpy as np
import pandas as pd

from promptlab import Run
from promptlab.analysis import plots
from promptlab.core.pricing import dollars
from promptlab.errors import ConfigError
from promptlab.ui.cells import EmptyCell, InputCell, OutputCell
from promptlab.ui.common import (
    MUTED,
    RED,
    STATUS_HINTS,
    button,
    catching,
    error_label,
    escape,
    muted,
    present,
    replace_children,
    status_html,
)
from promptlab.ui.feedback import FEEDBACK_COLUMNS, remember_totals
from promptlab.ui.scores import score_labels
from promptlab.ui.table import page_count, page_of, results_table, select_rows, variant_summary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from promptlab import Lab

PAGE_SIZES = (10, 25, 50, 100)
EMPTY_COLUMNS = ["trial_id", "params", "vars", "prompt_name", "prompt_version", "model", "row_index", "repeat"]


def figure_png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes; the figure is cleared afterwards to free its memory."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    fig.clear()
    return buffer.getvalue()


def _count_html(count: Any) -> str:
    """A count of things that went wrong: red when there are any."""
    n = int(count) if present(count) else 0
    return f'<span style="color:{RED}">{n}</span>' if n else "0"


def summary_html(trials: pd.DataFrame) -> str:
    """The per-variant strip above the grid: n, errors, evaluator errors (when anything
    was scored), mean scores with pass rates, p50 latency, cost."""
    summary = variant_summary(trials)
    if summary.empty:
        return muted("no trials yet")
    labels = score_labels(trials.columns)
    show_eval_errors = bool(labels) or bool(summary["eval_errors"].fillna(0).sum())
    head = [
        "variant",
        "n",
        "errors",
        *(["eval errors"] if show_eval_errors else []),
        *(f"mean {label}" for label in labels),
        "p50 latency",
        "cost",
    ]
    lines = []
    for row in summary.to_dict("records"):
        cost = dollars(float(row["cost_usd"])) if present(row["cost_usd"]) else "?"
        p50 = f"{row['latency_p50_ms']:,.0f} ms" if present(row["latency_p50_ms"]) else "—"
        scores = []
        for label in labels:
            mean, rate = row.get(f"{label}_mean"), row.get(f"{label}_pass_rate")
            text = f"{mean:.3f}" if present(mean) else "—"
            scores.append(text + (f" ({rate:.0%} pass)" if present(rate) else ""))
        cells = [
            escape(row["variant"]),
            str(row["n"]),
            _count_html(row["errors"]),
            *([_count_html(row["eval_errors"])] if show_eval_errors else []),
            *scores,
            p50,
            cost,
        ]
        lines.append("<tr>" + "".join(f'<td style="padding:1px 8px">{c}</td>' for c in cells) + "</tr>")
    header = "".join(f'<th style="padding:1px 8px;text-align:left">{escape(h)}</th>' for h in head)
    return f'<table style="font-size:12px;border-collapse:collapse"><tr>{header}</tr>{"".join(lines)}</table>'


class ResultsGrid(widgets.VBox):
    """One row per input, one column per prompt × model variant, with feedback on every output.

    ``source`` is a ``Run``, a run id (with ``lab=``) or a trials DataFrame.
    Give ``lab`` for feedback buttons and for ``refresh()`` to re-read a run.
    """

    def __init__(
        self,
        source: Run | str | pd.DataFrame | None = None,
        *,
        lab: Lab | None = None,
        page_size: int = 10,
        on_review: Callable[[ResultsGrid], None] | None = None,
        on_feedback: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        if isinstance(source, str) and lab is None:
            raise ConfigError("a run id needs its lab: results(run_id, lab=lab), or pass the Run itself")
        self.lab = lab
        self.run_id: str | None = None
        self.on_review = on_review
        self.on_feedback = on_feedback
        """Called with ``(trial_id, totals)`` after feedback is recorded in a cell."""
        self.table = results_table(pd.DataFrame(columns=EMPTY_COLUMNS))  # replaced by what is shown
        self._lock = threading.RLock()
        self._shown: tuple[Any, ...] | None = None
        self.title = widgets.HTML()
        self.error = error_label()
        self.summary = widgets.HTML()
        self.filter_text = widgets.Text(placeholder="filter inputs and outputs", continuous_update=False)
        self.errors_only = widgets.Checkbox(description="errors only", indent=False, layout={"width": "auto"})
        self.differ_only = widgets.Checkbox(
            description="only rows where variants differ", indent=False, layout={"width": "auto"}
        )
        self.sort_by = widgets.Dropdown(description="sort", options=["input"], layout={"width": "180px"})
        self.descending = widgets.Checkbox(description="descending", indent=False, layout={"width": "auto"})
        self.page_size = widgets.Dropdown(
            options=PAGE_SIZES if page_size in PAGE_SIZES else sorted({*PAGE_SIZES, page_size}),
            value=page_size,
            description="per page",
            layout={"width": "150px"},
        )
        self.page = widgets.BoundedIntText(value=1, min=1, max=1, layout={"width": "70px"})
        self.page_label = widgets.HTML()
        self.first, self.previous = button("«", "first page"), button("‹", "previous page")
        self.next, self.last = button("›", "next page"), button("»", "last page")
        self.refresh_button = button("Refresh", "read the run's trials again")
        self.plots_button = button("Plots", "latency, cost and score by variant")
        self.review_button = button("Review one by one", "step through the outputs, voting with keys")
        self.grid = widgets.GridBox(layout=widgets.Layout(grid_gap="4px", width="100%"))
        self.plots = widgets.VBox()
        self._wire()
        super().__init__(
            [
                widgets.HBox([self.title, self.refresh_button, self.plots_button, self.review_button]),
                self.error,
                self.summary,
                widgets.HBox([self.filter_text, self.errors_only, self.differ_only, self.sort_by, self.descending]),
                widgets.HBox(
                    [self.first, self.previous, self.page, self.page_label, self.next, self.last, self.page_size]
                ),
                widgets.Box([self.grid], layout=widgets.Layout(overflow="auto", width="100%")),
                self.plots,
            ]
        )
        if isinstance(source, pd.DataFrame):
            self.show_trials(source)
        elif source is not None:
            self.show_run(source)
        else:
            self._set_table(pd.DataFrame(columns=EMPTY_COLUMNS))

    def _wire(self) -> None:
        for control in (self.filter_text, self.errors_only, self.differ_only, self.sort_by, self.descending):
            control.observe(lambda _: self.go_to(1), "value")
        self.page_size.observe(lambda _: self.go_to(1), "value")
        self.page.observe(lambda _: self.render(), "value")
        self.first.on_click(lambda _: self.go_to(1))
        self.previous.on_click(lambda _: self.go_to(self.page.value - 1))
        self.next.on_click(lambda _: self.go_to(self.page.value + 1))
        self.last.on_click(lambda _: self.go_to(self.page.max))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.plots_button.on_click(lambda _: self.show_plots())
        self.review_button.on_click(lambda _: self.on_review(self) if self.on_review else None)

    # -- what is shown -----------------------------------------------------------

    def show_trials(self, trials: pd.DataFrame) -> None:
        """Show these trials (they are not re-read on refresh)."""
        self.run_id = None
        self._set_table(trials)

    def show_run(self, run: Run | str) -> None:
        """Show a recorded run and keep it for ``refresh()``."""
        if isinstance(run, Run):
            self.lab = self.lab or run.lab
            run = run.run_id
        self.run_id = run
        self.refresh()

    def refresh(self) -> None:
        """Read the run's trials again (nothing to do for a DataFrame)."""
        if self.run_id is None or self.lab is None:
            return
        lab, run_id = self.lab, self.run_id
        trials = catching(self.error, lambda: lab.trials(run=run_id))
        info = catching(self.error, lambda: lab.run_info(run_id))
        if trials is None or info is None:
            return
        status, done = info.get("status"), len(trials)
        cells = info.get("n_cells") if present(info.get("n_cells")) else "?"
        hint = STATUS_HINTS.get(str(status))
        self.title.value = (
            f"<b>run {escape(str(info['run_id'])[:8])}</b> · {escape(info.get('experiment'))} · "
            f"{status_html(status)} · {done}/{cells} trials · by {escape(info.get('user'))}"
            + (f"<br>{muted(hint)}" if hint else "")
        )
        self._set_table(trials)

    def _set_table(self, trials: pd.DataFrame) -> None:
        with self._lock:
            self.table = results_table(trials)
            keys = self.table.sort_keys
            if list(self.sort_by.options) != keys:
                current = self.sort_by.value
                self.sort_by.options = keys
                self.sort_by.value = current if current in keys else "input"
            self.summary.value = summary_html(self.table.trials)
            self.render()

    @property
    def selected(self) -> np.ndarray:
        """Positions in ``table.rows`` passing the filters, in display order."""
        return select_rows(
            self.table,
            text=self.filter_text.value,
            errors_only=self.errors_only.value,
            differ_only=self.differ_only.value,
            sort_by=self.sort_by.value,
            descending=self.descending.value,
        )

    def visible_rows(self) -> pd.DataFrame:
        """The rows on the current page (``row_index``, ``repeat``, ``vars``)."""
        return self.table.rows.iloc[page_of(self.selected, self.page.value, self.page_size.value)]

    def go_to(self, page: int) -> None:
        """Show page ``page`` (1-based; clamped)."""
        page = min(max(page, 1), self.page.max)
        if page != self.page.value:
            self.page.value = page  # its observer renders
        else:
            self.render()

    def render(self) -> None:
        """Build the widgets of the current page (and nothing else)."""
        with self._lock:
            selected = self.selected
            pages = page_count(len(selected), self.page_size.value)
            self.page.max = pages
            page = min(self.page.value, pages)
            on_page = page_of(selected, page, self.page_size.value)
            self.page_label.value = (
                f"of {pages} · {len(selected)} of {len(self.table.rows)} inputs · {len(self.table.trials)} trials"
            )
            for control, disabled in (
                (self.first, page <= 1),
                (self.previous, page <= 1),
                (self.next, page >= pages),
                (self.last, page >= pages),
            ):
                control.disabled = disabled
            self.refresh_button.layout.display = None if self.run_id and self.lab else "none"
            self.review_button.layout.display = None if self.on_review else "none"
            shown = (
                tuple(self.table.variants),
                tuple(map(tuple, self.table.cells[on_page])),
                self._feedback_key(on_page),
            )
            if shown == self._shown:
                return
            self._shown = shown
            replace_children(self.grid, self._page_widgets(on_page))

    def _feedback_key(self, on_page: np.ndarray) -> tuple[Any, ...]:
        """What the page's trials hold in feedback: a changed vote redraws it even when
        the totals don't move (one 👍 turned 👎 while another 👎 turned 👍)."""
        trials = self.table.trials
        if "votes_up" not in trials or trials.empty:
            return ()
        positions = self.table.cells[on_page].ravel()
        shown = trials.iloc[positions[positions >= 0]]
        columns = [c for c in FEEDBACK_COLUMNS if c in shown]
        return tuple(map(tuple, shown[columns].astype(object).where(shown[columns].notna(), None).to_numpy()))

    def remember_feedback(self, trial_id: str, totals: Mapping[str, Any], *, redraw: bool = True) -> None:
        """Keep a trial's new feedback ``totals`` (from a feedback bar here or in Review), and
        redraw the page so it shows them (not while the bar that recorded them is in use)."""
        with self._lock:
            remember_totals(self.table.trials, trial_id, totals)
            if redraw:
                self.render()

    def _feedback_here(self, trial_id: str, totals: dict[str, Any]) -> None:
        self.remember_feedback(trial_id, totals, redraw=False)
        if self.on_feedback is not None:
            self.on_feedback(trial_id, totals)

    def _page_widgets(self, on_page: np.ndarray) -> list[widgets.Widget]:
        variants = self.table.variants
        self.grid.layout.grid_template_columns = "minmax(150px, 0.7fr) " + " ".join(
            ["minmax(240px, 1fr)"] * len(variants)
        )
        if not len(on_page):
            message = "no trials yet" if self.table.trials.empty else "no inputs match the filters"
            return [widgets.HTML(f'<span style="color:{MUTED}">{message}</span>')]
        header = [widgets.HTML("<b>input</b>")] + [widgets.HTML(f"<b>{escape(v)}</b>") for v in variants]
        show_repeat = bool(self.table.rows["repeat"].max() > 0)
        scores = score_labels(self.table.scores)
        children: list[widgets.Widget] = header
        for position in on_page:
            row: Mapping[str, Any] = self.table.rows.iloc[position]
            children.append(InputCell(int(row["row_index"]), int(row["repeat"]), row["vars"], show_repeat=show_repeat))
            for j in range(len(variants)):
                trial = self.table.trial(int(position), j)
                children.append(
                    EmptyCell()
                    if trial is None
                    else OutputCell(trial, lab=self.lab, scores=scores, on_feedback=self._feedback_here)
                )
        return children

    def output_cells(self) -> list[OutputCell]:
        """The output cells on the current page, row by row."""
        return [child for child in self.grid.children if isinstance(child, OutputCell)]

    # -- plots -------------------------------------------------------------------

    def figures(self) -> dict[str, Figure]:
        """The plots of the trials shown: latency, cost, and per score column its
        mean per variant with CIs and quality against cost and latency (Pareto front)."""
        trials = self.table.trials
        made = {"latency": plots.latency_by_variant(trials), "cost": plots.cost_by_variant(trials)}
        for column in self.table.scores:
            made[column] = plots.score_by_variant(trials, column)
            made[f"{column} vs cost"] = plots.quality_vs(trials, column, "cost_usd")
            made[f"{column} vs latency"] = plots.quality_vs(trials, column, "latency_ms")
        return made

    def show_plots(self) -> None:
        """Draw the plots under the grid (as images, which every notebook front end shows)."""
        images = [
            widgets.Image(value=figure_png(fig), format="png", layout=widgets.Layout(max_width="760px"))
            for fig in self.figures().values()
        ]
        replace_children(self.plots, images)

    def __repr__(self) -> str:
        # no run id: a notebook's text output should read the same every time it runs
        return f"ResultsGrid({len(self.table.rows)} inputs × {len(self.table.variants)} variants)"


def results(source: Run | str | pd.DataFrame, *, lab: Lab | None = None, page_size: int = 10) -> ResultsGrid:
    """The results grid of a run (``Run`` or run id with ``lab=``) or of a trials DataFrame."""
    return ResultsGrid(source, lab=lab, page_size=page_size)
