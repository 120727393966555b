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
A segment with a line that can't be folded (damaged by a disk, edited by
hand) is moved to ``quarantine/`` with a note of its bad lines, never
deleted; ``promptlab db doctor`` lists and salvages them.

Segment names start with the time, kept increasing within a process even
if the clock steps back, so a process's later states of a row sort later.
"""

from __future__ import annotations

import contextlib
import errno
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

from promptlab.core.trial import MAX_TRIAL_BYTES
from promptlab.errors import DiskFullError, StoreError
from promptlab.store.schema import TABLES
from promptlab.store.segments import ParsedSegment, encode_row, fit_trial

_SEQUENCE = itertools.count()
_LAST_TIME = [0]
_LAST_TIME_LOCK = threading.Lock()
_HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()):08x}"
OPEN = ".jsonl.open"
SEALED = ".jsonl"
SEAL_BYTES = 64 * 1024 * 1024
"""An open segment is sealed and a new one started past this size."""
STALE_TEMP_SECONDS = 3600
WHY = ".why.json"
"""Suffix of the note beside a quarantined segment."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(table: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    lines = []
    for row in rows:
        line = encode_row(row)
        if len(line) > MAX_TRIAL_BYTES:
            if table != "trials":
                raise StoreError(
                    f"a {table} row of {len(line):,} bytes is larger than the {MAX_TRIAL_BYTES:,} a row may "
                    "take; shorten its text (a correction or comment, say)"
                )
            line = encode_row(fit_trial(row))
        lines.append(line)
    return b"".join(lines)


def _monotonic_ns() -> int:
    """The wall clock in nanoseconds, never less than its last reading here."""
    with _LAST_TIME_LOCK:
        _LAST_TIME[0] = max(time.time_ns(), _LAST_TIME[0] + 1)
        return _LAST_TIME[0]


def disk_full(exc: OSError, where: Path) -> DiskFullError | None:
    """The ``DiskFullError`` for ``exc`` when it says the disk is full, else None."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    return DiskFullError(
        f"the disk holding {where} is full ({exc.strerror}). Everything recorded before this "
        "is safe in the journal; free some space and run the same sweep again to resume it."
    )


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

    @property
    def quarantine_root(self) -> Path:
        """Where segments with lines that didn't fold are kept."""
        return self.root / "quarantine"

    def claim_path(self, run_id: str) -> Path:
        """The file a process locks while it records into run ``run_id``."""
        return self.root / "claims" / run_id

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
        return f"{_monotonic_ns():020d}-{_HOST_TAG}-{os.getpid()}-{next(_SEQUENCE):08d}"

    # -- writing ---------------------------------------------------------------

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Write the rows durably: when this returns they survive a crash of this
        process or of the machine, whatever happens to the database file. A
        full disk raises ``DiskFullError``."""
        payloads = {table: _encode(table, rows) for table, rows in rows_by_table.items() if rows}
        with self._lock:
            try:
                for table, spec in TABLES.items():  # declaration order: runs before their trials
                    payload = payloads.get(table)
                    if not payload:
                        continue
                    if spec.replace:
                        self._write_sealed(table, payload)
                    else:
                        segment = self._open.get(table)
                        if segment is None or segment.size > SEAL_BYTES:
                            if segment is not None:
                                self._seal(table)
                            segment = self._open[table] = self._start_segment(table)
                        segment.write(payload)
            except OSError as exc:
                full = disk_full(exc, self.root)
                if full is None:
                    raise
                raise full from exc

    def _start_segment(self, table: str) -> _OpenSegment:
        # Locked before it appears in the table folder, so no fold can take a
        # brand-new segment for an orphan.
        temporary = self._tmp / (self._segment_name() + OPEN)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = self.root / table / temporary.name
        os.replace(temporary, final)
        fsync_dir(final.parent)  # the segment's name must be durable before any row in it is
        return _OpenSegment(final, fd)

    def _write_sealed(self, table: str, payload: bytes) -> None:
        temporary = self._tmp / (self._segment_name() + SEALED)
        try:
            with open(temporary, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fdatasync(handle.fileno())
        except OSError:
            temporary.unlink(missing_ok=True)  # a half-written temporary is never published
            raise
        final = self.root / table / temporary.name
        os.replace(temporary, final)
        fsync_dir(final.parent)

    def _seal(self, table: str) -> None:
        segment = self._open.pop(table)
        try:
            if segment.size:
                sealed = segment.path.with_name(segment.path.name.removesuffix(OPEN) + SEALED)
                os.replace(segment.path, sealed)
            else:
                segment.path.unlink(missing_ok=True)
            fsync_dir(segment.path.parent)
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
                    fsync_dir(path.parent)
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

    def quarantine(self, table: str, parsed: ParsedSegment) -> Path:
        """Move a segment with bad lines into ``quarantine/<table>/``, with a
        note of which lines and why beside it; its good rows were folded."""
        folder = self.quarantine_root / table
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / parsed.path.name
        note = {
            "segment": parsed.path.name,
            "quarantined_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "folded_rows": len(parsed.rows),
            "bad_lines": [{"line": bad.line, "reason": bad.reason} for bad in parsed.bad],
        }
        (folder / (target.name + WHY)).write_text(json.dumps(note, indent=2) + "\n")
        os.replace(parsed.path, target)
        fsync_dir(folder)
        fsync_dir(parsed.path.parent)
        return target

    def remove(self, paths: Sequence[Path]) -> None:
        """Delete folded segments, durably."""
        for path in paths:
            path.unlink(missing_ok=True)
        for folder in {path.parent for path in paths}:
            fsync_dir(folder)

    def sweep_temporaries(self) -> None:
        """Delete temporaries of writers that died before publishing them (never
        acknowledged), and old claims nobody holds."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        for path in self._tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
        claims = self.root / "claims"
        for path in claims.iterdir() if claims.is_dir() else ():
            with contextlib.suppress(FileNotFoundError), self._orphan(path) as fd:
                if fd is not None and os.fstat(fd).st_mtime < cutoff:
                    path.unlink()  # a process opening it meanwhile sees it gone and makes a new one
