"""Running async work from sync code: in a plain script and inside a running
event loop (a Jupyter cell) alike."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


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
    return _run_in_thread(make_coroutine)


def _run_in_thread(make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    outcome: dict[str, Any] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    task_box: list[asyncio.Task[T]] = []

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            task = loop.create_task(make_coroutine())
            task_box.append(task)
            ready.set()
            outcome["result"] = loop.run_until_complete(task)
        except BaseException as exc:  # handed to the waiting thread, which re-raises it
            outcome["error"] = exc
        finally:
            ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=target, name="promptlab-sweep", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        ready.wait()
        if task_box:
            loop.call_soon_threadsafe(task_box[0].cancel)
        thread.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
