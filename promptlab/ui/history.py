"""The history browser: every run by everyone writing to the file, newest
first, filtered (an experiment is one of the filters; a search shows where
it matched); open one in the results grid, load one into the builder,
compare one run with another, a prompt's versions, and the datasets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.ui.common import (
    Background,
    Ticker,
    button,
    catching,
    error_label,
    escape,
    muted,
    replace_children,
    set_options,
    show_error,
)
from promptlab.ui.diff import VersionPair
from promptlab.ui.listing import experiment_line, run_line, search_snippet, version_label
from promptlab.ui.privacy_log import privacy_lines
from promptlab.ui.run_compare import RunComparison
from promptlab.ui.run_filters import RunFilters

if TYPE_CHECKING:
    from promptlab import Lab

RUNS_PER_PAGE = 20
AUTO_REFRESH_SECONDS = 5.0


def _heading(text: str) -> widgets.HTML:
    return widgets.HTML(f"<h4 style='margin:6px 0'>{text}</h4>")


class RunRow(widgets.VBox):
    """A run in the list: Open, Load, and A / B to compare it; under its line, where a search matched."""

    def __init__(self, run: Mapping[str, Any], browser: HistoryBrowser, snippet: str = "") -> None:
        self.run_id = str(run["run_id"])
        self.summary = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.snippet = widgets.HTML()
        self.show(run, snippet)
        self.open_button = button("Open", "show this run in the results grid")
        self.load_button = button("Load into builder", "re-run or fork this run's variants")
        self.a_button = button("A", "compare: this run as A, the one before")
        self.b_button = button("B", "compare: this run as B, the one after")
        self.open_button.on_click(lambda _: browser.open_run(self.run_id))
        self.load_button.on_click(lambda _: browser.load_run(self.run_id))
        self.a_button.on_click(lambda _: browser.compare_runs(run_a=self.run_id))
        self.b_button.on_click(lambda _: browser.compare_runs(run_b=self.run_id))
        buttons = [self.open_button, self.load_button, self.a_button, self.b_button]
        super().__init__(
            [widgets.HBox([*buttons, self.summary]), self.snippet],
            layout=widgets.Layout(border_bottom="1px solid #eee"),
        )

    def show(self, run: Mapping[str, Any], snippet: str = "") -> None:
        """Show the run's latest line and search match (in place: a click on its
        buttons meanwhile still lands)."""
        self.summary.value = run_line(run)
        self.snippet.value = f'<span style="font-size:12px">{snippet}</span>' if snippet else ""


class HistoryBrowser(widgets.VBox):
    """Runs in the history file, across everyone who writes to it: filtered,
    compared run against run, and a prompt's versions side by side.

    ``on_open(run_id)`` / ``on_load(run_id)`` say what Open and Load do; by
    default the browser shows a results grid / a builder under itself.
    ``on_search(text)`` hears the search text each time it changes (the
    playground carries it into the results filter); ``search_text`` holds it.
    """

    def __init__(
        self,
        lab: Lab,
        *,
        on_open: Callable[[str], None] | None = None,
        on_load: Callable[[str], None] | None = None,
        on_search: Callable[[str], None] | None = None,
    ) -> None:
        self.lab = lab
        self.on_open = on_open
        self.on_load = on_load
        self.on_search = on_search
        self.runs = pd.DataFrame()
        self.ticker: Ticker | None = None
        self.refresh_every = AUTO_REFRESH_SECONDS
        """Seconds between auto-refreshes."""
        self._lock = threading.RLock()
        self._rows: dict[str, RunRow] = {}
        self._searched = ""
        self._updating = False
        self.refresh_button = button("Refresh", "read the history again")
        self.auto_refresh = widgets.Checkbox(
            description=f"auto-refresh every {AUTO_REFRESH_SECONDS:.0f} s", indent=False, layout={"width": "auto"}
        )
        self.filter_bar = RunFilters(self._filter_changed, actions=[self.refresh_button, self.auto_refresh])
        bar = self.filter_bar
        self.search, self.period, self.since, self.until = bar.search, bar.period, bar.since, bar.until
        self.user, self.experiment, self.tag, self.status = bar.user, bar.experiment, bar.tag, bar.status
        self.prompt, self.model = bar.prompt, bar.model
        self.error = error_label()
        self.experiments = pd.DataFrame()
        self.experiment_info = widgets.HTML()
        self.count = widgets.HTML()
        self.page = widgets.BoundedIntText(value=1, min=1, max=1, description="page", layout={"width": "150px"})
        self.run_rows = widgets.VBox()
        self.comparison = RunComparison(lab)
        self.versions_of = widgets.Dropdown(description="prompt", options=[])
        self.pair = VersionPair(lab, self.error, version_label)
        self.version_a, self.version_b, self.diff = self.pair.old, self.pair.new, self.pair.diff
        self.versions = widgets.HTML()
        self.datasets = widgets.HTML()
        """The datasets (``lab.datasets()``): name, version, rows, last change and by whom."""
        self.privacy = widgets.HTML()
        """The newest events of the privacy audit log (``lab.privacy_log()``)."""
        self.detail = widgets.VBox()
        self.versions_reader = Background("promptlab-history-versions", on_error=self._read_failed)
        """Reads a prompt's versions; ``versions_reader.wait()`` waits for them."""
        self._wire()
        versions = widgets.VBox([self.versions_of, self.versions, self.version_a, self.version_b, self.diff])
        super().__init__(
            [
                _heading("Runs"),
                self.filter_bar,
                self.experiment_info,
                self.error,
                widgets.HBox([self.count, self.page]),
                self.run_rows,
                _heading("Run against run"),
                self.comparison,
                _heading("Prompt versions"),
                versions,
                _heading("Datasets"),
                self.datasets,
                _heading("Privacy log"),
                self.privacy,
                self.detail,
            ]
        )
        self.refresh()

    def _wire(self) -> None:
        self.page.observe(lambda _: None if self._updating else self.render_runs(), "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.auto_refresh.observe(lambda change: self._run_ticker(change["new"]), "value")
        self.versions_of.observe(lambda _: None if self._updating else self.show_versions(), "value")

    def _filter_changed(self) -> None:
        self._updating = True
        try:
            self.page.value = 1
        finally:
            self._updating = False
        self.refresh_runs()
        if self.search_text != self._searched:
            self._searched = self.search_text
            if self.on_search is not None:
                self.on_search(self.search_text)

    @property
    def search_text(self) -> str:
        """The text the runs were searched for ("" when none): the playground
        carries it into the results grid's filter."""
        return self.filter_bar.search_text

    # -- reading ----------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        """The ``lab.runs(...)`` keyword arguments the filters describe."""
        return self.filter_bar.runs_filter()

    def refresh(self) -> None:
        """Read everything again: filter choices, experiments, runs, prompt names.
        Only the runs' own rows and a page of their totals are read, however long
        the history."""
        with self._lock, self.lab.store.together():  # one open of the file for all of it
            everything = catching(self.error, lambda: self.lab.runs(totals=False))
            experiments = catching(self.error, self.lab.experiments)
            prompts = catching(self.error, self.lab.prompt_names)
            models = catching(self.error, self.lab.model_names)
            if everything is None or experiments is None or prompts is None or models is None:
                return
            self.experiments = experiments
            self.filter_bar.set_choices(everything, experiments, prompts["name"], models)
            names = [str(n) for n in prompts["name"]]
            if list(self.versions_of.options) != names:
                self._updating = True
                try:
                    set_options(self.versions_of, names, keep=self.versions_of.value)
                finally:
                    self._updating = False
            self.refresh_runs()
            self.show_versions()
            self.show_datasets()

    def refresh_runs(self) -> None:
        """Read which runs match the filters, newest first, and show a page of them."""
        with self._lock, self.lab.store.together():
            runs = catching(self.error, lambda: self.lab.runs(**self.filters(), totals=False))
            if runs is None:
                return
            self.runs = runs
            self.show_experiment()
            self.render_runs()

    def show_experiment(self) -> None:
        """The line of the experiment picked (nothing when any is)."""
        picked = self.experiment.value
        found = self.experiments[self.experiments["experiment"] == picked] if picked else pd.DataFrame()
        self.experiment_info.value = experiment_line(found.iloc[0].to_dict()) if not found.empty else ""

    def render_runs(self) -> None:
        """Show the current page of runs: their totals are read for that page only,
        and with a search, where it matched in each (all in one open of the file)."""
        with self._lock, self.lab.store.together():
            pages = max(1, -(-len(self.runs) // RUNS_PER_PAGE))
            self.page.max = pages
            start = (min(self.page.value, pages) - 1) * RUNS_PER_PAGE
            picked = self.filter_bar.summary()
            self.count.value = muted(f"{len(self.runs)} runs · newest first" + (f" · {picked}" if picked else ""))
            filters = self.filters()
            page = catching(self.error, lambda: self.lab.runs(**filters, limit=RUNS_PER_PAGE, offset=start))
            if page is None:
                return
            rows = [self._row({str(k): v for k, v in run.items()}) for run in page.to_dict("records")]
            self._rows = {row.run_id: row for row in rows}
            if list(self.run_rows.children) != rows:
                replace_children(self.run_rows, rows or [widgets.HTML(muted("no runs match"))])

    def _row(self, run: dict[str, Any]) -> RunRow:
        """The run's row, updated where it is already shown (so a click on it
        during a refresh isn't lost with a replaced widget), else a new one."""
        run_id = str(run["run_id"])
        snippet = self.snippet(run_id)
        row = self._rows.get(run_id)
        if row is None:
            return RunRow(run, self, snippet)
        row.show(run, snippet)
        return row

    def snippet(self, run_id: str) -> str:
        """Where the search text occurs in one of the run's trials, marked ("" without a search)."""
        text = self.search_text
        if not text:
            return ""
        found = catching(self.error, lambda: self.lab.trials(run=run_id, search=text, limit=1))
        if found is None or found.empty:
            return ""
        return search_snippet(found.iloc[0].to_dict(), text)

    def run_ids(self) -> list[str]:
        """Ids of the runs matching the filters, newest first."""
        return [str(r) for r in self.runs.get("run_id", [])]

    # -- acting on a run ----------------------------------------------------------------

    def open_run(self, run_id: str) -> None:
        """Show a run in the results grid (the playground's tab, or under the browser)."""
        if self.on_open is not None:
            self.on_open(run_id)
            return
        from promptlab.ui.results import ResultsGrid

        replace_children(self.detail, [ResultsGrid(run_id, lab=self.lab)])

    def load_run(self, run_id: str) -> None:
        """Load a run's variants into the builder (the playground's, or one under the browser)."""
        if self.on_load is not None:
            self.on_load(run_id)
            return
        from promptlab.ui.builder import SweepBuilder

        built = SweepBuilder(self.lab, namespace={})
        built.load_run(run_id)
        replace_children(self.detail, [built])

    def compare_runs(self, run_a: str | None = None, run_b: str | None = None) -> None:
        """Compare run A with run B under the runs list (either may stay as picked)."""
        self.comparison.pick(run_a, run_b)

    # -- prompt versions ------------------------------------------------------------------

    def show_versions(self) -> None:
        """List the versions of the prompt picked and diff the latest two, read in
        the background (``versions_reader``): they sum up every trial of the prompt
        (configs, scores; seconds on a big team server), and the runs above are
        shown without waiting for them."""
        name = self.versions_of.value
        if not name:
            self.versions.value = muted("no prompts yet")
            return
        if name != self.pair.name:  # a refresh of the same prompt keeps showing what it read before
            self.versions.value = muted(f"reading the versions of {name}…")
        self.versions_reader.start(lambda: self._show_versions(name))

    def _show_versions(self, name: str) -> None:
        versions = catching(self.error, lambda: self.lab.prompt_versions(name))
        if versions is None or name != self.versions_of.value:
            return
        self.pair.show(name, versions)
        count = len(versions)
        self.versions.value = muted(f"{count} version{'s' if count != 1 else ''} of {name}")
        self.pair.show_diff()

    # -- datasets -------------------------------------------------------------------------

    def show_datasets(self) -> None:
        """List the datasets, most recently changed first."""
        found = catching(self.error, self.lab.datasets)
        if found is not None:
            self.datasets.value = dataset_lines(found)
        log = catching(self.error, self.lab.privacy_log)
        if log is not None:
            self.privacy.value = privacy_lines(log)

    # -- auto-refresh ---------------------------------------------------------------------

    def set_auto_refresh(self, on: bool, every: float | None = None) -> None:
        """Refresh every ``every`` seconds (default ``refresh_every``) on a background
        thread, so the kernel stays free; ``on=False`` stops."""
        if every is not None:
            self.refresh_every = every
        if self.auto_refresh.value != on:
            self.auto_refresh.value = on  # its observer starts or stops the ticker
        else:
            self._run_ticker(on)

    def _run_ticker(self, on: bool) -> None:
        if self.ticker is not None:
            self.ticker.stop()
            self.ticker.join(10)
            self.ticker = None
        if on:
            self.ticker = Ticker(
                self.refresh, self.refresh_every, name="promptlab-history-refresh", on_error=self._refresh_failed
            )

    def _refresh_failed(self, error: Exception) -> None:
        show_error(self.error, f"auto-refresh failed, retrying: {type(error).__name__}: {error}")

    def _read_failed(self, error: Exception) -> None:
        show_error(self.error, f"reading the prompt's versions failed: {type(error).__name__}: {error}")

    def close(self) -> None:
        """Stop auto-refreshing and close the widget."""
        self.set_auto_refresh(False)
        super().close()

    def __repr__(self) -> str:
        return f"HistoryBrowser({len(self.runs)} runs)"


def dataset_lines(datasets: pd.DataFrame) -> str:
    """The datasets ``lab.datasets()`` lists, a line each, as HTML."""
    if datasets.empty:
        return muted("no datasets yet: lab.dataset(name).add(rows) makes one")
    lines = []
    for d in datasets.to_dict("records"):
        when = pd.Timestamp(d["changed_at"]).strftime("%Y-%m-%d %H:%M")
        rows = f"{d['n_rows']} row{'' if d['n_rows'] == 1 else 's'}"
        lines.append(
            f"<b>{escape(d['name'])}</b> · <code>{escape(d['version'])}</code> · {rows} · "
            f"changed {when} by {escape(d['changed_by'])}"
        )
    return "<br>".join(lines)


def history(lab: Lab) -> HistoryBrowser:
    """The history browser on its own (``playground`` has it as a tab)."""
    return HistoryBrowser(lab)
