"""The journal: append-only shard files beside the database.

A write is acknowledged once its shard is on disk: rows are written to a
temporary file, fsynced, renamed into ``<db>.journal/<table>/`` and the
folder fsynced. Writers never open the database, so they never wait on it
and never see its lock errors. Readers union the shards with the tables;
the fold (``store.fold``) moves shards into the tables and deletes a shard
only after a fresh open of the file shows its rows are there.

Shard names sort by creation time, so for tables whose rows replace each
other (runs) the newest shard wins.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptlab.store.schema import TABLES

_SEQUENCE = itertools.count()
_HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()):08x}"
STALE_TEMP_SECONDS = 3600


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The shard folder of one database file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def create(self) -> None:
        """Make the folders (idempotent)."""
        for name in TABLES:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _shard_name(self) -> str:
        return f"{time.time_ns():020d}-{_HOST_TAG}-{os.getpid()}-{next(_SEQUENCE):08d}.jsonl"

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Path]:
        """Write the rows durably, one shard per table; returns the shard paths.

        When this returns, the rows survive a crash of this process or the
        machine, whatever happens to the database file.
        """
        published = []
        for table in TABLES:  # declaration order: runs before the trials that refer to them
            rows = rows_by_table.get(table)
            if not rows:
                continue
            name = self._shard_name()
            temporary = self._tmp / name
            payload = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fdatasync(handle.fileno())
            final = self.root / table / name
            os.replace(temporary, final)
            published.append(final)
        for folder in {path.parent for path in published}:
            _fsync_dir(folder)
        return published

    def shards(self, table: str) -> list[Path]:
        """The table's published shards, oldest first."""
        folder = self.root / table
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".jsonl"))
        except FileNotFoundError:
            return []
        return [folder / name for name in names]

    def all_shards(self) -> dict[str, list[Path]]:
        """Published shards per table, only tables that have some."""
        found = {table: self.shards(table) for table in TABLES}
        return {table: paths for table, paths in found.items() if paths}

    def remove(self, paths: Sequence[Path]) -> None:
        """Delete folded shards, durably."""
        for path in paths:
            path.unlink(missing_ok=True)
        for folder in {path.parent for path in paths}:
            _fsync_dir(folder)

    def sweep_temporaries(self) -> None:
        """Delete temporaries left by writers that died mid-write (never acknowledged)."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        for path in self._tmp.glob("*.jsonl"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                pass
