"""``pl.logger``: an application's calls and its users' feedback, recorded into
the history the notebooks read, without ever getting in the app's way.

``record`` and ``feedback`` put their arguments on a bounded in-memory queue
and return an id at once (a few microseconds: ``benchmarks/logger.py``);
they never raise into the app and never wait on the store. The logger's
own thread turns the queue into rows every ``flush_every`` seconds and
appends them, one ``fdatasync`` per batch, to the durable journal the
sweeps write (a team server's: this user's local spool); every
``publish_every`` seconds it seals them and folds them into the file (or
sends them to the server). A full queue drops new records rather than
block: each drop is counted (``dropped``), logged as a warning, and written
on the logger's run, so the loss is never silent.

What a kill -9 can lose: records still on the queue, that is, those made
in the last ``flush_every`` seconds (0.2 s by default) plus the batch being
written. Everything older is in the journal and survives a crash of the
process or the machine. A normal exit (``close``, or interpreter exit)
writes the queue out first.

Each logger is a run of the experiment named by its ``source`` (the app's
name), tagged ``production``: its state says it is running while the app
is, with a heartbeat, and what it recorded and dropped.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import contextvars
import dataclasses
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from promptlab.core.lineage import HEARTBEAT_SECONDS, current_lineage
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.redaction import Redactor
from promptlab.errors import ConfigError
from promptlab.production.calls import (
    AppFeedback,
    Call,
    RunState,
    experiment_row,
    run_row,
    timestamp,
)
from promptlab.production.rows import RowMaker
from promptlab.production.sinks import Sink, sink_for
from promptlab.store.location import default_db_path

log = logging.getLogger("promptlab.production")

BATCH = 5_000
"""Most records written in one append (one ``fdatasync``)."""

DROP_REPORT_SECONDS = 60.0
"""At most one warning per this many seconds while records are being dropped."""


def _app_name() -> str:
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else ""
    return Path(script).stem or "app"


class Logger:
    """Records an application's calls (``record``) and its users' verdicts
    (``feedback``) into a history; see the module docstring."""

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        source: str | None = None,
        queue_size: int = 10_000,
        flush_every: float = 0.2,
        publish_every: float | None = None,
        fold: bool = True,
        redact: tuple[str, ...] = (),
        tier: str | None = None,
    ) -> None:
        if queue_size < 1 or flush_every <= 0:
            raise ConfigError("queue_size must be ≥ 1 and flush_every > 0 (seconds)")
        location = db if db is not None else default_db_path()
        self.sink: Sink = sink_for(location, fold=fold)
        self.source = source or _app_name()
        """The app's name: the trials' ``source``, and the experiment its runs are in."""
        self.flush_every = flush_every
        self.publish_every = publish_every if publish_every is not None else (2.0 if "://" in str(location) else 30.0)
        self.queue_size = queue_size
        self.run_id = uuid.uuid4().hex
        """This logger's run (one per logger: an app process's calls)."""
        self.dropped = 0
        """Records dropped because the queue was full (or the logger closed)."""
        self.written = 0
        """Records (calls and verdicts) now in the journal."""
        self.calls_written = 0
        """Of those, the calls (the run's trials)."""
        self.last_error: str | None = None
        """Why the last write to the journal failed (they are retried), if one did."""
        self._queue: collections.deque[Call | AppFeedback] = collections.deque()
        self._lineage = dataclasses.replace(current_lineage(), source=self.source)
        self._redactor = Redactor(values=redact)
        policy = self.sink.privacy_policy()
        self.tier = policy.highest(policy.checked(tier), policy.tier_of("sources", self.source))
        """The data tier of the calls it logs: ``tier=``, or what the policy says of its source, whichever is higher."""
        scrub = policy.redaction(self.tier, "before_storage")
        self._rows = RowMaker(self.run_id, self.source, self._lineage, self._redactor, tier=self.tier, scrub=scrub)
        self._revision = 0
        self._closed = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reported_drops = 0
        self._last_drop_report = 0.0
        self._write_lock = threading.Lock()
        self._context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(f"promptlab-{self.run_id}")
        self.last_trial: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            f"promptlab-last-{self.run_id}", default=None
        )
        """The trial id of the last call an instrumented client logged in this context."""
        self._thread = threading.Thread(target=self._run, name=f"promptlab-logger-{self.source}", daemon=True)
        self._publisher = threading.Thread(target=self._publish, name=f"promptlab-publish-{self.source}", daemon=True)
        self._write_run("running")
        self._thread.start()
        self._publisher.start()
        atexit.register(self.close)

    def __repr__(self) -> str:
        return f"Logger({self.sink.location!r}, source={self.source!r})"

    # -- the application's side ---------------------------------------------------

    def record(
        self,
        prompt: Prompt,
        vars: Mapping[str, Any] | None = None,
        output: Any = None,
        *,
        model: str | Model | None = None,
        latency_ms: float | None = None,
        usage: Any = None,
        error: BaseException | str | None = None,
        end_user: str | None = None,
        session: str | None = None,
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        messages: Any = None,
        params: Mapping[str, Any] | None = None,
        ttft_ms: float | None = None,
        cost_usd: float | None = None,
        finish_reason: str | None = None,
        base_url: str | None = None,
    ) -> str:
        """Record one call the app made with ``prompt`` (from ``pl.load_prompt``,
        whose label it records) filled with ``vars``; returns its trial id at once.
        ``usage``: the response's usage (object or dict); ``error``: what the call
        raised, if it failed; ``external_id``: the app's own id for the call, to
        give feedback by. Never raises, never waits."""
        trial_id = uuid.uuid4().hex
        try:
            self._put(
                Call(
                    trial_id,
                    time.time(),
                    prompt,
                    dict(vars) if isinstance(vars, Mapping) else vars,
                    output,
                    model,
                    latency_ms,
                    usage,
                    error,
                    end_user,
                    session,
                    external_id,
                    metadata,
                    messages,
                    params,
                    ttft_ms,
                    cost_usd,
                    finish_reason,
                    base_url,
                )
            )
        except Exception:  # never into the app
            self._drop()
        return trial_id

    def feedback(
        self,
        ref: str,
        *,
        vote: int | None = None,
        action: str | None = None,
        correction: str | None = None,
        comment: str | None = None,
        end_user: str | None = None,
    ) -> str:
        """Record an end user's verdict on a logged call, named by its trial id or by
        the app's ``external_id``: a vote (+1, -1, 0 withdraws), what they did with
        the output (``action``: "copied", "edited", "accepted", …), their
        ``correction``, a comment. Returns the feedback's id at once; never raises."""
        feedback_id = uuid.uuid4().hex
        try:
            if vote is not None and vote not in (-1, 0, 1):
                vote = 1 if vote > 0 else -1
            self._put(AppFeedback(feedback_id, time.time(), str(ref), vote, action, correction, comment, end_user))
        except Exception:
            self._drop()
        return feedback_id

    @contextlib.contextmanager
    def context(
        self,
        *,
        end_user: str | None = None,
        session: str | None = None,
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Iterator[None]:
        """Within the block, calls an instrumented client logs (``pl.instrument``)
        carry these: who they were for, the app's id for the request, metadata.
        Blocks nest (the inner one's values win); each thread and async task has its own."""
        given = {"end_user": end_user, "session": session, "external_id": external_id, "metadata": metadata}
        token = self._context.set({**self.current_context(), **{k: v for k, v in given.items() if v is not None}})
        try:
            yield
        finally:
            self._context.reset(token)

    def current_context(self) -> dict[str, Any]:
        """What ``context`` set for calls made here (empty outside any block)."""
        return self._context.get({})

    def _put(self, item: Call | AppFeedback) -> None:
        if self._closed or len(self._queue) >= self.queue_size:
            self._drop()
            return
        self._queue.append(item)

    def _drop(self) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_drop_report >= DROP_REPORT_SECONDS:
            self._last_drop_report = now
            self._wake.set()  # the logger's thread says so (and writes it on the run)

    @property
    def pending(self) -> int:
        """Records on the queue, not yet in the journal."""
        return len(self._queue)

    def stats(self) -> dict[str, Any]:
        """What this logger has done: written, pending, dropped, and the last write error."""
        return {"written": self.written, "pending": self.pending, "dropped": self.dropped, "error": self.last_error}

    # -- the logger's thread ---------------------------------------------------------

    def _run(self) -> None:
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        while not self._stop.is_set():
            self._wake.wait(self.flush_every)
            self._wake.clear()
            self.flush()
            self._report_drops()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_SECONDS
                self._guarded(lambda: self._write_run("running"))

    def _publish(self) -> None:
        """Fold (or send) on a thread of its own: a fold takes a while (the first
        one imports the store), and the journal must keep taking the queue meanwhile."""
        while not self._stop.wait(self.publish_every):
            self._guarded(self.sink.publish)

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # a write that failed is retried; the app never hears of it
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("promptlab logger (%s): %s", self.sink.location, self.last_error)

    def flush(self) -> int:
        """Write everything on the queue to the journal now; how many were written."""
        total = 0
        with self._write_lock:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                try:
                    rows = self._rows.rows(batch)
                    self.sink.append(rows)
                except Exception as exc:
                    self._queue.extendleft(reversed(batch))  # tried again next time; new records may drop
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("promptlab logger: can't write to %s (%s)", self.sink.location, self.last_error)
                    break
                self.written += len(batch)
                self.calls_written += len(rows["trials"])
                total += len(batch)
        return total

    def _report_drops(self) -> None:
        if self.dropped > self._reported_drops:
            log.warning(
                "promptlab logger (%s): dropped %d record(s) so far: the queue of %d was full. Raise queue_size, "
                "or check that %s can be written (last error: %s)",
                self.source,
                self.dropped,
                self.queue_size,
                self.sink.location,
                self.last_error or "none",
            )
            self._reported_drops = self.dropped
            self._guarded(lambda: self._write_run("running"))

    def _write_run(self, status: str) -> None:
        """This logger's run row, in its next state (with what it recorded and dropped)."""
        now = timestamp(time.time())
        if self._revision == 0:
            self._started = now
            self.sink.append({"experiments": [experiment_row(self.source, self._lineage.user, now)]})
        self._revision += 1
        state = RunState(status, self._started, now, self.calls_written, self.dropped, self._revision)
        self.sink.append({"runs": [run_row(self.run_id, self.source, self._lineage, state)]})

    # -- the end ----------------------------------------------------------------------

    def close(self, timeout: float = 10.0) -> None:
        """Write everything recorded to the journal, end the run, and publish what
        can be in ``timeout`` seconds (called at interpreter exit too)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._publisher.join(timeout)
        self._guarded(self.flush)
        self._report_drops()
        self._guarded(lambda: self._write_run("done"))
        closing = threading.Thread(target=self._guarded, args=(self.sink.close,), daemon=True)
        closing.start()
        closing.join(timeout)
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def logger(db: str | os.PathLike[str] | None = None, **options: Any) -> Logger:
    """A ``Logger`` recording into history ``db`` (a file, or a team server's
    URL; default ``$PROMPTLAB_DB``, else ``./promptlab.duckdb``); ``options``:
    ``source`` (the app's name; default the script's), ``queue_size``,
    ``flush_every``, ``publish_every``, ``fold`` (see ``Logger``)."""
    return Logger(db, **options)
