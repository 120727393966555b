"""One in-process DuckDB engine through which every open of a history file goes.

Opening a file with ``duckdb.connect`` costs ~15 ms here; attaching it to an
engine that is already running costs ~1 ms. Each use takes its own cursor,
attaches the file under a fresh alias and detaches it afterwards, so the
file is never held between uses and other processes can take it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb

from promptlab.errors import NotADatabaseError, StoreError
from promptlab.store.lock import busy_error

_ENGINE_LOCK = threading.Lock()


def _engine() -> duckdb.DuckDBPyConnection:
    with _ENGINE_LOCK:
        return _start_engine()


@functools.cache
def _start_engine() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _quoted_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def retry_busy(path: Path, attach: str, con: duckdb.DuckDBPyConnection, deadline: float, patience: float) -> None:
    """Run the ATTACH, retrying until ``deadline`` while a program outside
    promptlab (or a plain DuckDB connection in this process) holds the file."""
    delay = 0.01
    while True:
        try:
            con.execute(attach)
            return
        except (duckdb.IOException, duckdb.ResourceInUseException) as exc:
            message = str(exc)
            if "not a valid DuckDB database" in message:
                raise NotADatabaseError(
                    f"{path} is not a DuckDB database; point promptlab at a new path or at a history file it made"
                ) from exc
            locked = "lock" in message.lower() or isinstance(exc, duckdb.ResourceInUseException)
            if locked and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if locked:
                raise busy_error(path, patience, exc) from exc
            raise StoreError(f"can't open {path}: {message}") from exc


def is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` starts like a DuckDB database (checked before anything is written beside it)."""
    with open(path, "rb") as handle:
        header = handle.read(12)
    return len(header) == 12 and header[8:12] == b"DUCK"


@contextlib.contextmanager
def attached(
    path: Path, *, read_only: bool, deadline: float, patience: float
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """A cursor with ``path`` attached; yields the cursor and the alias. For
    writing, the alias is also made the default catalog (``USE``)."""
    con = _engine().cursor()
    alias = f"history_{uuid.uuid4().hex[:12]}"
    # TYPE DUCKDB: never let DuckDB sniff another format (and try to download its extension)
    mode = " (TYPE DUCKDB, READ_ONLY)" if read_only else " (TYPE DUCKDB)"
    try:
        retry_busy(path, f"ATTACH {_quoted_path(path)} AS {alias}{mode}", con, deadline, patience)
        try:
            if not read_only:
                con.execute(f"USE {alias}")
            yield con, alias
        finally:
            con.execute("USE memory")
            con.execute(f"DETACH DATABASE IF EXISTS {alias}")
    finally:
        con.close()


@contextlib.contextmanager
def fresh_connection(path: Path, *, deadline: float, patience: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A brand-new connection of its own (no shared engine): what verifying a
    fold needs, so nothing cached in this process can vouch for the file."""
    con = duckdb.connect()
    try:
        retry_busy(path, f"ATTACH {_quoted_path(path)} AS verified (TYPE DUCKDB)", con, deadline, patience)
        con.execute("USE verified")
        yield con
    finally:
        con.close()
