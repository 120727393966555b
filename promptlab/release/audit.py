"""The label audit log as a hash chain, and the walk that checks it.

Every label event carries a sequence number ``seq`` (one past every number
in the log, taken under a lock), the ``hash`` of the chained event before it
(``prev_hash``) and its own ``hash``: SHA-256 over its fields, ``prev_hash``
included. An event edited, deleted or slipped into the file afterwards then
shows as a break when the chain is walked (``Lab.verify()``, ``promptlab db
verify``), instead of quietly changing where ``production`` points.

What the chain can show, and what it can't: the hash has no key, so someone
who can write the file and recomputes every hash after their edit leaves no
trace, and the newest events can be cut off the end unnoticed. On the file
store it catches honest mistakes and casual edits with a DuckDB client; a log
that must hold against a determined insider belongs on the team server.

The hash is taken over a canonical encoding that survives the round trip
through the journal and DuckDB: JSON columns are decoded (they come back as
text), times are written to the microsecond (they come back as pandas
Timestamps), integral floats become integers (a JSON engine may print 1.0
as 1), a lone surrogate is escaped as the journal stores it, and missing
values (NaN in a frame) become null.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from promptlab.core.hashing import canonical_json
from promptlab.errors import DamagedStoreError
from promptlab.store import Store, prompt_reads
from promptlab.store.segments import escape_surrogates

HASHED_FIELDS = (
    "event_id",
    "seq",
    "prev_hash",
    "name",
    "label",
    "action",
    "from_version",
    "to_version",
    "model",
    "user",
    "approved_by",
    "note",
    "evidence",
    "policy",
    "created_at",
)
"""The fields of a label event its hash covers (all but the hash itself)."""

_JSON_FIELDS = frozenset({"model", "evidence", "policy"})

LARGEST_SEQ = 2**62
"""A sequence number no honest log reaches; one past it is refused (a forged
number near BIGINT's limit must not make every later event unstorable)."""

UNCHAINED = "unchained (recorded before promptlab kept a chain)"
"""How an event from before schema 5 is described: not a break."""


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (dict, list, str)) and bool(pd.isna(value)))


def _as_stored(value: Any) -> Any:
    """A decoded JSON value as it reads back from the store, whichever way it went."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return escape_surrogates(value)
    if isinstance(value, dict):
        return {escape_surrogates(str(k)): _as_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_stored(v) for v in value]
    return value


def _canonical_field(field: str, value: Any) -> Any:
    if _missing(value):
        return None
    if field in _JSON_FIELDS:
        # stored JSON comes back as text; a value being written is what the journal will store
        decoded = json.loads(value) if isinstance(value, str) else json.loads(json.dumps(value, default=str))
        return _as_stored(decoded)
    if field == "created_at":
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if field == "seq":
        return int(value)
    return escape_surrogates(str(value))


def event_hash(event: Mapping[str, Any]) -> str:
    """The full hex SHA-256 of a label event's fields (``HASHED_FIELDS``), the
    same whether ``event`` is the row being written or the row read back."""
    encoded = {field: _canonical_field(field, event.get(field)) for field in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(encoded, plain=True).encode()).hexdigest()


def _value(row: Mapping[str, Any], field: str) -> Any:
    value = row.get(field)
    return None if _missing(value) else value


def _records(events: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in events.to_dict("records")]


def _is_chained(row: Mapping[str, Any]) -> bool:
    return _value(row, "hash") is not None and _value(row, "seq") is not None


def chain_link(events: pd.DataFrame) -> tuple[int, str | None]:
    """The next event's ``seq`` and ``prev_hash``: one past every number in the
    log (``events``: every label event, journal included), and the hash of
    the chained event with the highest ``seq`` (None: the chain starts here)."""
    seqs = events["seq"].dropna() if len(events) else pd.Series(dtype="int64")
    following = int(seqs.max()) + 1 if len(seqs) else 1
    if following > LARGEST_SEQ:
        raise DamagedStoreError(
            f"the label log holds an event numbered {following - 1}, which no promptlab wrote (numbers "
            "count up by one); run lab.verify() to find it, and remove it from the file to move labels again"
        )
    chained = [row for row in _records(events) if _is_chained(row)]
    newest = max(chained, key=lambda row: int(row["seq"]), default=None)
    return following, (None if newest is None else str(newest["hash"]))


@dataclass(frozen=True)
class ChainProblem:
    """One break in the label audit log."""

    event_id: str
    """The event where the chain breaks."""

    seq: int | None
    """Its sequence number (None: it has none)."""

    name: str
    """The prompt name it moves a label of."""

    label: str
    """The label it moves."""

    problem: str
    """What is wrong, in words."""

    def __str__(self) -> str:
        seq = "no seq" if self.seq is None else f"seq {self.seq}"
        return f"event {self.event_id} ({seq}, {self.name}/{self.label}): {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    """What walking the label audit log found (``Lab.verify()``)."""

    events: int
    """Label events in the log."""

    chained: int
    """Events carrying a hash and a sequence number."""

    unchained: int
    """Events recorded before promptlab kept a chain (not breaks)."""

    problems: tuple[ChainProblem, ...] = ()
    """Every break found, in log order."""

    @property
    def ok(self) -> bool:
        """True when the chain has no break."""
        return not self.problems

    def __str__(self) -> str:
        counts = f"{self.events} label events: {self.chained} chained, {self.unchained} {UNCHAINED}"
        if self.ok:
            return f"{counts}; the chain is intact"
        lines = [f"{counts}; {len(self.problems)} problem(s):", *(f"  - {p}" for p in self.problems)]
        lines.append(
            "The label history may have been tampered with: compare lab.label_history() with a backup "
            "of the file, and promote known-good versions again (with an approver)."
        )
        return "\n".join(lines)


def verify_label_log(store: Store) -> ChainReport:
    """Walk the label audit log of ``store`` (journal included) and report every break."""
    return verify_events(prompt_reads.label_events(store))


def verify_events(events: pd.DataFrame) -> ChainReport:
    """Walk label events (in ``prompt_reads.event_order``) and report every break:
    an edited event, a deleted one, one inserted or forged, and one without a
    hash recorded after the chain began."""
    rows = _records(events)
    chained = sorted((r for r in rows if _is_chained(r)), key=lambda r: int(r["seq"]))
    start = chained[0] if chained else None
    problems: list[ChainProblem] = []
    unchained = 0
    for row in rows:
        if _is_chained(row):
            continue
        if _value(row, "hash") is not None:
            problems.append(_problem(row, "has a hash but no sequence number: promptlab didn't write it"))
        elif start is None or _recorded_before(row, start):
            unchained += 1
        else:
            problems.append(
                _problem(
                    row,
                    (
                        f"has no hash, yet was recorded after the chain began (seq {int(start['seq'])}): it was "
                        "inserted by hand or written by a promptlab older than this file; it counts only before "
                        "every chained move of its label"
                    ),
                )
            )
    taken = {int(r["seq"]) for r in rows if _value(r, "seq") is not None and not _is_chained(r)}
    problems += _walk(chained, taken)
    position = {str(row["event_id"]): index for index, row in enumerate(rows)}
    problems.sort(key=lambda p: position.get(p.event_id, len(rows)))
    return ChainReport(len(rows), len(chained), unchained, tuple(problems))


def _recorded_before(row: Mapping[str, Any], start: Mapping[str, Any]) -> bool:
    if _value(row, "seq") is not None:
        return int(row["seq"]) < int(start["seq"])
    return pd.Timestamp(row["created_at"]) <= pd.Timestamp(start["created_at"])


def _walk(chained: Sequence[Mapping[str, Any]], taken: set[int]) -> list[ChainProblem]:
    """The breaks along the chained events (sorted by seq); ``taken``: the seqs
    of unchained events, which are reported on their own."""
    problems: list[ChainProblem] = []
    previous: Mapping[str, Any] | None = None
    for seq, group in itertools.groupby(chained, key=lambda r: int(r["seq"])):
        row, *others = _real_first(list(group), None if previous is None else previous["hash"])
        problems += [_problem(o, f"shares seq {seq} with event {row['event_id']}: inserted by hand") for o in others]
        if event_hash(row) != row["hash"]:
            problems.append(_problem(row, "edited after it was recorded: its fields no longer match its hash"))
        link = _link_problem(row, previous, taken)
        if link:
            problems.append(_problem(row, link))
        previous = row
    return problems


def _real_first(group: list[Mapping[str, Any]], expected: str | None) -> list[Mapping[str, Any]]:
    """Events sharing a seq, the real one first: the one that verifies and links."""
    return sorted(group, key=lambda r: not (event_hash(r) == r["hash"] and _value(r, "prev_hash") == expected))


def _link_problem(row: Mapping[str, Any], previous: Mapping[str, Any] | None, taken: set[int]) -> str | None:
    """What is wrong with how ``row`` follows ``previous`` (the chained event before it), if anything."""
    prev_hash = _value(row, "prev_hash")
    if previous is None:
        if prev_hash is None:
            return None
        return (
            f"is the first chained event, yet follows an event (hash {str(prev_hash)[:12]}...) that is no "
            "longer in the log: the events before it were deleted"
        )
    if prev_hash == previous["hash"]:
        return None
    after, seq = int(previous["seq"]), int(row["seq"])
    # a forged seq can be huge: count the gap, never enumerate it
    missing = seq - after - 1 - sum(1 for s in taken if after < s < seq)
    if missing > 0:
        span = str(after + 1) if seq - after == 2 else f"{after + 1}..{seq - 1}"
        return f"{missing} event(s) before it (seq {span}) are missing: deleted from the log"
    return (
        f"doesn't follow the event before it (seq {int(previous['seq'])}, event {previous['event_id']}): "
        "that event was rewritten, or this one was inserted"
    )


def _problem(row: Mapping[str, Any], problem: str) -> ChainProblem:
    seq = _value(row, "seq")
    return ChainProblem(
        event_id=str(row["event_id"]),
        seq=None if seq is None else int(seq),
        name=str(row["name"]),
        label=str(row["label"]),
        problem=problem,
    )
