"""How a history file uses its space: ``promptlab db stats``, ``Lab.db_stats()``.

Every fold ends with a ``CHECKPOINT``, and DuckDB writes what a checkpoint
changes to new blocks, leaving the old ones free for later writes; only a
copy gives them back (``compaction.py``). The free count comes from the
file's size, not from DuckDB's own (``pragma_database_size``), which after
an open also lists the blocks past the end of a file a checkpoint shortened:
on the 100,000-trial history of ``benchmarks/history_scale.py`` it said 90
of 295 blocks (31%) were free, when the file held 265 blocks, 60 of them
free (23%); compacting it gave back 25% (69.5 → 51.9 MB).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from promptlab.errors import StoreError
from promptlab.store.database import Store
from promptlab.store.location import wal_file
from promptlab.store.schema import TABLES

HEADER_BYTES = 3 * 4096
"""The start of a DuckDB file before its first block: the file header and two database headers."""


@dataclass(frozen=True)
class StorageStats:
    """How a history file uses its space (``promptlab db stats``, ``Lab.db_stats()``)."""

    path: Path
    """The history file."""

    file_bytes: int
    """Size of the file."""

    wal_bytes: int
    """Size of DuckDB's write-ahead log beside it (0: none)."""

    block_size: int
    """Bytes per block of the file."""

    used_blocks: int
    """Blocks holding data."""

    free_blocks: int
    """Blocks of the file left free by earlier checkpoints (reused by later
    writes; ``compact`` gives them back)."""

    rows: Mapping[str, int]
    """Rows per table, in the file (not counting the journal)."""

    pending_segments: int
    """Journal segments not folded into the file yet."""

    @property
    def free_share(self) -> float:
        """Free blocks as a share of all blocks (0.0 to 1.0)."""
        total = self.used_blocks + self.free_blocks
        return self.free_blocks / total if total else 0.0

    @property
    def free_bytes(self) -> int:
        """Bytes a compaction would give back."""
        return self.free_blocks * self.block_size

    def __str__(self) -> str:
        wal = f"; write-ahead log {megabytes(self.wal_bytes)}" if self.wal_bytes else ""
        free = (
            f"{self.free_share:.0%} ({self.free_blocks} of {self.used_blocks + self.free_blocks} blocks, "
            f"{megabytes(self.free_bytes)}; `promptlab db compact` gives it back)"
            if self.free_blocks
            else f"none ({self.used_blocks} blocks, all in use)"
        )
        return "\n".join(
            [
                f"history: {self.path}",
                f"size: {megabytes(self.file_bytes)}{wal}",
                f"free: {free}",
                "rows: " + ", ".join(f"{table} {count:,}" for table, count in self.rows.items()),
                f"journal: {self.pending_segments} segment(s) waiting to be folded",
            ]
        )


def megabytes(size: int) -> str:
    """``size`` bytes as people read them (``12.3 MB``)."""
    return f"{size / 1e6:.1f} MB"


def stats(store: Store, *, wait: float | None = None) -> StorageStats:
    """How the file uses its space; ``wait``: seconds to wait for a fold in
    progress (default ``LOCK_WAIT``), then ``StoreBusyError``."""
    deadline = time.monotonic() + (store.busy_timeout if wait is None else wait)
    with store._locked(exclusive=False, wait=wait), store._attached(read_only=True, deadline=deadline) as (con, alias):
        store._checked_schema(con, alias)  # nothing is counted in a file promptlab didn't make
        try:
            return measured(store, con, alias)
        except duckdb.Error as exc:
            raise StoreError(f"{store.path} can't be measured ({exc}); `promptlab db doctor` checks it") from exc


def measured(store: Store, con: duckdb.DuckDBPyConnection, alias: str) -> StorageStats:
    """``stats`` of the file attached as ``alias`` (the caller holds the lock)."""
    size = con.execute(
        "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = ?", [alias]
    ).fetchone()
    block_size, used = (int(size[0]), int(size[1])) if size else (0, 0)
    file_bytes = store.path.stat().st_size
    # only blocks in the file are counted as free (see the module docstring)
    in_file = (file_bytes - HEADER_BYTES) // block_size if block_size else 0
    rows = {
        name: int((con.execute(f'SELECT count(*) FROM "{alias}"."main"."{name}"').fetchone() or [0])[0])
        for name in [*TABLES, "schema_migrations"]
    }
    wal = wal_file(store.path)
    return StorageStats(
        path=store.path,
        file_bytes=file_bytes,
        wal_bytes=wal.stat().st_size if wal.exists() else 0,
        block_size=block_size,
        used_blocks=used,
        free_blocks=max(0, in_file - used),
        rows=rows,
        pending_segments=sum(len(store.journal.segments(name)) for name in TABLES),
    )
