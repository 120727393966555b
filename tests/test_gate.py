"""The regression gate: ``pl.check`` and ``promptlab check`` (exit 0/1/2, JUnit XML)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import settle

import promptlab as pl
from promptlab.cli import main
from promptlab.display import NullDisplay
from promptlab.errors import ConfigError, NotFoundError
from promptlab.loading import prompt_document
from promptlab.testing import FakeProvider, fake_model

NAME = "answer"
METRIC = "contains:expected"
DATA = [
    {"text": "the cat sat", "expected": "cat"},
    {"text": "a dog ran", "expected": "dog"},
    {"text": "a bird flew", "expected": "fish"},
    {"text": "a cow slept", "expected": "horse"},
]
ECHO = fake_model("echo")
BASE = pl.Prompt("Answer: {{ text }}", name=NAME)  # passes the first two rows: 0.5
FLAT = pl.Prompt("Reply: {{ text }}", name=NAME)  # the same two: 0.5
REGRESSED = pl.Prompt("Answer: {{ text | upper }}", name=NAME)  # none: 0.0
IMPROVED = pl.Prompt("Answer: {{ text }} ({{ expected }})", name=NAME)  # all four: 1.0, the newest version


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BASE is production; every candidate has been run once (so prefixes resolve), IMPROVED last."""
    path = tmp_path_factory.mktemp("seed") / "h.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROMPTLAB_USER", "ana")
        lab = pl.Lab(path)
        for prompt in (BASE, REGRESSED, FLAT, IMPROVED):
            lab.sweep([prompt], ECHO, DATA, display=NullDisplay())
        lab.promote(NAME, BASE.version, label="production")
        lab.fold()
        settle()
    return path


@pytest.fixture
def lab(seed: Path, tmp_path: Path) -> pl.Lab:
    shutil.copy(seed, tmp_path / "h.duckdb")
    return pl.Lab(tmp_path / "h.duckdb")


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in DATA), encoding="utf-8")
    return path


def gate(lab: pl.Lab, candidate: object, **kwargs: object) -> pl.CheckResult:
    return pl.check(NAME, lab=lab, data=DATA, evaluators=[METRIC], candidate=candidate, **kwargs)  # type: ignore[arg-type]


def junit_failures(xml: str) -> dict[str, list[str]]:
    """Per JUnit test case, the messages of its failures (and the suite's own count must agree)."""
    suite = ET.fromstring(xml)
    assert suite.tag == "testsuite"
    cases = {case.get("name", ""): [f.get("message", "") for f in case.findall("failure")] for case in suite}
    assert int(suite.get("tests", "-1")) == len(cases)
    assert int(suite.get("failures", "-1")) == sum(1 for messages in cases.values() if messages)
    return cases


# -- pl.check ------------------------------------------------------------------------


def test_an_improving_candidate_passes(lab: pl.Lab) -> None:
    result = gate(lab, IMPROVED, min_score=0.5, max_drop=0.05)

    assert result
    assert result.passed and result.failures == ()
    result.assert_passed()
    assert (result.prompt, result.against, result.metric) == (NAME, "production", METRIC)
    assert (result.baseline, result.candidate) == (BASE.version, IMPROVED.version)
    c = result.comparison
    assert (c.n, c.mean_a, c.mean_b, c.difference) == (4, 0.5, 1.0, 0.5), "A is the baseline, B the candidate"
    assert (c.wins, c.losses, c.ties) == (2, 0, 2)
    assert result.errors == 0
    assert repr(result) == result.table()
    assert result.table().splitlines()[-1].split() == ["result", "PASS"]
    assert junit_failures(result.junit_xml()) == {"min_score": [], "max_drop": [], "calls": []}
    recorded = lab.trials(run=result.run_id, experiment="checks")
    assert sorted(recorded["prompt_version"].unique()) == sorted([BASE.version, IMPROVED.version])


def test_a_regression_beyond_max_drop_fails(lab: pl.Lab) -> None:
    result = gate(lab, REGRESSED, max_drop=0.1)

    assert not result
    assert result.failures == ("candidate drops 0.500 below the baseline (max drop 0.1)",)
    assert result.comparison.difference == -0.5
    with pytest.raises(AssertionError) as caught:
        result.assert_passed()
    assert str(caught.value) == result.table()
    assert "FAIL: candidate drops 0.500" in repr(result)
    cases = junit_failures(result.junit_xml())
    assert cases == {"min_score": [], "max_drop": [result.failures[0]], "calls": []}


def test_a_drop_within_max_drop_passes(lab: pl.Lab) -> None:
    assert gate(lab, REGRESSED, max_drop=0.6)
    assert gate(lab, REGRESSED), "no threshold: nothing to fail"


def test_a_candidate_below_min_score_fails(lab: pl.Lab) -> None:
    result = gate(lab, FLAT, min_score=0.75, max_drop=0.1)

    assert not result
    assert result.comparison.difference == 0.0
    assert result.failures == ("candidate mean 0.500 is below min score 0.75",)
    assert junit_failures(result.junit_xml()) == {"min_score": [result.failures[0]], "max_drop": [], "calls": []}
    assert gate(lab, FLAT, min_score=0.5), "reaching min score exactly passes"


def test_a_candidate_whose_every_call_fails_fails(lab: pl.Lab) -> None:
    broken = pl.Prompt("BROKEN {{ text }}", name=NAME)

    result = gate(lab, broken, model=fake_model("echo", fail_if="BROKEN"), min_score=0.5)

    assert not result
    assert result.errors == len(DATA)
    assert any(f.startswith(f"every candidate call failed ({len(DATA)})") for f in result.failures)
    cases = junit_failures(result.junit_xml())
    assert len(cases["calls"]) == 1 and "every candidate call failed" in cases["calls"][0]
    assert len(cases["min_score"]) == 1, "no score at all is below any min score"


def test_the_candidate_is_the_newest_version_a_prefix_or_an_exported_file(lab: pl.Lab, tmp_path: Path) -> None:
    assert gate(lab, None).candidate == IMPROVED.version
    assert gate(lab, "latest").candidate == IMPROVED.version
    assert gate(lab, REGRESSED.version[:6]).candidate == REGRESSED.version
    exported = tmp_path / "candidate.json"
    exported.write_text(json.dumps(prompt_document(FLAT, label="staging")), encoding="utf-8")
    assert gate(lab, exported).candidate == FLAT.version
    assert gate(lab, str(exported)).candidate == FLAT.version


def test_setup_errors_are_config_or_not_found_errors(lab: pl.Lab) -> None:
    with pytest.raises(NotFoundError, match="no label 'nightly'"):
        gate(lab, IMPROVED, against="nightly")
    with pytest.raises(ConfigError, match="at least one evaluator"):
        pl.check(NAME, lab=lab, data=DATA, evaluators=[], candidate=IMPROVED)
    with pytest.raises(ConfigError, match="unknown evaluator"):
        pl.check(NAME, lab=lab, data=DATA, evaluators=["no_such_evaluator"], candidate=IMPROVED)
    with pytest.raises(ConfigError, match="no evaluator labelled"):
        gate(lab, IMPROVED, metric="accuracy")
    with pytest.raises(NotFoundError):
        gate(lab, "0" * 12 if not BASE.version.startswith("0") else "f" * 12)
    with pytest.raises(NotFoundError):
        pl.check("never-run", lab=lab, data=DATA, evaluators=[METRIC])


def test_the_baselines_unchanged_cells_are_free_on_a_second_check(lab: pl.Lab) -> None:
    provider = FakeProvider()
    counted = pl.Model("echo", provider=f"counted-{uuid.uuid4().hex[:8]}")
    pl.register_provider(counted.provider, provider)

    first = gate(lab, FLAT, model=counted)
    assert provider.calls == 2 * len(DATA), "a new model: baseline and candidate both called"

    provider.reset()
    second = gate(lab, IMPROVED, model=counted)
    assert provider.calls == len(DATA), "only the new candidate is called"
    trials = lab.trials(run=second.run_id, experiment="checks")
    assert trials.loc[trials["prompt_version"] == BASE.version, "cached"].all()
    assert not trials.loc[trials["prompt_version"] == IMPROVED.version, "cached"].any()
    assert second.comparison.mean_a == first.comparison.mean_a == 0.5

    provider.reset()
    assert gate(lab, IMPROVED, model=counted).comparison.difference == 0.5
    assert provider.calls == 0, "the same check again is free"


# -- promptlab check -------------------------------------------------------------------


def cli_check(lab: pl.Lab, data_file: Path, *extra: str) -> list[str]:
    return ["--db", str(lab.path), "check", "--prompt", NAME, "--data", str(data_file),
            "--evaluators", METRIC, *extra]  # fmt: skip


def test_the_cli_exit_codes(lab: pl.Lab, data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    passing, failing = tmp_path / "pass.xml", tmp_path / "fail.xml"

    assert main(cli_check(lab, data_file, "--candidate", IMPROVED.version[:6], "--max-drop", "0.1",
                          "--junit", str(passing))) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "PASS" in out and IMPROVED.version in out
    assert junit_failures(passing.read_text(encoding="utf-8")) == {"min_score": [], "max_drop": [], "calls": []}

    assert main(cli_check(lab, data_file, "--candidate", REGRESSED.version[:6], "--max-drop", "0.1",
                          "--junit", str(failing))) == 1  # fmt: skip
    assert "FAIL: candidate drops 0.500" in capsys.readouterr().out
    cases = junit_failures(ET.tostring(ET.parse(failing).getroot(), encoding="unicode"))
    assert cases["max_drop"] == ["candidate drops 0.500 below the baseline (max drop 0.1)"]

    assert main(cli_check(lab, data_file, "--min-score", "0.75")) == 0, "by default the newest version: IMPROVED"
    capsys.readouterr()
    assert main(cli_check(lab, data_file, "--candidate", FLAT.version, "--min-score", "0.75")) == 1
    assert "candidate mean 0.500 is below min score 0.75" in capsys.readouterr().out

    assert main(cli_check(lab, data_file, "--against", "nightly")) == 2
    assert "error: " in capsys.readouterr().err
    assert main(cli_check(lab, data_file, "--evaluators", " , ")) == 2
    assert "at least one evaluator" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "missing.duckdb"), "check", "--prompt", NAME, "--data", str(data_file),
                 "--evaluators", METRIC]) == 2  # fmt: skip
    assert not (tmp_path / "missing.duckdb").exists()


def test_the_cli_in_a_subprocess(lab: pl.Lab, data_file: Path, tmp_path: Path) -> None:
    junit = tmp_path / "gate.xml"
    command = [
        sys.executable,
        "-m",
        "promptlab",
        *cli_check(lab, data_file, "--candidate", REGRESSED.version, "--max-drop", "0.1", "--junit", str(junit)),
    ]
    env = {**os.environ, "PROMPTLAB_DB": str(tmp_path / "not-this-one.duckdb")}

    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)

    assert done.returncode == 1, done.stderr
    assert "FAIL: candidate drops 0.500" in done.stdout
    assert junit_failures(junit.read_text(encoding="utf-8"))["max_drop"]
    assert not (tmp_path / "not-this-one.duckdb").exists()
