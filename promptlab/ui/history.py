"""The history browser: every run by everyone writing to the file, newest
first, filtered; open one in the results grid, load one into the builder,
and compare a prompt's versions."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.ui.common import (
    Ticker,
    button,
    catching,
    error_label,
    listed,
    muted,
    present,
    replace_children,
    set_options,
    show_error,
)
from promptlab.ui.diff import VersionPair
from promptlab.ui.listing import experiments_html, run_line, version_label

if TYPE_CHECKING:
    from promptlab import Lab

RUNS_PER_PAGE = 20
AUTO_REFRESH_SECONDS = 5.0


ANY = ""
"""A filter's value for "any": not None, since ipywidgets reads a value of None as no
choice at all and the browser then shows an empty box once "any" is picked again."""


def _choices(values: Any, anyone: str) -> list[tuple[str, str]]:
    found = sorted({str(v) for v in values if present(v) and str(v) != ANY})
    return [(anyone, ANY), *((v, v) for v in found)]


class RunRow(widgets.HBox):
    """A run in the list, with Open and Load buttons."""

    def __init__(self, run: Mapping[str, Any], on_open: Callable[[str], None], on_load: Callable[[str], None]) -> None:
        self.run_id = str(run["run_id"])
        self.summary = widgets.HTML(run_line(run), layout=widgets.Layout(width="100%"))
        self.open_button = button("Open", "show this run in the results grid")
        self.load_button = button("Load into builder", "re-run or fork this run's variants")
        self.open_button.on_click(lambda _: on_open(self.run_id))
        self.load_button.on_click(lambda _: on_load(self.run_id))
        super().__init__(
            [self.open_button, self.load_button, self.summary], layout=widgets.Layout(border_bottom="1px solid #eee")
        )


class HistoryBrowser(widgets.VBox):
    """Experiments and runs in the history file, across everyone who writes to it.

    ``on_open(run_id)`` / ``on_load(run_id)`` say what Open and Load do; by
    default the browser shows a results grid / a builder under itself.
    """

    def __init__(
        self,
        lab: Lab,
        *,
        on_open: Callable[[str], None] | None = None,
        on_load: Callable[[str], None] | None = None,
    ) -> None:
        self.lab = lab
        self.on_open = on_open
        self.on_load = on_load
        self.runs = pd.DataFrame()
        self.ticker: Ticker | None = None
        self.refresh_every = AUTO_REFRESH_SECONDS
        """Seconds between auto-refreshes."""
        self._lock = threading.RLock()
        self._updating = False
        self._shown: tuple[Any, ...] | None = None
        self.user = widgets.Dropdown(description="user", options=[("anyone", ANY)])
        self.experiment = widgets.Dropdown(description="experiment", options=[("any", ANY)])
        self.tag = widgets.Dropdown(description="tag", options=[("any", ANY)])
        self.prompt = widgets.Dropdown(description="prompt", options=[("any", ANY)])
        self.model = widgets.Dropdown(description="model", options=[("any", ANY)])
        self.status = widgets.Dropdown(description="status", options=[("any", ANY)])
        self.since = widgets.DatePicker(description="since")
        self.until = widgets.DatePicker(description="until")
        self.search = widgets.Text(
            description="search", placeholder="text in inputs or outputs (Enter)", continuous_update=False
        )
        self.refresh_button = button("Refresh", "read the history again")
        self.auto_refresh = widgets.Checkbox(description=f"auto-refresh every {AUTO_REFRESH_SECONDS:.0f} s")
        self.error = error_label()
        self.experiments = widgets.HTML()
        self.count = widgets.HTML()
        self.page = widgets.BoundedIntText(value=1, min=1, max=1, description="page", layout={"width": "150px"})
        self.run_rows = widgets.VBox()
        self.versions_of = widgets.Dropdown(description="prompt", options=[])
        self.pair = VersionPair(lab, self.error, version_label)
        self.version_a, self.version_b, self.diff = self.pair.old, self.pair.new, self.pair.diff
        self.versions = widgets.HTML()
        self.detail = widgets.VBox()
        self._wire()
        filters = [
            widgets.HBox([self.user, self.experiment, self.tag]),
            widgets.HBox([self.prompt, self.model, self.status]),
            widgets.HBox([self.since, self.until]),
            widgets.HBox([self.search, self.refresh_button, self.auto_refresh]),
        ]
        versions = widgets.VBox([self.versions_of, self.versions, self.version_a, self.version_b, self.diff])
        super().__init__(
            [
                widgets.HTML("<h4 style='margin:6px 0'>Experiments</h4>"),
                self.experiments,
                widgets.HTML("<h4 style='margin:6px 0'>Runs</h4>"),
                *filters,
                self.error,
                widgets.HBox([self.count, self.page]),
                self.run_rows,
                widgets.HTML("<h4 style='margin:6px 0'>Prompt versions</h4>"),
                versions,
                self.detail,
            ]
        )
        self.refresh()

    def _wire(self) -> None:
        for control in (
            self.user,
            self.experiment,
            self.tag,
            self.prompt,
            self.model,
            self.status,
            self.since,
            self.until,
            self.search,
        ):
            control.observe(self._filter_changed, "value")
        self.page.observe(lambda _: None if self._updating else self.render_runs(), "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.auto_refresh.observe(lambda change: self._run_ticker(change["new"]), "value")
        self.versions_of.observe(lambda _: None if self._updating else self.show_versions(), "value")

    def _filter_changed(self, _: Any) -> None:
        if not self._updating:
            self.page.value = 1
            self.refresh_runs()

    # -- reading ----------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        """The ``lab.runs(...)`` keyword arguments the filters describe (all but ``status``)."""
        until = self.until.value + dt.timedelta(days=1) if self.until.value else None  # through that whole day
        given = {
            "experiment": self.experiment.value or None,
            "user": self.user.value or None,
            "tag": self.tag.value or None,
            "prompt": self.prompt.value or None,
            "model": self.model.value or None,
            "since": self.since.value.isoformat() if self.since.value else None,
            "until": until.isoformat() if until else None,
            "search": self.search.value.strip() or None,
        }
        return {key: value for key, value in given.items() if value is not None}

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
            self._updating = True
            try:
                self._set_options(self.user, _choices(everything["user"], "anyone"))
                self._set_options(self.experiment, _choices(experiments["experiment"], "any"))
                tags = [tag for tags in experiments["tags"] for tag in listed(tags)]
                self._set_options(self.tag, _choices(tags, "any"))
                self._set_options(self.prompt, _choices(prompts["name"], "any"))
                self._set_options(self.model, _choices(models, "any"))
                self._set_options(self.status, _choices(everything["status"], "any"))
                names = [str(n) for n in prompts["name"]]
                if list(self.versions_of.options) != names:
                    set_options(self.versions_of, names, keep=self.versions_of.value)
            finally:
                self._updating = False
            self.experiments.value = experiments_html(experiments)
            self.refresh_runs()
            self.show_versions()

    @staticmethod
    def _set_options(control: widgets.Dropdown, options: list[tuple[str, str]]) -> None:
        if list(control.options) != options:
            set_options(control, options, keep=control.value)
        # A filter with nothing to choose but "any" (no tags yet) is hidden until there is.
        control.layout.display = None if len(options) > 1 else "none"

    def refresh_runs(self) -> None:
        """Read which runs match the filters, newest first, and show a page of them."""
        with self._lock, self.lab.store.together():
            status = self.status.value or None
            runs = catching(self.error, lambda: self.lab.runs(**self.filters(), status=status, totals=False))
            if runs is None:
                return
            self.runs = runs
            self.render_runs()

    def render_runs(self) -> None:
        """Show the current page of runs: their totals are read for that page only."""
        with self._lock:
            pages = max(1, -(-len(self.runs) // RUNS_PER_PAGE))
            self.page.max = pages
            start = (min(self.page.value, pages) - 1) * RUNS_PER_PAGE
            self.count.value = muted(f"{len(self.runs)} runs · newest first")
            status = self.status.value or None
            page = catching(
                self.error,
                lambda: self.lab.runs(**self.filters(), status=status, limit=RUNS_PER_PAGE, offset=start),
            )
            if page is None:
                return
            shown = tuple(zip(page["run_id"], page["n_trials"], page["status"], strict=True))
            if shown == self._shown:
                return
            self._shown = shown
            records = [{str(k): v for k, v in run.items()} for run in page.to_dict("records")]
            rows = [RunRow(run, self.open_run, self.load_run) for run in records]
            replace_children(self.run_rows, rows or [widgets.HTML(muted("no runs match"))])

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

    # -- prompt versions ------------------------------------------------------------------

    def show_versions(self) -> None:
        """List the versions of the prompt picked and diff the latest two."""
        name = self.versions_of.value
        if not name:
            self.versions.value = muted("no prompts yet")
            return
        versions = catching(self.error, lambda: self.lab.prompt_versions(name))
        if versions is None:
            return
        self.pair.show(name, versions)
        count = len(versions)
        self.versions.value = muted(f"{count} version{'s' if count != 1 else ''} of {name}")
        self.pair.show_diff()

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

    def close(self) -> None:
        """Stop auto-refreshing and close the widget."""
        self.set_auto_refresh(False)
        super().close()

    def __repr__(self) -> str:
        return f"HistoryBrowser({len(self.runs)} runs)"


def history(lab: Lab) -> HistoryBrowser:
    """The history browser on its own (``playground`` has it as a tab)."""
    return HistoryBrowser(lab)
