"""Compaction: the history file rewritten without its free blocks.

Folds leave blocks of the file free (``space.py``): a quarter of a history
grown by 50 sweeps (issue 13). ``compact`` writes a copy without them and
swaps it in:

- under promptlab's exclusive lock, after a fold, so no promptlab process
  reads or folds meanwhile (sweeps keep recording to the journal);
- the copy's schema comes from the migrations, as in any new history (the
  same tables, keys, indexes and views), in the file's DuckDB storage
  version, so every client that read the file still can; then every table
  the migrations made (``schema_migrations`` and tables derived from the
  trials included) gets the file's rows, by column name;
- a file holding anything else (a macro, view or table promptlab didn't
  make) is refused before anything is written: the copy would drop it;
- before the swap a fresh connection checks the copy: the same catalog, and
  per table the same number of rows, keys and content (a sum of the hashes
  of every key and every row);
- then ``os.replace``; on any failure the original is untouched and the copy
  is removed.

Rows are copied as they are: files written before issue 10 keep a trial's
output a second time inside ``trials.response``. Stripping it would rewrite
recorded JSON in SQL (DuckDB can't null one field inside a JSON array the
way ``without_output`` does), and the checksum that vouches for the copy
could then no longer compare it with the original.

``compact_when_worth_it`` runs after a background fold
(``Store.after_background_fold``, set by ``Lab``): when at least
``AUTO_FREE_SHARE`` and ``AUTO_FREE_BYTES`` of the file are free, while no
sweep is writing (the journal is empty), and not once the interpreter is
exiting. Reads wait while the lock is held, so a file with more data than
``AUTO_MAX_COPY_BYTES`` is left to ``promptlab db compact``, which a
``HistoryWarning`` suggests once.

Measured here (2 cores, DuckDB 2.0.1) on copies of the histories
``benchmarks/history_scale.py`` grows: 100,000 trials, 69.5 MB of which 23%
free → 51.9 MB in 4.2 s; 1,000,000 trials, 528 MB of which 17% free →
435 MB in 34 s (copying 30 s, each checksum pass 3 s). Memory peaked
~0.6 GB and ~2.4 GB higher: DuckDB's buffers, given back when the files are
detached. Writing the long text columns (compressing them) is what takes the
time; reading the whole file takes a tenth of it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from promptlab.core.files import EXITING
from promptlab.errors import HistoryWarning, PromptlabError, StoreBusyError, StoreError
from promptlab.store import label_file, migrations
from promptlab.store.database import Store
from promptlab.store.engine import fresh_connection, quoted_path
from promptlab.store.journal import fsync_dir
from promptlab.store.location import wal_file
from promptlab.store.schema import TABLES
from promptlab.store.space import StorageStats, measured, megabytes, stats

AUTO_FREE_SHARE = 0.40
"""Share of the file's blocks that must be free before a background fold compacts it."""

AUTO_FREE_BYTES = 64 * 1024 * 1024
"""Free bytes that make an automatic compaction worth its time."""

AUTO_MAX_COPY_BYTES = 128 * 1024 * 1024
"""Bytes of data above which compaction is left to a person (a ``HistoryWarning``
says so, once). Reads wait for it, up to ``LOCK_WAIT``: at
``COPY_BYTES_PER_SECOND`` this much holds the file for about ten seconds."""

COPY_BYTES_PER_SECOND = 13e6
"""How fast compaction copied data here (a 100,000- and a 1,000,000-trial history), for estimates."""

ROOM_TO_SPARE = 256 * 1024 * 1024
"""Disk space left free beside the copy while it is written (the journal keeps recording)."""

_COPY_SUFFIX = ".compacting-"
_STORAGE_VERSION = re.compile(r"v\d+\.\d+\.\d+")
_CATALOG = """
    SELECT 'schema', schema_name, schema_name, '' FROM duckdb_schemas() WHERE database_name = $db AND NOT internal
    UNION ALL SELECT 'table', schema_name, table_name, sql FROM duckdb_tables() WHERE database_name = $db
    UNION ALL SELECT 'view', schema_name, view_name, sql FROM duckdb_views() WHERE database_name = $db AND NOT internal
    UNION ALL SELECT 'index', schema_name, index_name, sql FROM duckdb_indexes() WHERE database_name = $db
    UNION ALL SELECT function_type, schema_name, function_name, coalesce(macro_definition, '')
        FROM duckdb_functions() WHERE database_name = $db AND NOT internal
    UNION ALL SELECT 'sequence', schema_name, sequence_name, '' FROM duckdb_sequences() WHERE database_name = $db
    UNION ALL SELECT 'type', schema_name, type_name, '' FROM duckdb_types() WHERE database_name = $db AND NOT internal
"""

CatalogEntry = tuple[str, str, str, str]
"""(kind, schema, name, SQL with its whitespace collapsed)."""

TableSpec = tuple[str, tuple[str, ...], tuple[str, ...]]
"""(name, columns, key) of a table copied; the key is every column when it has no primary key."""

Checksums = dict[str, tuple[int, ...]]
"""Per table: (rows, sum of the hashes of the keys, sum of the hashes of the rows)."""


@dataclass(frozen=True)
class Compaction:
    """What ``compact`` did (``promptlab db compact``, ``Lab.compact()``)."""

    before: StorageStats
    """The file before (after folding the journal into it)."""

    after: StorageStats
    """The compacted file."""

    seconds: float
    """How long it took, the fold included."""

    def __str__(self) -> str:
        return (
            f"history: {self.after.path}\n"
            f"size: {megabytes(self.before.file_bytes)} → {megabytes(self.after.file_bytes)} "
            f"(free: {self.before.free_share:.0%} → {self.after.free_share:.0%}) in {self.seconds:.1f} s\n"
            f"rows: {sum(self.after.rows.values()):,}; every table's rows, keys and content checked"
        )


def compact(store: Store, *, wait: float | None = None) -> Compaction:
    """Fold the journal, then rewrite the file without free blocks (see the
    module docstring). ``wait``: seconds to wait while other promptlab
    processes read (default ``LOCK_WAIT``), then ``StoreBusyError``; the file
    is untouched by any failure."""
    if store.read_only:
        raise StoreError(f"{store.path} was opened read-only; open it with pl.Lab(path) to compact it")
    started = time.monotonic()
    store.fold(wait=store.busy_timeout)  # before the lock: a fold takes it itself
    with store._locked(exclusive=True, wait=wait):
        _remove_leftovers(store.path)  # of a compaction that was killed: no one else compacts now
        copy = store.path.with_name(f"{store.path.name}{_COPY_SUFFIX}{uuid.uuid4().hex[:12]}")
        try:
            before, made, tables, sums = _copy_file(store, copy)
            _check_copy(store, copy, made, tables, sums)
            _keep_access(store.path, copy)
            os.replace(copy, store.path)
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"{store.path} was not compacted ({exc}); the file is as it was") from exc
        finally:
            _remove(copy)
        wal_file(store.path).unlink(missing_ok=True)  # the old file's, if any: it must not replay into the copy
        fsync_dir(store.path.parent)
        label_file.refresh(store.path, store._checked_schema)  # stamped with the new file, so it stays current
        with store._attached(read_only=True) as (con, alias):
            after = measured(store, con, alias)
    # Other processes' folds left what they sealed meanwhile to the lock's holder.
    store.fold(wait=store.busy_timeout)
    return Compaction(before, after, time.monotonic() - started)


def _copy_file(store: Store, copy: Path) -> tuple[StorageStats, list[CatalogEntry], list[TableSpec], Checksums]:
    """Copy the history into ``copy``: the file's stats, the catalog the copy
    was given, the tables copied, and the file's checksums."""
    with store._attached(read_only=False) as (con, alias):
        store._migrate(con, alias)  # checks the schema (and brings a file held at opening up to date)
        con.execute(f"CHECKPOINT {alias}")  # whatever the log held is in the file that is copied
        before = measured(store, con, alias)
        _check_room(store.path, before.used_blocks * before.block_size)
        with _attached_copy(con, copy, _storage_version(con, alias)) as new:
            con.execute(f"USE {new}")  # migrations name their tables plainly
            try:
                migrations.migrate(con)
            finally:
                con.execute("USE memory")
            made = _catalog(con, new)
            _refuse_foreign(store.path, _catalog(con, alias), made)
            tables = _tables(con, new)
            for name, _, _ in tables:  # what migrating put there: the file's own rows replace it
                con.execute(f'DELETE FROM "{new}"."main"."{name}"')
            for name, columns, _ in tables:
                listed = ", ".join(f'"{column}"' for column in columns)
                con.execute(
                    f'INSERT INTO "{new}"."main"."{name}" ({listed}) SELECT {listed} FROM "{alias}"."main"."{name}"'
                )
            con.execute(f"CHECKPOINT {new}")
        return before, made, tables, _checksums(con, alias, tables)


@contextlib.contextmanager
def _attached_copy(con: duckdb.DuckDBPyConnection, copy: Path, storage_version: str | None) -> Iterator[str]:
    alias = f"compacted_{uuid.uuid4().hex[:12]}"
    version = f", STORAGE_VERSION '{storage_version}'" if storage_version else ""
    con.execute(f"ATTACH {quoted_path(copy)} AS {alias} (TYPE DUCKDB{version})")
    try:
        yield alias
    finally:
        con.execute(f"DETACH DATABASE IF EXISTS {alias}")


def _storage_version(con: duckdb.DuckDBPyConnection, alias: str) -> str | None:
    """The file's storage version (``v1.5.0``), so the copy stays readable by
    the DuckDB versions that read the file; None when DuckDB doesn't say."""
    with contextlib.suppress(duckdb.Error):
        row = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = ?", [alias])
        found = _STORAGE_VERSION.fullmatch(str((row.fetchone() or [""])[0]).removesuffix("+"))
        return found.group(0) if found else None
    return None


def _check_room(path: Path, copied: int) -> None:
    """Refuse a copy that would leave the disk nearly full: sweeps writing to the
    journal beside the file meanwhile must not run out of space."""
    free = shutil.disk_usage(path.parent).free
    if free < copied + ROOM_TO_SPARE:
        raise StoreError(
            f"{path} was not compacted: the copy needs about {megabytes(copied)} beside it and "
            f"{megabytes(ROOM_TO_SPARE)} to spare, and the disk has {megabytes(free)} free"
        )


def _tables(con: duckdb.DuckDBPyConnection, alias: str) -> list[TableSpec]:
    """Every table of ``alias`` (the copy, as the migrations made it): the
    journaled ones in declaration order, then the rest (``schema_migrations``,
    tables derived from the trials) by name."""
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT c.table_name, c.column_name FROM duckdb_columns() c JOIN duckdb_tables() t "
        "ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name "
        "WHERE c.database_name = ? AND c.schema_name = 'main' ORDER BY c.table_name, c.column_index",
        [alias],
    ).fetchall():
        columns.setdefault(str(table), []).append(str(column))
    keys = {
        str(table): tuple(str(column) for column in key)
        for table, key in con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE database_name = ? AND schema_name = 'main' AND constraint_type = 'PRIMARY KEY'",
            [alias],
        ).fetchall()
    }
    order = [name for name in TABLES if name in columns] + sorted(columns.keys() - TABLES.keys())
    return [(name, tuple(columns[name]), keys.get(name) or tuple(columns[name])) for name in order]


def _catalog(con: duckdb.DuckDBPyConnection, alias: str) -> list[CatalogEntry]:
    found = con.execute(_CATALOG, {"db": alias}).fetchall()
    return sorted(
        (str(kind), str(schema), str(name), " ".join(str(sql or "").split())) for kind, schema, name, sql in found
    )


def _refuse_foreign(path: Path, catalog: list[CatalogEntry], made: list[CatalogEntry]) -> None:
    """Refuse a file with objects the copy wouldn't have (it would drop them).
    promptlab's own are made as the migrations make them, whatever the file
    says: a view redefined outside promptlab gets promptlab's back."""
    ours = {(kind, schema, name) for kind, schema, name, _ in made}
    others = sorted(f"{kind} {schema}.{name}" for kind, schema, name, _ in catalog if (kind, schema, name) not in ours)
    if others:
        raise StoreError(
            f"{path} was not compacted: it holds {', '.join(others)}, which promptlab didn't make, and the "
            "compacted file would not keep them. Move them out of the file, or leave it as it is; "
            "`promptlab db doctor` lists what is there."
        )


def _checksums(con: duckdb.DuckDBPyConnection, alias: str, tables: list[TableSpec]) -> Checksums:
    """Per table: rows, and the sums of the hashes of every key and every row."""
    sums = {}
    for name, columns, key in tables:
        keys, values = (", ".join(f'"{column}"' for column in listed) for listed in (key, columns))
        row = con.execute(
            f"SELECT count(*), coalesce(sum(hash(row({keys}))), 0), coalesce(sum(hash(row({values}))), 0) "
            f'FROM "{alias}"."main"."{name}"'
        ).fetchone()
        sums[name] = tuple(int(value) for value in row or ())
    return sums


def _check_copy(
    store: Store, copy: Path, made: list[CatalogEntry], tables: list[TableSpec], expected: Checksums
) -> None:
    """Read the copy afresh (nothing cached in this process vouches for it) and
    compare it with the schema it was given and the original's rows."""
    deadline = time.monotonic() + store.busy_timeout
    with fresh_connection(copy, deadline=deadline, patience=store.busy_timeout) as con:
        problems = [] if _catalog(con, "verified") == made else ["its schema is not the one it was given"]
        found = _checksums(con, "verified", tables)
    problems += [
        f"table {name} differs ({found.get(name, (0,))[0]:,} rows in the copy, {sums[0]:,} in the file)"
        for name, sums in expected.items()
        if found.get(name) != sums
    ]
    if problems:
        raise StoreError(f"{store.path} was not compacted: the copy didn't match it ({'; '.join(problems)})")


def _keep_access(original: Path, copy: Path) -> None:
    """Give the copy the original's permissions and group (a team's shared file
    may be group-writable); the owner, where this process may set it."""
    shutil.copymode(original, copy)
    found = original.stat()
    with contextlib.suppress(PermissionError):
        os.chown(copy, found.st_uid, found.st_gid)


def _remove(copy: Path) -> None:
    for path in (copy, wal_file(copy)):
        path.unlink(missing_ok=True)


def _remove_leftovers(path: Path) -> None:
    for leftover in path.parent.glob(f"{glob.escape(path.name)}{_COPY_SUFFIX}*"):
        leftover.unlink(missing_ok=True)


def compact_when_worth_it(store: Store) -> Compaction | None:
    """After a background fold: compact when ``AUTO_FREE_SHARE`` and
    ``AUTO_FREE_BYTES`` of the file are free, no sweep is writing and the
    interpreter isn't exiting; None when it didn't. A file with more than
    ``AUTO_MAX_COPY_BYTES`` of data is left to a person (said once); a failure
    is a ``HistoryWarning`` (the file is untouched); a busy file, a try later."""
    if EXITING.is_set() or store.read_only or store.journal.pending():
        return None  # rows in the journal: a sweep is writing, or a fold is due that will call again
    try:
        found = stats(store, wait=0.0)
        if found.free_share < AUTO_FREE_SHARE or found.free_bytes < AUTO_FREE_BYTES:
            return None
        if found.used_blocks * found.block_size > AUTO_MAX_COPY_BYTES:
            _suggest_compacting(found)
            return None
        return compact(store, wait=0.0)
    except StoreBusyError:
        return None  # someone is reading: the next fold tries again
    except (PromptlabError, duckdb.Error, OSError) as exc:
        warnings.warn(
            f"{store.path} could not be compacted automatically ({exc}); it works as it is",
            HistoryWarning,
            stacklevel=2,
        )
        return None


_SUGGESTED: set[Path] = set()


def _suggest_compacting(found: StorageStats) -> None:
    if found.path in _SUGGESTED:
        return
    _SUGGESTED.add(found.path)
    seconds = found.used_blocks * found.block_size / COPY_BYTES_PER_SECOND
    warnings.warn(
        f"{found.free_share:.0%} of {found.path} is free ({megabytes(found.free_bytes)}): `promptlab db compact` "
        f"gives it back. It holds the file for about {seconds:.0f} s, which is more than promptlab spends on "
        "its own, so run it when no one is sweeping.",
        HistoryWarning,
        stacklevel=3,
    )
