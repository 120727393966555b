"""A check-up of a history: ``promptlab db doctor`` (and ``Lab.doctor()``).

It says what a person looking after a shared history needs to know: the
schema, anything in the file promptlab didn't make (which promptlab's own
SQL ignores, but a plain DuckDB client would see), tables that aren't as
promptlab made them (then the file is not used), rows waiting in the
journal, and journal segments set aside in quarantine, which it can salvage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from promptlab.store import migrations
from promptlab.store.database import Store
from promptlab.store.quarantine import QuarantinedSegment, Salvage, quarantined, salvage
from promptlab.store.schema import TABLES

PROMPTLAB_VIEWS = frozenset({"trials_view", "labels"})
"""Views the migrations make in the file, for plain DuckDB clients."""


@dataclass(frozen=True)
class Checkup:
    """What ``doctor`` found (and salvaged)."""

    path: Path
    """The history file."""

    schema: int | None
    """The file's schema version; None when it couldn't be read."""

    problems: tuple[str, ...]
    """What makes the file unusable (damaged, altered tables)."""

    foreign_objects: tuple[str, ...]
    """Macros, views and tables promptlab didn't create (ignored by promptlab)."""

    pending_segments: int
    """Journal segments not folded yet."""

    quarantined: tuple[QuarantinedSegment, ...]
    """Segments set aside by folds."""

    salvaged: tuple[Salvage, ...] = ()
    """What ``salvage=True`` recovered."""

    @property
    def ok(self) -> bool:
        """True when nothing needs a person: no problem and nothing left in quarantine."""
        return not self.problems and all(q.salvaged for q in self.quarantined)

    def __str__(self) -> str:
        lines = [f"history: {self.path}", f"schema: {self.schema if self.schema is not None else 'unreadable'}"]
        lines += [f"PROBLEM: {problem}" for problem in self.problems]
        if self.foreign_objects:
            lines.append(
                "not made by promptlab (promptlab ignores them; plain DuckDB clients see them): "
                + ", ".join(self.foreign_objects)
            )
        lines.append(f"journal: {self.pending_segments} segment(s) waiting to be folded")
        if not self.quarantined:
            lines.append("quarantine: empty")
        for segment in self.quarantined:
            state = "salvaged" if segment.salvaged else "not salvaged yet (promptlab db doctor --salvage)"
            lines.append(
                f"quarantine: {segment.path} ({segment.table}; {len(segment.bad_lines)} bad line(s), "
                f"{segment.folded_rows} row(s) folded; {state})"
            )
            lines += [f"  line {number}: {reason}" for number, reason in segment.bad_lines[:20]]
        for result in self.salvaged:
            lines.append(
                f"salvaged {result.recovered} line(s) of {result.segment.path.name}; "
                f"{len(result.lost)} could not be repaired and stay in the file"
            )
            lines += [f"  line {number}: {reason}" for number, reason in result.lost[:20]]
        lines.append("result: OK" if self.ok else "result: needs attention")
        return "\n".join(lines)


def _file_state(store: Store) -> tuple[int | None, list[str], list[str]]:
    try:
        with store.inspecting() as (con, alias):
            version = migrations.applied_version(con, alias)
            expected = {name: table.column_names for name, table in TABLES.items()}
            problems = migrations.altered_objects(con, alias, expected) if version == migrations.LATEST else []
            foreign = [
                f"{kind} {name}"
                for kind, name in con.execute(
                    "SELECT 'macro', function_name FROM duckdb_functions() WHERE database_name = ? AND NOT internal "
                    "UNION ALL SELECT 'view', view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal "
                    "UNION ALL SELECT 'table', table_name FROM duckdb_tables() WHERE database_name = ?",
                    [alias, alias, alias],
                ).fetchall()
                if not (kind == "table" and (name in TABLES or name == "schema_migrations"))
                and not (kind == "view" and name in PROMPTLAB_VIEWS)
            ]
    except (duckdb.Error, OSError) as exc:
        return None, [f"the file can't be read: {exc}"], []
    return version, problems, sorted(set(foreign))


def checkup(store: Store, *, salvage_quarantined: bool = False) -> Checkup:
    """Look the history over; with ``salvage_quarantined``, record what can be
    repaired from quarantined segments (then fold it in)."""
    version, problems, foreign = _file_state(store) if store.path.is_file() else (None, [], [])
    found = quarantined(store.journal)
    salvaged: list[Salvage] = []
    if salvage_quarantined:
        salvaged = [salvage(store.journal, segment) for segment in found if not segment.salvaged]
        if salvaged:
            store.fold(wait=store.busy_timeout)
            found = quarantined(store.journal)
    pending = sum(len(store.journal.segments(name)) for name in TABLES)
    return Checkup(store.path, version, tuple(problems), tuple(foreign), pending, tuple(found), tuple(salvaged))
