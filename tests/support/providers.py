"""Providers and displays tests can script and inspect: a provider that counts
its calls and answers as told, a display that keeps what the runner reported,
and the stub OpenAI-compatible server run in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

import promptlab as pl
from promptlab.providers import Completion, Request
from promptlab.runner.progress import Progress
from promptlab.testing import StubServer


def cancel_pending(loop: asyncio.AbstractEventLoop | None) -> None:
    """Cancel every task on a server's loop (running in its own thread) and wait
    for them to end, while the loop still runs."""
    if loop is None or not loop.is_running():
        return

    async def cancel_others() -> None:
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(cancel_others(), loop).result(10)


@contextlib.contextmanager
def running_stub_server(**options: Any) -> Iterator[StubServer]:
    """``StubServer`` in a thread, shut down cleanly. Its ``__exit__`` only stops
    the loop: a ``[hang]`` handler (asleep for an hour) is then destroyed by the
    garbage collector, from whatever thread collects it, printing an "Event loop
    is closed" traceback, and on Python 3.11.7 a traceback printed in one thread
    while pytest parses source in another can crash pytest (CPython gh-106905)."""
    with StubServer(**options) as server:
        try:
            yield server
        finally:
            cancel_pending(server._loop)
    if server._loop is not None and not server._loop.is_running():
        server._loop.close()


class RecordingDisplay:
    """Keeps what the runner reported; ``reached(n)`` is an event set once
    ``n`` cells are recorded (usable from another thread)."""

    def __init__(self) -> None:
        self.title: str | None = None
        self.progress: Progress | None = None
        self.messages: list[str] = []
        self.status: str | None = None
        self._targets: list[tuple[int, threading.Event]] = []

    @property
    def done(self) -> int:
        return self.progress.done if self.progress else 0

    def reached(self, n: int) -> threading.Event:
        event = threading.Event()
        self._targets.append((n, event))
        return event

    def _check(self) -> None:
        for n, event in self._targets:
            if self.done >= n:
                event.set()

    def start(self, title: str, progress: Progress) -> None:
        self.title, self.progress = title, progress
        self._check()

    def update(self, progress: Progress) -> None:
        self.progress = progress
        self._check()

    def message(self, text: str) -> None:
        self.messages.append(text)

    def finish(self, progress: Progress, status: str) -> None:
        self.progress, self.status = progress, status
        self._check()


def last_user_message(messages: Sequence[Mapping[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


Behaviour = Callable[[Request, str, int], Awaitable[Completion | None]]
"""``await behave(request, text, attempt)``: raise to fail the call, return a
Completion to answer, or None for the default answer. ``text`` is the last
user message and ``attempt`` counts calls made for that text so far."""


class ScriptedProvider:
    """A provider that answers ``"<model>: <text>"`` unless scripted otherwise,
    counting calls, attempts per input and the most calls in flight."""

    def __init__(self, name: str, behave: Behaviour | None = None, latency: float = 0.0) -> None:
        self.name = name
        self.behave = behave
        self.latency = latency
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.attempts: Counter[str] = Counter()
        self.threads: set[int] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        """The event loop of the latest call."""

    def model(self, model_name: str = "scripted", **params: Any) -> pl.Model:
        """A Model that runs on this provider."""
        return pl.Model(model_name, provider=self.name, **params)

    async def complete(self, request: Request) -> Completion:
        text = last_user_message(request.messages)
        self.calls += 1
        self.attempts[text] += 1
        self.threads.add(threading.get_ident())
        self.loop = asyncio.get_running_loop()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.behave is not None:
                answer = await self.behave(request, text, self.attempts[text])
                if answer is not None:
                    return answer
            words = text.split()
            return Completion(
                output=f"{request.model.name}: {text}",
                finish_reason="stop",
                prompt_tokens=len(words),
                completion_tokens=len(words) + 1,
                request_id=f"scripted-{self.calls}",
                raw={"text": text},
            )
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        """Shared instance: nothing to close."""
