"""Running async work from sync code: in a plain script, inside a running
event loop (a Jupyter cell), and in the background while the kernel stays free."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BackgroundTask(Generic[T]):
    """A coroutine running on an event loop of its own, in a thread of its own."""

    def __init__(self, make_coroutine: Callable[[], Coroutine[Any, Any, T]], name: str = "promptlab") -> None:
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[T] | None = None
        self._started = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        # Finished-ness is our own event, not Thread.is_alive(): on Python 3.11 a
        # KeyboardInterrupt inside Thread.join() can leave a running thread
        # marked stopped, and the sweep would go on unstoppable.
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(make_coroutine,), name=name, daemon=True)
        self._thread.start()
        self._started.wait()

    def _main(self, make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._task = self._loop.create_task(make_coroutine())
            self._started.set()
            self._result = self._loop.run_until_complete(self._task)
        except BaseException as exc:  # kept for whoever waits on the task, which re-raises it
            self._error = exc
        finally:
            self._started.set()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
            self._finished.set()

    @property
    def done(self) -> bool:
        """True once the coroutine has finished, whichever way."""
        return self._finished.is_set()

    def cancel(self) -> None:
        """Ask the coroutine to stop; finished work is kept (see ``record_sweep``)."""
        task = self._task
        if task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the coroutine already finished
                self._loop.call_soon_threadsafe(task.cancel)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until done (or ``timeout`` seconds); True when done."""
        return self._finished.wait(timeout)

    def result(self) -> T:
        """The coroutine's result once done; re-raises its exception."""
        self.wait()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


def run_sync(make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine to completion and return its result.

    With no loop running in this thread, this is ``asyncio.run``. Inside a
    running loop (Jupyter), the coroutine runs on a loop of its own in a
    worker thread while this thread waits; an interrupt (Ctrl+C, the
    notebook's stop button) cancels it cleanly and is then re-raised.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    task = BackgroundTask(make_coroutine, name="promptlab-sweep")
    try:
        while not task.wait(0.1):
            pass
    except KeyboardInterrupt:
        task.cancel()
        while not task.wait(0.1):  # a second interrupt must not leave it running either
            task.cancel()
        raise
    return task.result()
