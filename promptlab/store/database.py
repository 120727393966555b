"""The history store: a DuckDB file plus its journal, safe to share.

Writers append to the journal (``journal.py``) and are acknowledged once
their shard is on disk. Whoever gets the exclusive lock folds shards into
the tables, checkpoints, re-opens the file to check every shard's rows are
there, and only then deletes the shards: an acknowledged row is never lost,
even if a commit silently vanished. Readers take the shared lock and query
views that union the tables with the shards not yet folded.
"""

from __future__ import annotations

import contextlib
import errno
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from promptlab.errors import NewerSchemaError, NotADatabaseError, StoreError, StoreLocationError
from promptlab.store import migrations
from promptlab.store.journal import Journal
from promptlab.store.lock import busy_error, file_lock
from promptlab.store.schema import TABLES, Table

BUSY_TIMEOUT = 30.0
"""Seconds to wait for another program holding the file before giving up."""


def _sql_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def shard_rows(table: Table, paths: Sequence[Path], *, newest_first: bool) -> str:
    """SQL for the shards' rows, one per key: the newest (``replace`` tables)
    or the oldest (append-only tables)."""
    order = "DESC" if newest_first else "ASC"
    return (
        f"SELECT {_quoted(table.column_names)} FROM read_json({_sql_list(paths)}, "
        f"format='newline_delimited', columns={table.json_columns_spec()}, filename=true) "
        f"QUALIFY row_number() OVER (PARTITION BY {_quoted(table.key)} ORDER BY filename {order}) = 1"
    )


def live_view(table: Table, source: str, paths: Sequence[Path]) -> str:
    """SQL for the table as readers see it: ``source`` (the folded rows) merged
    with the shards that are not folded yet."""
    columns, key = _quoted(table.column_names), _quoted(table.key)
    if not paths:
        return f"SELECT {columns} FROM {source}"
    shards = shard_rows(table, paths, newest_first=table.replace)
    if table.replace:  # shard rows are newer than anything folded
        return (
            f"WITH s AS ({shards}) SELECT * FROM s UNION ALL BY NAME "
            f"SELECT {columns} FROM {source} t WHERE ({key}) NOT IN (SELECT ({key}) FROM s)"
        )
    return (
        f"SELECT {columns} FROM {source} UNION ALL BY NAME SELECT * FROM ({shards}) s "
        f"WHERE ({key}) NOT IN (SELECT ({key}) FROM {source})"
    )


class Store:
    """One history file: ``path`` and its journal folder ``path.journal``."""

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path).expanduser().absolute()
        self.journal = Journal(self.path.with_name(self.path.name + ".journal"))
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.busy_timeout = busy_timeout
        self._prepare_location()
        with self._locked(exclusive=True):
            con = self._connect()
            try:
                self._migrate(con)
            finally:
                con.close()
        self.fold(wait=self.busy_timeout)

    # -- opening ---------------------------------------------------------------

    def _prepare_location(self) -> None:
        if self.path.is_dir():
            raise StoreLocationError(f"{self.path} is a folder; give the path of a .duckdb file inside it")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.journal.create()
            self.lock_path.touch(exist_ok=True)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise StoreLocationError(
                    f"can't write next to {self.path} ({exc.strerror}): promptlab keeps a journal "
                    "and a lock file beside the database. Use a folder you can write to "
                    "(pl.Lab('path/to/history.duckdb') or PROMPTLAB_DB=...)."
                ) from exc
            raise StoreLocationError(f"can't use {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool, wait: float | None = None) -> Iterator[bool]:
        timeout = self.busy_timeout if wait is None else wait
        with file_lock(self.lock_path, exclusive=exclusive, timeout=timeout) as held:
            if not held and wait is None:
                raise busy_error(self.lock_path, timeout)
            yield held

    def _retry_busy(self, open_file: Any, deadline: float) -> Any:
        """Open, retrying while a program outside promptlab holds DuckDB's own lock."""
        delay = 0.01
        while True:
            try:
                return open_file()
            except duckdb.IOException as exc:
                message = str(exc)
                if "not a valid DuckDB database" in message:
                    raise NotADatabaseError(
                        f"{self.path} is not a DuckDB database; point promptlab at a new path "
                        "or at a history file it made"
                    ) from exc
                if "lock" not in message.lower() or time.monotonic() > deadline:
                    if "lock" in message.lower():
                        raise busy_error(self.path, self.busy_timeout, exc) from exc
                    raise StoreError(f"can't open {self.path}: {message}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _connect(self, deadline: float | None = None) -> duckdb.DuckDBPyConnection:
        deadline = deadline or time.monotonic() + self.busy_timeout
        return self._retry_busy(lambda: duckdb.connect(str(self.path)), deadline)

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        version = migrations.applied_version(con)
        if version > migrations.LATEST:
            raise NewerSchemaError(
                f"{self.path} was written by a newer promptlab (schema {version}; this one knows "
                f"up to {migrations.LATEST}). Upgrade: pip install -U promptlab"
            )
        if version == 0:
            tables = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchone()
            if tables and tables[0]:
                raise NotADatabaseError(
                    f"{self.path} is a DuckDB database of something else (it has tables but no "
                    "promptlab history); give promptlab a path of its own"
                )
        if version < migrations.LATEST:
            migrations.migrate(con)
            con.execute("CHECKPOINT")

    # -- writing ---------------------------------------------------------------

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Record rows durably (returns once they are on disk)."""
        unknown = set(rows_by_table) - TABLES.keys()
        if unknown:
            raise StoreError(f"no table named {', '.join(sorted(unknown))}")
        self.journal.append(rows_by_table)

    def fold(self, wait: float = 0.0) -> int:
        """Move journaled rows into the tables; the number of shards folded.

        Waits up to ``wait`` seconds for the lock; when another process holds
        it (it folds instead) or a program outside promptlab has the file open,
        the rows stay in the journal, still visible to readers, and this returns 0.
        """
        if not any(self.journal.all_shards().values()):
            return 0
        with self._locked(exclusive=True, wait=wait) as held:
            if not held:
                return 0
            shards = self.journal.all_shards()
            if not shards:
                return 0
            deadline = time.monotonic() + max(wait, 1.0)
            try:
                self._fold_into_file(shards, deadline)
                if not self._verify_folded(shards, deadline):
                    return 0  # shards stay; the next fold re-applies them (idempotent)
            except StoreError:
                return 0  # an outside program holds the file; the journal keeps the rows safe
            self.journal.remove([p for paths in shards.values() for p in paths])
            self.journal.sweep_temporaries()
            return sum(len(paths) for paths in shards.values())

    def _fold_into_file(self, shards: dict[str, list[Path]], deadline: float) -> None:
        con = self._connect(deadline)
        try:
            con.execute("BEGIN TRANSACTION")
            for name, paths in shards.items():
                table = TABLES[name]
                verb = "INSERT OR REPLACE" if table.replace else "INSERT OR IGNORE"
                con.execute(f"{verb} INTO {name} BY NAME {shard_rows(table, paths, newest_first=table.replace)}")
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()

    def _verify_folded(self, shards: dict[str, list[Path]], deadline: float) -> bool:
        """Re-open the file and check every shard row is in its table."""
        con = self._connect(deadline)
        try:
            for name, paths in shards.items():
                table = TABLES[name]
                rows = shard_rows(table, paths, newest_first=table.replace)
                if table.replace:  # the newest state must be there exactly
                    check = f"SELECT count(*) FROM ({rows} EXCEPT SELECT {_quoted(table.column_names)} FROM {name})"
                else:  # first write wins: the key must be there
                    key = _quoted(table.key)
                    check = f"SELECT count(*) FROM ({rows}) s WHERE ({key}) NOT IN (SELECT ({key}) FROM {name})"
                missing = con.execute(check).fetchone()
                if missing is None or missing[0]:
                    return False
            return True
        finally:
            con.close()

    # -- reading ---------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection whose tables include rows still in the journal."""
        with self._locked(exclusive=False):
            deadline = time.monotonic() + self.busy_timeout
            con = duckdb.connect()
            try:
                path = str(self.path).replace("'", "''")
                self._retry_busy(lambda: con.execute(f"ATTACH '{path}' AS history (READ_ONLY)"), deadline)
                for name, table in TABLES.items():
                    view = live_view(table, f"history.{name}", self.journal.shards(name))
                    con.execute(f"CREATE TEMP VIEW {name} AS {view}")
                yield con
            finally:
                con.close()

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query over the live tables and return a DataFrame."""
        with self.reading() as con, warnings.catch_warnings():
            # duckdb 2.0 calls a pandas API that pandas 3.1 deprecates; not ours to fix
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            return con.execute(sql, params).df()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"
