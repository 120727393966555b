"""The results grid: inputs down, variants across, a page at a time.

Built from ``run.df`` / ``lab.trials(run=...)`` arranged by
``promptlab.ui.table``. A page is one HTML table (``promptlab.ui.matrix``):
cells coloured by pass or fail, pass rates and means in the column headers.
Opening a cell builds its detail view (prompt as sent, response, every
score with its reason, judge call, feedback) for that cell only, so a page
of 100 cells draws as fast as one of ten.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import numpy as np
import pandas as pd

from promptlab import Run
from promptlab.errors import ConfigError
from promptlab.ui import table as grid
from promptlab.ui.cells import CellDetail
from promptlab.ui.common import button, catching, error_label, muted
from promptlab.ui.feedback import remember_totals
from promptlab.ui.matrix import page_html
from promptlab.ui.result_parts import PlotsSection, errors_html, filters_text, run_title, summary_html
from promptlab.ui.scores import score_labels
from promptlab.ui.variants import RunOrder

if TYPE_CHECKING:
    from promptlab import Lab

CELLS_PER_PAGE = (25, 50, 100)
"""Page sizes, in cells (rows × variants shown): a wide run gets fewer rows a page."""
EMPTY_COLUMNS = [
    *("trial_id", "params", "vars", "prompt_name", "prompt_version", "model", "row_index", "repeat"),
    *("output", "error", "error_type", "latency_ms", "cost_usd", "created_at"),
]


class ResultsGrid(widgets.VBox):
    """One row per input, one column per prompt × model variant; open a cell to see
    it whole and give feedback.

    ``source`` is a ``Run``, a run id (with ``lab=``) or a trials DataFrame.
    Give ``lab`` for feedback and for ``refresh()`` to re-read a run.
    """

    def __init__(
        self,
        source: Run | str | pd.DataFrame | None = None,
        *,
        lab: Lab | None = None,
        page_size: int = 50,
        on_review: Callable[[ResultsGrid], None] | None = None,
        on_feedback: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        if isinstance(source, str) and lab is None:
            raise ConfigError("a run id needs its lab: results(run_id, lab=lab), or pass the Run itself")
        self.lab = lab
        self.run_id: str | None = None
        self.running = False
        """Whether the run shown was still running when last read."""
        self.on_review = on_review
        self.on_feedback = on_feedback
        """Called with ``(trial_id, totals)`` after feedback is recorded in a cell."""
        self.order = RunOrder()
        self.table = grid.results_table(pd.DataFrame(columns=EMPTY_COLUMNS))  # replaced by what is shown
        self._lock = threading.RLock()
        self._drawn: tuple[Any, ...] | None = None
        self._quiet = False
        self._stats: pd.DataFrame | None = None
        self.on_page = np.zeros(0, dtype=np.int64)
        """Row positions on the page drawn."""
        self._build_controls(page_size)
        self._wire()
        super().__init__(
            [
                widgets.HBox([self.title, self.refresh_button, self.plots_button, self.review_button]),
                self.error,
                self.summary_section,
                self.errors,
                self.plots,
                widgets.HBox([self.filter_text, self.view, self.sort_by, self.descending]),
                widgets.HBox([self.group_repeats, self.columns, self.filters_note, self.clear_button]),
                widgets.HBox(
                    [self.first, self.previous, self.page, self.page_label, self.next, self.last, self.page_size]
                ),
                widgets.Box([self.matrix], layout=widgets.Layout(overflow="auto", width="100%", max_height="70vh")),
                widgets.HBox([self.cell, self.previous_cell, self.next_cell]),
                self.detail,
            ]
        )
        if isinstance(source, pd.DataFrame):
            self.show_trials(source)
        elif source is not None:
            self.show_run(source)
        else:
            self._set_table(pd.DataFrame(columns=EMPTY_COLUMNS))

    def _build_controls(self, page_size: int) -> None:
        self.title, self.error, self.summary, self.errors = (
            widgets.HTML(),
            error_label(),
            widgets.HTML(),
            widgets.HTML(),
        )
        self.filter_text = widgets.Text(placeholder="filter inputs and outputs", continuous_update=False)
        self.view = widgets.ToggleButtons(options=grid.VIEWS, value="All", style={"button_width": "auto"})
        self.sort_by = widgets.Dropdown(
            description="sort", options=[("input order", "input")], layout={"width": "230px"}
        )
        self.descending = widgets.Checkbox(description="descending", indent=False, layout={"width": "auto"})
        self.group_repeats = widgets.Checkbox(description="group repeats", indent=False, layout={"width": "auto"})
        self.columns = widgets.SelectMultiple(
            description="variants", rows=3, layout={"width": "340px"}, style={"description_width": "initial"}
        )
        self.filters_note, self.clear_button = widgets.HTML(), button("Clear filters", "show every row and variant")
        sizes = CELLS_PER_PAGE if page_size in CELLS_PER_PAGE else sorted({*CELLS_PER_PAGE, page_size})
        self.page_size = widgets.Dropdown(
            options=[(f"{n} cells", n) for n in sizes],
            value=page_size,
            description="per page",
            layout={"width": "190px"},
        )
        self.page = widgets.BoundedIntText(value=1, min=1, max=1, layout={"width": "70px"})
        self.page_label = widgets.HTML()
        self.first, self.previous = button("«", "first page"), button("‹", "previous page")
        self.next, self.last = button("›", "next page"), button("»", "last page")
        self.refresh_button = button("Refresh", "read the run's trials again")
        self.plots_button = button("Plots", "latency, cost and scores by variant, above the grid")
        self.review_button = button("Review one by one", "step through the outputs shown, voting with keys")
        self.matrix = widgets.HTML()
        self.cell = widgets.Dropdown(description="open cell", options=[], layout={"width": "420px"})
        self.previous_cell, self.next_cell = button("‹", "previous cell"), button("›", "next cell")
        self.detail = widgets.VBox()
        self.plots = PlotsSection()
        self.summary_section = widgets.Accordion([self.summary], titles=("Summary by variant",), selected_index=None)
        """The per-variant summary, folded: the column headers carry the pass rates."""

    def _wire(self) -> None:
        for control in (self.filter_text, self.view, self.sort_by, self.descending, self.columns, self.page_size):
            control.observe(lambda _: self.go_to(1), "value")
        self.group_repeats.observe(lambda _: self._set_table(self.table.trials), "value")
        self.page.observe(lambda _: self.render(), "value")
        self.first.on_click(lambda _: self.go_to(1))
        self.previous.on_click(lambda _: self.go_to(self.page.value - 1))
        self.next.on_click(lambda _: self.go_to(self.page.value + 1))
        self.last.on_click(lambda _: self.go_to(self.page.max))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.plots_button.on_click(lambda _: self.plots.show(self.table))
        self.review_button.on_click(lambda _: self.on_review(self) if self.on_review else None)
        self.clear_button.on_click(lambda _: self.clear_filters())
        self.cell.observe(lambda _: self.open_cell(self.cell.value), "value")
        self.previous_cell.on_click(lambda _: self._step_cell(-1))
        self.next_cell.on_click(lambda _: self._step_cell(1))

    # -- what is shown -----------------------------------------------------------

    def _numbers(self, trials: pd.DataFrame) -> dict[tuple[str, str], int]:
        """The version numbers of the prompts in ``trials`` (none without a lab, or when they
        can't be read); read again only when a version appears: a live run refreshes often."""
        lab = self.lab
        if lab is None or trials.empty:
            return {}
        shown = set(zip(trials["prompt_name"].astype(str), trials["prompt_version"].astype(str), strict=True))
        if not shown <= self.order.numbers.keys():
            names = sorted({name for name, _ in shown})
            return catching(self.error, lambda: lab.version_numbers(*names)) or {}
        return dict(self.order.numbers)

    def show_trials(self, trials: pd.DataFrame) -> None:
        """Show these trials (they are not re-read on refresh)."""
        self.run_id, self.order = None, RunOrder(numbers=self._numbers(trials))
        self.clear_filters(draw=False)
        self._set_table(trials)

    def show_run(self, run: Run | str, *, search: str = "") -> None:
        """Show a recorded run and keep it for ``refresh()``. Opening another run
        clears the filters (``search`` fills the text filter: what found it)."""
        if isinstance(run, Run):
            self.lab = self.lab or run.lab
            run = run.run_id
        if run != self.run_id or search:
            self.clear_filters(draw=False)
            self.filter_text.value = search
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
        self.order = RunOrder.from_config(info.get("config"), self._numbers(trials))
        self.running = info.get("status") == "running"
        self.title.value = run_title(info, trials)
        self._set_table(trials)

    def _set_table(self, trials: pd.DataFrame) -> None:
        with self._lock:
            self.table = grid.results_table(trials, self.order, group_repeats=self.group_repeats.value)
            keys = self.table.sort_keys
            if list(self.sort_by.options) != keys:
                current = self.sort_by.value
                self.sort_by.options = keys
                self.sort_by.value = current if current in {key for _, key in keys} else "input"
            variants = self.table.variants
            options = [(f"{letter} · {variants.names[j]}", j) for j, letter in enumerate(variants.letters)]
            if list(self.columns.options) != options:
                self.columns.options = options
                self.columns.value = tuple(range(len(options)))
            self._stats = None
            self.summary.value = summary_html(self.table)
            self.errors.value = errors_html(self.table.trials)
            self._drawn = None
            self.render()

    @property
    def shown_columns(self) -> list[int]:
        """The variants shown (positions), in order."""
        chosen = sorted(self.columns.value)
        return chosen if chosen else list(range(len(self.table.variants)))

    @property
    def selected(self) -> np.ndarray:
        """Positions in ``table.rows`` passing the filters, in display order."""
        return grid.select_rows(
            self.table,
            text=self.filter_text.value,
            view=self.view.value,
            sort_by=self.sort_by.value,
            descending=self.descending.value,
        )

    @property
    def rows_per_page(self) -> int:
        """Rows a page holds: the cells per page across the variants shown."""
        return grid.rows_per_page(self.page_size.value, len(self.shown_columns))

    def visible_rows(self) -> pd.DataFrame:
        """The rows on the current page (``row_index``, ``repeat``, ``vars``)."""
        return self.table.rows.iloc[grid.page_of(self.selected, self.page.value, self.rows_per_page)]

    def shown_trials(self) -> pd.DataFrame:
        """The trials of every row passing the filters (all pages), in the variants shown,
        named as the grid names them (``variant_label``: ``B · summarize@1828dd · echo``):
        what Review steps through."""
        cells = self.table.cells[self.selected][:, self.shown_columns].ravel()
        shown = self.table.trials.iloc[np.sort(cells[cells >= 0])]
        letters, names = self.table.variants.letters, self.table.variants.names
        return shown.assign(variant_label=[f"{letters[j]} · {names[j]}" for j in shown["variant"]])

    def clear_filters(self, *, draw: bool = True) -> None:
        """Show every row and variant again."""
        self._quiet = True  # one draw for the three changes, not three
        try:
            self.filter_text.value = ""
            self.view.value = "All"
            self.columns.value = tuple(range(len(self.columns.options)))
        finally:
            self._quiet = False
        if draw:
            self.go_to(1)

    def go_to(self, page: int) -> None:
        """Show page ``page`` (1-based; clamped)."""
        page = min(max(page, 1), self.page.max)
        if page != self.page.value:
            self.page.value = page  # its observer renders
        else:
            self.render()

    def render(self) -> None:
        """Draw the current page as one table (and nothing else)."""
        if self._quiet:
            return
        with self._lock:
            selected, size = self.selected, self.rows_per_page
            pages = grid.page_count(len(selected), size)
            self.page.max = pages
            page = min(self.page.value, pages)
            on_page = grid.page_of(selected, page, size)
            self.page_label.value = (
                f"of {pages} · {len(selected)} of {len(self.table.rows)} inputs · {len(self.table.trials)} trials"
            )
            for control, disabled in ((self.first, page <= 1), (self.previous, page <= 1)):
                control.disabled = disabled
            for control, disabled in ((self.next, page >= pages), (self.last, page >= pages)):
                control.disabled = disabled
            self.refresh_button.layout.display = None if self.run_id and self.lab else "none"
            self.review_button.layout.display = None if self.on_review else "none"
            note = filters_text(
                self.filter_text.value, self.view.value, len(self.shown_columns), len(self.table.variants)
            )
            self.filters_note.value = note
            self.clear_button.layout.display = None if note else "none"
            columns = self.shown_columns
            drawn = (id(self.table), tuple(on_page), tuple(columns), grid.feedback_key(self.table, on_page))
            if drawn == self._drawn:
                return
            self._drawn = drawn
            self.on_page = on_page
            self.matrix.value = self._page_html(on_page, columns)
            self._list_cells(on_page, columns)

    def _page_html(self, on_page: np.ndarray, columns: list[int]) -> str:
        if not len(on_page):
            message = "no trials yet" if self.table.trials.empty else "no inputs match the filters"
            return muted(message)
        labels = score_labels(self.table.scores)
        if self._stats is None:
            self._stats = grid.variant_stats(self.table)
        return page_html(self.table, on_page, columns, self._stats, labels)

    # -- one cell, whole ---------------------------------------------------------

    def _list_cells(self, on_page: np.ndarray, columns: list[int]) -> None:
        options = [("—", None), *grid.cell_choices(self.table, on_page, columns)]
        kept = self.cell.value if any(value == self.cell.value for _, value in options) else None
        self.cell.options = options
        self.cell.value = kept
        if kept is None:
            self.detail.children = ()

    def open_cell(self, cell: tuple[int, int] | None) -> CellDetail | None:
        """Show a cell (row position, variant position) whole below the grid; None closes it."""
        if cell is None:
            self.detail.children = ()
            return None
        if self.cell.value != cell:
            self.cell.value = cell  # its observer comes back here
            return self.opened
        row, variant = cell
        trials = self.table.trials.iloc[self.table.positions(row, variant)].to_dict("records")
        title = f"{grid.cell_name(self.table, row, variant)} · {self.table.variants.names[variant]}"
        detail = CellDetail(
            title, trials, lab=self.lab, scores=score_labels(self.table.scores), on_feedback=self._feedback_here
        )
        self.detail.children = (detail,)
        return detail

    def open_trial(self, trial_id: str) -> CellDetail | None:
        """Open the cell holding a trial, turning to its page (with its repeat chosen);
        None when the filters hide it."""
        matches = np.flatnonzero(self.table.trials["trial_id"].astype(str).to_numpy() == trial_id)
        found = np.argwhere(np.isin(self.table.cells, matches))
        selected = list(self.selected)
        if not len(found) or int(found[0][0]) not in selected or int(found[0][1]) not in self.shown_columns:
            return None
        row, variant, k = (int(v) for v in found[0])
        self.go_to(selected.index(row) // self.rows_per_page + 1)
        detail = self.open_cell((row, variant))
        if detail is not None and len(detail.trials) > 1:
            detail.repeat.value = k - sum(1 for p in self.table.cells[row, variant, :k] if p < 0)
        return detail

    @property
    def opened(self) -> CellDetail | None:
        """The cell shown whole, if one is."""
        return next((c for c in self.detail.children if isinstance(c, CellDetail)), None)

    def _step_cell(self, step: int) -> None:
        values = [value for _, value in self.cell.options]
        if len(values) <= 1:
            return
        at = values.index(self.cell.value) if self.cell.value in values else 0
        self.cell.value = values[max(1, min(len(values) - 1, at + step))]

    def remember_feedback(self, trial_id: str, totals: Mapping[str, Any], *, redraw: bool = True) -> None:
        """Keep a trial's new feedback ``totals`` (from the cell opened here or from Review)
        and redraw the page so its cell shows them."""
        with self._lock:
            remember_totals(self.table.trials, trial_id, totals)
            if redraw:
                self.render()

    def _feedback_here(self, trial_id: str, totals: dict[str, Any]) -> None:
        self.remember_feedback(trial_id, totals)
        if self.on_feedback is not None:
            self.on_feedback(trial_id, totals)

    def __repr__(self) -> str:
        # no run id: a notebook's text output should read the same every time it runs
        return f"ResultsGrid({len(self.table.rows)} inputs × {len(self.table.variants)} variants)"


def results(source: Run | str | pd.DataFrame, *, lab: Lab | None = None, page_size: int = 50) -> ResultsGrid:
    """The results grid of a run (``Run`` or run id with ``lab=``) or of a trials DataFrame."""
    return ResultsGrid(source, lab=lab, page_size=page_size)
