"""An erasure's rows: which it takes and how, in SQL both stores speak.

The file (``erasure.py``) and the team server (``server/erasure.py``) run
the same statements through a small ``Sql`` adapter (placeholders, table
names, the JSON type), so the two can't drift apart on what is erased.

Rows selected (an end user, trial ids, or a prune) go with what hangs off
them: the trials, the trials the cache answered from them (a copy of the
same text), the judge trials that graded them (and so on, until nothing
is added), their scores (and scores a deleted judge trial gave), their
feedback (also feedback that names them by the app's own id, and for an
end user every verdict they gave), and dataset rows made from them (with
the other changes of the same row in that dataset: a removal holds the
row's content too). Runs, prompts, models, experiments and the label log
stay.

A value is scrubbed from the columns in ``SCRUBBED``, row by row in Python
(``erasable.Erasable``), so JSON stays valid; the rows stay. The rows are
found by ``lower()`` in SQL, so "any case" is as the database lowercases
(DuckDB: Unicode; a PostgreSQL database whose ctype is ``C``: ASCII only). A trial
changed loses its ``cache_key``: the cache would otherwise serve its
scrubbed output to a later sweep. Afterwards ``leftovers`` reads every
text and JSON column of every table for the value, so a copy left where
erasure doesn't reach (a prompt template, a label move's note) is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from promptlab.store.erasable import Erasable, Erased, Selection
from promptlab.store.journal_erasure import LineMatcher
from promptlab.store.schema import TABLES

Reindex = Callable[[Sequence[tuple[str, str | None, str | None]], Sequence[str]], None]
"""Takes trials out of a search index and adds the first ones back as they now are."""

SCRUBBED: dict[str, tuple[str, ...]] = {
    "trials": (
        "vars",
        "messages",
        "output",
        "error",
        "response",
        "params",
        "metadata",
        "end_user",
        "external_id",
        "session_id",
    ),
    "feedback": ("correction", "comment", "end_user", "external_id"),
    "scores": ("explanation", "error", "label", "args"),
    "dataset_changes": ("row", "note"),
    "runs": ("config", "error"),
}
"""The columns a value is scrubbed from, per table: everything a person's data
can reach (inputs, what was sent and answered, errors, verdicts, test sets,
a run's recorded config), not ids, names or who ran what."""

DELETED = ("scores", "feedback", "dataset_changes", "trials")
"""The tables rows are deleted from, in the order they are deleted."""


class Sql(Protocol):
    """One store's way of running the statements here (inside its transaction)."""

    json_type: str
    """The JSON column type to cast text to (``JSON``, ``jsonb``)."""

    def table(self, name: str) -> str:
        """``name`` qualified, as this store's SQL names it."""

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query written with ``?`` placeholders; its rows."""

    def run_many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per parameter row."""


@dataclass(frozen=True)
class Targets:
    """The rows a selection takes."""

    trials: tuple[str, ...]
    """Every trial taken, with its copies and judges."""

    external_ids: tuple[str, ...]
    """The app's own ids of those trials (feedback may name a trial by one)."""

    end_user: str | None
    """The end user whose verdicts go too."""


def _in(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    """``column`` among ``values`` (never an empty list: PostgreSQL can't type one)."""
    return (f"{column} IN (SELECT unnest(?))", [list(values)]) if values else ("FALSE", [])


def _ids(sql: Sql, text: str, params: Sequence[Any]) -> set[str]:
    return {str(row[0]) for row in sql.rows(text, params) if row[0] is not None}


def find_targets(sql: Sql, selection: Selection) -> tuple[Targets, dict[str, int]]:
    """The rows ``selection`` takes, and (a prune) its trials per tier."""
    trials, by_tier = sql.table("trials"), {}
    if selection.trial_ids:
        where, params = _in("trial_id", selection.trial_ids)
        found = _ids(sql, f"SELECT trial_id FROM {trials} WHERE {where}", params)
    elif selection.end_user is not None:
        found = _ids(sql, f"SELECT trial_id FROM {trials} WHERE end_user = ?", [selection.end_user])
    else:
        found = set()
        for tier, before in sorted(selection.retention.items()):
            aged = _ids(
                sql,
                f"SELECT trial_id FROM {trials} WHERE kind = 'production' AND coalesce(tier, ?) = ? AND created_at < ?",
                [selection.default_tier, tier, before],
            )
            by_tier[tier] = len(aged)
            found |= aged
    frontier = set(found)
    while frontier:  # copies the cache made of them, and the judges' trials that graded them
        copies, copy_params = _in("cached_from", sorted(frontier))
        graded, graded_params = _in("trial_id", sorted(frontier))
        added = _ids(sql, f"SELECT trial_id FROM {trials} WHERE {copies}", copy_params)
        added |= _ids(
            sql,
            f"SELECT judge_trial_id FROM {sql.table('scores')} WHERE {graded} AND judge_trial_id IS NOT NULL",
            graded_params,
        )
        frontier = added - found
        found |= frontier
    where, params = _in("trial_id", sorted(found))
    external = _ids(sql, f"SELECT external_id FROM {trials} WHERE {where} AND external_id IS NOT NULL", params)
    return Targets(tuple(sorted(found)), tuple(sorted(external)), selection.end_user), by_tier


def conditions(sql: Sql, targets: Targets) -> dict[str, tuple[str, list[Any]]]:
    """Per table in ``DELETED``, the WHERE condition (and its parameters) of the rows taken."""
    ids = targets.trials
    trial, trial_params = _in("trial_id", ids)
    judge, judge_params = _in("judge_trial_id", ids)
    named, named_params = _in("external_id", targets.external_ids)
    feedback = [f"({trial})", f"(trial_id IS NULL AND {named})"]
    feedback_params = [*trial_params, *named_params]
    if targets.end_user is not None:
        feedback.append("end_user = ?")
        feedback_params.append(targets.end_user)
    same_row = "dataset || chr(31) || row_hash"  # the changes of one row in one dataset
    return {
        "scores": (f"{trial} OR {judge}", [*trial_params, *judge_params]),
        "feedback": (" OR ".join(feedback), feedback_params),
        "dataset_changes": (
            f"{same_row} IN (SELECT {same_row} FROM {sql.table('dataset_changes')} WHERE {trial})",
            trial_params,
        ),
        "trials": (trial, trial_params),
    }


def count(sql: Sql, targets: Targets) -> dict[str, int]:
    """Rows taken, per table."""
    return {
        table: int(sql.rows(f"SELECT count(*) FROM {sql.table(table)} WHERE {where}", params)[0][0])
        for table, (where, params) in conditions(sql, targets).items()
    }


def delete(sql: Sql, targets: Targets) -> None:
    """Delete the rows taken (inside the caller's transaction)."""
    for table, (where, params) in conditions(sql, targets).items():
        sql.run_many(f"DELETE FROM {sql.table(table)} WHERE {where}", [params])


def _holding(columns: Sequence[str], erasable: Erasable) -> tuple[str, list[Any]]:
    """A condition: any of ``columns`` holds any form of the value, in any case."""
    tests = [f'strpos(lower(CAST("{c}" AS VARCHAR)), lower(?)) > 0' for c in columns for _ in erasable.forms]
    return " OR ".join(tests), [form for _ in columns for form in erasable.forms]


def scrub_value(sql: Sql, erasable: Erasable) -> tuple[dict[str, int], list[tuple[str, str | None, str | None]]]:
    """Scrub the value from ``SCRUBBED``; rows changed per table, and each
    changed trial's (id, inputs' JSON, output) as they now are."""
    changed: dict[str, int] = {}
    trials: list[tuple[str, str | None, str | None]] = []
    for name, columns in SCRUBBED.items():
        spec = TABLES[name]
        types, key = dict(spec.columns), list(spec.key)
        listed = ", ".join(f'"{c}"' for c in (*key, *columns))
        where, params = _holding(columns, erasable)
        found = sql.rows(f"SELECT {listed} FROM {sql.table(name)} WHERE {where}", params)
        updates: dict[str, list[list[Any]]] = {}
        touched = 0
        for row in found:
            keys, values = list(row[: len(key)]), dict(zip(columns, row[len(key) :], strict=True))
            before = dict(values)
            for column, old in before.items():
                if old is None:
                    continue
                new = erasable.json(str(old)) if types[column] == "JSON" else erasable.text(str(old))
                if new != old:
                    values[column] = new
                    updates.setdefault(column, []).append([new, *keys])
            if values != before:
                touched += 1
                if name == "trials":
                    trials.append((str(keys[0]), values["vars"], values["output"]))
        match = " AND ".join(f'"{k}" = ?' for k in key)
        for column, rows in updates.items():
            value = f"CAST(? AS {sql.json_type})" if types[column] == "JSON" else "?"
            sql.run_many(f'UPDATE {sql.table(name)} SET "{column}" = {value} WHERE {match}', rows)
        changed[name] = touched
    if trials:  # never served from the cache again
        where, params = _in("trial_id", [trial_id for trial_id, _, _ in trials])
        sql.run_many(f"UPDATE {sql.table('trials')} SET cache_key = NULL WHERE {where}", [params])
    return changed, trials


def leftovers(sql: Sql, erasable: Erasable | None, end_user: str | None = None) -> dict[str, int]:
    """``table.column``: rows still holding the value (or the end user's id, as end user)."""
    found: dict[str, int] = {}
    for name, spec in TABLES.items():
        if erasable is not None:
            columns = [column for column, kind in spec.columns if kind in ("VARCHAR", "JSON")]
            tests = [_holding([column], erasable) for column in columns]
        elif end_user is not None and "end_user" in spec.column_names:
            columns, tests = ["end_user"], [("end_user = ?", [end_user])]
        else:
            continue
        counts = ", ".join(f"count(*) FILTER (WHERE {where})" for where, _ in tests)
        (row,) = sql.rows(f"SELECT {counts} FROM {sql.table(name)}", [p for _, params in tests for p in params])
        found.update({f"{name}.{column}": int(n) for column, n in zip(columns, row, strict=True) if n})
    return found


def take(
    sql: Sql,
    selection: Selection,
    *,
    dry_run: bool,
    refuse_live: Callable[[LineMatcher], None],
    reindex: Reindex | None = None,
) -> tuple[Erased, LineMatcher]:
    """Erase what ``selection`` takes (in the caller's transaction), after
    ``refuse_live`` has checked no live journal segment holds any of it; what
    was done, and the matcher of journal lines that hold it."""
    if selection.value is not None:
        if dry_run:
            raise ValueError("a dry run counts the rows an erasure deletes; a value's is not one")
        erasable = Erasable(selection.value)
        matcher = LineMatcher(erasable)
        refuse_live(matcher)
        changed, trials = scrub_value(sql, erasable)
        if reindex is not None:
            reindex(trials, ())
        return Erased(changed=changed, remaining=leftovers(sql, erasable)), matcher
    targets, by_tier = find_targets(sql, selection)
    ids = {*targets.trials, *selection.trial_ids}  # those in the journal only, too
    matcher = LineMatcher(trial_ids=ids, external_ids=targets.external_ids, end_user=selection.end_user)
    if not dry_run:
        refuse_live(matcher)
    deleted = count(sql, targets)
    if not dry_run:
        if reindex is not None:
            reindex((), targets.trials)
        delete(sql, targets)
    return Erased(deleted=deleted, by_tier=by_tier, remaining=leftovers(sql, None, selection.end_user)), matcher
