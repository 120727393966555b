"""The label file: where every label points, kept beside the history so a
first ``pl.load_prompt`` in a fresh process needn't start DuckDB.

Starting DuckDB and attaching the file was ~41 ms of that first call's
~87 ms; reading ``history.duckdb.labels.json`` instead takes well under a
millisecond, and the whole first call ~2 ms, most of it compiling the
template (``benchmarks/load_prompt.py``). For each (prompt name, label) the tables
hold, it keeps the version the label points at, the stored ``prompts`` row
that version resolves to (its version and template, as the JSON text the
table holds) and the recommended model (as recorded with the label: no
secrets, only the name of a key's variable), plus the file's schema version
and a stamp of the history file and its WAL (size, mtime in ns) as the fold
left them.

Only the fold writes it, holding the exclusive lock: after its rows are in
the file and checked, and before it removes the segments they came from
(a read-only attach, the check every read makes of the file, and one query:
~10 ms per fold). A file that check refuses gets no label file.
A reader uses it only when that proves it current, in this order: no
``label_events`` or ``prompts`` segment pending in the journal, then the
label file, then the stamp matching the file and WAL now. Whatever promptlab
folded before the first check is in the label file read after it; anything
written later either is still in the journal or has changed the stamp, so a
reader can't serve an older answer than it would have read from DuckDB. A
program outside promptlab that writes the file changes its mtime (and the
WAL) too; copying the history with its times (``cp -a``, ``rsync -a``) keeps
the label file usable.

The file may come from someone else: it is read with a size bound, parsed
defensively, and anything missing, malformed, stale, of another format or
for another schema (another promptlab's) makes ``current`` answer None: the
caller reads the history instead. The caller still checks the template
hashes to the labelled version.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from promptlab.core.files import write_atomically
from promptlab.store import location, migrations
from promptlab.store.engine import attached
from promptlab.store.journal import OPEN, SEALED

FORMAT = "promptlab-labels/1"
"""What a label file says it is; another value (a newer promptlab's) isn't read."""

MAX_BYTES = 64 * 1024 * 1024
"""A larger label file isn't read (it may be someone else's)."""

WATCHED = ("label_events", "prompts")
"""The tables whose pending segments could change what a label resolves to."""

SchemaCheck = Callable[[duckdb.DuckDBPyConnection, str], object]
"""Checks an attached file (connection, catalog alias) is a history promptlab can read; raises if not."""

_CHAINED = "(hash IS NOT NULL AND seq IS NOT NULL)"
# The order of prompt_reads.event_order(newest_first=True), which this layer can't
# import (prompt_reads reads through the Store that calls this module).
_NEWEST_FIRST = f"{_CHAINED} DESC, CASE WHEN {_CHAINED} THEN seq END DESC, created_at DESC, event_id DESC"


@dataclass(frozen=True)
class LabelEntry:
    """What the label file says of one label of one prompt."""

    name: str
    """The prompt name."""

    label: str
    """The label (``production``, ``staging``, …)."""

    version: str
    """The version the label points at (its newest event's ``to_version``)."""

    stored_version: str
    """The version of the one ``prompts`` row that version resolves to."""

    template: str
    """That row's template, as the JSON text the table holds."""

    model: str | None
    """The recommended model recorded with the label, as JSON text (None: none)."""


def current(database: Path, name: str, label: str) -> LabelEntry | None:
    """What the label file beside ``database`` says of ``label`` of ``name``,
    or None unless the file is provably current (see the module docstring)."""
    if _pending(database):
        return None
    document = _document(location.label_file(database))
    if document is None or document.get("format") != FORMAT:
        return None
    if document.get("schema") != migrations.LATEST:
        return None  # another promptlab's: the history says what this one makes of the file
    now = stamp(database)
    if now is None or document.get("stamp") != now:
        return None
    entries = document.get("labels")
    if not isinstance(entries, list):
        return None
    found = [e for e in entries if isinstance(e, dict) and e.get("name") == name and e.get("label") == label]
    if len(found) != 1:
        return None
    fields = ("version", "stored_version", "template", "model")
    version, stored_version, template, model = (found[0].get(field) for field in fields)
    if not (isinstance(version, str) and isinstance(stored_version, str) and isinstance(template, str)):
        return None
    if not isinstance(model, str | None):
        return None
    return LabelEntry(name, label, version, stored_version, template, model)


def stamp(database: Path) -> list[int] | None:
    """Size and mtime (ns) of ``database`` and of its WAL (0, 0 when there is
    none); None when the history file is missing or empty."""
    try:
        info = database.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return None
    try:
        wal = location.wal_file(database).stat()
    except FileNotFoundError:
        return [info.st_size, info.st_mtime_ns, 0, 0]
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, wal.st_size, wal.st_mtime_ns]


def refresh(database: Path, check: SchemaCheck) -> None:
    """Rewrite the label file from the tables of ``database`` (the fold calls
    this with the exclusive lock held, its rows checked, their segments not
    yet removed). ``check`` is the check every read makes of the attached
    file (``Store._checked_schema``): a file it refuses gets no label file, so
    reads go on refusing it, saying why. When the label file can't be
    written it is removed: with none, ``load_prompt`` reads the history,
    never a stale answer."""
    target = location.label_file(database)
    try:
        # taken before reading: a change made meanwhile makes the file stale, never wrong
        stamped = stamp(database)
        if stamped is None:
            target.unlink(missing_ok=True)
            return
        entries = _current_entries(database, check)
        document = {"format": FORMAT, "schema": migrations.LATEST, "stamp": stamped, "labels": entries}
        text = json.dumps(document, indent=1) + "\n"
        mode = stat.S_IMODE(database.stat().st_mode)

        def write(path: Path) -> None:
            path.write_text(text, encoding="utf-8")
            os.chmod(path, mode)  # templates are as private as the history they come from

        write_atomically({target: write})
    except Exception:  # the label file only saves time: nothing about it may stop a fold
        with contextlib.suppress(OSError):
            target.unlink(missing_ok=True)


def _current_entries(database: Path, check: SchemaCheck) -> list[dict[str, Any]]:
    """Every label and the one stored row it resolves to, from the tables
    (the journal is left out: a reader uses the file only when the watched
    tables have nothing pending)."""
    # one attempt: the fold never waits holding the lock
    with attached(database, read_only=True, deadline=time.monotonic(), patience=0.0) as (con, alias):
        check(con, alias)  # someone may have altered the file since the fold checked it
        events, prompts = (f'"{alias}"."main"."{table}"' for table in WATCHED)
        rows = con.execute(
            f"""
            WITH pointed AS (
                SELECT name, label, to_version, model FROM {events}
                QUALIFY row_number() OVER (PARTITION BY name, label ORDER BY {_NEWEST_FIRST}) = 1
            ), stored AS (SELECT DISTINCT name, version, template FROM {prompts})
            SELECT p.name, p.label, p.to_version, p.model::VARCHAR, s.version, s.template::VARCHAR
            FROM pointed p JOIN stored s ON s.name = p.name AND starts_with(s.version, p.to_version)
            ORDER BY p.name, p.label, s.version
            """
        ).fetchall()
    resolved: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        resolved.setdefault((row[0], row[1]), []).append(row)
    entries = []
    for matches in resolved.values():
        if len(matches) != 1:
            continue  # a prefix of several versions: the history says so, as before
        name, label, version, model, stored_version, template = matches[0]
        if None in (name, label, version, stored_version, template):
            continue
        entries.append(
            {
                "name": name,
                "label": label,
                "version": version,
                "stored_version": stored_version,
                "template": template,
                "model": model,
            }
        )
    return entries


def _pending(database: Path) -> bool:
    """Whether a watched table has a segment in the journal (or the journal can't be listed)."""
    for table in WATCHED:
        try:
            names = os.listdir(location.journal_folder(database) / table)
        except FileNotFoundError:
            continue
        except OSError:
            return True
        if any(n.endswith((SEALED, OPEN)) for n in names):
            return True
    return False


def _document(path: Path) -> dict[str, Any] | None:
    """The label file's JSON object, or None (missing, not a plain file, too large, not JSON)."""
    try:
        # no link followed, and a FIFO planted there can't block the read
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
                return None
            data = handle.read(info.st_size + 1)  # one more byte tells a file that grew since
        document = json.loads(data) if len(data) <= info.st_size else None
    except (OSError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None
