"""The history store: schema and migrations, refusing files that aren't ours,
durability through the journal, orphaned segments, other programs holding
the file, and a multi-process soak that counts every acknowledged row."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from support.history import held_by_another_program, settle, trial_row

import promptlab as pl
from promptlab.errors import (
    DamagedStoreError,
    NewerSchemaError,
    NotADatabaseError,
    StoreBusyError,
    StoreError,
    StoreLocationError,
)
from promptlab.runner.progress import NullDisplay
from promptlab.store import migrations
from promptlab.store.schema import DERIVED, TABLES
from promptlab.testing import fake_model

PROMPT = pl.Prompt("Echo {{ text }}", name="echo")

TRIALS_VIEW_COLUMNS = [
    "trial_id",
    "run_id",
    "experiment",
    "prompt_name",
    "prompt_version",
    "model",
    "params",
    "vars",
    "messages",
    "output",
    "error_type",
    "error",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "spent_usd",
    "cached",
    "repeat",
    "finish_reason",
    "created_at",
    "user",
    "host",
    "source",
    "git_commit",
    "run_status",
    "prompt_template",
    "kind",
    "truncated",
    "label",
    "external_id",
    "end_user",
    "session_id",
    "metadata",
    "tier",
    "retriever",
    "retrieval",
]


@contextlib.contextmanager
def plain_connection(path: Path, *, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """The file as any DuckDB client sees it (after promptlab's background folds)."""
    settle()
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def count_in_file(path: Path, table: str = "trials") -> int:
    with plain_connection(path) as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def journal_files(path: Path) -> list[Path]:
    root = path.with_name(path.name + ".journal")
    return sorted(p for p in root.rglob("*") if p.is_file())


def schema_migrations_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")


# -- schema and migrations -----------------------------------------------------------


def test_blank_file_gets_exactly_the_declared_schema(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    pl.Lab(path).fold()
    with plain_connection(path) as con:
        tables = {
            name
            for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
        }
        assert tables == set(TABLES) | set(DERIVED) | {"schema_migrations"}
        declared = {**{name: table.columns for name, table in TABLES.items()}, **DERIVED}
        for name, columns in declared.items():
            found = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
                [name],
            ).fetchall()
            assert found == list(columns), name
        for name, table in TABLES.items():
            keys = con.execute(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
                [name],
            ).fetchall()
            assert [tuple(k) for (k,) in keys] == [table.key], name
        applied = con.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").fetchall()
        assert [(v, n) for v, n, _ in applied] == [(i + 1, m.__name__) for i, m in enumerate(migrations.MIGRATIONS)]
        assert all(when is not None for _, _, when in applied)
        view = con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'trials_view' ORDER BY column_index"
        ).fetchall()
        assert [c for (c,) in view] == TRIALS_VIEW_COLUMNS
        for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
            con.execute(f"SELECT * FROM {name} LIMIT 0")  # every documented view is queryable


def test_trials_view_reads_a_recorded_trial(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path)
    lab.sweep(PROMPT, fake_model("echo"), [{"text": "hi"}], display=NullDisplay())
    lab.fold()
    with plain_connection(path) as con:
        rows = con.execute("SELECT output, run_status, spent_usd, prompt_template FROM trials_view").fetchall()
    assert rows == [("Echo hi", "done", 0.0, '"Echo {{ text }}"')]


def test_blank_duckdb_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "made-by-duckdb.duckdb"
    duckdb.connect(str(path)).close()
    lab = pl.Lab(path)
    assert lab.trials().empty
    with plain_connection(path) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (migrations.LATEST,)


def test_file_from_schema_1_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    schema_migrations_table(con)
    migrations.MIGRATIONS[0](con)  # exactly what promptlab 1 wrote
    con.execute("INSERT INTO schema_migrations VALUES (1, 'm001_initial', now())")
    old = trial_row(output="from the old days")
    for newer in (
        "kind",
        "truncated",
        "label",
        "external_id",
        "end_user",
        "session_id",
        "metadata",
        "tier",
        "retriever",
        "retrieval",
    ):
        del old[newer]  # schema 1 had none of these
    columns = ", ".join(f'"{c}"' for c in old)
    con.execute(
        f"INSERT INTO trials ({columns}) VALUES ({', '.join('?' for _ in old)})",
        [v if not isinstance(v, (dict, list)) else str(v).replace("'", '"') for v in old.values()],
    )
    con.close()

    lab = pl.Lab(path)
    trials = lab.trials()
    assert list(trials["output"]) == ["from the old days"]
    assert lab.trial(old["trial_id"])["kind"] == "sweep"
    lab.sweep(PROMPT, fake_model("echo"), [{"text": "new"}], display=NullDisplay())
    assert sorted(lab.trials()["output"]) == ["Echo new", "from the old days"]
    with plain_connection(path) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (migrations.LATEST,)


@pytest.mark.parametrize("with_row", [False, True])
def test_file_with_only_schema_migrations_at_version_0_is_migrated(tmp_path: Path, with_row: bool) -> None:
    path = tmp_path / "half-made.duckdb"
    con = duckdb.connect(str(path))
    schema_migrations_table(con)  # migrate() creates this outside the first migration's transaction
    if with_row:
        con.execute("INSERT INTO schema_migrations VALUES (0, 'baseline', now())")
    con.close()
    lab = pl.Lab(path)
    assert lab.trials().empty
    with plain_connection(path) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (migrations.LATEST,)


def test_file_from_a_newer_promptlab_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    con = duckdb.connect(str(path))
    schema_migrations_table(con)
    con.execute("INSERT INTO schema_migrations VALUES (?, 'from_the_future', now())", [migrations.LATEST + 1])
    con.close()
    with pytest.raises(NewerSchemaError, match="pip install -U promptlab"):
        pl.Lab(path)
    with plain_connection(path) as con:
        assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("schema_migrations",)]


@pytest.mark.parametrize("content", [b"hello world\n" * 500, b"hi"])
def test_a_file_that_is_not_duckdb_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_bytes(content)
    with pytest.raises(NotADatabaseError, match="not a DuckDB database"):
        pl.Lab(path)
    assert path.read_bytes() == content


def test_an_empty_file_is_called_damaged_not_foreign(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    path.write_bytes(b"")
    with pytest.raises(DamagedStoreError, match=r"empty \(0 bytes\).*truncated or damaged"):
        pl.Lab(path)
    with pytest.raises(DamagedStoreError, match="empty"):
        pl.load_prompt("x", db=path)
    assert path.read_bytes() == b""


def test_a_duckdb_file_of_something_else_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
    con.execute("INSERT INTO customers VALUES (1, 'Ana')")
    con.close()
    with pytest.raises(NotADatabaseError, match="something else"):
        pl.Lab(path)
    with plain_connection(path) as con:
        assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("customers",)]
        assert con.execute("SELECT * FROM customers").fetchall() == [(1, "Ana")]


def test_a_sqlite_file_is_refused_as_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(NotADatabaseError):
        pl.Lab(path)


def test_a_folder_is_not_a_database_path(tmp_path: Path) -> None:
    with pytest.raises(StoreLocationError, match="is a folder"):
        pl.Lab(tmp_path)


def unwritable_location(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes through any mode bits; sysfs refuses new entries even to root
        return Path("/sys/promptlab-test/history.duckdb")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "history.duckdb"


def test_unwritable_location_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreLocationError) as info:
        pl.Lab(unwritable_location(tmp_path), mkdir=True)
    assert "folder you can write to" in str(info.value)
    assert "PROMPTLAB_DB" in str(info.value)


def test_uncreatable_location_says_what_to_do() -> None:
    with pytest.raises(StoreLocationError) as info:
        pl.Lab("/proc/promptlab-test/history.duckdb", mkdir=True)  # can't be created, by anyone
    assert "folder you can write to" in str(info.value)
    with pytest.raises(StoreLocationError, match="does not exist; create it first"):
        pl.Lab("/proc/promptlab-test/history.duckdb")


# -- durability: the journal and the fold ------------------------------------------------


def test_appended_rows_are_readable_before_any_fold_and_in_the_file_after(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path)
    rows = [trial_row(output=f"row {i}") for i in range(3)]
    lab.store.append({"trials": rows[:2]}, seal=False)  # a sweep streams like this
    lab.store.append({"trials": rows[2:]})
    assert sorted(lab.trials()["output"]) == ["row 0", "row 1", "row 2"]  # journal ∪ table
    assert journal_files(path)
    assert count_in_file(path) == 0  # not folded yet: only in the journal

    assert lab.fold() >= 1
    with plain_connection(path) as con:
        stored = con.execute("SELECT trial_id, output FROM trials ORDER BY output").fetchall()
    assert stored == [(r["trial_id"], r["output"]) for r in rows]
    assert journal_files(path) == []
    assert sorted(lab.trials()["output"]) == ["row 0", "row 1", "row 2"]  # no duplicates either side


def test_a_sweep_reaches_the_file_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path)
    run = lab.sweep(PROMPT, fake_model("echo"), [{"text": str(i)} for i in range(5)], display=NullDisplay())
    settle()  # the background fold a sweep schedules when it ends
    with plain_connection(path) as con:
        assert con.execute("SELECT count(*) FROM trials WHERE run_id = ?", [run.run_id]).fetchone() == (5,)
        assert con.execute("SELECT status FROM runs").fetchall() == [("done",)]
        assert con.execute("SELECT count(*) FROM prompts").fetchone() == (1,)
    assert journal_files(path) == []


def test_folding_the_same_segment_twice_adds_nothing(tmp_path: Path) -> None:
    # A fold that committed but died before deleting its segments re-applies them next time.
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path)
    rows = [trial_row(output=f"row {i}") for i in range(3)]
    lab.store.append({"trials": rows})
    [segment] = [p for p in journal_files(path) if p.parent.name == "trials"]
    copy = segment.read_bytes()
    lab.fold()
    segment.write_bytes(copy)
    assert len(lab.trials()) == 3
    lab.fold()
    assert count_in_file(path) == 3
    assert journal_files(path) == []


def test_the_newest_run_state_wins(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path)
    run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "x"}], display=NullDisplay())
    lab.fold()
    assert lab.run_info(run.run_id)["status"] == "done"
    with plain_connection(path) as con:
        assert con.execute("SELECT count(*), any_value(status) FROM runs").fetchone() == (1, "done")


def test_orphaned_segment_is_adopted_without_its_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path)
    complete = [trial_row(output="first"), trial_row(output="second")]
    torn = trial_row(output="never acknowledged")
    lines = [__import__("json").dumps(row) + "\n" for row in [*complete, torn]]
    # A writer killed mid-write: two whole lines and half of a third, no lock held.
    orphan = (
        path.with_name(path.name + ".journal") / "trials" / f"{time.time_ns():020d}-deadbeef-999999-00000000.jsonl.open"
    )
    orphan.write_text(lines[0] + lines[1] + lines[2][: len(lines[2]) // 2])

    assert sorted(lab.trials()["output"]) == ["first", "second"]  # readers skip the torn tail
    assert lab.fold() >= 1
    with plain_connection(path) as con:
        stored = con.execute("SELECT trial_id FROM trials ORDER BY output").fetchall()
    assert stored == [(complete[0]["trial_id"],), (complete[1]["trial_id"],)]
    assert journal_files(path) == []


def test_a_live_writers_open_segment_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    writer = pl.Lab(path)
    writer.store.append({"trials": [trial_row(output="streaming")]}, seal=False)
    [segment] = [p for p in journal_files(path) if p.parent.name == "trials"]
    code = f"import promptlab as pl; print(pl.Lab({str(path)!r}).fold())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert other.stdout.strip() == "0"  # another process's fold must not take a segment still being written
    assert segment.exists()
    assert list(writer.trials()["output"]) == ["streaming"]


# -- other programs holding the file ------------------------------------------------------


def test_readers_give_up_with_store_busy_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path, busy_timeout=0.5)
    with held_by_another_program(path, read_only=False):
        began = time.monotonic()
        with pytest.raises(StoreBusyError) as info:
            lab.trials()
        waited = time.monotonic() - began
    assert waited >= 0.5  # it waited for the other program before giving up
    assert "close that program's connection" in str(info.value)
    assert "journal" in str(info.value)


def test_journaled_rows_wait_out_a_program_holding_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path, busy_timeout=0.5)
    rows = [trial_row(output=f"row {i}") for i in range(3)]
    with held_by_another_program(path, read_only=False):
        lab.store.append({"trials": rows})  # writers never open the file: no wait, no error
        assert lab.fold() == 0  # the file is held: the rows stay in the journal
    assert lab.fold() >= 1
    assert count_in_file(path) == 3
    assert sorted(lab.trials()["output"]) == ["row 0", "row 1", "row 2"]


def test_a_sweep_records_while_a_teammate_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path, busy_timeout=1.0)
    with held_by_another_program(path, read_only=True):
        run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}, {"text": "b"}], display=NullDisplay())
    settle()
    lab.fold()
    assert count_in_file(path) == 2
    assert run.status == "done"


def test_a_sweep_records_while_another_program_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path, busy_timeout=0.5)
    with held_by_another_program(path, read_only=False):
        run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}, {"text": "b"}], display=NullDisplay())
    lab.fold()
    assert count_in_file(path) == 2
    assert run.status == "done"


def test_opening_a_lab_while_a_teammate_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    pl.Lab(path)
    with held_by_another_program(path, read_only=True):
        lab = pl.Lab(path, busy_timeout=0.5)
        run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}], display=NullDisplay())
    assert len(run.df) == 1


def test_reads_keep_working_while_a_teammate_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path, busy_timeout=0.5)
    with held_by_another_program(path, read_only=True):
        lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}], display=NullDisplay())
        # Read the way a notebook does, for a little longer than the sweep's background fold tries.
        for _ in range(20):
            assert len(lab.trials()) == 1
            time.sleep(0.05)  # pacing between reads, not a measurement


def test_fold_with_a_plain_connection_open_in_this_process(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path, busy_timeout=1.0)
    lab.store.append({"trials": [trial_row(output="kept")]})
    with plain_connection(path):  # a notebook cell that opened the file with duckdb directly
        try:
            folded = lab.fold()
        except StoreError:
            folded = 0
        assert folded == 0
        assert list(lab.trials()["output"]) == ["kept"]
    assert lab.fold() >= 1


def test_a_reader_survives_another_writer_sealing_its_segment(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    reader, writer = pl.Lab(path), pl.Lab(path)  # two sessions on one file
    writer.store.append({"trials": [trial_row(output="streamed")]}, seal=False)
    with reader.store.reading() as session:
        # The views listed the writer's open segment; the writer now seals it (a rename),
        # as every sweep does when it ends, at any moment and without a lock.
        writer.store.journal.seal()
        frame = session.query("SELECT output FROM trials")
        assert list(frame["output"]) == ["streamed"]
        writer.store.append({"trials": [trial_row(output="more")]}, seal=False)
        writer.store.journal.seal()  # sealed again before this session ever saw it
        assert list(session.query("SELECT output FROM trials")["output"]) == ["streamed"]
    assert sorted(reader.trials()["output"]) == ["more", "streamed"]


# -- many processes at once ----------------------------------------------------------------

WRITER = """
import sys, traceback
import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

path, name, sweeps, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lab = pl.Lab(path)
prompt = pl.Prompt("Echo {{ text }}", name="soak")
for s in range(sweeps):
    data = [{"text": f"{name}-{s}-{r}"} for r in range(rows)]
    try:
        run = lab.sweep(prompt, fake_model("echo"), data, experiment=name, resume=False, display=NullDisplay())
    except Exception:
        traceback.print_exc()
        print("FAILED", s, flush=True)
        continue
    print("ACK", run.run_id, rows, flush=True)
"""

READER = """
import os, sys, traceback
import promptlab as pl

path, stop = sys.argv[1], sys.argv[2]
lab = pl.Lab(path)
last = reads = 0
while not os.path.exists(stop):
    try:
        n = len(lab.trials())
    except Exception:
        traceback.print_exc()
        continue
    reads += 1
    if n < last:
        print("SHRANK", last, n, flush=True)
    last = max(last, n)
print("READS", reads, flush=True)
"""

WRITERS, SWEEPS, ROWS = 4, 15, 4


@dataclass
class Soak:
    path: Path
    writers: list[tuple[int, str, str]]
    """(exit code, stdout, stderr) of each writer."""
    reader: tuple[int, str, str]
    acknowledged: dict[str, int]
    """Trials per run id that a writer saw its sweep return for."""
    stored: dict[str, int]
    """Trials per run id in the file after the final fold."""
    total: int
    distinct: int
    live_total: int


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> Soak:
    folder = tmp_path_factory.mktemp("soak")
    path, stop = folder / "shared.duckdb", folder / "stop"
    pl.Lab(path)
    env = {**os.environ, "PROMPTLAB_USER": "soak", "PROMPTLAB_DB": str(path)}
    spawn = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": env}
    reader = subprocess.Popen([sys.executable, "-c", READER, str(path), str(stop)], **spawn)  # type: ignore[call-overload]
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{i}", str(SWEEPS), str(ROWS)], **spawn)  # type: ignore[call-overload]
        for i in range(WRITERS)
    ]
    writer_results = [(w.wait(timeout=240), *w.communicate(timeout=60)) for w in writers]
    stop.touch()
    reader_result = (reader.wait(timeout=60), *reader.communicate(timeout=60))

    acknowledged: dict[str, int] = {}
    for _, out, _ in writer_results:
        for line in out.splitlines():
            if line.startswith("ACK "):
                _, run_id, n = line.split()
                acknowledged[run_id] = int(n)
    lab = pl.Lab(path)
    lab.fold()
    live_total = len(lab.trials())
    with plain_connection(path) as con:
        stored = dict(con.execute("SELECT run_id, count(*) FROM trials GROUP BY run_id").fetchall())  # type: ignore[arg-type]
        total, distinct = con.execute("SELECT count(*), count(DISTINCT trial_id) FROM trials").fetchone()  # type: ignore[misc]
    return Soak(path, writer_results, reader_result, acknowledged, stored, total, distinct, live_total)


@pytest.mark.slow
def test_soak_loses_no_acknowledged_trial(soak: Soak) -> None:
    assert [code for code, _, _ in soak.writers] == [0] * WRITERS
    assert soak.reader[0] == 0
    assert "SHRANK" not in soak.reader[1]  # what a reader has seen never disappears
    assert "READS" in soak.reader[1]
    assert len(soak.acknowledged) >= WRITERS  # the soak did real work
    for run_id, n in soak.acknowledged.items():
        assert soak.stored.get(run_id) == n, run_id  # every acknowledged trial, exactly once
    assert soak.total == soak.distinct
    assert soak.live_total == soak.total  # everything was folded into the file


@pytest.mark.slow
def test_soak_no_process_sees_an_error(soak: Soak) -> None:
    for _, out, err in [*soak.writers, soak.reader]:
        assert "Traceback" not in err, err[-2000:]
        assert "FAILED" not in out
    assert soak.total == sum(soak.acknowledged.values()) == WRITERS * SWEEPS * ROWS


def test_reads_made_together_share_one_open_of_the_file(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Store.together`` (the History view's refresh): one session serves every
    read in the block; after it, each read opens the file again and sees what
    was written meanwhile. When the file can't be opened, reads go on alone."""
    lab.sweep(pl.Prompt("{{ text }}"), fake_model(), [{"text": "a"}, {"text": "b"}], display=NullDisplay())
    settle()
    opened: list[bool] = []
    attached = type(lab.store)._attached

    def counting(store: object, *, read_only: bool, **options: object):  # type: ignore[no-untyped-def]
        opened.append(read_only)
        return attached(store, read_only=read_only, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(type(lab.store), "_attached", counting)
    with lab.store.together():
        runs, trials = lab.runs(), lab.trials()
        with lab.store.together():  # nested: still the same session
            lab.experiments()
        lab.store.append({"trials": [trial_row(experiment="default", kind="sweep")]})
        assert len(lab.trials()) == 2  # the session's view of the journal, taken when it began
    assert opened == [True] and len(runs) == 1 and len(trials) == 2
    assert len(lab.trials(experiment="default")) == 3
    assert opened == [True, True]

    opened.clear()
    with held_by_another_program(lab.path, read_only=False), lab.store.together(), pytest.raises(StoreBusyError):
        lab.trials()
    assert opened == [True, True]  # the session's own try, then the read's


def test_a_ctrl_c_inside_duckdb_stops_as_an_interrupt() -> None:
    from promptlab.store.engine import interruptible

    con = duckdb.connect()
    timer = threading.Timer(0.2, con.interrupt)  # what DuckDB does on SIGINT mid-query
    timer.start()
    with pytest.raises(KeyboardInterrupt), interruptible():
        con.execute("SELECT count(*) FROM range(10_000_000_000) a")
    timer.join()
    with pytest.raises(KeyboardInterrupt), interruptible():  # an ATTACH reports it so
        raise RuntimeError("Query interrupted")
    with pytest.raises(RuntimeError, match="something else"), interruptible():
        raise RuntimeError("something else")
