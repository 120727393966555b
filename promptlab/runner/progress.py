"""Progress displays. The runner reports to a ``Display``; it never knows
whether that is a terminal, a log or a notebook widget."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO


@dataclass
class Progress:
    """Where a sweep stands."""

    total: int
    """Cells in the sweep (resumed cells included)."""

    done: int = 0
    """Cells with a recorded trial, successes and errors alike."""

    errors: int = 0
    """Trials that ended in an error."""

    cached: int = 0
    """Trials answered from history without a call."""

    eval_errors: int = 0
    """Scores an evaluator couldn't give (it raised, or returned something that isn't a score)."""

    resumed: int = 0
    """Cells skipped because this run already had them (resuming)."""

    started: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when the sweep started."""

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.started

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate of live calls so far; None before any."""
        live = self.done - self.cached - self.resumed
        remaining = self.total - self.done
        if remaining <= 0:
            return 0.0
        if live <= 0:
            return None
        return self.elapsed / live * remaining

    def describe(self) -> str:
        """One line: counts, rate and ETA."""
        eta = self.eta
        eta_text = "" if eta is None else f", ETA {eta:.0f}s"
        scoring = f", {self.eval_errors} evaluator errors" if self.eval_errors else ""
        return (
            f"{self.done}/{self.total} done, {self.errors} errors{scoring}, {self.cached} cached "
            f"({self.elapsed:.1f}s{eta_text})"
        )


class Display(Protocol):
    """Receives progress from the runner. Calls come from the runner's thread."""

    def start(self, title: str, progress: Progress) -> None:
        """The sweep begins."""

    def update(self, progress: Progress) -> None:
        """A trial was recorded (called often: throttle if drawing is costly)."""

    def message(self, text: str) -> None:
        """Something the user should know (rate-limited, resuming, ...)."""

    def finish(self, progress: Progress, status: str) -> None:
        """The sweep ended with ``status`` (done, cancelled, failed)."""


class NullDisplay:
    """Shows nothing."""

    def start(self, title: str, progress: Progress) -> None:
        """Nothing."""

    def update(self, progress: Progress) -> None:
        """Nothing."""

    def message(self, text: str) -> None:
        """Nothing."""

    def finish(self, progress: Progress, status: str) -> None:
        """Nothing."""


class LineDisplay:
    """Plain lines, for logs and CI: one every ``every`` seconds and at the end."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self._last = 0.0
        self._title = ""

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, title: str, progress: Progress) -> None:
        """Print the title and size."""
        self._title = title
        self._last = time.monotonic()
        self._print(f"{title}: {progress.total} cells")

    def update(self, progress: Progress) -> None:
        """Print a line at most every ``every`` seconds."""
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._print(f"{self._title}: {progress.describe()}")

    def message(self, text: str) -> None:
        """Print it."""
        self._print(f"{self._title}: {text}")

    def finish(self, progress: Progress, status: str) -> None:
        """Print the final counts."""
        self._print(f"{self._title}: {status}, {progress.describe()}")


class TqdmDisplay:
    """A tqdm bar (terminal or notebook, as ``tqdm.auto`` picks)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = 0

    def start(self, title: str, progress: Progress) -> None:
        """Open the bar."""
        from tqdm.auto import tqdm

        self._bar = tqdm(total=progress.total, desc=title, unit="trial", dynamic_ncols=True)
        self._shown = 0

    def update(self, progress: Progress) -> None:
        """Advance the bar."""
        if self._bar is None:
            return
        self._bar.update(progress.done - self._shown)
        self._shown = progress.done
        extra = {"eval_errors": progress.eval_errors} if progress.eval_errors else {}
        self._bar.set_postfix(errors=progress.errors, cached=progress.cached, **extra, refresh=False)

    def message(self, text: str) -> None:
        """Write above the bar."""
        if self._bar is not None:
            self._bar.write(text)

    def finish(self, progress: Progress, status: str) -> None:
        """Close the bar."""
        if self._bar is not None:
            self.update(progress)
            self._bar.set_description(f"{self._bar.desc} ({status})")
            self._bar.close()
            self._bar = None


def default_display() -> Display:
    """tqdm on a terminal or in a notebook, plain lines otherwise (logs, CI)."""
    in_notebook = "ipykernel" in sys.modules
    if in_notebook or sys.stderr.isatty():
        return TqdmDisplay()
    return LineDisplay()
