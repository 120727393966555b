"""The journal: append-only segment files beside the database.

A write is acknowledged once it is on disk in a segment; writers never open
the database, so they never wait on it or see its lock errors.

- Trials (and other append-only tables) stream into one open segment per
  writer, ``<table>/<name>.jsonl.open``: each group of rows is one
  ``write`` + ``fdatasync``, the cheapest durable write there is. The writer
  holds an ``flock`` on its open segment; sealing renames it to ``.jsonl``.
- Rows that replace earlier ones (runs) are written as one sealed segment
  per write, so the newest segment name always holds the newest state.

Readers union every segment with the tables (an open segment may end in a
torn, unacknowledged line, which they skip). The fold (``database.py``)
moves sealed segments into the tables and deletes them only after a fresh
open of the file shows their rows. An open segment whose lock is free lost
its writer (crash, kill -9): the fold seals it, cutting any torn last line.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import socket
import threading
import time
import weakref
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptlab.store.schema import TABLES

_SEQUENCE = itertools.count()
_HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()):08x}"
OPEN = ".jsonl.open"
SEALED = ".jsonl"
SEAL_BYTES = 64 * 1024 * 1024
"""An open segment is sealed and a new one started past this size."""
STALE_TEMP_SECONDS = 3600


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(rows: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows).encode()


class _OpenSegment:
    """This process's open segment of one table, locked while it is written."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.size = 0

    def write(self, payload: bytes) -> None:
        written = 0
        try:
            while written < len(payload):
                written += os.write(self.fd, payload[written:])
            os.fdatasync(self.fd)
        except OSError:
            os.ftruncate(self.fd, self.size)  # never leave half a group behind
            raise
        self.size += len(payload)


class Journal:
    """The segment folder of one database file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._open: dict[str, _OpenSegment] = {}
        self._lock = threading.Lock()
        # A forked child shares the parent's descriptors and flocks (and maybe a
        # held lock): it starts its own segments instead.
        reference = weakref.ref(self)

        def after_fork() -> None:
            journal = reference()
            if journal is not None:
                journal._after_fork()

        os.register_at_fork(after_in_child=after_fork)

    def _after_fork(self) -> None:
        self._open = {}
        self._lock = threading.Lock()

    def create(self) -> None:
        """Make the folders (idempotent)."""
        for name in TABLES:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _segment_name() -> str:
        return f"{time.time_ns():020d}-{_HOST_TAG}-{os.getpid()}-{next(_SEQUENCE):08d}"

    # -- writing ---------------------------------------------------------------

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Write the rows durably: when this returns they survive a crash of this
        process or of the machine, whatever happens to the database file."""
        with self._lock:
            for table, spec in TABLES.items():  # declaration order: runs before their trials
                rows = rows_by_table.get(table)
                if not rows:
                    continue
                if spec.replace:
                    self._write_sealed(table, _encode(rows))
                else:
                    segment = self._open.get(table)
                    if segment is None or segment.size > SEAL_BYTES:
                        if segment is not None:
                            self._seal(table)
                        segment = self._open[table] = self._start_segment(table)
                    segment.write(_encode(rows))

    def _start_segment(self, table: str) -> _OpenSegment:
        # Locked before it appears in the table folder, so no fold can take a
        # brand-new segment for an orphan.
        temporary = self._tmp / (self._segment_name() + OPEN)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = self.root / table / temporary.name
        os.replace(temporary, final)
        _fsync_dir(final.parent)  # the segment's name must be durable before any row in it is
        return _OpenSegment(final, fd)

    def _write_sealed(self, table: str, payload: bytes) -> None:
        temporary = self._tmp / (self._segment_name() + SEALED)
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fdatasync(handle.fileno())
        final = self.root / table / temporary.name
        os.replace(temporary, final)
        _fsync_dir(final.parent)

    def _seal(self, table: str) -> None:
        segment = self._open.pop(table)
        try:
            if segment.size:
                sealed = segment.path.with_name(segment.path.name.removesuffix(OPEN) + SEALED)
                os.replace(segment.path, sealed)
            else:
                segment.path.unlink(missing_ok=True)
            _fsync_dir(segment.path.parent)
        finally:
            os.close(segment.fd)  # releases the flock

    def seal(self) -> None:
        """Seal this process's open segments so the next fold takes them."""
        with self._lock:
            for table in list(self._open):
                self._seal(table)

    # -- reading and folding -----------------------------------------------------

    def segments(self, table: str) -> list[Path]:
        """Every segment of the table, open ones included, oldest first."""
        return self._list(table, (SEALED, OPEN))

    def sealed(self, table: str) -> list[Path]:
        """The table's sealed segments, oldest first."""
        return self._list(table, (SEALED,))

    def _list(self, table: str, suffixes: tuple[str, ...]) -> list[Path]:
        folder = self.root / table
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(suffixes))
        except FileNotFoundError:
            return []
        return [folder / name for name in names]

    def pending(self) -> bool:
        """True when any segment (sealed or open, anyone's) awaits a fold."""
        return any(self.segments(table) for table in TABLES)

    def adopt_orphans(self) -> int:
        """Seal open segments whose writer is gone; call with the store's exclusive lock."""
        adopted = 0
        for table in TABLES:
            for path in self._list(table, (OPEN,)):
                with contextlib.suppress(FileNotFoundError), self._orphan(path) as fd:
                    if fd is None:
                        continue
                    size = os.fstat(fd).st_size
                    cut = self._last_newline(fd, size)
                    if cut < size:  # a torn, never-acknowledged last line
                        os.ftruncate(fd, cut)
                    os.fsync(fd)
                    os.replace(path, path.with_name(path.name.removesuffix(OPEN) + SEALED))
                    _fsync_dir(path.parent)
                    adopted += 1
        return adopted

    @staticmethod
    @contextlib.contextmanager
    def _orphan(path: Path) -> Iterator[int | None]:
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None  # its writer is alive
                return
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _last_newline(fd: int, size: int) -> int:
        """Length of the file up to and including its last newline."""
        position = size
        while position > 0:
            start = max(0, position - 65536)
            chunk = os.pread(fd, position - start, start)
            index = chunk.rfind(b"\n")
            if index >= 0:
                return start + index + 1
            position = start
        return 0

    def remove(self, paths: Sequence[Path]) -> None:
        """Delete folded segments, durably."""
        for path in paths:
            path.unlink(missing_ok=True)
        for folder in {path.parent for path in paths}:
            _fsync_dir(folder)

    def sweep_temporaries(self) -> None:
        """Delete temporaries of writers that died before publishing them (never acknowledged)."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        for path in self._tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
