"""Bad input gets a PromptlabError that says what was wrong and what to do,
before any call or write: never a raw TypeError, a DuckDB exception showing
SQL, a pandas parse error, a folder made by accident, or a value silently
turned into the text "None"."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import promptlab as pl
from promptlab.errors import ConfigError, DataError, ExportError, StoreLocationError
from promptlab.testing import fake_model

PROMPT = pl.Prompt("Echo {{ text }}", name="echo")


@pytest.mark.parametrize("template", [42, None, 3.5, {"role": "user", "content": "hi"}])
def test_a_prompt_that_is_not_text_or_messages(template: object) -> None:
    with pytest.raises(ConfigError, match="a prompt is a template string or a list"):
        pl.Prompt(template)  # type: ignore[arg-type]


@pytest.mark.parametrize("params", [[("temperature", 0.5)], "temperature=0.5", {0.5: [1]}])
def test_params_that_are_not_a_mapping_of_names(lab: pl.Lab, scripted, params: object) -> None:  # type: ignore[no-untyped-def]
    provider = scripted()
    with pytest.raises(ConfigError, match="params"):
        lab.sweep(PROMPT, provider.model(), [{"text": "a"}], params=params)  # type: ignore[arg-type]
    assert provider.calls == 0


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"experiment": 5}, "experiment= takes a name"),
        ({"model": ["a"]}, "model= takes a name"),
        ({"errors": "yes"}, "errors= takes True, False or None"),
        ({"since": "yesterday"}, "since='yesterday' is not a time"),
        ({"since": "2026-13-45"}, "is not a time"),
    ],
)
def test_trial_filters_of_the_wrong_kind(lab: pl.Lab, filters: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        lab.trials(**filters)
    assert "SELECT" not in str(info.value)


def test_since_still_takes_dates_and_durations(lab: pl.Lab) -> None:
    lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}], display=None)
    assert len(lab.trials(since="2020-01-01")) == 1
    assert len(lab.trials(since=timedelta(hours=1))) == 1
    assert lab.trials(since="2999-01-01").empty


def test_a_malformed_jsonl_file_names_its_line(tmp_path: Path, lab: pl.Lab) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "a"}\n\n{"text": "b"}\n{"text": "c",}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"rows.jsonl, line 4: not valid JSON"):
        lab.sweep(PROMPT, fake_model("echo"), data)
    data.write_text('{"text": "a"}\n["not", "an", "object"]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2: a JSON list, not an object"):
        lab.sweep(PROMPT, fake_model("echo"), data)
    data.write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    assert len(lab.sweep(PROMPT, fake_model("echo"), data, display=None).df) == 2


def test_a_missing_value_in_a_row_renders_as_empty_text_not_none(lab: pl.Lab) -> None:
    frame = pd.DataFrame({"text": ["a", None, float("nan")], "other": [1, 2, 3]})
    run = lab.sweep(pl.Prompt("[{{ text }}]", name="brackets"), fake_model("echo"), frame, display=None)
    assert sorted(run.df["output"]) == ["[]", "[]", "[a]"]
    assert pl.Prompt("{{ a }}-{{ b }}").render({"a": None, "b": 0}) == [{"role": "user", "content": "-0"}]


def test_a_lab_in_a_missing_folder_is_refused_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "deeper" / "history.duckdb"
    with pytest.raises(StoreLocationError, match=r"does not exist; create it first.*mkdir=True"):
        pl.Lab(path)
    assert not (tmp_path / "typo").exists()
    assert pl.Lab(path, mkdir=True).path == path.resolve()


def test_exports_into_a_missing_folder_are_refused_unless_asked(tmp_path: Path, lab: pl.Lab) -> None:
    run = lab.sweep(PROMPT, fake_model("echo"), [{"text": str(i)} for i in range(12)], display=None)
    lab.promote("echo", run.df["prompt_version"][0])
    missing = tmp_path / "nowhere"
    attempts = [
        lambda mkdir: lab.export_trials(missing / "t.csv", mkdir=mkdir),
        lambda mkdir: lab.export_finetune(missing / "ft.jsonl", mkdir=mkdir),
        lambda mkdir: lab.report(missing / "r.html", "default", mkdir=mkdir),
        lambda mkdir: lab.export_prompt("echo", missing / "p.json", mkdir=mkdir),
    ]
    for attempt in attempts:
        with pytest.raises(ExportError, match=r"nowhere does not exist; create it first, or pass mkdir=True"):
            attempt(False)
        assert not missing.exists()
    for attempt in attempts:
        attempt(True)
    assert sorted(p.name for p in missing.iterdir()) == ["ft.jsonl", "p.json", "r.html", "t.csv"]
    assert json.loads((missing / "p.json").read_text())["name"] == "echo"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"temperature": "hot"}, "temperature must be a number from 0 to 2, got 'hot'"),
        ({"temperature": 3}, "from 0 to 2"),
        ({"top_p": -0.1}, "top_p must be a number from 0 to 1"),
        ({"max_tokens": 0}, "max_tokens must be a whole number"),
        ({"max_tokens": 2.5}, "whole number"),
        ({"seed": "abc"}, "seed must be a whole number"),
        ({"stop": 7}, "stop must be a string or a list"),
        ({"logprobs": "yes"}, "logprobs must be true or false"),
    ],
)
def test_common_parameters_are_checked_before_any_call(params: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        pl.Model("gpt-4o-mini", **params)


def test_a_bad_value_in_a_parameter_grid_is_refused_before_any_call(lab: pl.Lab, scripted) -> None:  # type: ignore[no-untyped-def]
    provider = scripted()
    with pytest.raises(ConfigError, match="temperature must be a number"):
        lab.sweep(PROMPT, provider.model(), [{"text": "a"}], params={"temperature": [0.0, "warm"]})
    assert provider.calls == 0 and lab.runs().empty
