"""The history store: a DuckDB file plus its journal, safe to share.

Writers append to the journal (``journal.py``) and are acknowledged once
their rows are on disk in a segment. Whoever gets the exclusive lock folds
sealed segments into the tables, checkpoints, opens the file afresh to check
every segment's rows are there, and only then deletes the segments: an
acknowledged row is never lost, even if a commit silently vanished. Readers
take the shared lock and query views that union the tables with the
segments not yet folded.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from promptlab.errors import NewerSchemaError, NotADatabaseError, StoreBusyError, StoreError, StoreLocationError
from promptlab.store import migrations, sql
from promptlab.store.engine import attached, fresh_connection, is_duckdb_file
from promptlab.store.journal import Journal
from promptlab.store.lock import busy_error, file_lock
from promptlab.store.schema import TABLES

BUSY_TIMEOUT = 30.0
"""Seconds to wait for another program holding the file before giving up."""

# Folds a sweep leaves behind run here, so the sweep returns as soon as its
# rows are durable. The worker is not a daemon: the interpreter waits for a
# fold in progress before it exits.
_FOLDER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptlab-fold")


def sealed_while_reading(error: Exception) -> bool:
    """Whether DuckDB failed because a journal segment was sealed (renamed)
    between listing it and reading it (at bind time or at scan time)."""
    message = str(error)
    return "No files found that match the pattern" in message or (
        "Cannot open file" in message and ".jsonl.open" in message
    )


class Reader:
    """Queries in one read session (see ``Store.reading``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, relist: Callable[[], None]) -> None:
        self.con = con
        self._relist = relist

    def execute(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Run a read query. A writer may seal its open segment (a rename) after the
        views listed it; the views are then rebuilt from a fresh listing and the
        query runs again: the rows are still there, under the sealed name."""
        for attempt in range(5):
            try:
                return self.con.execute(text, params)
            except duckdb.IOException as exc:
                if not sealed_while_reading(exc) or attempt == 4:
                    raise
                self._relist()
        raise AssertionError("unreachable")

    def query(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        with warnings.catch_warnings():
            # duckdb 2.0 calls a pandas API that pandas 3.1 deprecates; not ours to fix
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            return self.execute(text, params).df()


class Store:
    """One history file: ``path`` and its journal folder ``path.journal``."""

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False) -> None:
        self.path = Path(path).expanduser().absolute()
        self.journal = Journal(self.path.with_name(self.path.name + ".journal"))
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        """Only reads: no migration, no fold, nothing written (application code)."""
        self._fold_scheduled = threading.Event()
        if read_only:
            if not self.path.is_file():
                raise StoreLocationError(f"no history file at {self.path}; check the path (or $PROMPTLAB_DB)")
            return
        self._refuse_foreign_file()
        self._prepare_location()
        self._open()
        self.fold()  # one try: leftovers of a crashed writer go in now if the file is free

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- opening ---------------------------------------------------------------

    def _refuse_foreign_file(self) -> None:
        """Check an existing file is DuckDB before writing anything beside it."""
        if self.path.is_file() and self.path.stat().st_size and not is_duckdb_file(self.path):
            raise NotADatabaseError(
                f"{self.path} is not a DuckDB database; point promptlab at a new path or at a history file it made"
            )

    def _open(self) -> None:
        """Check the schema with a read-only open (which works while teammates
        read); take the file for writing only when it needs migrating."""
        if self.path.is_file() and self.path.stat().st_size:
            with self._locked(exclusive=False), self._attached(read_only=True) as (con, alias):
                version = migrations.applied_version(con, alias)
                foreign = migrations.foreign_tables(con, alias)
            self._check_schema(version, foreign)
            if version == migrations.LATEST:
                return
        with self._locked(exclusive=True), self._attached(read_only=False) as (con, alias):
            version = migrations.applied_version(con, alias)
            self._check_schema(version, migrations.foreign_tables(con, alias))
            if version < migrations.LATEST:
                migrations.migrate(con)
                con.execute(f"CHECKPOINT {alias}")

    def _check_schema(self, version: int, foreign: int) -> None:
        if version > migrations.LATEST:
            raise NewerSchemaError(
                f"{self.path} was written by a newer promptlab (schema {version}; this one knows "
                f"up to {migrations.LATEST}). Upgrade: pip install -U promptlab"
            )
        if version == 0 and foreign:
            raise NotADatabaseError(
                f"{self.path} is a DuckDB database of something else (it has tables but no "
                "promptlab history); give promptlab a path of its own"
            )

    def _prepare_location(self) -> None:
        if self.path.is_dir():
            raise StoreLocationError(f"{self.path} is a folder; give the path of a .duckdb file inside it")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.journal.create()
            self.lock_path.touch(exist_ok=True)
        except OSError as exc:
            raise StoreLocationError(
                f"can't write next to {self.path} ({exc.strerror or exc}): promptlab keeps a journal "
                "and a lock file beside the database. Use a folder you can write to "
                "(pl.Lab('path/to/history.duckdb') or PROMPTLAB_DB=...)."
            ) from exc

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool, wait: float | None = None, optional: bool = False) -> Iterator[bool]:
        """Hold the sidecar lock (waiting up to ``wait``, default ``busy_timeout``);
        yields whether it is held: False only when ``optional``, else ``StoreBusyError``."""
        if self.read_only and not exclusive and not os.access(self.lock_path, os.W_OK):
            yield True  # a read-only copy of a history (no lock file to take): DuckDB's own lock guards it
            return
        timeout = self.busy_timeout if wait is None else wait
        with file_lock(self.lock_path, exclusive=exclusive, timeout=timeout) as held:
            if not held and not optional:
                raise busy_error(self.lock_path, timeout)
            yield held

    def _attached(
        self, *, read_only: bool, deadline: float | None = None
    ) -> contextlib.AbstractContextManager[tuple[duckdb.DuckDBPyConnection, str]]:
        deadline = time.monotonic() + self.busy_timeout if deadline is None else deadline
        return attached(self.path, read_only=read_only, deadline=deadline, patience=self.busy_timeout)

    # -- writing ---------------------------------------------------------------

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]], *, seal: bool = True) -> None:
        """Record rows durably (returns once they are on disk).

        ``seal=False`` keeps streaming into this process's open segment (a
        sweep's trials); sealed segments are what the next fold takes.
        """
        if self.read_only:
            raise StoreError(f"{self.path} was opened read-only; open it with pl.Lab(path) to record")
        unknown = set(rows_by_table) - TABLES.keys()
        if unknown:
            raise StoreError(f"no table named {', '.join(sorted(unknown))}")
        self.journal.append(rows_by_table)
        if seal:
            self.journal.seal()

    def fold(self, wait: float = 0.0) -> int:
        """Move journaled rows into the tables; the number of segments folded.

        Seals this process's open segments and those of writers that died.
        When another promptlab process holds the lock it folds instead; when a
        program outside promptlab has the file open, this retries for up to
        ``wait`` seconds, never holding the lock while it waits, so readers
        carry on. Rows not folded stay in the journal, visible to readers.
        """
        if self.read_only:
            return 0
        self.journal.seal()
        if not self.journal.pending():
            return 0
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            folded = self._fold_once(max(0.0, deadline - time.monotonic()))
            if folded is not None or time.monotonic() >= deadline:
                return folded or 0
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _fold_once(self, lock_wait: float) -> int | None:
        """One fold; None when the file was busy (held by a program outside promptlab)."""
        with self._locked(exclusive=True, wait=lock_wait, optional=True) as held:
            if not held:
                return 0  # another promptlab process is folding; it takes our sealed segments too
            self.journal.adopt_orphans()
            segments = {name: paths for name in TABLES if (paths := self.journal.sealed(name))}
            if not segments:
                return 0
            try:
                self._fold_into_file(segments, time.monotonic())  # one attempt: never wait holding the lock
                if not self._verify_folded(segments, time.monotonic() + self.busy_timeout):
                    return 0  # segments stay; the next fold re-applies them (idempotent)
            except StoreBusyError:
                return None
            self.journal.remove([p for paths in segments.values() for p in paths])
            self.journal.sweep_temporaries()
            return sum(len(paths) for paths in segments.values())

    def fold_soon(self, delay: float = 0.0) -> None:
        """Fold in the background (rows stay visible to readers meanwhile).
        With a ``delay``, a burst of small writes (feedback clicks) shares one fold."""
        if self.read_only:
            return
        self.journal.seal()
        if self._fold_scheduled.is_set():
            return
        self._fold_scheduled.set()

        def fold() -> None:
            self._fold_scheduled.clear()
            self.fold(wait=self.busy_timeout)

        if delay <= 0:
            _FOLDER.submit(fold)
            return
        # A daemon timer: at exit a pending fold is simply left to the next
        # process (the rows are safe in the journal meanwhile).
        timer = threading.Timer(delay, lambda: _FOLDER.submit(fold))
        timer.daemon = True
        timer.start()

    def _fold_into_file(self, segments: dict[str, list[Path]], deadline: float) -> None:
        with self._attached(read_only=False, deadline=deadline) as (con, alias):
            con.execute("BEGIN TRANSACTION")
            try:
                for name, paths in segments.items():
                    con.execute(sql.fold_into(TABLES[name], paths))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute(f"CHECKPOINT {alias}")

    def _verify_folded(self, segments: dict[str, list[Path]], deadline: float) -> bool:
        """Open the file afresh and check every segment row is in its table."""
        with fresh_connection(self.path, deadline=deadline, patience=self.busy_timeout) as con:
            for name, paths in segments.items():
                missing = con.execute(sql.missing_rows(TABLES[name], paths, name)).fetchone()
                if missing is None or missing[0]:
                    return False
            return True

    # -- reading ---------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, wait: float | None = None) -> Iterator[Reader]:
        """A read-only session whose tables include rows still in the journal;
        several queries in one session share one open of the file. ``wait``
        bounds how long a program outside promptlab may hold the file first
        (default ``busy_timeout``), then ``StoreBusyError``."""
        patience = self.busy_timeout if wait is None else wait
        with (
            self._locked(exclusive=False, wait=patience),
            self._attached(read_only=True, deadline=time.monotonic() + patience) as (con, alias),
        ):
            present = {row[0] for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [alias]
            ).fetchall()}  # fmt: skip

            def list_journal() -> None:
                for attempt in range(5):
                    try:
                        for name, table in TABLES.items():
                            if name in present:  # a read-only open of an older file lacks the newer tables
                                view = sql.live_view(table, f"{alias}.{name}", self.journal.segments(name))
                                con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {view}")
                        return
                    except duckdb.IOException as exc:  # a segment was sealed as we listed it: list again
                        if not sealed_while_reading(exc) or attempt == 4:
                            raise

            list_journal()
            yield Reader(con, list_journal)

    def query(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one read query over the live tables and return a DataFrame."""
        with self.reading() as reader:
            return reader.query(text, params)
