"""Journal segments set aside by the fold, and getting their lines back.

A segment lands in ``<history>.journal/quarantine/<table>/`` when some of
its lines could not be folded as written (torn by a crash of the machine,
garbled by a disk, zero-filled by a file system, edited by hand, too
large). Its other rows were folded; the file is kept whole, with a
``.why.json`` note of the bad lines, and never deleted by promptlab.
``promptlab db doctor`` lists them; ``--salvage`` repairs what can be
repaired (bytes that aren't UTF-8 become U+FFFD, zero bytes are dropped) and
records the lines that then parse, through the journal like any write.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptlab.store.journal import WHY, Journal
from promptlab.store.schema import TABLES
from promptlab.store.segments import parse_line, plain_row


@dataclass(frozen=True)
class QuarantinedSegment:
    """One quarantined segment and what its note says."""

    table: str
    """The table its rows belong to."""

    path: Path
    """The segment file, kept whole."""

    bad_lines: tuple[tuple[int, str], ...]
    """(line number, why) of each line that didn't fold as written."""

    folded_rows: int
    """Its rows that were folded when it was set aside."""

    salvaged: bool
    """Whether ``salvage`` has already recorded what could be repaired."""


@dataclass(frozen=True)
class Salvage:
    """What salvaging one segment did."""

    segment: QuarantinedSegment
    """The segment."""

    recovered: int
    """Lines repaired and recorded."""

    lost: tuple[tuple[int, str], ...]
    """(line number, why) of lines that could not be repaired (they stay in the file)."""


def _note_path(path: Path) -> Path:
    return path.with_name(path.name + WHY)


def _note(path: Path) -> dict[str, Any]:
    try:
        note = json.loads(_note_path(path).read_text())
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}


def quarantined(journal: Journal) -> list[QuarantinedSegment]:
    """Every quarantined segment, table by table, oldest first."""
    found = []
    for table in TABLES:
        folder = journal.quarantine_root / table
        for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
            note = _note(path)
            bad = tuple((int(b["line"]), str(b["reason"])) for b in note.get("bad_lines", []))
            found.append(QuarantinedSegment(table, path, bad, int(note.get("folded_rows", 0)), "salvaged_at" in note))
    return found


def salvage(journal: Journal, segment: QuarantinedSegment) -> Salvage:
    """Repair the segment's bad lines where possible and record them through
    the journal (a row already folded is not recorded twice: the fold keeps
    a key's first row). The segment stays in quarantine, marked salvaged."""
    table = TABLES[segment.table]
    lines = segment.path.read_bytes().split(b"\n")
    rows: list[dict[str, Any]] = []
    lost: list[tuple[int, str]] = []
    for number, reason in segment.bad_lines:
        if "folded with its output cut" in reason:
            continue  # folded already; the full line stays here
        raw = lines[number - 1] if 0 < number <= len(lines) else b""
        repaired = raw.decode(errors="replace").replace("\x00", "").strip().encode()
        row, why = parse_line(table, repaired) if repaired else (None, "nothing left after removing zero bytes")
        if row is None:
            lost.append((number, why or reason))
        else:
            rows.append(plain_row(table, row))
    if rows:
        journal.append({segment.table: rows})
        journal.seal()
    note = _note(segment.path)
    note.update(
        salvaged_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        salvaged_rows=len(rows),
        unrecoverable_lines=[{"line": n, "reason": r} for n, r in lost],
    )
    _note_path(segment.path).write_text(json.dumps(note, indent=2) + "\n")
    return Salvage(segment, len(rows), tuple(lost))
