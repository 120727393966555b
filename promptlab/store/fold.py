"""The fold: journal segments into the tables, checked, then removed.

Segments are parsed in Python (``segments.py``); their rows go into the
file in one transaction per batch, as Arrow tables, through SQL that names
every table by catalog and schema and never makes the history file the
default catalog, so nothing stored in the file (a macro or a view named
like a DuckDB function or a table) can change what the fold does. A fresh
connection then reads the keys back, and the rows are compared in Python
with what was parsed: only segments whose every row is there are removed.
A segment with a line that didn't fold is quarantined instead, never
deleted, and the caller hears about it.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from promptlab.errors import HistoryWarning
from promptlab.store.journal import Journal
from promptlab.store.schema import TABLES, Table
from promptlab.store.segments import ParsedSegment, arrow_table, newest_per_key, parse_segment

BATCH_BYTES = 16 * 1024 * 1024
"""Segment bytes folded per transaction, so a large backlog never sits in memory at once."""

_INCOMING = "promptlab_incoming"


@dataclass
class FoldResult:
    """What one fold did."""

    folded: int = 0
    """Segments whose rows are now in the tables (removed or quarantined)."""

    quarantined: list[Path] = field(default_factory=list)
    """Segments moved to quarantine because some of their lines didn't fold."""

    bad_lines: int = 0
    """Lines in those segments that didn't fold as written."""

    unverified: int = 0
    """Rows the check after the fold didn't find: their segments stay for the next fold."""


def batches(journal: Journal) -> Iterator[dict[str, list[Path]]]:
    """The sealed segments, table by table in declaration order, in batches of
    about ``BATCH_BYTES``."""
    batch: dict[str, list[Path]] = {}
    size = 0
    for name in TABLES:
        for path in journal.sealed(name):
            try:
                size += path.stat().st_size
            except FileNotFoundError:
                continue
            batch.setdefault(name, []).append(path)
            if size >= BATCH_BYTES:
                yield batch
                batch, size = {}, 0
    if batch:
        yield batch


def parse_batch(batch: Mapping[str, Sequence[Path]]) -> dict[str, list[ParsedSegment]]:
    """Every segment of a batch, parsed."""
    return {name: [parse_segment(TABLES[name], path) for path in paths] for name, paths in batch.items()}


def target(alias: str, table: Table) -> str:
    """A table of the attached history file, fully qualified."""
    return f'"{alias}"."main"."{table.name}"'


def insert_rows(con: duckdb.DuckDBPyConnection, alias: str, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Put ``rows`` into the table: append-only tables keep a key's first row,
    ``replace`` tables take the newer state (a higher revision, or any for
    tables without one)."""
    if not rows:
        return
    incoming = arrow_table(table, rows)
    con.register(_INCOMING, incoming)
    try:
        into = target(alias, table)
        if not table.replace:
            con.execute(f"INSERT OR IGNORE INTO {into} BY NAME SELECT * FROM {_INCOMING}")
            return
        match = " AND ".join(f'old."{k}" = new."{k}"' for k in table.key)
        newer = "TRUE"
        if table.revision is not None:
            newer = f'coalesce(new."{table.revision}", 0) >= coalesce(old."{table.revision}", 0)'
        con.execute(
            f"INSERT OR REPLACE INTO {into} BY NAME SELECT new.* FROM {_INCOMING} new "
            f"WHERE NOT EXISTS (SELECT 1 FROM {into} old WHERE {match} AND NOT ({newer}))"
        )
    finally:
        con.unregister(_INCOMING)


def missing_rows(con: duckdb.DuckDBPyConnection, alias: str, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """How many of ``rows`` the table doesn't hold (for ``replace`` tables: in
    this state or a newer one). The comparison is made here, in Python."""
    if not rows:
        return 0
    con.register(_INCOMING, arrow_table(table, rows, only=table.key))
    try:
        match = " AND ".join(f'stored."{k}" = wanted."{k}"' for k in table.key)
        selected = table.column_names if table.replace else list(table.key)  # trials: only their keys
        columns = ", ".join(f'stored."{c}"' for c in selected)
        found = con.execute(
            f"SELECT {columns} FROM {target(alias, table)} stored JOIN {_INCOMING} wanted ON {match}"
        ).fetchall()
    finally:
        con.unregister(_INCOMING)
    held_rows = [dict(zip(selected, values, strict=True)) for values in found]
    stored = {tuple(row[k] for k in table.key): row for row in held_rows}
    missing = 0
    for row in rows:
        held = stored.get(tuple(row[k] for k in table.key))
        if held is None or (table.replace and not _same_or_newer(table, row, held)):
            missing += 1
    return missing


def _same_or_newer(table: Table, wanted: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    if table.revision is not None:
        return (values[table.revision] or 0) >= (wanted[table.revision] or 0)
    return all(_equal(sql_type, wanted[name], values[name]) for name, sql_type in table.columns)


def _equal(sql_type: str, wanted: Any, held: Any) -> bool:
    if wanted is None or held is None:
        return wanted is None and held is None
    if sql_type == "JSON":
        return bool(json.loads(wanted) == json.loads(held))
    return bool(wanted == held)  # times come back as the datetimes that were written


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN … COMMIT; on failure a ROLLBACK that can't hide the real error
    (on a full disk the rollback can fail too)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def settle(
    journal: Journal,
    parsed: Mapping[str, Sequence[ParsedSegment]],
    result: FoldResult,
    on_quarantine: Callable[[Path, ParsedSegment], None] | None = None,
) -> None:
    """After a verified fold: quarantine segments with bad lines, remove the rest."""
    done: list[Path] = []
    for name, segments in parsed.items():
        for segment in segments:
            if segment.bad:
                moved = journal.quarantine(name, segment)
                result.quarantined.append(moved)
                result.bad_lines += len(segment.bad)
                if on_quarantine is not None:
                    on_quarantine(moved, segment)
            else:
                done.append(segment.path)
            result.folded += 1
    journal.remove(done)


def chosen_rows(parsed: Mapping[str, Sequence[ParsedSegment]]) -> dict[str, list[dict[str, Any]]]:
    """The rows each table takes from a parsed batch."""
    return {name: newest_per_key(TABLES[name], segments) for name, segments in parsed.items()}


def report_quarantine(moved: Path, segment: ParsedSegment) -> None:
    """Warn that ``segment`` had lines the fold couldn't take (now kept at ``moved``)."""
    lines = ", ".join(str(bad.line) for bad in segment.bad[:10]) + (" …" if len(segment.bad) > 10 else "")
    warnings.warn(
        f"{len(segment.bad)} line(s) of journal segment {segment.path.name} could not be folded as written "
        f"(line {lines}: {segment.bad[0].reason}); its other {len(segment.rows)} row(s) were. The segment "
        f"is kept in {moved.parent}; `promptlab db doctor` lists and salvages it.",
        HistoryWarning,
        stacklevel=2,
    )
