"""Compaction (issue 13 item 5): the history rewritten without its free
blocks keeps every row, id, answer, label and hash; a failure at any step
leaves the file as it was; it waits for readers and gives up cleanly; and a
background fold compacts a file only when enough of it is free."""

from __future__ import annotations

import contextlib
import hashlib
import stat
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from support.history import held_by_another_program, query_file, running_until_released, settle, trial_row
from support.team_history import GREET, NAMES, TeamHistory, models

import promptlab as pl
from promptlab.core.files import EXITING
from promptlab.errors import HistoryWarning, StoreBusyError, StoreError
from promptlab.store import compaction, label_file
from promptlab.store.schema import TABLES
from promptlab.testing import fake_model

CATALOG = """
    SELECT 'table', table_name, sql FROM duckdb_tables()
    UNION ALL SELECT 'view', view_name, sql FROM duckdb_views() WHERE NOT internal
    UNION ALL SELECT 'index', index_name, sql FROM duckdb_indexes()
    UNION ALL SELECT 'constraint', table_name, constraint_text FROM duckdb_constraints()
    ORDER BY ALL
"""


def everything(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table and view of the file in full, as a plain DuckDB client reads it."""
    names = query_file(
        path, "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal"
    )
    found = {name: query_file(path, f'SELECT * FROM "{name}" ORDER BY ALL') for (name,) in names}
    found["catalog"] = query_file(path, CATALOG)
    assert {*TABLES, "schema_migrations", "trials_view", "labels"} <= found.keys()
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.compacting-*"))


def what_a_notebook_sees(lab: pl.Lab) -> dict[str, Any]:
    labels = query_file(lab.path, "SELECT name, label, version FROM labels ORDER BY ALL")
    loaded = [pl.load_prompt(name, label, db=lab.path) for name, label, _ in labels]
    return {
        "trials": lab.trials(kind=None),
        "runs": lab.runs(),
        "labels": labels,
        "loaded": [(p.name, p.version, p.messages) for p in loaded],
    }


def test_a_compacted_history_keeps_every_row_id_answer_and_label(team: TeamHistory) -> None:
    lab = team.lab()
    files, seen, before = everything(lab.path), what_a_notebook_sees(lab), lab.db_stats()
    searched = set(lab.trials(search="storm")["trial_id"])
    assert before.free_blocks > 0, "the team's history has blocks its folds left free"

    result = lab.compact()

    assert everything(lab.path) == files  # every table and view in full, and the same tables, keys and indexes
    now = what_a_notebook_sees(lab)
    for name in ("trials", "runs"):  # sums of costs may differ in their last bit: rows are summed in another order
        pd.testing.assert_frame_equal(now[name], seen[name], check_exact=False, obj=name)
    assert now["labels"] == seen["labels"] and now["loaded"] == seen["loaded"]
    assert lab.verify().ok, "the label log's hash chain still holds"
    assert result.before == before
    assert result.after.file_bytes < before.file_bytes and result.after.free_blocks == 0
    assert dict(result.after.rows) == dict(before.rows) and result.after.rows["trials"] == len(seen["trials"])
    assert leftovers(lab.path) == []
    assert f"{before.free_share:.0%} → 0%" in str(result)
    # the label file load_prompt reads is stamped with the new file, so it goes on answering without DuckDB
    assert label_file.current(lab.path, "summarize", "production") is not None
    assert set(lab.trials(search="storm")["trial_id"]) == searched and searched  # the search index came along


def test_a_compacted_history_takes_new_trials_and_answers_from_its_cache(team: TeamHistory) -> None:
    lab = team.lab()
    lab.compact()
    lab.store.append({"trials": [trial_row(trial_id="after-compaction", output="new")]})
    lab.fold()
    assert query_file(lab.path, "SELECT output FROM trials WHERE trial_id = 'after-compaction'") == [("new",)]
    again = lab.sweep(GREET, models()["echo"], NAMES, experiment="greetings", resume=False, display=None)
    assert len(again.df) == len(NAMES) and again.df["cached"].all()


def test_the_copy_keeps_the_files_duckdb_storage_version(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    maker = duckdb.connect()
    maker.execute(f"ATTACH '{path}' AS made (STORAGE_VERSION 'v1.5.0')")  # what DuckDB 1.5 writes
    maker.execute("CREATE TABLE made.scratch AS SELECT range AS i FROM range(10)")
    maker.execute("DROP TABLE made.scratch")
    maker.close()
    lab = pl.Lab(path)
    lab.store.append({"trials": [trial_row()]})

    lab.compact()

    version = query_file(path, "SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal")
    assert ("v1.5.0+",) in version
    assert len(lab.trials(kind=None)) == 1


def test_the_copy_keeps_the_files_permissions(lab: pl.Lab) -> None:
    lab.path.chmod(0o660)  # a team's file, writable by the group
    lab.compact()
    assert stat.S_IMODE(lab.path.stat().st_mode) == 0o660


def test_journal_rows_are_folded_before_the_file_is_copied(lab: pl.Lab) -> None:
    lab.store.append({"trials": [trial_row(trial_id="waiting", output="in the journal")]})
    assert lab.db_stats().pending_segments == 1

    result = lab.compact()

    assert result.before.pending_segments == 0 and result.after.rows["trials"] == 1
    assert query_file(lab.path, "SELECT output FROM trials WHERE trial_id = 'waiting'") == [("in the journal",)]


def _fail_copying(monkeypatch: pytest.MonkeyPatch) -> None:
    real = compaction._tables

    def and_one_more(con: duckdb.DuckDBPyConnection, alias: str) -> list[compaction.TableSpec]:
        tables = real(con, alias)  # a table the copy can't write, after the first ones are copied
        return [*tables[:3], ("no_such_table", ("x",), ("x",)), *tables[3:]]

    monkeypatch.setattr(compaction, "_tables", and_one_more)


def _fail_checking(monkeypatch: pytest.MonkeyPatch) -> None:
    real = compaction._checksums

    def one_row_short(
        con: duckdb.DuckDBPyConnection, alias: str, tables: list[compaction.TableSpec]
    ) -> compaction.Checksums:
        sums = real(con, alias, tables)
        if alias == "verified":  # the copy, read afresh
            sums["trials"] = (sums["trials"][0] - 1, *sums["trials"][1:])
        return sums

    monkeypatch.setattr(compaction, "_checksums", one_row_short)


def _fail_swapping(monkeypatch: pytest.MonkeyPatch) -> None:
    real = compaction.os.replace

    def refuse(source: Any, target: Any) -> None:
        if ".compacting-" in str(source):
            raise OSError(28, "No space left on device")
        real(source, target)

    monkeypatch.setattr(compaction.os, "replace", refuse)


def _fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compaction, "ROOM_TO_SPARE", 2**62)


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        (_fill_the_disk, "was not compacted: the copy needs about .* MB beside it .* and the disk has"),
        (_fail_copying, "(?s)was not compacted.*no_such_table.*the file is as it was"),
        (_fail_checking, r"was not compacted: the copy didn't match it \(table trials differs \(\d+ rows in the copy"),
        (_fail_swapping, "was not compacted .*No space left on device.*the file is as it was"),
    ],
    ids=["no-room", "copying", "checking", "swapping"],
)
def test_a_failure_mid_compaction_leaves_the_file_as_it_was(
    team: TeamHistory, monkeypatch: pytest.MonkeyPatch, fail: Any, message: str
) -> None:
    lab = team.lab()
    files, before = everything(lab.path), digest(lab.path)
    fail(monkeypatch)

    with pytest.raises(StoreError, match=message):
        lab.compact()

    assert digest(lab.path) == before and leftovers(lab.path) == []
    assert not compaction.wal_file(lab.path).exists()
    monkeypatch.undo()
    assert everything(lab.path) == files
    assert lab.compact().after.rows == lab.db_stats().rows  # and it compacts once the fault is gone


def test_the_leftovers_of_a_killed_compaction_are_removed(lab: pl.Lab) -> None:
    dead = lab.path.with_name(lab.path.name + ".compacting-0123456789ab")
    dead.write_bytes(b"half a copy")
    compaction.wal_file(dead).write_bytes(b"its log")
    lab.compact()
    assert leftovers(lab.path) == []


def test_a_file_with_objects_promptlab_didnt_make_is_not_compacted(lab: pl.Lab) -> None:
    lab.store.append({"trials": [trial_row()]})
    lab.fold()
    settle()
    con = duckdb.connect(str(lab.path))
    con.execute("CREATE MACRO shout(s) AS upper(s)")
    con.execute("CREATE TABLE notes AS SELECT 'keep me' AS note")
    con.close()
    before = digest(lab.path)

    with pytest.raises(StoreError, match=r"holds macro main\.shout, table main\.notes, which promptlab didn't make"):
        lab.compact()

    assert digest(lab.path) == before and leftovers(lab.path) == []


def test_a_view_redefined_outside_promptlab_gets_its_definition_back(team: TeamHistory) -> None:
    lab = team.lab()
    labels = query_file(lab.path, "SELECT * FROM labels ORDER BY ALL")
    con = duckdb.connect(str(lab.path))
    con.execute("CREATE OR REPLACE VIEW labels AS SELECT 'nothing to see' AS name")
    con.close()

    lab.compact()

    assert query_file(lab.path, "SELECT * FROM labels ORDER BY ALL") == labels


@contextlib.contextmanager
def reading_in_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another promptlab process in the middle of a read (it holds the shared lock) until the block ends."""
    code = (
        "import sys, promptlab as pl\n"
        f"lab = pl.Lab({str(path)!r})\n"
        "with lab.store.reading():\n"
        "    print('ready', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    with running_until_released(code) as reader:
        yield reader


def test_compaction_waits_for_a_reader_in_another_process_then_gives_up_cleanly(lab: pl.Lab) -> None:
    lab.store.append({"trials": [trial_row()]})
    lab.fold()
    settle()
    before = digest(lab.path)
    with reading_in_another_process(lab.path) as reader:
        started = time.monotonic()
        with pytest.raises(StoreBusyError):
            compaction.compact(lab.store, wait=0.5)
        assert time.monotonic() - started >= 0.5
        assert digest(lab.path) == before and leftovers(lab.path) == []

        assert reader.stdin is not None
        threading.Timer(0.5, reader.stdin.close).start()  # the reader finishes while compaction waits
        result = compaction.compact(lab.store, wait=30)
    assert result.after.rows["trials"] == 1


def test_compaction_gives_up_cleanly_while_another_program_holds_the_file(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "history.duckdb", busy_timeout=0.5)
    lab.store.append({"trials": [trial_row()]})
    lab.fold()
    before = digest(lab.path)
    with held_by_another_program(lab.path, read_only=True), pytest.raises(StoreBusyError):
        lab.compact()
    assert digest(lab.path) == before and leftovers(lab.path) == []


# -- automatically, after a background fold -----------------------------------------


@pytest.fixture
def compactions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads ``compact`` ran on (it still runs)."""
    threads: list[str] = []
    real = compaction.compact

    def spy(store: Any, **options: Any) -> compaction.Compaction:
        threads.append(threading.current_thread().name)
        return real(store, **options)

    monkeypatch.setattr(compaction, "compact", spy)
    return threads


def test_a_background_fold_compacts_a_file_with_enough_free(
    team: TeamHistory, monkeypatch: pytest.MonkeyPatch, compactions: list[str]
) -> None:
    lab = team.lab()
    before = lab.db_stats()
    assert before.free_share > 0.05
    # the fold below may reuse some free blocks (how many varies): any share left free is enough here
    monkeypatch.setattr(compaction, "AUTO_FREE_SHARE", 0.01)
    monkeypatch.setattr(compaction, "AUTO_FREE_BYTES", 1)

    lab.store.append({"trials": [trial_row()]})
    lab.store.fold_soon()
    settle()

    assert len(compactions) == 1 and compactions[0].startswith("promptlab-fold"), "on the fold worker"
    after = lab.db_stats()
    assert after.free_blocks == 0 and after.file_bytes < before.file_bytes
    assert after.rows["trials"] == before.rows["trials"] + 1


def test_a_sweep_is_never_kept_waiting_by_compaction(
    lab: pl.Lab, monkeypatch: pytest.MonkeyPatch, compactions: list[str]
) -> None:
    monkeypatch.setattr(compaction, "AUTO_FREE_SHARE", 0.0)
    monkeypatch.setattr(compaction, "AUTO_FREE_BYTES", 0)
    prompt = pl.Prompt("Echo {{ text }}", name="echo")
    run = lab.sweep(prompt, fake_model("echo"), [{"text": str(i)} for i in range(20)], display=None)
    settle()
    assert compactions and all(name.startswith("promptlab-fold") for name in compactions)
    assert run.status == "done" and len(run.df) == 20


def test_a_small_free_share_is_left_alone(team: TeamHistory, compactions: list[str]) -> None:
    lab = team.lab()
    assert lab.db_stats().free_share < compaction.AUTO_FREE_SHARE
    before = lab.path.stat().st_ino
    lab.store.append({"trials": [trial_row()]})
    lab.store.fold_soon()
    settle()
    assert compactions == [] and lab.path.stat().st_ino == before


def test_no_automatic_compaction_while_rows_wait_or_at_exit(
    lab: pl.Lab, monkeypatch: pytest.MonkeyPatch, compactions: list[str]
) -> None:
    monkeypatch.setattr(compaction, "AUTO_FREE_SHARE", 0.0)
    monkeypatch.setattr(compaction, "AUTO_FREE_BYTES", 0)
    lab.store.append({"trials": [trial_row()]}, seal=False)  # a sweep still writing
    assert compaction.compact_when_worth_it(lab.store) is None
    lab.fold()
    EXITING.set()
    try:
        assert compaction.compact_when_worth_it(lab.store) is None
    finally:
        EXITING.clear()
    assert compactions == []
    assert compaction.compact_when_worth_it(lab.store) is not None


def test_a_large_copy_is_left_to_a_person_and_suggested_once(
    team: TeamHistory, monkeypatch: pytest.MonkeyPatch, compactions: list[str]
) -> None:
    lab = team.lab()
    monkeypatch.setattr(compaction, "AUTO_FREE_SHARE", 0.0)
    monkeypatch.setattr(compaction, "AUTO_FREE_BYTES", 0)
    monkeypatch.setattr(compaction, "AUTO_MAX_COPY_BYTES", 1024)
    monkeypatch.setattr(compaction, "_SUGGESTED", set())
    suggestion = r"\d+% of .* is free \(.* MB\): `promptlab db compact` gives it back. It holds the file for about"
    with pytest.warns(HistoryWarning, match=suggestion):
        assert compaction.compact_when_worth_it(lab.store) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compaction.compact_when_worth_it(lab.store) is None  # said once
    assert compactions == []


def test_an_automatic_compaction_that_fails_is_a_warning(
    lab: pl.Lab, monkeypatch: pytest.MonkeyPatch, compactions: list[str]
) -> None:
    monkeypatch.setattr(compaction, "AUTO_FREE_SHARE", 0.0)
    monkeypatch.setattr(compaction, "AUTO_FREE_BYTES", 0)
    settle()
    con = duckdb.connect(str(lab.path))
    con.execute("CREATE MACRO shout(s) AS upper(s)")
    con.close()
    with pytest.warns(HistoryWarning, match="compacted automatically .*macro main.shout.*it works as it is"):
        assert compaction.compact_when_worth_it(lab.store) is None
    assert len(compactions) == 1 and leftovers(lab.path) == []
