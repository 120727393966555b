"""One in-process DuckDB engine through which every open of a history file goes.

Opening a file with ``duckdb.connect`` costs ~15 ms here; attaching it to an
engine that is already running costs ~1 ms. Each use takes its own cursor,
attaches the file under a fresh alias and detaches it afterwards, so the
file is never held between uses and other processes can take it.

The history file is never made the default catalog (no ``USE``): names in
promptlab's SQL resolve in the engine's own catalog and DuckDB's, never to a
macro or view stored in a file someone else wrote.

DuckDB reads ``*``, ``?``, ``[`` and ``{`` in a ``read_json`` path as a
glob, which can read another folder's files: segment paths under a folder
with such a name are given to it through the folder's descriptor
(``/proc/self/fd/N/...``). It also reads ``?`` in a database path as the
start of a query string and resolves links before it does, so no path can
make it keep a database under a folder with ``?`` in its name: the store
refuses such a path with a message (``refuse_question_mark``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb

from promptlab.core.files import EXITING
from promptlab.errors import DamagedStoreError, NotADatabaseError, StoreLocationError
from promptlab.store.lock import busy_error

_ENGINE_LOCK = threading.Lock()
_SPECIAL = frozenset("?*[]{}")
_FOLDERS: dict[str, int] = {}
_FOLDERS_LOCK = threading.Lock()


def duckdb_path(path: Path) -> str:
    """``path`` as DuckDB should be given it (see the module docstring)."""
    text = str(path)
    if not _SPECIAL & set(text):
        return text
    if _SPECIAL & set(path.name):
        raise StoreLocationError(
            f"{path.name!r} has one of ? * [ ] {{ }} in its name, which DuckDB reads as a pattern; rename it"
        )
    folder = str(path.parent)
    with _FOLDERS_LOCK:
        fd = _FOLDERS.get(folder)
        if fd is None:
            if not os.path.isdir("/proc/self/fd"):
                raise StoreLocationError(
                    f"{folder} has one of ? * [ ] {{ }} in its name, which DuckDB reads as a pattern; "
                    "use a folder without them"
                )
            fd = _FOLDERS[folder] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{path.name}"


def _engine() -> duckdb.DuckDBPyConnection:
    with _ENGINE_LOCK:
        return _start_engine()


@functools.cache
def _start_engine() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def refuse_question_mark(path: Path) -> None:
    """Raise ``StoreLocationError`` for a path DuckDB can't keep a database at."""
    if "?" in str(path):
        raise StoreLocationError(
            f"{path} has a '?' in it: DuckDB reads what follows a '?' as options and then writes the "
            "database's log to another path. Keep the history in a folder whose path has no '?'."
        )


def quoted_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A Ctrl+C that lands inside DuckDB comes out of it as its own error
    (``InterruptException``, or a ``RuntimeError`` "Query interrupted" from an
    ATTACH): raised here as the ``KeyboardInterrupt`` it is, so the command
    stops as interrupted (and says how to carry on) rather than failing."""
    try:
        yield
    except (duckdb.InterruptException, RuntimeError) as exc:
        if isinstance(exc, duckdb.InterruptException) or "Query interrupted" in str(exc):
            raise KeyboardInterrupt from exc
        raise


def retry_busy(path: Path, attach: str, con: duckdb.DuckDBPyConnection, deadline: float, patience: float) -> None:
    """Run the ATTACH, retrying until ``deadline`` while a program outside
    promptlab (or a plain DuckDB connection in this process) holds the file."""
    delay = 0.01
    while True:
        try:
            with interruptible():
                con.execute(attach)
            return
        except (duckdb.IOException, duckdb.ResourceInUseException) as exc:
            message = str(exc)
            if "not a valid DuckDB database" in message:
                raise NotADatabaseError(
                    f"{path} is not a DuckDB database; point promptlab at a new path or at a history file it made"
                ) from exc
            locked = "lock" in message.lower() or isinstance(exc, duckdb.ResourceInUseException)
            if locked and time.monotonic() < deadline and not EXITING.is_set():
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if locked:
                raise busy_error(path, patience, exc) from exc
            raise DamagedStoreError(
                f"{path} can't be opened ({message}). It is damaged (truncated or overwritten): restore it "
                f"from a backup; trials not yet folded are safe in {path.name}.journal beside it."
            ) from exc


def is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` starts like a DuckDB database (checked before anything is written beside it)."""
    with open(path, "rb") as handle:
        header = handle.read(12)
    return len(header) == 12 and header[8:12] == b"DUCK"


@contextlib.contextmanager
def attached(
    path: Path, *, read_only: bool, deadline: float, patience: float
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """A cursor with ``path`` attached; yields the cursor and the alias (never
    made the default catalog: qualify every name with it)."""
    con = _engine().cursor()
    alias = f"history_{uuid.uuid4().hex[:12]}"
    # TYPE DUCKDB: never let DuckDB sniff another format (and try to download its extension)
    mode = " (TYPE DUCKDB, READ_ONLY)" if read_only else " (TYPE DUCKDB)"
    try:
        retry_busy(path, f"ATTACH {quoted_path(path)} AS {alias}{mode}", con, deadline, patience)
        try:
            yield con, alias
        finally:
            con.execute("USE memory")  # in case a migration made it the default
            con.execute(f"DETACH DATABASE IF EXISTS {alias}")
    finally:
        con.close()


@contextlib.contextmanager
def fresh_connection(path: Path, *, deadline: float, patience: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A brand-new connection of its own (no shared engine) with ``path``
    attached read-only as ``verified``: what checking a fold needs, so nothing
    cached in this process can vouch for the file."""
    con = duckdb.connect()
    try:
        retry_busy(path, f"ATTACH {quoted_path(path)} AS verified (TYPE DUCKDB, READ_ONLY)", con, deadline, patience)
        yield con
    finally:
        con.close()
