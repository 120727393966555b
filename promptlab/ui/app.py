"""The playground: builder, results, history and review as tabs of one app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.model import Model
from promptlab.ui.builder import SweepBuilder
from promptlab.ui.history import HistoryBrowser
from promptlab.ui.monitor import MonitorView
from promptlab.ui.registry import RegistryPanel
from promptlab.ui.results import ResultsGrid
from promptlab.ui.review import ReviewPanel

if TYPE_CHECKING:
    from promptlab import Lab

TABS = ("Build & run", "Results", "History", "Review", "Registry", "Monitor")


class Playground(widgets.Tab):
    """The whole widget app over one history file.

    History's Open shows a run in Results; its Load fills the builder; the
    results grid's "Review one by one" opens the Review tab on what it shows
    (filters applied);
    feedback given in Results or Review shows in both.
    """

    def __init__(
        self,
        lab: Lab,
        *,
        models: Sequence[Model] = (),
        namespace: Mapping[str, Any] | None = None,
    ) -> None:
        self.lab = lab
        self.builder = SweepBuilder(lab, models=models, namespace=namespace, on_run_started=self._run_started)
        self.results = ResultsGrid(lab=lab, on_review=self._review_results, on_feedback=self._voted_in_results)
        self.history = HistoryBrowser(
            lab, on_open=lambda run_id: self.open_run(run_id, search=self.history.search_text), on_load=self.load_run
        )
        self.review = ReviewPanel(lab=lab, on_feedback=self.results.remember_feedback)
        self.registry = RegistryPanel(lab)
        self.monitor = MonitorView(lab, listed=False)  # production metrics: read when its tab opens
        tabs = [self.builder, self.results, self.history, self.review, self.registry, self.monitor]
        super().__init__(tabs, titles=TABS)
        self.observe(lambda _: self._tab_chosen(), "selected_index")

    def open_run(self, run_id: str, search: str = "") -> None:
        """Show a run in the Results tab (``search``: the text that found it, as its filter)."""
        self.results.show_run(run_id, search=search)
        self.selected_index = TABS.index("Results")

    def _run_started(self, run_id: str) -> None:
        # the Results tab shows the run just started: one click away, not History → Refresh → Open
        self.results.show_run(run_id)

    def _tab_chosen(self) -> None:
        if self.selected_index == TABS.index("Results") and self.results.running:
            self.results.refresh()  # a run still going when last read: show how far it got
        if self.selected_index == TABS.index("Monitor"):
            self.monitor.refresh()

    def load_run(self, run_id: str) -> None:
        """Load a run's variants into the builder, to re-run or fork them."""
        self.builder.load_run(run_id)
        self.selected_index = TABS.index("Build & run")

    def _voted_in_results(self, trial_id: str, totals: dict[str, Any]) -> None:
        # feedback given in one tab shows in the other: both draw from trials frames they hold
        self.review.remember_feedback(trial_id, totals)

    def _review_results(self, grid: ResultsGrid) -> None:
        # what the grid shows, its filters applied: "of 17" after a 17-row filter, not "of 100"
        self.review.show_trials(grid.shown_trials())
        self.selected_index = TABS.index("Review")

    def __repr__(self) -> str:
        where = self.lab.path.name if self.lab.location == str(self.lab.path) else self.lab.location
        return f"Playground({where}: {' | '.join(TABS)})"


def playground(
    lab: Lab | None = None, *, models: Sequence[Model] = (), namespace: Mapping[str, Any] | None = None
) -> Playground:
    """The widget app: build and run sweeps, browse results and history, review
    outputs, promote or export prompts (Registry), and watch them in production (Monitor).

    ``lab`` defaults to ``pl.Lab()``; ``models`` are offered (ticked) in the
    builder; ``namespace`` is where it looks for DataFrames (default: the
    notebook's variables).
    """
    if lab is None:
        from promptlab import Lab

        lab = Lab()
    return Playground(lab, models=models, namespace=namespace)
