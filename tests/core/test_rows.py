"""Test inputs: lists of dicts, DataFrames and files become rows of plain values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import promptlab as pl
from promptlab.core.rows import load_rows
from promptlab.errors import DataError

ROWS = [{"text": "the cat sat", "expected": "cat"}, {"text": "a dog ran", "expected": "dog"}]


def test_list_of_dicts() -> None:
    assert load_rows(ROWS) == ROWS
    assert load_rows(tuple(ROWS)) == ROWS


def test_dataframe() -> None:
    frame = pd.DataFrame({"text": ["a", "b"], "n": np.array([1, 2], dtype="int64"), "x": [0.5, 1.5]})
    rows = load_rows(frame)
    assert rows == [{"text": "a", "n": 1, "x": 0.5}, {"text": "b", "n": 2, "x": 1.5}]
    assert type(rows[0]["n"]) is int  # numpy scalars become plain JSON values
    json.dumps(rows)


def test_csv_reads_every_cell_as_text(tmp_path: Path) -> None:
    path = tmp_path / "inputs.csv"
    path.write_text('text,expected,n\nthe cat sat,cat,1\n"a, dog",,2\n')
    assert load_rows(path) == [
        {"text": "the cat sat", "expected": "cat", "n": "1"},
        {"text": "a, dog", "expected": "", "n": "2"},
    ]
    assert load_rows(str(path)) == load_rows(path)


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "inputs.tsv"
    path.write_text("text\texpected\nx y\tz\n")
    assert load_rows(path) == [{"text": "x y", "expected": "z"}]


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "inputs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in [*ROWS, {"text": "null one", "expected": None}]))
    rows = load_rows(path)
    assert rows[:2] == ROWS
    assert rows[2] == {"text": "null one", "expected": None}


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(ROWS))
    assert load_rows(path) == ROWS


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "inputs.parquet"
    pd.DataFrame({"text": ["a", "b"], "score": [1.0, None], "k": [3, 4]}).to_parquet(path)
    assert load_rows(path) == [{"text": "a", "score": 1.0, "k": 3}, {"text": "b", "score": None, "k": 4}]


def test_nan_and_missing_values_become_none() -> None:
    frame = pd.DataFrame({"text": ["a", None], "x": [np.nan, 2.0], "when": [pd.NaT, pd.Timestamp("2026-01-02")]})
    rows = load_rows(frame)
    assert rows[0] == {"text": "a", "x": None, "when": None}
    assert rows[1] == {"text": None, "x": 2.0, "when": "2026-01-02T00:00:00"}
    assert load_rows([{"a": float("nan")}]) == [{"a": None}]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as info:
        load_rows(tmp_path / "nope.jsonl")
    assert "nope.jsonl" in str(info.value)


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "inputs.txt"
    path.write_text("hello\n")
    with pytest.raises(DataError) as info:
        load_rows(path)
    message = str(info.value)
    assert "inputs.txt" in message
    assert ".csv" in message
    assert ".jsonl" in message


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "fine"}\n{not json\n')
    with pytest.raises(DataError, match=r"broken.jsonl, line 2: not valid JSON"):
        load_rows(path)
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet")
    with pytest.raises(DataError, match="can't read"):
        load_rows(path)


@pytest.mark.parametrize("empty", [[], (), pd.DataFrame(), pd.DataFrame(columns=["text"])])
def test_empty_data(empty: object) -> None:
    with pytest.raises(DataError, match="no rows"):
        load_rows(empty)  # type: ignore[arg-type]


def test_empty_csv(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("text,expected\n")
    with pytest.raises(DataError, match="no rows"):
        load_rows(path)


def test_single_dict_says_to_wrap_it() -> None:
    with pytest.raises(DataError, match="wrap it in a list"):
        load_rows({"text": "one"})


def test_row_that_is_not_a_dict_is_named() -> None:
    with pytest.raises(DataError, match="row 1 is a str"):
        load_rows([{"text": "ok"}, "not a row"])  # type: ignore[list-item]


def test_other_types_are_refused() -> None:
    with pytest.raises(DataError, match="list of dicts"):
        load_rows(42)  # type: ignore[arg-type]


def test_data_errors_stop_a_sweep_before_anything_is_written(lab: pl.Lab, quiet: object) -> None:
    prompt = pl.Prompt("{{ text }}")
    model = pl.Model("echo", provider="fake")
    with pytest.raises(DataError):
        lab.sweep(prompt, model, [], display=quiet)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        lab.sweep(prompt, model, "missing.csv", display=quiet)  # type: ignore[arg-type]
    assert lab.runs().empty
    assert lab.trials().empty


def test_sweep_reads_a_file_path(lab: pl.Lab, quiet: object, tmp_path: Path) -> None:
    path = tmp_path / "inputs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    run = lab.sweep(pl.Prompt("{{ text }}"), pl.Model("echo", provider="fake"), path, display=quiet)  # type: ignore[arg-type]
    assert sorted(run.df["output"]) == ["a dog ran", "the cat sat"]
    assert lab.run_info(run.run_id)["config"]["data"] == str(path)
