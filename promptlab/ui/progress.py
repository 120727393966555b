"""A sweep's progress in widgets: the ``Display`` the runner reports to, and
a watcher that keeps the results fresh while the kernel stays free."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab import Progress, SweepHandle
from promptlab.ui.common import RED, SHUTTING_DOWN, escape, guarded, muted

MIN_INTERVAL = 0.2
"""Seconds between redraws: updates arrive per trial, the bar moves at most ~5 times a second."""


def describe(progress: Progress, status: str | None = None) -> str:
    """``37/100 done · 2 errors · 1 evaluator error · 5 cached · 3.1 s · ETA 4 s`` (the
    evaluator errors when there are any, and the status once ended)."""
    parts = [f"{progress.done}/{progress.total} done", f"{progress.errors} errors"]
    if progress.eval_errors:
        parts.append(f"{progress.eval_errors} evaluator error{'s' * (progress.eval_errors != 1)}")
    parts.append(f"{progress.cached} cached")
    if progress.resumed:
        parts.append(f"{progress.resumed} resumed")
    parts.append(f"{progress.elapsed:.1f} s")
    eta = progress.eta
    if status is None and eta is not None and progress.done < progress.total:
        parts.append(f"ETA {eta:.0f} s")
    if status is not None:
        parts.append(status)
    return " · ".join(parts)


def describe_html(progress: Progress, status: str | None = None) -> str:
    """``describe`` with the errors and evaluator errors in red when there are any."""
    parts = []
    for part in describe(progress, status).split(" · "):
        count = part.split(" ", 1)[0]
        wrong = part.endswith(("errors", "error")) and count.isdigit() and int(count) > 0
        parts.append(f'<span style="color:{RED}">{escape(part)}</span>' if wrong else escape(part))
    return " · ".join(parts)


class WidgetDisplay:
    """A ``promptlab.display.Display`` drawing an IntProgress and a line of counts.

    The runner calls it from the sweep's own thread for every trial; it
    redraws at most every ``MIN_INTERVAL`` seconds, and always at the end.
    """

    def __init__(self, min_interval: float = MIN_INTERVAL) -> None:
        self.min_interval = min_interval
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="320px"))
        self.label = widgets.HTML()
        self.messages = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.bar, self.label]), self.messages])
        self.title = ""
        self.status: str | None = None
        self.redraws = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def _draw(self, progress: Progress, status: str | None = None, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self.min_interval:
                return
            self._last = now
            self.redraws += 1
        self.bar.max = max(progress.total, 1)
        self.bar.value = min(progress.done, progress.total)
        self.bar.bar_style = {
            "done": "success",
            "cancelled": "warning",
            "interrupted": "warning",
            "failed": "danger",
        }.get(status or "", "")
        self.label.value = f"<b>{escape(self.title)}</b> {describe_html(progress, status)}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Shown in a notebook as its widgets (``display(WidgetDisplay())``)."""
        return self.widget._repr_mimebundle_(**kwargs)

    def start(self, title: str, progress: Progress) -> None:
        """The sweep begins."""
        self.title, self.status = title, None
        self.messages.value = ""
        self._draw(progress, force=True)

    def update(self, progress: Progress) -> None:
        """A trial was recorded (throttled)."""
        self._draw(progress)

    def message(self, text: str) -> None:
        """Rate limits, cancellation: shown under the bar."""
        self.messages.value = muted(text)

    def finish(self, progress: Progress, status: str) -> None:
        """The sweep ended: draw the final counts."""
        self.status = status
        self._draw(progress, status, force=True)


class SweepWatch:
    """Follows a running sweep on a daemon thread: ``on_tick`` every ``every``
    seconds while it runs, then ``on_end`` once (the kernel never waits).
    Errors go to ``on_error``; a failed tick is retried at the next one."""

    def __init__(
        self,
        handle: SweepHandle,
        on_tick: Callable[[], None],
        on_end: Callable[[], None],
        every: float = 1.0,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.handle = handle
        self.every = every
        self.on_error = on_error
        self._on_tick = on_tick
        self._on_end = on_end
        self._thread = threading.Thread(target=self._main, name="promptlab-ui-watch", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            while not self.handle.wait(self.every) and not SHUTTING_DOWN.is_set():
                guarded(self._on_tick, self.on_error)
        finally:
            guarded(self._on_end, self.on_error)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the sweep has ended and ``on_end`` has run; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
