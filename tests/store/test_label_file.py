"""The label file a fold keeps beside a history (``promptlab.store.label_file``):
it says what the history says, for every label of a team's history, events
written outside promptlab included; it is as private as the history; it is
not written for a file altered outside promptlab; and its stamp changes with
the file or its WAL."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support.history import settle
from support.team_history import TeamHistory

import promptlab as pl
from promptlab.core.hashing import new_id
from promptlab.errors import DamagedStoreError, NotFoundError
from promptlab.store import Store, label_file, location, prompt_reads


def edit_file(path: Path, sql: str, params: Sequence[Any] | None = None) -> None:
    """Change the history with a plain read-write DuckDB connection, as anyone could."""
    con = duckdb.connect(str(path))
    try:
        con.execute(sql, params)
    finally:
        con.close()


def unchained_event(path: Path, name: str, label: str, to_version: str, created_at: str) -> None:
    """A label event without ``seq`` or ``hash`` (written before the chain, or by hand)."""
    edit_file(
        path,
        "INSERT INTO label_events (event_id, name, label, action, to_version, created_at) "
        "VALUES (?, ?, ?, 'promote', ?, ?)",
        [new_id(), name, label, to_version, created_at],
    )


def folded(lab: pl.Lab) -> None:
    """Give the fold something to do (a prompt nobody labelled), and let it run."""
    lab.store.append({"prompts": [{"name": "unlabelled", "version": new_id()[:12], "template": "hi"}]})
    lab.fold()
    settle()


def test_the_label_file_says_what_the_history_says(team: TeamHistory) -> None:
    summarize, classify = team.versions["summarize"], team.versions["classify"]
    # Unchained events never outrank chained ones, whatever their date; among
    # themselves the newest wins. A version may be named by a prefix (of one
    # version or of several), or not exist.
    unchained_event(team.path, "summarize", "production", summarize[2], "2999-01-01 00:00:00")
    unchained_event(team.path, "classify", "canary", classify[0], "2026-01-01 00:00:00")
    unchained_event(team.path, "classify", "canary", classify[1], "2026-01-02 00:00:00")
    unchained_event(team.path, "summarize", "short", summarize[0][:5], "2026-01-01 00:00:00")
    unchained_event(team.path, "summarize", "vague", "", "2026-01-01 00:00:00")
    unchained_event(team.path, "greet", "gone", "0" * 12, "2026-01-01 00:00:00")
    folded(team.lab())

    store = Store(team.path, read_only=True)
    labels = prompt_reads.labels(store)
    assert len(labels) >= 6
    for row in labels.to_dict("records"):
        entry = label_file.current(team.path, row["name"], row["label"])
        try:
            stored = prompt_reads.prompt_template(store, row["name"], row["version"])
        except NotFoundError:
            assert entry is None, "the history has no row for it: it tells the caller why"
            continue
        assert entry == label_file.LabelEntry(
            name=row["name"],
            label=row["label"],
            version=row["version"],
            stored_version=stored["version"],
            template=stored["template"],
            model=row["model"] if isinstance(row["model"], str) else None,  # pandas reads NULL as NaN here
        )
    assert label_file.current(team.path, "classify", "canary").version == classify[1]  # type: ignore[union-attr]
    assert label_file.current(team.path, "summarize", "short").stored_version == summarize[0]  # type: ignore[union-attr]


def test_a_fold_keeps_the_label_file_as_private_as_the_history(team: TeamHistory) -> None:
    os.chmod(team.path, 0o600)
    folded(team.lab())

    written = location.label_file(team.path)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    entries = json.loads(written.read_text(encoding="utf-8"))["labels"]
    assert ("summarize", "production") in {(e["name"], e["label"]) for e in entries}


def test_no_label_file_for_a_history_altered_outside_promptlab(team: TeamHistory) -> None:
    lab = team.lab()  # opened (and checked) before someone alters the file
    assert location.label_file(team.path).exists()
    edit_file(team.path, "ALTER TABLE label_events ADD COLUMN planted VARCHAR")

    folded(lab)

    assert not location.label_file(team.path).exists(), "reads refuse the file, saying why"
    with pytest.raises(DamagedStoreError, match="altered outside promptlab"):
        pl.load_prompt("summarize", db=team.path)


@pytest.mark.parametrize("where", ["history", "wal"])
def test_the_stamp_changes_when_the_history_does(team: TeamHistory, where: str) -> None:
    before = label_file.stamp(team.path)
    con = duckdb.connect(str(team.path))
    try:
        con.execute("SET checkpoint_threshold = '1GB'")  # the change stays in the WAL
        con.execute("UPDATE label_events SET note = 'edited' WHERE label = 'staging'")
        if where == "history":
            con.execute("CHECKPOINT")
        in_wal = label_file.stamp(team.path)
    finally:
        con.close()

    assert before is not None and in_wal is not None
    assert in_wal != before
    assert label_file.stamp(team.path) != before
