"""The history store: a DuckDB file plus its journal, safe to share.

Writers append to the journal (``journal.py``) and are acknowledged once
their rows are on disk in a segment. Whoever gets the exclusive lock folds
sealed segments into the tables (``fold.py``), checkpoints, opens the file
afresh to check every row is there, and only then deletes the segments: an
acknowledged row is never lost, even if a commit silently vanished. Readers
take the shared lock and query views that union the tables with the
segments not yet folded.

A history file may come from someone else, so nothing in it is trusted: it
is never the default catalog of promptlab's SQL, its tables are checked to
be the ones promptlab made before anything is read from or folded into
them, and a file that isn't is refused with ``DamagedStoreError``.
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

from promptlab.core.files import EXITING, file_lock
from promptlab.errors import (
    DamagedStoreError,
    HistoryWarning,
    NewerSchemaError,
    NotADatabaseError,
    StoreBusyError,
    StoreError,
    StoreLocationError,
)
from promptlab.store import fold, label_file, migrations, search_index
from promptlab.store.engine import attached, fresh_connection, is_duckdb_file, refuse_question_mark
from promptlab.store.file_rules import FileRules
from promptlab.store.journal import Journal
from promptlab.store.location import journal_folder
from promptlab.store.lock import busy_error
from promptlab.store.reader import Reader, shared_session
from promptlab.store.schema import DERIVED, TABLES

BUSY_TIMEOUT = 5.0
"""Seconds a read waits for a program outside promptlab that holds the file
(a DuckDB shell, a DBeaver tab) before it gives up with ``StoreBusyError``."""

FOLD_PATIENCE = 30.0
"""Seconds a background fold keeps retrying while such a program holds the file."""

OPEN_CHECK_WAIT = 1.0
"""Seconds opening a store waits to check the schema while such a program holds
the file; after that it records to the journal and the first fold checks."""

LOCK_WAIT = 30.0
"""Seconds a read waits for promptlab's own fold (which never waits holding the lock)."""

# Folds a sweep leaves behind run here, so the sweep returns as soon as its
# rows are durable. The worker is not a daemon, so a fold in progress finishes
# before the interpreter exits; once exiting, no fold waits for the file.
_FOLDER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptlab-fold")
_EXPECTED_COLUMNS = {
    **{name: table.column_names for name, table in TABLES.items()},
    **{name: [column for column, _ in columns] for name, columns in DERIVED.items()},
}


class Store(FileRules):
    """One history file: ``path`` and its journal folder ``path.journal``."""

    indexed_search = True
    """Searches are narrowed by the file's own search index (``search_index.py``)."""

    def __init__(
        self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False, mkdir: bool = False
    ) -> None:
        # A symlink and the file it points at are one history: one journal, one lock, one policy.
        self.path = Path(path).expanduser().resolve()
        refuse_question_mark(self.path)
        self.journal = Journal(journal_folder(self.path))
        # The journal folder itself is what promptlab processes lock: a lock file
        # beside it could be deleted while held, letting two folds run at once.
        self.lock_path = self.journal.root
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        """Only reads: no migration, no fold, nothing written (application code)."""
        self.last_fold = fold.FoldResult()
        """What the most recent fold in this process did."""
        self.after_background_fold: Callable[[Store], object] | None = None
        """Upkeep run on the fold worker after a background fold that folded
        something (``Lab`` sets ``compaction.compact_when_worth_it``): off every
        sweep's path, and never once the interpreter is exiting."""
        self._fold_scheduled = threading.Event()
        self._session = threading.local()  # the reader ``together`` shares, per thread
        self._schema_checked = False
        if read_only:
            if not self.path.is_file():
                raise StoreLocationError(f"no history file at {self.path}; check the path (or $PROMPTLAB_DB)")
            self._refuse_damaged_file()
            return
        self._refuse_damaged_file()
        self._prepare_location(mkdir=mkdir)
        self._open()
        try:
            self.fold()  # one try: leftovers of a crashed writer go in now if the file is free
        except (StoreError, OSError, duckdb.Error) as exc:
            warnings.warn(
                f"the journal of {self.path} could not be folded now ({exc}); reads include it, "
                "and the next fold tries again",
                HistoryWarning,
                stacklevel=3,
            )

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- opening ---------------------------------------------------------------

    def _refuse_damaged_file(self) -> None:
        """Check an existing file is a DuckDB database before anything is written beside it."""
        if not self.path.is_file():
            return
        size = self.path.stat().st_size
        if size == 0:
            raise DamagedStoreError(
                f"{self.path} is empty (0 bytes): the history file was truncated or damaged. Restore it from "
                f"a backup; trials not yet folded are safe in {self.journal.root}. (If you made an empty file "
                "on purpose, delete it and promptlab will create the history.)"
            )
        if size and not is_duckdb_file(self.path):
            raise NotADatabaseError(
                f"{self.path} is not a DuckDB database (damaged, or a file of something else); restore it "
                "from a backup, or point promptlab at a new path"
            )

    def _open(self) -> None:
        """Check the schema with a read-only open (which works while teammates
        read); take the file for writing only when it needs migrating. While a
        program outside promptlab holds the file, recording goes on in the
        journal and the check waits for the first fold."""
        if self.path.is_file() and self.path.stat().st_size:
            try:
                check_by = time.monotonic() + min(self.busy_timeout, OPEN_CHECK_WAIT)
                with self._locked(exclusive=False), self._attached(read_only=True, deadline=check_by) as (con, alias):
                    version = self._checked_schema(con, alias)
                    behind = version == migrations.LATEST and search_index.behind(con, alias)
            except StoreBusyError as exc:
                warnings.warn(f"{exc}", HistoryWarning, stacklevel=3)
                return
            if version == migrations.LATEST and not behind:
                self._schema_checked = True
                return
        with self._locked(exclusive=True), self._attached(read_only=False) as (con, alias):
            self._migrate(con, alias)
            if search_index.catch_up(con, alias, self.path.name):
                con.execute(f"CHECKPOINT {alias}")

    def _migrate(self, con: duckdb.DuckDBPyConnection, alias: str) -> None:
        """Bring the file to the newest schema (with the exclusive lock held)."""
        version = self._checked_schema(con, alias)
        if version < migrations.LATEST:
            con.execute(f"USE {alias}")  # migrations name their tables plainly; `attached` restores the default
            try:
                migrations.migrate(con)
            except duckdb.Error as exc:
                raise DamagedStoreError(
                    f"{self.path} says it has schema {version} but its tables don't match it, so it can't "
                    f"be upgraded ({type(exc).__name__}: {exc}). Restore it from a backup."
                ) from exc
            finally:
                con.execute("USE memory")
            con.execute(f"CHECKPOINT {alias}")
            self._checked_schema(con, alias)
        self._schema_checked = True

    def _checked_schema(self, con: duckdb.DuckDBPyConnection, alias: str) -> int:
        """The file's schema version, after checking it is one promptlab can use."""
        try:
            version = migrations.applied_version(con, alias)
            foreign = migrations.foreign_tables(con, alias)
            altered = migrations.altered_objects(con, alias, _EXPECTED_COLUMNS) if version else []
        except duckdb.Error as exc:
            raise DamagedStoreError(
                f"{self.path} can't be read as a history ({exc}); restore it from a backup"
            ) from exc
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
        if version == migrations.LATEST and altered:
            raise DamagedStoreError(
                f"{self.path} is not the history promptlab wrote: {'; '.join(altered)}. It was altered outside "
                "promptlab and is not used; restore it from a backup (`promptlab db verify` checks a file)."
            )
        return version

    def _prepare_location(self, *, mkdir: bool) -> None:
        if self.path.is_dir():
            raise StoreLocationError(f"{self.path} is a folder; give the path of a .duckdb file inside it")
        if not self.path.parent.is_dir() and not mkdir:
            raise StoreLocationError(
                f"the folder {self.path.parent} does not exist; create it first (a typo would otherwise make "
                "folders anywhere), or pass pl.Lab(path, mkdir=True)"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.journal.create()
        except OSError as exc:
            raise StoreLocationError(
                f"can't write next to {self.path} ({exc.strerror or exc}): promptlab keeps a journal "
                "and a lock file beside the database. Use a folder you can write to "
                "(pl.Lab('path/to/history.duckdb') or PROMPTLAB_DB=...)."
            ) from exc

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool, wait: float | None = None, optional: bool = False) -> Iterator[bool]:
        """Hold the sidecar lock (waiting up to ``wait``, default ``LOCK_WAIT``);
        yields whether it is held: False only when ``optional``, else ``StoreBusyError``."""
        if self.read_only and not exclusive and not os.access(self.lock_path, os.R_OK | os.X_OK):
            yield True  # a copy of a history without its journal: DuckDB's own lock guards it
            return
        timeout = max(LOCK_WAIT, self.busy_timeout) if wait is None else wait
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
        Lines that can't be folded are quarantined, with a ``HistoryWarning``.
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
            if folded is not None or time.monotonic() >= deadline or EXITING.is_set():
                return folded or 0
            EXITING.wait(delay)
            delay = min(delay * 2, 1.0)

    def _fold_once(self, lock_wait: float) -> int | None:
        """One fold; None when the file was busy (held by a program outside promptlab)."""
        with self._locked(exclusive=True, wait=lock_wait, optional=True) as held:
            if not held:
                return 0  # another promptlab process is folding; it takes our sealed segments too
            self.journal.adopt_orphans()
            result = self.last_fold = fold.FoldResult()
            try:
                for batch in fold.batches(self.journal):
                    parsed = fold.parse_batch(batch)
                    rows = fold.chosen_rows(parsed)
                    self._fold_into_file(rows, time.monotonic())  # one attempt: never wait holding the lock
                    result.unverified = self._verify_folded(rows, time.monotonic() + self.busy_timeout)
                    if result.unverified:
                        break  # segments stay; the next fold re-applies them (idempotent)
                    label_file.refresh(self.path, self._checked_schema)  # before the segments go: see label_file
                    fold.settle(self.journal, parsed, result, fold.report_quarantine)
            except StoreBusyError:
                return result.folded or None
            self.journal.sweep_temporaries()
            return result.folded

    def fold_soon(self, delay: float = 0.0) -> None:
        """Fold in the background (rows stay visible to readers meanwhile).
        With a ``delay``, a burst of small writes (feedback clicks) shares one fold."""
        if self.read_only:
            return
        self.journal.seal()
        if self._fold_scheduled.is_set():
            return
        self._fold_scheduled.set()

        def background_fold() -> None:
            self._fold_scheduled.clear()
            folded = self.fold(wait=FOLD_PATIENCE)
            if folded and self.after_background_fold is not None and not EXITING.is_set():
                self.after_background_fold(self)

        if delay <= 0:
            _FOLDER.submit(background_fold)
            return
        # A daemon timer: at exit a pending fold is simply left to the next
        # process (the rows are safe in the journal meanwhile).
        timer = threading.Timer(delay, lambda: _FOLDER.submit(background_fold))
        timer.daemon = True
        timer.start()

    def _fold_into_file(self, rows: Mapping[str, Sequence[Mapping[str, Any]]], deadline: float) -> None:
        with self._attached(read_only=False, deadline=deadline) as (con, alias):
            if not self._schema_checked:
                self._migrate(con, alias)  # the file was held when this store opened
            with fold.transaction(con):
                for name, table_rows in rows.items():
                    fold.insert_rows(con, alias, TABLES[name], table_rows)
                search_index.add_trials(con, alias, rows.get("trials", []))
            con.execute(f"CHECKPOINT {alias}")

    def _verify_folded(self, rows: Mapping[str, Sequence[Mapping[str, Any]]], deadline: float) -> int:
        """Open the file afresh and count the folded rows it doesn't hold."""
        with fresh_connection(self.path, deadline=deadline, patience=self.busy_timeout) as con:
            return sum(
                fold.missing_rows(con, "verified", TABLES[name], table_rows) for name, table_rows in rows.items()
            )

    # -- reading ---------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, wait: float | None = None) -> Iterator[Reader]:
        """A read-only session whose tables include rows still in the journal;
        several queries in one session share one open of the file. ``wait``
        bounds how long a program outside promptlab may hold the file first
        (default ``busy_timeout``; 0: not at all), then ``StoreBusyError``."""
        shared = getattr(self._session, "reader", None)
        if shared is not None:  # inside ``together``: this thread's session serves
            yield shared
            return
        patience = self.busy_timeout if wait is None else wait
        with (
            self._locked(exclusive=False),
            self._attached(read_only=True, deadline=time.monotonic() + patience) as (con, alias),
        ):
            # every time: another program may have altered the file since the last read
            self._checked_schema(con, alias)
            present: dict[str, set[str]] = {}
            for table, column in con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main'",
                [alias],
            ).fetchall():
                present.setdefault(table, set()).add(column)
            reader = Reader(con, alias, self.journal, present, self.path)
            reader.list_journal()
            yield reader

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Reads in this thread share one session (one open of the file, one
        look at the journal) until the block ends: a view that reads ten
        things at once. Nothing written meanwhile is seen; when the file
        can't be opened, each read opens its own (and reports its own error)."""
        with shared_session(self._session, self.reading):
            yield

    @contextlib.contextmanager
    def inspecting(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
        """The file attached read-only as it is, with no check and no journal
        views: a connection and the file's catalog alias (for ``doctor``)."""
        with self._locked(exclusive=False), self._attached(read_only=True) as attached_file:
            yield attached_file

    def query(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one read query over the live tables and return a DataFrame."""
        with self.reading() as reader:
            return reader.query(text, params)
