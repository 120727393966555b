"""Group commit: trials that finish close together share one durable write.

Each finished call waits for its group to be on disk before its slot is
released, so a trial is durable the moment the caller hears it finished,
and a busy sweep pays one ``fdatasync`` per group rather than one per
trial. The write happens on the event loop's own thread: an append and a
sync cost about a tenth of a millisecond here, less than handing the work
to another thread. The recorder also folds the journal into the database
in the background, so plain DuckDB clients see a sweep's trials while it runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from promptlab.store import Store

FOLD_INTERVAL = 10.0
"""Seconds between background folds while a sweep writes."""


class GroupCommit:
    """Every write of one sweep: trials in groups, and the rows around them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[str, Mapping[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._folding: asyncio.Task[int] | None = None
        self._last_fold = time.monotonic()

    def submit(self, table: str, row: Mapping[str, Any]) -> asyncio.Future[None]:
        """Queue ``row`` for the next group; the future resolves once it is on disk."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((table, row, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return future

    async def record(self, table: str, row: Mapping[str, Any]) -> None:
        """Return once ``row`` is durably on disk."""
        await self.submit(table, row)

    def record_many(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Write a batch at once (e.g. cached trials), durably."""
        self.store.append(rows_by_table, seal=False)
        self._maybe_fold()

    async def _drain(self) -> None:
        try:
            # This task's first step runs on the loop turn after it was created,
            # so every call that finished on that turn is already in the group.
            while self._pending:
                group, self._pending = self._pending, []
                rows: defaultdict[str, list[Mapping[str, Any]]] = defaultdict(list)
                for table, row, _ in group:
                    rows[table].append(row)
                try:
                    self.store.append(rows, seal=False)
                except Exception as exc:  # a disk error: every waiter must hear it
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, _, future in group:
                    if not future.done():
                        future.set_result(None)
                self._maybe_fold()
                await asyncio.sleep(0)  # the waiters resume; later finishers form the next group
        finally:
            self._writer = None

    def _maybe_fold(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a write from a worker thread (a heartbeat): the loop's next write folds
        if self._folding is None and time.monotonic() - self._last_fold >= FOLD_INTERVAL:
            self._last_fold = time.monotonic()
            self._folding = asyncio.create_task(asyncio.to_thread(self.store.fold, 0.0))
            self._folding.add_done_callback(self._fold_done)

    def _fold_done(self, task: asyncio.Task[int]) -> None:
        self._folding = None
        if not task.cancelled():
            task.exception()  # a failed background fold is retried by the next one

    async def close(self) -> None:
        """Wait for every write and background fold in progress."""
        while self._writer is not None:
            await asyncio.shield(self._writer)
        if self._folding is not None:
            await asyncio.wait([self._folding])
