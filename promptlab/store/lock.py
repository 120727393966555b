"""The lock promptlab processes take around every open of the DuckDB file.

DuckDB allows one read-write process or many read-only ones, and refuses
the rest with an error. promptlab never lets that error reach a user:
writers append to the journal without opening the database at all, and
every open of the file happens under an ``flock`` on a sidecar lock file,
shared for reads and exclusive for folds and migrations. Inside a process a
thread lock serialises opens too, because flocks taken on two descriptors
of one process conflict with each other.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from promptlab.errors import StoreBusyError

_THREAD_LOCKS: dict[str, threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(str(path), threading.RLock())


@contextmanager
def file_lock(path: Path, *, exclusive: bool, timeout: float | None) -> Iterator[bool]:
    """Hold ``path``'s lock; yields False if it wasn't free within ``timeout``
    seconds (0: don't wait, None: wait as long as it takes)."""
    thread_lock = _thread_lock(path)
    deadline = None if timeout is None else time.monotonic() + timeout
    if not thread_lock.acquire(timeout=-1 if timeout is None else timeout):
        yield False
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if not _flock(fd, exclusive, deadline):
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        thread_lock.release()


def _flock(fd: int, exclusive: bool, deadline: float | None) -> bool:
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, mode)
            return True
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)


def busy_error(path: Path, waited: float, cause: Exception | None = None) -> StoreBusyError:
    """The error for a database another program kept open past our patience."""
    detail = f" ({cause})" if cause else ""
    return StoreBusyError(
        f"{path} has been held open by another program for {waited:.3g}s{detail}. "
        "DuckDB lets one program write or many read, never both: close that program's "
        "connection (a DuckDB shell, a DBeaver tab, a notebook using duckdb directly) and "
        "try again. Trials recorded meanwhile are safe in the journal folder beside the file."
    )
