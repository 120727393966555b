"""History files crafted to mislead promptlab's own SQL: macros and views
named like DuckDB's functions or promptlab's tables, a table swapped for a
view, a schema marker that lies, a truncated file. Nothing in a file may
change what promptlab's SQL means, and nothing acknowledged may be lost."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from support.history import query_file, settle, trial_row

import promptlab as pl
from promptlab.cli import main
from promptlab.errors import DamagedStoreError, NewerSchemaError, StoreError
from promptlab.testing import fake_model

# Each one shadows, in the file's own catalog, something promptlab's SQL uses.
SHADOWING_MACROS = [
    "CREATE MACRO read_json(p, format := NULL, columns := NULL, filename := NULL, ignore_errors := NULL, "
    "maximum_object_size := NULL) AS TABLE SELECT 1 AS x WHERE false",
    "CREATE MACRO read_json_auto(p) AS TABLE SELECT 1 AS x WHERE false",
    "CREATE MACRO unnest(x) AS 42",
    "CREATE MACRO starts_with(a, b) AS false",
    "CREATE MACRO coalesce(a, b) AS NULL",
    "CREATE MACRO row_number() AS 1",
    "CREATE MACRO json_extract_string(a, b) AS 'x'",
    "CREATE VIEW promptlab_incoming AS SELECT 1 AS x WHERE false",
    "CREATE VIEW verified AS SELECT 1 AS x",
]


def _craft(path: Path, statements: list[str]) -> None:
    settle()
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def _count(path: Path, table: str = "trials") -> int:
    rows = query_file(path, f"SELECT count(*) FROM {table}")
    return int(rows[0][0])


def test_macros_stored_in_the_file_cannot_make_a_fold_lose_trials(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    lab = pl.Lab(path)
    lab.fold()
    _craft(path, SHADOWING_MACROS)
    rows = [trial_row(output=f"acknowledged {i}") for i in range(20)]
    lab.store.append({"trials": rows})  # acknowledged: on disk in the journal
    assert lab.fold() >= 1
    assert _count(path) == 20
    assert not any(lab.store.journal.sealed("trials"))
    assert sorted(lab.trials(kind=None)["output"]) == sorted(r["output"] for r in rows)


def test_reads_and_sweeps_ignore_macros_stored_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    lab = pl.Lab(path)
    lab.sweep(pl.Prompt("Hi {{ n }}", name="greet"), fake_model("echo"), [{"n": "a"}], display=None)
    lab.fold()
    _craft(path, SHADOWING_MACROS)
    again = pl.Lab(path)
    run = again.sweep(pl.Prompt("Hi {{ n }}", name="greet"), fake_model("upper"), [{"n": "b"}], display=None)
    assert list(run.df["output"]) == ["HI B"]
    assert sorted(again.trials(search="b")["output"]) == ["HI B"]
    assert len(again.trials(prompt_version=run.df["prompt_version"][0][:6])) == 2
    again.fold()
    assert _count(path) == 2


@pytest.mark.parametrize(
    "swap",
    [
        "DROP TABLE trials; CREATE VIEW trials AS SELECT * FROM runs WHERE false",
        "DROP TABLE trials; CREATE TABLE trials (trial_id VARCHAR PRIMARY KEY)",
        # the search index narrows which trials a search reads: a view can't stand in for it
        "DROP TABLE search_docs; CREATE VIEW search_docs AS SELECT 1::BIGINT AS doc, 'x' AS trial_id",
        "DROP TABLE label_events; CREATE VIEW label_events AS SELECT 1 AS event_id",
    ],
)
def test_a_file_whose_tables_were_swapped_is_refused_and_its_journal_kept(tmp_path: Path, swap: str) -> None:
    path = tmp_path / "shared.duckdb"
    lab = pl.Lab(path)
    lab.fold()
    lab.store.append({"trials": [trial_row(output="keep me")]})
    _craft(path, [s.strip() for s in swap.split(";")])
    with pytest.raises(DamagedStoreError, match="not the history promptlab wrote"):
        pl.Lab(path)
    with pytest.raises(DamagedStoreError):
        lab.trials()  # the Lab opened before the swap reads nothing from it either
    assert len(lab.store.journal.sealed("trials")) == 1  # the acknowledged row is still on disk


def test_a_schema_marker_that_lies_gives_a_clear_error_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "shared.duckdb"
    pl.Lab(path).fold()
    _craft(path, ["DELETE FROM schema_migrations WHERE version > 2"])  # says 2; the tables are newer
    with pytest.raises(DamagedStoreError, match="says it has schema 2 but its tables don't match"):
        pl.Lab(path)
    assert main(["--db", str(path), "runs"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "Traceback" not in error


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_a_truncated_file_gives_a_clear_error_and_exit_2(
    tmp_path: Path, keep: float, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "shared.duckdb"
    lab = pl.Lab(path)
    lab.sweep(pl.Prompt("Hi {{ n }}", name="greet"), fake_model("echo"), [{"n": "a"}], display=None)
    lab.fold()
    settle()
    capsys.readouterr()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(StoreError, match=r"damaged|can't"):
        pl.Lab(path).trials()  # some damage shows at the open, some only once the rows are read
    assert main(["--db", str(path), "history"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "Traceback" not in error
    code = main(
        [
            "--db",
            str(path),
            "check",
            "--prompt",
            "greet",
            "--data",
            str(tmp_path / "none.jsonl"),
            "--evaluators",
            "contains:n",
        ]
    )
    assert code == 2  # a setup error, never 1 ("regression")


def test_load_prompt_refuses_a_file_from_a_newer_promptlab(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    lab = pl.Lab(path)
    run = lab.sweep(pl.Prompt("Hi {{ n }}", name="greet"), fake_model("echo"), [{"n": "a"}], display=None)
    lab.promote("greet", run.df["prompt_version"][0])
    lab.fold()
    _craft(path, ["INSERT INTO schema_migrations VALUES (99, 'from_the_future', now())"])
    with pytest.raises(NewerSchemaError, match="pip install -U promptlab"):
        pl.load_prompt("greet", db=path)
