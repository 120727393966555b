"""Datasets: named test sets whose version is their content, built from rows,
files, a sweep's trials and production calls (corrections as the expected
answer), swept over (``data=ds``, ``dataset:NAME@VERSION``), gated on
(``promptlab check --data dataset:NAME``) and listed in the History view."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.history import trial_row
from support.stores import as_user

import promptlab as pl
from promptlab.cli import main
from promptlab.core.hashing import new_id
from promptlab.core.lineage import utcnow
from promptlab.errors import ConfigError, DataError, NotFoundError
from promptlab.release.datasets import parse_reference, reference
from promptlab.store.schema import TABLES
from promptlab.testing import fake_model
from promptlab.ui import HistoryBrowser

pytestmark = pytest.mark.both_stores

ROWS = [
    {"text": "the cat sat", "expected": "cat"},
    {"text": "a dog ran", "expected": "dog"},
    {"text": "a bird flew", "n": 3, "tags": ["x", "y"]},
]
SAY = pl.Prompt("Say: {{ text }}", name="say")
ECHO = fake_model("echo")


def feedback_row(**values: Any) -> dict[str, Any]:
    """A complete ``feedback`` row as an application's logger writes it; ``values`` override."""
    row: dict[str, Any] = dict.fromkeys(TABLES["feedback"].column_names)
    row.update(feedback_id=new_id(), user="tester", created_at=utcnow().isoformat(), source="support-app")
    row.update(values)
    return row


# -- versions are content ----------------------------------------------------------------


def test_the_version_is_the_content_whatever_the_order(lab: pl.Lab) -> None:
    first, second = lab.dataset("first"), lab.dataset("second")
    assert first.version is None and len(first) == 0 and first.versions().empty
    added = first.add(ROWS, note="seed")
    assert (added.changed, added.unchanged, added.n_rows) == (3, 0, 3) and added.version == first.version
    second.add(ROWS[2:])
    second.add(list(reversed(ROWS[:2])))
    assert second.version == first.version  # the same rows, another order: the same version
    assert second.rows()["text"].tolist() == ["a bird flew", "a dog ran", "the cat sat"]  # insertion order
    assert first.rows()["text"].tolist() == [r["text"] for r in ROWS]
    assert list(first) == ROWS and first[1] == ROWS[1] and len(first) == 3


def test_adding_a_row_again_changes_nothing(lab: pl.Lab) -> None:
    ds = lab.dataset("support")
    ds.add(ROWS)
    before = ds.version
    again = ds.add([ROWS[0], {"text": "new"}, {"text": "new"}])
    assert (again.changed, again.unchanged) == (1, 2)
    assert "1 row (2 already there)" in repr(again)
    nothing = ds.add(ds.rows())  # the dataset's own rows, as a DataFrame with gaps, hash as they were
    assert nothing.change_id is None and nothing.changed == 0 and nothing.unchanged == 4
    assert len(ds.versions()) == 2  # a change that changed nothing isn't written
    assert ds.version != before and len(ds) == 4


def test_remove_then_add_again_comes_back_to_the_version(lab: pl.Lab) -> None:
    ds = lab.dataset("support")
    ds.add(ROWS)
    full = ds.version
    gone = ds.remove(ds.rows().index[:1], note="wrong label")
    assert (gone.changed, gone.n_rows) == (1, 2) and ds.version != full
    assert ds.remove([ROWS[0]]).change_id is None  # not there: nothing to remove
    assert ds.remove("0123456789abcdef").unchanged == 1  # a hash it doesn't hold, likewise
    ds.add([ROWS[0]])
    assert ds.version == full
    assert ds.rows()["text"].tolist()[-1] == "the cat sat"  # added last this time
    versions = ds.versions()
    assert versions["version"].tolist() == [full, gone.version, full]
    assert versions[["n_rows", "added", "removed"]].values.tolist() == [[3, 3, 0], [2, 0, 1], [3, 1, 0]]
    assert versions["op"].tolist() == ["add", "remove", "add"]
    assert versions["note"].tolist()[1] == "wrong label"
    # any version reads back, by a prefix of it too
    assert ds.rows(version=gone.version[:6])["text"].tolist() == ["a dog ran", "a bird flew"]
    ds.remove(str(ds.rows().index[0]))  # one hash
    ds.remove(ds.rows().index.tolist())
    assert len(ds) == 0 and ds.rows().empty and ds.version is not None


def test_who_changed_what_and_when(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    started = utcnow()
    as_user(lab, "ana", monkeypatch).dataset("support").add(ROWS[:2])
    time.sleep(0.01)
    as_user(lab, "ben", monkeypatch).dataset("support").add(ROWS[2:], note="birds")
    versions = lab.dataset("support").versions()
    assert versions["user"].tolist() == ["ana", "ben"]
    assert versions["created_at"].is_monotonic_increasing
    assert pd.Timestamp(versions["created_at"].iloc[0]) >= pd.Timestamp(started)
    log = lab.dataset("support").changes()
    assert log["user"].tolist() == ["ana", "ana", "ben"]
    assert log["row"].tolist() == ROWS
    assert log["change_id"].nunique() == 2
    listed = lab.datasets()
    assert listed.to_dict("records")[0] | {"changed_at": None} == {
        "name": "support",
        "version": lab.dataset("support").version,
        "n_rows": 3,
        "n_changes": 2,
        "changed_at": None,
        "changed_by": "ben",
    }


# -- from files and trials -------------------------------------------------------------


def test_rows_from_files(lab: pl.Lab, tmp_path: Path) -> None:
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:2]), encoding="utf-8")
    csv = tmp_path / "rows.csv"
    pd.DataFrame(ROWS[:2]).to_csv(csv, index=False)
    from_jsonl, from_csv = lab.dataset("a"), lab.dataset("b")
    from_jsonl.add(jsonl)
    from_csv.add(str(csv))
    assert from_jsonl.version == from_csv.version  # the same text, from either kind of file
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        from_jsonl.add(bad)


def test_bad_input_says_what_to_do_and_writes_nothing(lab: pl.Lab) -> None:
    for name in ("", "  ", "a@b", None):
        with pytest.raises(ConfigError, match="name"):
            lab.dataset(name)  # type: ignore[arg-type]
    ds = lab.dataset("support")
    with pytest.raises(DataError, match="row 1 is a str, not a dict"):
        ds.add([{"text": "fine"}, "not a row"])  # type: ignore[list-item]
    with pytest.raises(DataError, match="no rows given"):
        ds.add([])
    with pytest.raises(ConfigError, match="expected="):
        ds.add(lab.trials(), expected="answer")  # type: ignore[arg-type]
    assert ds.versions().empty and lab.datasets().empty  # nothing half-written
    ds.add(ROWS)
    with pytest.raises(NotFoundError, match=r"has no version 'ffff'; ds\.versions"):
        ds.rows(version="ffff")
    with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
        lab.sweep(SAY, ECHO, "dataset:nope", display=None)


def test_rows_from_a_sweep_with_corrections_as_expected(lab: pl.Lab) -> None:
    run = lab.sweep(SAY, ECHO, [{"text": "one"}, {"text": "two"}], display=None)
    trials = run.df
    lab.feedback(trials["trial_id"].iloc[1], vote=-1, correction="TWO")
    from_run = lab.dataset("from-run")
    from_run.add(run)
    assert list(from_run) == [{"text": "one"}, {"text": "two", "expected": "TWO"}]
    assert from_run.changes()["trial_id"].tolist() == trials["trial_id"].tolist()  # lineage
    outputs = lab.dataset("outputs")
    outputs.add(trials, expected="output")
    assert [r["expected"] for r in outputs] == list(trials["output"])
    plain = lab.dataset("plain")
    plain.add(trials.iloc[::-1], expected=None)  # the frame's order is kept
    assert list(plain) == [{"text": "two"}, {"text": "one"}]


def test_rows_from_production_calls_with_their_corrections(lab: pl.Lab) -> None:
    asked = [("refund?", "no"), ("hours?", "9-5"), ("where?", "here")]
    calls = [
        trial_row(
            kind="production",
            run_id=None,
            vars={"question": question},
            output=output,
            external_id=f"app-{i}",
            created_at=f"2026-01-01T00:00:0{i}",
        )
        for i, (question, output) in enumerate(asked)
    ]
    lab.store.append({"trials": calls})
    lab.store.append(
        {
            "feedback": [
                feedback_row(trial_id=calls[0]["trial_id"], vote=-1, correction="Yes, within 30 days."),
                # the app names its call by its own id, not promptlab's
                feedback_row(trial_id=None, external_id="app-1", vote=-1, correction="9am to 5pm, Mon-Fri."),
            ]
        }
    )
    lab.store.fold_soon()
    down_voted = lab.trials(kind="production")
    down_voted = down_voted[down_voted["votes_down"] > 0]
    change = lab.dataset("support-regressions").add(down_voted, note="down-voted this week")
    assert change.changed == 2
    assert list(lab.dataset("support-regressions")) == [
        {"question": "refund?", "expected": "Yes, within 30 days."},
        {"question": "hours?", "expected": "9am to 5pm, Mon-Fri."},
    ]
    log = lab.dataset("support-regressions").changes()
    assert log["trial_id"].tolist() == [calls[0]["trial_id"], calls[1]["trial_id"]]
    assert set(log["note"]) == {"down-voted this week"}


# -- using them ------------------------------------------------------------------------


def test_a_sweep_on_a_dataset_records_its_name_and_version(lab: pl.Lab) -> None:
    ds = lab.dataset("support")
    ds.add(ROWS[:2])
    first_version = ds.version
    assert first_version is not None
    run = lab.sweep(SAY, ECHO, ds, evaluators=[pl.evals.contains("expected")], display=None)
    config = lab.run_info(run.run_id)["config"]
    assert config["data"] == f"dataset:support@{first_version}" and config["n_rows"] == 2
    assert parse_reference(config["data"]) == ("support", first_version)
    ds.add([{"text": "a cow slept", "expected": "cow"}])
    newer = lab.sweep(SAY, ECHO, "dataset:support", display=None)
    assert lab.run_info(newer.run_id)["config"]["data"] == reference("support", str(ds.version))
    assert len(newer.df) == 3
    pinned = lab.sweep(SAY, ECHO, f"dataset:support@{first_version[:6]}", display=None)
    assert lab.run_info(pinned.run_id)["config"]["data"] == f"dataset:support@{first_version}"
    assert sorted(v["text"] for v in pinned.df["vars"]) == sorted(r["text"] for r in ROWS[:2])
    assert lab.estimate(SAY, ECHO, ds).cells == 3


def test_check_on_a_dataset_from_the_command_line(lab: pl.Lab, capsys: pytest.CaptureFixture[str]) -> None:
    base = pl.Prompt("Answer: {{ text }}", name="answer")
    better = pl.Prompt("Answer: {{ text }} ({{ expected }})", name="answer")
    rows = [{"text": "the cat sat", "expected": "cat"}, {"text": "a bird flew", "expected": "fish"}]
    lab.dataset("gate").add(rows)
    lab.sweep([base, better], ECHO, rows, display=None)
    lab.promote("answer", base.version, label="staging")  # unprotected on a team server too
    argv = ["--db", lab.location, "check", "--prompt", "answer", "--against", "staging"]
    argv += ["--evaluators", "contains:expected"]
    code = main([*argv, "--data", "dataset:gate", "--candidate", better.version[:6]])
    assert code == 0, capsys.readouterr()
    assert "PASS" in capsys.readouterr().out
    checks = lab.runs(experiment="checks")
    assert lab.run_info(str(checks["run_id"].iloc[0]))["config"]["data"].startswith("dataset:gate@")
    assert main([*argv, "--data", "dataset:missing"]) == 2
    assert "no dataset named 'missing'" in capsys.readouterr().err


def test_the_history_view_lists_the_datasets(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = HistoryBrowser(lab)
    assert "no datasets yet" in browser.datasets.value
    ds = as_user(lab, "ana", monkeypatch).dataset("support-regressions")
    ds.add(ROWS)
    browser.refresh()
    shown = browser.datasets.value
    assert "support-regressions" in shown and str(ds.version) in shown
    assert "3 rows" in shown and "by ana" in shown
    browser.close()
