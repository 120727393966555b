"""Sweeps running in the background, so a notebook kernel stays free to work
(and a widget can show progress and a Stop button)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from promptlab.display import Display, NullDisplay, Progress
from promptlab.loops import BackgroundTask
from promptlab.recording import PlannedSweep, SweepOptions, record_sweep

if TYPE_CHECKING:
    from promptlab.lab import Lab
    from promptlab.run import Run


class _Watch:
    """Forwards progress to the user's display and keeps the latest copy."""

    def __init__(self, inner: Display) -> None:
        self.inner = inner
        self.progress: Progress | None = None
        self.messages: list[str] = []
        self.status: str | None = None

    def start(self, title: str, progress: Progress) -> None:
        self.progress = progress
        self.inner.start(title, progress)

    def update(self, progress: Progress) -> None:
        self.progress = progress
        self.inner.update(progress)

    def message(self, text: str) -> None:
        self.messages.append(text)
        self.inner.message(text)

    def finish(self, progress: Progress, status: str) -> None:
        self.progress = progress
        self.status = status
        self.inner.finish(progress, status)


class SweepHandle:
    """A sweep started by ``Lab.start``: watch it, stop it, get its ``Run``.

    The sweep is recorded exactly as ``Lab.sweep`` records it, on a thread
    and event loop of its own; ``cancel()`` stops it cleanly, keeping every
    finished trial.
    """

    def __init__(self, lab: Lab, plan: PlannedSweep, options: SweepOptions) -> None:
        self.lab = lab
        self.run_id: str | None = None
        """The run's id, once it is known (before the first call)."""
        self._watch = _Watch(options.get("display") or NullDisplay())
        watched: SweepOptions = {**options, "display": self._watch}
        self._task = BackgroundTask(
            lambda: record_sweep(lab.store, plan, watched, on_run=self._set_run_id), name="promptlab-sweep"
        )

    def _set_run_id(self, run_id: str) -> None:
        self.run_id = run_id

    @property
    def progress(self) -> Progress | None:
        """The latest progress (None until the run has started)."""
        return self._watch.progress

    @property
    def messages(self) -> list[str]:
        """Notes the run reported (rate limits, cancellation)."""
        return list(self._watch.messages)

    @property
    def done(self) -> bool:
        """True once the sweep has ended: done, cancelled or failed."""
        return self._task.done

    @property
    def status(self) -> str:
        """running, done, cancelled or failed."""
        if not self.done:
            return "running"
        return self._watch.status or "failed"

    def cancel(self) -> None:
        """Stop the sweep; finished trials are kept and the run is marked cancelled."""
        self._task.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the sweep to end (at most ``timeout`` seconds); True when it has."""
        return self._task.wait(timeout)

    def result(self) -> Run:
        """The recorded run once ended (a cancelled sweep gives its run, status
        cancelled); re-raises what made a sweep fail."""
        try:
            self._task.result()
        except asyncio.CancelledError:
            if self.run_id is None:
                raise
        assert self.run_id is not None
        return self.lab.run(self.run_id)

    def __repr__(self) -> str:
        progress = self.progress.describe() if self.progress else "starting"
        return f"SweepHandle(run {str(self.run_id)[:8]}: {self.status}, {progress})"
