"""The lock promptlab processes take around every open of the DuckDB file.

DuckDB allows one read-write process or many read-only ones, and refuses
the rest with an error. promptlab never lets that error reach a user:
writers append to the journal without opening the database at all, and
every open of the file happens under an ``flock`` on a sidecar lock file,
shared for reads and exclusive for folds and migrations. Inside a process a
thread lock serialises opens too, because flocks taken on two descriptors
of one process conflict with each other.

The store locks its journal folder (a folder can be locked like a file).
Any lock file or folder deleted while held would let the next process lock
a new one of the same name: after locking, the lock checks that its
descriptor is still what is at the path, and starts again when it isn't.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from promptlab.errors import StoreBusyError

EXITING = threading.Event()
"""Set when the interpreter starts to exit: nothing waits on the file after
that (a fold left undone is done by the next process; the rows are safe)."""

try:  # runs before the interpreter joins non-daemon threads such as the fold worker
    threading._register_atexit(EXITING.set)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):  # pragma: no cover - other interpreters
    import atexit

    atexit.register(EXITING.set)

_THREAD_LOCKS: dict[str, threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(str(path), threading.RLock())


@contextlib.contextmanager
def file_lock(path: Path, *, exclusive: bool, timeout: float | None) -> Iterator[bool]:
    """Hold ``path``'s lock; yields False if it wasn't free within ``timeout``
    seconds (0: don't wait, None: wait as long as it takes)."""
    thread_lock = _thread_lock(path)
    deadline = None if timeout is None else time.monotonic() + timeout
    if not thread_lock.acquire(timeout=-1 if timeout is None else timeout):
        yield False
        return
    try:
        fd = _locked_descriptor(path, exclusive, deadline)
        if fd is None:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    finally:
        thread_lock.release()


def _locked_descriptor(path: Path, exclusive: bool, deadline: float | None) -> int | None:
    """A descriptor of ``path`` holding its flock, or None at the deadline."""
    while True:
        fd = (
            os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            if path.is_dir()
            else os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        )
        if not _flock(fd, exclusive, deadline):
            os.close(fd)
            return None
        if _still_at(fd, path):
            return fd
        fcntl.flock(fd, fcntl.LOCK_UN)  # the file was deleted or replaced: lock the one there now
        os.close(fd)


def _still_at(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


@contextlib.contextmanager
def claimed(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive claim on ``path`` (e.g. one run being resumed) for the
    block, waiting while another process holds it; ``on_wait`` is called once
    when that happens. Claims are released when their process exits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _locked_descriptor(path, True, time.monotonic())
    if fd is None:
        if on_wait is not None:
            on_wait()
        fd = _locked_descriptor(path, True, None)
        assert fd is not None  # no deadline: it waits until the lock is free
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a waiter holding the old file sees it gone and takes a new one
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _flock(fd: int, exclusive: bool, deadline: float | None) -> bool:
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, mode)
            return True
        except BlockingIOError:
            if deadline is not None and (time.monotonic() >= deadline or EXITING.is_set()):
                return False
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)


def busy_error(path: Path, waited: float, cause: Exception | None = None) -> StoreBusyError:
    """The error for a database another program kept open past our patience."""
    detail = f" ({cause})" if cause else ""
    held = (
        f"has been held open by another program for {waited:.3g}s"
        if waited >= 0.5
        else "is held open by another program"
    )
    return StoreBusyError(
        f"{path} {held}{detail}. "
        "DuckDB lets one program write or many read, never both: close that program's "
        "connection (a DuckDB shell, a DBeaver tab, a notebook using duckdb directly) and "
        "try again. Trials recorded meanwhile are safe in the journal folder beside the file."
    )
