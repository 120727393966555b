"""Run and watch: start a sweep in the background, follow its progress and
results live, stop it, and say what it cost. The kernel is never blocked:
``lab.start`` runs the sweep on its own thread and a watcher thread refreshes
the results."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.core.pricing import dollars
from promptlab.errors import PromptlabError
from promptlab.ui.arguments import SweepArguments
from promptlab.ui.common import button, catching, error_label, escape, muted, show_error
from promptlab.ui.progress import SweepWatch, WidgetDisplay
from promptlab.ui.results import ResultsGrid

if TYPE_CHECKING:
    from promptlab import Lab, SweepHandle

LIVE_REFRESH_SECONDS = 1.0
"""How often the results grid re-reads a running sweep's trials."""


def spent_parts(trials: pd.DataFrame) -> list[str]:
    """What a run cost, from its trials (judges' calls included): ``["This run cost
    $0.0123", "8 calls", "88 answered from history (no new cost)"]``. A cached
    trial's cost was paid by the run that made the call; a call with no known
    price is counted apart, never as free."""
    if trials.empty:
        return ["This run made no call: nothing spent"]
    cached = trials["cached"].fillna(False).astype(bool)
    paid = trials[~cached]
    called = paid[paid["error_type"].isna()] if "error_type" in paid else paid
    unpriced = int(called["cost_usd"].isna().sum())
    parts = [f"This run cost {dollars(float(paid['cost_usd'].fillna(0).sum()))}", f"{len(paid)} calls"]
    if cached.any():
        parts.append(f"{int(cached.sum())} answered from history (no new cost)")
    if unpriced:
        parts.append(f"{unpriced} calls of unknown price not counted")
    return parts


class RunPanel(widgets.VBox):
    """Run and Stop buttons, a progress bar, the results filling in, and what the run cost.

    ``arguments`` gives the sweep to run (raising ConfigError when there is
    none); ``on_start`` gets the handle as soon as the sweep starts,
    ``on_run_started`` the run's id once it is known (within a refresh, about a
    second), and ``on_end`` is called once the sweep has ended, whichever way.
    """

    def __init__(
        self,
        lab: Lab,
        arguments: Callable[[], SweepArguments],
        *,
        on_start: Callable[[SweepHandle], None] | None = None,
        on_run_started: Callable[[str], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.lab = lab
        self.arguments = arguments
        self.on_start = on_start
        self.on_run_started = on_run_started
        self.on_end = on_end
        self._announced: str | None = None
        self.handle: SweepHandle | None = None
        """The latest sweep started here."""
        self.watch: SweepWatch | None = None
        """The thread following it."""
        self.run_button = button("Run", "start the sweep in the background", style="success")
        self.stop_button = button("Stop", "stop the sweep; finished trials are kept", style="danger")
        self.stop_button.disabled = True
        self.error = error_label()
        self.display = WidgetDisplay()
        self.spent = widgets.HTML()
        self.results = ResultsGrid(lab=lab)
        self.results.layout.display = "none"
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        super().__init__(
            [
                widgets.HBox([self.run_button, self.stop_button, self.error]),
                self.display.widget,
                self.spent,
                self.results,
            ]
        )

    @property
    def running(self) -> bool:
        """True while a sweep started here has not ended."""
        return self.handle is not None and not self.handle.done

    def run(self) -> SweepHandle | None:
        """Start the sweep (``lab.start``) and follow it; None when it can't start (the reason is shown)."""
        arguments = catching(self.error, self.arguments)
        if arguments is None:
            return None
        handle = catching(self.error, lambda: arguments.start(self.lab, display=self.display))
        if handle is None:
            return None
        self.handle = handle
        self.spent.value = ""
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.results.layout.display = None
        self.watch = SweepWatch(
            handle, on_tick=self._follow, on_end=self._ended, every=LIVE_REFRESH_SECONDS, on_error=self._watch_failed
        )
        if self.on_start is not None:
            self.on_start(handle)
        return handle

    def stop(self) -> None:
        """Stop the running sweep (``handle.cancel()``); finished trials are kept."""
        if self.running:
            assert self.handle is not None
            self.handle.cancel()
            self.display.message("stopping…")
        self.stop_button.disabled = True

    def _follow(self) -> None:
        handle = self.handle
        if handle is None or handle.run_id is None:
            return
        if self.results.run_id != handle.run_id:
            self.results.show_run(handle.run_id)
        else:
            self.results.refresh()
        if self._announced != handle.run_id:
            self._announced = handle.run_id
            if self.on_run_started is not None:
                self.on_run_started(handle.run_id)
        if "live results failed" in self.error.value:
            show_error(self.error, None)  # that tick's error is over

    def _watch_failed(self, error: Exception) -> None:
        show_error(self.error, f"live results failed, retrying: {type(error).__name__}: {error}")

    def _ended(self) -> None:
        handle = self.handle
        assert handle is not None
        try:
            handle.result()
        except asyncio.CancelledError:
            show_error(self.error, "stopped before the first call")
        except PromptlabError as exc:
            show_error(self.error, exc)
        except Exception as exc:  # a bug, not a user error: still shown, since no cell is waiting to print it
            show_error(self.error, f"{type(exc).__name__}: {exc}")
        self._follow()
        self.show_spent()
        self.stop_button.disabled = True
        self.run_button.disabled = False
        if self.on_end is not None:
            self.on_end()

    def show_spent(self) -> str | None:
        """Show what the latest run cost (``spent_parts``) and return it as text; None before a run has started."""
        run_id = None if self.handle is None else self.handle.run_id
        if run_id is None:
            return None
        try:
            parts = spent_parts(self.lab.trials(run=run_id, kind=None))
        except PromptlabError as exc:
            parts = [f"What the run cost can't be read now: {exc}"]
        self.spent.value = f"<b>{escape(parts[0])}</b>" + muted("".join(f" · {escape(p)}" for p in parts[1:]))
        return " · ".join(parts)
