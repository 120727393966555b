"""Shared fixtures: every test gets its own history file, a quiet display, and
providers it can script and count.

- ``isolated_history`` (autouse): ``PROMPTLAB_DB`` points at a fresh file in the
  test's own folder, ``PROMPTLAB_USER=tester``, and no OpenAI key or base URL
  leaks in from the environment, so nothing can reach a real endpoint.
- ``lab``: a ``pl.Lab`` on ``tmp_path / "history.duckdb"``.
- ``stub_server``: ``promptlab.testing.StubServer`` running in a thread.
- ``quiet``: a ``NullDisplay`` for sweeps; ``recording_display``: one that keeps
  what the runner reported.
- ``scripted``: makes a provider registered under a fresh name that counts its
  calls, the most calls in flight, and attempts per input, and can be scripted.
- ``chromium``, ``jupyter_lab``, ``page``: the real-browser harness of
  ``browser_support.py``.
- ``settle`` / ``plain_query``: wait for background folds, then read the file
  with a plain DuckDB connection like any outside client would.
- ``team``: a copy of the history a team has after a week (``team_history.py``:
  several prompts, versions, models, a grid, repeats, failures, judges,
  feedback, labels, an interrupted run), built once per session.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

# The real-browser fixtures (chromium, jupyter_lab, page), for test_browser.py and test_vscode.py.
from browser_support import chromium, jupyter_lab, page  # noqa: F401
from team_history import TeamHistory, fill_team_history, register_providers

import promptlab as pl
from promptlab.providers import Completion, Request
from promptlab.runner.progress import NullDisplay, Progress
from promptlab.store import database
from promptlab.store.schema import TABLES
from promptlab.testing import StubServer


def settle() -> None:
    """Wait until every background fold queued so far has finished (they run
    one at a time on promptlab's fold worker), so the file is quiet."""
    database._FOLDER.submit(lambda: None).result()


@pytest.fixture(autouse=True)
def isolated_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every test at its own database and a fixed user."""
    db = tmp_path / "default.duckdb"
    monkeypatch.setenv("PROMPTLAB_DB", str(db))
    monkeypatch.setenv("PROMPTLAB_USER", "tester")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("PROMPTLAB_SOURCE", raising=False)
    # a developer's own endpoint allow-list and config files must not change what tests see
    monkeypatch.delenv("PROMPTLAB_ALLOW_ENDPOINTS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    yield db
    settle()  # no fold of this test may still run when the next one starts


@pytest.fixture
def lab(tmp_path: Path) -> pl.Lab:
    """A history file of the test's own."""
    return pl.Lab(tmp_path / "history.duckdb")


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


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    """A local OpenAI-compatible server; ``stub_server.url`` is its base URL."""
    with running_stub_server() as server:
        yield server


@pytest.fixture
def quiet() -> NullDisplay:
    """A display that shows nothing (sweeps in tests pass ``display=quiet``)."""
    return NullDisplay()


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


@pytest.fixture
def recording_display() -> RecordingDisplay:
    return RecordingDisplay()


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


@pytest.fixture
def scripted() -> Callable[..., ScriptedProvider]:
    """``scripted(behave=None, latency=0.0)``: a ScriptedProvider registered
    under a name of its own; ``provider.model(...)`` makes Models for it."""

    def make(behave: Behaviour | None = None, latency: float = 0.0) -> ScriptedProvider:
        provider = ScriptedProvider(f"scripted-{uuid.uuid4().hex[:10]}", behave, latency)
        pl.register_provider(provider.name, provider)
        return provider

    return make


@pytest.fixture(name="settle")
def settle_fixture() -> Callable[[], None]:
    return settle


def query_file(path: str | Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Read the file as an outside DuckDB client: a plain read-only connection."""
    settle()
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture
def plain_query() -> Callable[..., list[tuple[Any, ...]]]:
    """``plain_query(path, sql, params=None)`` with a plain DuckDB connection,
    after background folds are done (DuckDB refuses a second open of a file
    inside one process while promptlab has it attached)."""
    return query_file


@contextlib.contextmanager
def held_by_another_program(path: Path, *, read_only: bool) -> Iterator[subprocess.Popen[str]]:
    """A process outside promptlab holding the file with a plain DuckDB
    connection (a DuckDB shell, a DBeaver tab) until the block ends."""
    code = (
        "import duckdb, sys\n"
        f"con = duckdb.connect({str(path)!r}, read_only={read_only})\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "con.close()\n"
    )
    settle()
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready", holder.communicate()[1]
        yield holder
    finally:
        holder.communicate(timeout=60)  # closes stdin: the holder lets go and exits
        assert holder.returncode == 0


def trial_row(**values: Any) -> dict[str, Any]:
    """A complete ``trials`` row as the journal stores it; ``values`` override."""
    row: dict[str, Any] = dict.fromkeys(TABLES["trials"].column_names)
    row.update(
        trial_id=uuid.uuid4().hex,
        run_id="run-by-hand",
        experiment="by-hand",
        cell_key=uuid.uuid4().hex[:20],
        cache_key=uuid.uuid4().hex[:20],
        prompt_name="p",
        prompt_version="0" * 12,
        model="echo",
        model_id="1" * 12,
        provider="fake",
        params={},
        row_index=0,
        vars={"text": "hello"},
        repeat=0,
        messages=[{"role": "user", "content": "hello"}],
        output="hello",
        cached=False,
        attempts=1,
        started_at="2026-01-01T00:00:00",
        created_at="2026-01-01T00:00:01",
        user="tester",
        host="here",
        pid=1,
        promptlab_version="0",
    )
    row.update(values)
    return row


@pytest.fixture(name="trial_row")
def trial_row_fixture() -> Callable[..., dict[str, Any]]:
    """``trial_row(**overrides)``: a full trials row for writing to the journal by hand."""
    return trial_row


@pytest.fixture(scope="session")
def team_history_template(tmp_path_factory: pytest.TempPathFactory) -> TeamHistory:
    """The team's history, built once per session (tests get copies: ``team``)."""
    folder = tmp_path_factory.mktemp("team-template") / "team"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as patch:  # as isolated_history does, which a session fixture can't use
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PROMPTLAB_SOURCE", "PROMPTLAB_ALLOW_ENDPOINTS"):
            patch.delenv(name, raising=False)
        patch.setenv("XDG_CONFIG_HOME", str(folder.parent / "config"))
        patch.setenv("PROMPTLAB_USER", "tester")
        lab = pl.Lab(folder / "history.duckdb")
        history = fill_team_history(lab, interrupted=True)
        lab.fold()
        settle()  # everything is in the file: copies of the folder are whole
    return history


@pytest.fixture
def team(team_history_template: TeamHistory, tmp_path: Path) -> TeamHistory:
    """A copy of the team's history of its own (``team.lab()`` opens it); its
    providers are registered, so its runs can be run again."""
    register_providers()
    return team_history_template.copy_to(tmp_path / "team")
