"""Files: locks that hold across processes, and writes that are all or nothing.

``file_lock`` is an ``flock`` (shared or exclusive, with a deadline) plus a
thread lock, because flocks taken on two descriptors of one process
conflict with each other. A lock file or folder deleted while held would let
the next process lock a new one of the same name: after locking, the lock
checks that its descriptor is still what is at the path, and starts again
when it isn't. ``claimed`` holds a lock for as long as a piece of work runs
(a run being recorded). ``write_atomically`` writes next to the targets and
renames into place: on any error no target is touched. ``read_policy_file``
reads ``promptlab.toml``, the policy of labels and of privacy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from promptlab.errors import ConfigError, ExportError

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


def check_folder(path: Path, *, mkdir: bool) -> None:
    """Refuse a path whose folder doesn't exist (a typo would otherwise make
    folders anywhere, even at the root), unless ``mkdir`` asks to create it."""
    if path.parent.is_dir():
        return
    if not mkdir:
        raise ExportError(f"the folder {path.parent} does not exist; create it first, or pass mkdir=True to create it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"can't create the folder {path.parent} ({exc.strerror or exc})") from exc


def write_atomically(files: Mapping[Path, Callable[[Path], None]], *, mkdir: bool = False) -> None:
    """Call each writer on a temporary file next to its target, then rename them
    all into place: on any error no target is touched and no temporary remains.
    A target's folder must exist unless ``mkdir``."""
    written: dict[Path, Path] = {}
    target = next(iter(files), Path())
    for path in files:
        check_folder(path, mkdir=mkdir)
    try:
        for target, write in files.items():
            # not mkstemp: its files are private (0600), and an export is for sharing (the umask decides)
            written[target] = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
            write(written[target])
        for target, temporary in written.items():
            os.replace(temporary, target)
    except OSError as exc:
        raise ExportError(f"can't write {target}: {exc.strerror or exc}") from exc
    finally:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)


def read_policy_file(path: Path) -> tuple[dict[str, Any], bytes]:
    """The TOML document of the policy file ``path`` and its bytes (for its
    digest); a file that can't be read or parsed is a ``ConfigError`` naming it."""
    try:
        text = path.read_bytes()
        return tomllib.loads(text.decode("utf-8")), text
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} can't be read as a policy file ({exc}); fix or restore it") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
