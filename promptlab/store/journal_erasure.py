"""An erasure's share of the journal (or a server's local spool): rows that
are not in the tables yet.

The caller folds (sends) first, under the store's exclusive lock, so no
sealed segment is left. What may remain:

- a segment a live process is still writing (``.jsonl.open``, under its
  writer's ``flock``). It can't be rewritten: the writer appends to it
  with ``O_APPEND`` through its own descriptor, so a rewrite would race it
  or, renamed over, lose what it acknowledges next. So ``live`` finds the
  ones that hold rows to erase, and the caller waits for their writers to
  seal them (a sweep does when it ends, ``pl.logger`` every few seconds and
  when closed), then folds and looks again, and at its deadline refuses
  with a message that names the process. A segment whose writer died is
  sealed by the next fold, like any other;
- segments in ``quarantine/`` and their ``.why.json`` notes (a note may
  quote up to 40 characters of a bad value): rewritten with the value
  replaced, or with a selected row's line blanked (line numbers stay, so
  the note and ``promptlab db doctor --salvage`` still point at the right
  lines);
- temporaries a writer that died left in ``tmp/`` (never acknowledged):
  removed when they hold rows to erase; a fresh one belongs to a writer at
  work and counts as live.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TypeVar

from promptlab.errors import StoreBusyError
from promptlab.store.erasable import Erasable
from promptlab.store.journal import _HOST_TAG, OPEN, WHY, Journal, fsync_dir
from promptlab.store.schema import TABLES

FRESH_SECONDS = 60.0
"""A temporary younger than this may belong to a writer at work."""

LIVE_WAIT = 40.0
"""Seconds an erasure waits for live writers to seal segments holding rows
it takes: longer than ``pl.logger`` takes to publish (30 s to a file)."""

_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_REFERENCES = ("trial_id", "cached_from", "judge_trial_id")


class LineMatcher:
    """Which journal lines hold what an erasure takes: the value, or a row
    of the selected trials (by id, as the trial, its copy, its score or
    feedback), of the end user, or feedback naming a trial by the app's id."""

    def __init__(
        self,
        erasable: Erasable | None = None,
        *,
        trial_ids: Collection[str] = (),
        external_ids: Collection[str] = (),
        end_user: str | None = None,
    ) -> None:
        self.erasable = erasable
        self.trial_ids = frozenset(trial_ids)
        self.external_ids = frozenset(external_ids)
        self.end_user = end_user

    def holds(self, raw: bytes) -> bool:
        """Whether the line holds anything to erase."""
        if self.erasable is not None:
            return self.erasable.found_in(raw.decode(errors="surrogateescape"))
        try:
            row = json.loads(raw)
        except ValueError:
            row = None
        if not isinstance(row, dict):  # a damaged line: any quoted id or end user in it
            quoted = {m.decode(errors="replace") for m in _QUOTED.findall(raw)}
            return bool(quoted & (self.trial_ids | self.external_ids | {self.end_user or ""}) - {""})
        text = {name: value for name, value in row.items() if isinstance(value, str)}  # ids are text
        if any(text.get(name) in self.trial_ids for name in _REFERENCES):
            return True
        if self.end_user is not None and text.get("end_user") == self.end_user:
            return True
        return row.get("trial_id") is None and text.get("external_id") in self.external_ids

    def scrubbed(self, raw: bytes) -> bytes:
        """The line with the value replaced, or blank when it is a selected row."""
        if self.erasable is None:
            return b""
        try:
            row = json.loads(raw)
        except ValueError:
            return self.erasable.text(raw.decode(errors="surrogateescape")).encode(errors="surrogateescape")
        return json.dumps(self.erasable.value(row), ensure_ascii=False).encode(errors="surrogateescape")


def _whole_lines(data: bytes) -> list[bytes]:
    """The complete lines (an open segment may end in a torn one, never acknowledged)."""
    return data[: data.rfind(b"\n") + 1].split(b"\n")


def _holds(path: Path, matcher: LineMatcher, whole: bool = True) -> bool:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    lines = _whole_lines(data) if whole else data.split(b"\n")
    return any(line.strip() and matcher.holds(line) for line in lines)


def _fresh(path: Path) -> bool:
    try:
        return path.stat().st_mtime > time.time() - FRESH_SECONDS
    except FileNotFoundError:
        return False


def live(journal: Journal, matcher: LineMatcher) -> list[Path]:
    """Open segments, and fresh temporaries, that hold rows to erase."""
    found = [
        path
        for table in TABLES
        for path in journal.segments(table)
        if path.name.endswith(OPEN) and _holds(path, matcher)
    ]
    tmp = journal.root / "tmp"
    found += [p for p in sorted(tmp.iterdir()) if _fresh(p) and _holds(p, matcher)] if tmp.is_dir() else []
    return found


class LiveWriters(Exception):
    """Live writers' segments hold rows to erase (the erasure's own signal to wait)."""

    def __init__(self, segments: list[Path]) -> None:
        self.segments = segments


def refuse_live(journal: Journal, matcher: LineMatcher) -> None:
    """Raise ``LiveWriters`` when ``live`` finds any segment."""
    found = live(journal, matcher)
    if found:
        raise LiveWriters(found)


Result = TypeVar("Result")


def patiently(attempt: Callable[[], Result], journal: Journal, wait: float) -> Result:
    """``attempt()``, tried again while it raises ``LiveWriters``, for up to
    ``wait`` seconds; then ``StoreBusyError`` naming the writers."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return attempt()
        except LiveWriters as busy:
            if time.monotonic() >= deadline:
                raise StoreBusyError(_busy_message(journal.root, busy.segments, wait)) from None
            time.sleep(0.25)


def _busy_message(root: Path, segments: Sequence[Path], wait: float) -> str:
    named = "; ".join(f"{writer_of(path)} writes {path.relative_to(root)}" for path in segments[:3])
    return (
        f"nothing was erased: rows to erase are in journal segments still being written ({named}), "
        f"and they weren't sealed within {wait:.0f} s. A sweep seals its segment when it ends; an "
        "application's pl.logger every few seconds and when it closes. Let the process finish or stop "
        "it, then run the erasure again (or give it a longer wait)."
    )


def writer_of(segment: Path) -> str:
    """Who writes ``segment``, from its name (time-host-pid-sequence)."""
    parts = segment.name.split("-")
    if len(parts) < 4:
        return "a process"
    where = "this machine" if parts[1] == _HOST_TAG else "another machine"
    return f"process {parts[2]} on {where}"


def scrub(journal: Journal, matcher: LineMatcher) -> list[Path]:
    """Scrub quarantined segments and their notes, and remove stale
    temporaries holding rows to erase (call under the store's exclusive
    lock); the files changed or removed."""
    changed: list[Path] = []
    root = journal.quarantine_root
    for path in sorted(root.rglob("*")) if root.is_dir() else ():
        if not path.is_file():
            continue
        old = path.read_bytes()
        if path.name.endswith(WHY):  # a note: JSON written ASCII-escaped, scrubbed as text
            text = old.decode(errors="replace")
            new = matcher.erasable.text(text).encode() if matcher.erasable is not None else old
        else:
            lines = old.split(b"\n")
            new = b"\n".join(matcher.scrubbed(line) if line.strip() and matcher.holds(line) else line for line in lines)
        if new != old:
            _replace(path, new)
            changed.append(path)
    tmp = journal.root / "tmp"
    for path in sorted(tmp.iterdir()) if tmp.is_dir() else ():
        if not _fresh(path) and _holds(path, matcher, whole=False):
            path.unlink(missing_ok=True)
            changed.append(path)
    return changed


def _replace(path: Path, data: bytes) -> None:
    """Replace ``path``'s content by ``data`` atomically and durably."""
    temporary = path.with_name(path.name + ".scrubbing")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)
