"""Datasets: named, versioned test sets, changed a batch of rows at a time.

A dataset is its log of changes (the ``dataset_changes`` table): each
``add`` or ``remove`` is one change, its rows sharing one change id and
written in one append, so a change is there whole or not at all. A row is
known by the hash of its content (canonical JSON), so adding a row the
dataset already holds changes nothing. The version after a change is a
hash of the sorted hashes of the rows the dataset then holds: two datasets
with the same rows have the same version, whatever order the rows came in,
and undoing a change returns to the version before it. Every version stays
readable (the log is append-only), so a run that recorded
``dataset:NAME@VERSION`` can be run on exactly its rows again.

Rows come from anywhere sweep data comes from (``promptlab.core.rows``: a
list of dicts, a DataFrame, a file) and from trials, a sweep's or the calls
an application logged: a trial's row is its input variables, with
``expected`` the latest correction someone gave its output (or the output
itself), and the change keeps the trial's id for lineage.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import pandas as pd

from promptlab.analysis.columns import decode_json
from promptlab.core.hashing import content_hash, new_id, to_jsonable
from promptlab.core.lineage import current_user, utcnow
from promptlab.core.rows import Data, load_rows
from promptlab.errors import ConfigError, DataError, NotFoundError
from promptlab.store import Store, dataset_reads, reads

REFERENCE_PREFIX = "dataset:"
"""How a string names a dataset as data: ``dataset:NAME`` or ``dataset:NAME@VERSION``."""

ROW_HASH_LENGTH = 16
VERSION_LENGTH = 12

Expected = Literal["correction", "output"] | None
"""Where a trial's row takes its ``expected`` answer from: the latest
correction given (when there is one), the model's output, or nowhere."""

VERSION_COLUMNS = ("version", "change_id", "op", "user", "created_at", "n_rows", "added", "removed", "note")
LISTING_COLUMNS = ("name", "version", "n_rows", "n_changes", "changed_at", "changed_by")
_TRIAL_COLUMNS = ("trial_id", "vars", "output", "correction", "tier")

Entry = tuple[str, dict[str, Any], str | None]
"""A row to add or remove: its hash, its content, the trial it came from."""


@dataclass(frozen=True)
class DatasetChange:
    """What one ``add`` or ``remove`` did to a dataset."""

    dataset: str
    """The dataset's name."""

    op: str
    """``add`` or ``remove``."""

    change_id: str | None
    """The change's id; None when nothing changed, and nothing was written."""

    changed: int
    """Rows added (or removed)."""

    unchanged: int
    """Rows given that changed nothing: already there (or given twice) for an
    add, not there for a remove."""

    version: str | None
    """The dataset's version after the change (None: it has never held a row)."""

    n_rows: int
    """Rows the dataset holds after the change."""

    def __repr__(self) -> str:
        done = "added" if self.op == "add" else "removed"
        why = "already there" if self.op == "add" else "not there"
        skipped = f" ({self.unchanged} {why})" if self.unchanged else ""
        return f"{self.dataset}: {done} {_rows(self.changed)}{skipped}; version {self.version}, {_rows(self.n_rows)}"


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def checked_name(name: object) -> str:
    """A dataset name, or a ``ConfigError`` saying what one looks like."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a dataset needs a name, e.g. lab.dataset('support-regressions'), not {name!r}")
    if name != name.strip() or "@" in name:
        raise ConfigError(f"dataset name {name!r} may not contain '@' or start or end with a space")
    return name


def is_reference(data: object) -> bool:
    """Whether ``data`` names a dataset (``dataset:NAME[@VERSION]``)."""
    return isinstance(data, str) and data.startswith(REFERENCE_PREFIX)


def parse_reference(text: str) -> tuple[str, str | None]:
    """``dataset:NAME`` or ``dataset:NAME@VERSION`` → (NAME, VERSION or None)."""
    name, _, version = text.removeprefix(REFERENCE_PREFIX).partition("@")
    return checked_name(name), version or None


def reference(name: str, version: str) -> str:
    """How a run's config describes the data it ran on: ``dataset:NAME@VERSION``."""
    return f"{REFERENCE_PREFIX}{name}@{version}"


def row_hash(row: Mapping[str, Any]) -> str:
    """The hash that identifies a row by its content."""
    return content_hash(row, ROW_HASH_LENGTH)


def looks_like_row_hash(text: str) -> bool:
    """Whether ``text`` has the shape of a row's hash (hexadecimal, ``ROW_HASH_LENGTH`` long)."""
    return len(text) == ROW_HASH_LENGTH and all(c in string.hexdigits for c in text)


def version_of(hashes: Sequence[str] | Mapping[str, Any]) -> str:
    """The version of a dataset holding rows with these hashes, in any order."""
    return content_hash(sorted(hashes), VERSION_LENGTH)


# -- rows from data and from trials --------------------------------------------------


def given_entries(data: Data) -> list[Entry]:
    """Rows from a list of dicts, a DataFrame or a file, checked as sweep data is.
    An empty DataFrame cell is an absent variable, so a dataset's own ``rows()``
    added again hash as they were."""
    if isinstance(data, pd.DataFrame):
        records = data.to_dict(orient="records")
        data = [{str(k): v for k, v in r.items() if to_jsonable(v) is not None} for r in records]
    if isinstance(data, Sequence) and not isinstance(data, str) and len(data) == 0:
        raise DataError("no rows given; pass a list of dicts, a DataFrame, a file, a run or trials")
    return [(row_hash(row), row, None) for row in load_rows(data)]


def is_trials(data: object) -> bool:
    """Whether ``data`` is a trials DataFrame (``lab.trials(...)``, ``run.df``)."""
    return isinstance(data, pd.DataFrame) and {"trial_id", "vars"} <= set(data.columns)


def _check_expected(expected: object) -> None:
    if expected not in ("correction", "output", None):
        raise ConfigError(f"expected= takes 'correction', 'output' or None, not {expected!r}")


def trial_entries(
    store: Store,
    where: reads.TrialFilter,
    expected: Expected,
    order: Sequence[str] = (),
    usual_tier: str | None = None,
) -> list[Entry]:
    """The rows of the trials ``where`` selects (in ``order`` when given): each
    one's input variables, with ``expected`` its latest correction (feedback
    naming the trial by the app's ``external_id`` counts), or its output, when
    it has one. A trial without one keeps the variables as they were. A
    trial's tier other than ``usual_tier`` (the policy's default) goes with
    its row, as its ``tier``, so a sweep on the dataset keeps it."""
    _check_expected(expected)
    found = reads.trials(store, _TRIAL_COLUMNS, where)
    if order:
        missing = sorted(set(order) - set(found["trial_id"]))
        if missing:
            raise NotFoundError(f"{len(missing)} of the trials given are not in this history, e.g. {missing[0]}")
        found = found.set_index("trial_id", drop=False).loc[list(dict.fromkeys(order))]
    if found.empty:
        raise DataError("no trials given; pick some with lab.trials(...) first")
    rows, trial_ids = [], []
    for trial in found.to_dict(orient="records"):
        row = dict(decode_json(trial["vars"]) or {})
        if isinstance(trial.get("tier"), str) and trial["tier"] != usual_tier:
            row["tier"] = trial["tier"]
        answer = trial.get(expected) if expected is not None else None
        if isinstance(answer, str):
            row["expected"] = answer
        rows.append(row)
        trial_ids.append(str(trial["trial_id"]))
    return [(row_hash(row), row, t) for row, t in zip(load_rows(rows), trial_ids, strict=True)]


# -- the log, replayed -----------------------------------------------------------------


def _replay(changes: pd.DataFrame) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(the change's line in ``versions``, the rows held after it by hash, in
    the order they were added) per change, in order. The rows dict is one
    object, changed as the log is replayed: copy it to keep it."""
    held: dict[str, Any] = {}
    with_rows = "row" in changes.columns
    for change_id, group in itertools.groupby(changes.to_dict(orient="records"), key=lambda r: r["change_id"]):
        rows = list(group)
        first, added, removed = rows[0], 0, 0
        for row in rows:
            key = str(row["row_hash"])
            if first["op"] == "add" and key not in held:
                held[key] = decode_json(row["row"]) if with_rows else None
                added += 1
            elif first["op"] == "remove" and key in held:
                del held[key]
                removed += 1
        line = {
            "version": version_of(held),
            "change_id": change_id,
            "op": first["op"],
            "user": first["user"],
            "created_at": first["created_at"],
            "n_rows": len(held),
            "added": added,
            "removed": removed,
            "note": first["note"],
        }
        yield line, held


def versions(store: Store, name: str) -> pd.DataFrame:
    """Each change of ``name`` with the version it made, oldest first
    (``VERSION_COLUMNS``: who, when, rows held, rows added and removed, note)."""
    changes = dataset_reads.dataset_changes(store, checked_name(name), rows=False)
    return pd.DataFrame([line for line, _ in _replay(changes)], columns=list(VERSION_COLUMNS))


def state(
    store: Store, name: str, version: str | None = None, *, rows: bool = True
) -> tuple[str | None, dict[str, Any]]:
    """``name``'s version and rows by hash, in the order added: at ``version``
    (a unique prefix is enough), or the latest (None: never changed)."""
    changes = dataset_reads.dataset_changes(store, checked_name(name), rows=rows)
    if version is None:
        found, now = None, {}
        for line, held in _replay(changes):
            found, now = line["version"], held
        return found, now
    matched: dict[str, dict[str, Any]] = {}
    for line, held in _replay(changes):
        if str(line["version"]).startswith(version):
            matched[line["version"]] = dict(held)  # the latest change to reach it: its order of rows
    if not matched:
        raise NotFoundError(f"dataset {name!r} has no version {version!r}; ds.versions() lists them")
    if len(matched) > 1:
        raise NotFoundError(f"{len(matched)} versions of dataset {name!r} start with {version!r}; give more characters")
    ((found, held),) = matched.items()
    return found, held


def rows_frame(held: Mapping[str, Any]) -> pd.DataFrame:
    """Rows as a DataFrame indexed by their hashes (``row_hash``), values as
    stored (object columns: 1 stays 1, not 1.0, so the rows hash the same when added again)."""
    index = pd.Index(list(held), name="row_hash", dtype=object)
    if not held:
        return pd.DataFrame(index=index)
    return pd.DataFrame(list(held.values()), index=index, dtype=object)


def resolve(store: Store, name: str, version: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """The rows of ``name`` at ``version`` (the latest when None), and how a
    run's config names them (``dataset:NAME@VERSION``)."""
    found, held = state(store, name, version)
    if found is None:
        raise NotFoundError(
            f"no dataset named {name!r}; lab.datasets() lists them, and lab.dataset({name!r}).add(rows) makes it"
        )
    if not held:
        raise DataError(f"dataset {name!r} holds no rows at version {found}; add some with ds.add(rows)")
    return [dict(row) for row in held.values()], reference(name, found)


def listing(store: Store) -> pd.DataFrame:
    """Every dataset, most recently changed first (``LISTING_COLUMNS``): its
    version, rows, how many changes, the last one's time and author."""
    changes = dataset_reads.dataset_changes(store, rows=False)
    lines = []
    for name, log in changes.groupby("dataset", sort=False):
        made = [line for line, _ in _replay(log)]
        if made:
            last = made[-1]
            lines.append([name, last["version"], last["n_rows"], len(made), last["created_at"], last["user"]])
    frame = pd.DataFrame(lines, columns=list(LISTING_COLUMNS))
    return frame.sort_values(["changed_at", "name"], ascending=[False, True], ignore_index=True)


# -- changing ----------------------------------------------------------------------


def change(
    store: Store, name: str, op: Literal["add", "remove"], entries: Sequence[Entry], note: str | None
) -> DatasetChange:
    """Add (or remove) rows in one change, written in one append: rows already
    there (not there, for a remove) and repeats are skipped and counted; when
    none is left nothing is written."""
    name = checked_name(name)
    if note is not None and not isinstance(note, str):
        raise ConfigError(f"note= takes text, not {type(note).__name__}")
    version, held = state(store, name, rows=op == "remove")
    chosen: list[Entry] = []
    seen: set[str] = set()
    for key, row, trial_id in entries:
        if key in seen or (key in held) == (op == "add"):
            continue
        seen.add(key)
        chosen.append((key, row if op == "add" else held[key], trial_id))
    if not chosen:
        return DatasetChange(name, op, None, 0, len(entries), version, len(held))
    change_id, start = new_id(), utcnow()
    user = store.identity or current_user()  # on a team server the server stamps its login anyway
    rows = [
        {
            "change_id": change_id,
            "dataset": name,
            "op": op,
            "row_hash": key,
            "row": row,
            "trial_id": trial_id,
            "note": note,
            "user": user,
            "tier": row.get("tier") if isinstance(row.get("tier"), str) else None,
            # a microsecond apart: the log keeps the order the rows were given
            "created_at": (start + timedelta(microseconds=i)).isoformat(),
        }
        for i, (key, row, trial_id) in enumerate(chosen)
    ]
    store.append({"dataset_changes": rows})
    store.fold_soon()
    after = set(held) | seen if op == "add" else set(held) - seen
    unchanged = len(entries) - len(chosen)
    return DatasetChange(name, op, change_id, len(chosen), unchanged, version_of(sorted(after)), len(after))
