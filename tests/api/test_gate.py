"""The regression gate: ``pl.check`` and ``promptlab check`` (exit 0/1/2, JUnit XML)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.history import settle
from support.postgres import Cluster

import promptlab as pl
from promptlab.cli import main
from promptlab.errors import ConfigError, NotFoundError
from promptlab.release.prompt_files import prompt_document
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider, fake_model

pytestmark = pytest.mark.both_stores

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
def lab(seed: Path, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> pl.Lab:
    """A copy of the seeded history: a file, or a team server it was copied into (by its admin)."""
    shutil.copy(seed, tmp_path / "h.duckdb")
    filed = pl.Lab(tmp_path / "h.duckdb")
    if store_kind == "file":
        return filed
    server_url: str = request.getfixturevalue("server_url")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    filed.copy_to(cluster.url(server_url.rsplit("/", 1)[1]), progress=False)
    return pl.Lab(server_url)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in DATA), encoding="utf-8")
    return path


def gate(lab: pl.Lab, candidate: object, **kwargs: object) -> pl.CheckResult:
    return pl.check(NAME, lab=lab, data=DATA, evaluators=[METRIC], candidate=candidate, **kwargs)  # type: ignore[arg-type]


RULES = ("errors", "compared", "regression", "min_score", "max_drop")


def junit_failures(xml: str) -> dict[str, list[str]]:
    """Per JUnit test case, the messages of its failures (and the suite's own counts must agree)."""
    suite = ET.fromstring(xml)
    assert suite.tag == "testsuite"
    cases = {case.get("name", ""): [f.get("message", "") for f in case.findall("failure")] for case in suite}
    assert int(suite.get("tests", "-1")) == len(cases)
    assert int(suite.get("failures", "-1")) == sum(1 for messages in cases.values() if messages)
    assert int(suite.get("skipped", "-1")) == len(junit_skipped(xml))
    assert int(suite.get("errors", "-1")) == 0
    return cases


def junit_skipped(xml: str) -> set[str]:
    """The JUnit test cases marked skipped (rules nobody asked for)."""
    return {case.get("name", "") for case in ET.fromstring(xml) if case.find("skipped") is not None}


def no_failures(**failed: list[str]) -> dict[str, list[str]]:
    """Every rule's case, with the given failures."""
    return {rule: failed.get(rule, []) for rule in RULES}


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
    assert junit_failures(result.junit_xml()) == no_failures()
    assert junit_skipped(result.junit_xml()) == set(), "min score, max drop and the regression rule all applied"
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
    assert junit_failures(result.junit_xml()) == no_failures(max_drop=[result.failures[0]])
    assert junit_skipped(result.junit_xml()) == {"min_score"}


def test_a_drop_within_max_drop_passes(lab: pl.Lab) -> None:
    assert gate(lab, REGRESSED, max_drop=0.6)
    result = gate(lab, REGRESSED)
    assert result, "no threshold, and two losses in four inputs is no clear regression (sign test p=0.5)"
    assert junit_skipped(result.junit_xml()) == {"min_score", "max_drop"}


def test_a_candidate_below_min_score_fails(lab: pl.Lab) -> None:
    result = gate(lab, FLAT, min_score=0.75, max_drop=0.1)

    assert not result
    assert result.comparison.difference == 0.0
    assert result.failures == ("candidate mean 0.500 is below min score 0.75",)
    assert junit_failures(result.junit_xml()) == no_failures(min_score=[result.failures[0]])
    assert gate(lab, FLAT, min_score=0.5), "reaching min score exactly passes"


def test_a_candidate_whose_every_call_fails_fails(lab: pl.Lab) -> None:
    broken = pl.Prompt("BROKEN {{ text }}", name=NAME)

    result = gate(lab, broken, model=fake_model("echo", fail_if="BROKEN"), min_score=0.5)

    assert not result
    assert result.errors == len(DATA)
    assert any(f.startswith(f"every candidate call failed ({len(DATA)})") for f in result.failures)
    cases = junit_failures(result.junit_xml())
    assert len(cases["errors"]) == 1 and "every candidate call failed" in cases["errors"][0]
    assert len(cases["min_score"]) == 1, "failed cells score 0, below any min score"
    assert not gate(lab, broken, model=fake_model("echo", fail_if="BROKEN"), max_errors=len(DATA)), (
        "every call failing fails whatever max_errors allows"
    )


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
    return ["--db", lab.location, "check", "--prompt", NAME, "--data", str(data_file), "--evaluators", METRIC, *extra]


def test_the_cli_exit_codes(lab: pl.Lab, data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    passing, failing = tmp_path / "pass.xml", tmp_path / "fail.xml"

    assert (
        main(
            cli_check(lab, data_file, "--candidate", IMPROVED.version[:6], "--max-drop", "0.1", "--junit", str(passing))
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "PASS" in out and IMPROVED.version in out
    assert junit_failures(passing.read_text(encoding="utf-8")) == no_failures()

    assert (
        main(
            cli_check(
                lab, data_file, "--candidate", REGRESSED.version[:6], "--max-drop", "0.1", "--junit", str(failing)
            )
        )
        == 1
    )
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
    assert (
        main(
            [
                "--db",
                str(tmp_path / "missing.duckdb"),
                "check",
                "--prompt",
                NAME,
                "--data",
                str(data_file),
                "--evaluators",
                METRIC,
            ]
        )
        == 2
    )
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


# -- failed cells, the regression rule, directions (issue 11 items 2-3) -----------------

ROWS = [{"text": f"item {i} {'odd' if i % 2 else 'even'}", "expected": f"item {i}"} for i in range(20)]
STEADY = pl.Prompt("Answer: {{ text }}", name=NAME)  # echo contains the expected text on every row: 1.0
FLAKY = pl.Prompt("Reply: {{ text | replace('odd', 'BROKEN') }}", name=NAME)  # the odd rows' calls fail
WRONG = pl.Prompt("Reply: {{ text | upper }}", name=NAME)  # never contains it: 0.0 on every row
FAILS_ON_BROKEN = fake_model("echo", fail_if="BROKEN")


def labelled(tmp_path: Path, baseline: pl.Prompt = STEADY, rows: list[dict[str, str]] = ROWS) -> pl.Lab:
    """A history where ``baseline`` was run on ``rows`` and is production."""
    lab = pl.Lab(tmp_path / "labelled.duckdb")
    lab.sweep(baseline, FAILS_ON_BROKEN, rows, display=NullDisplay())
    lab.promote(NAME, baseline.version, label="production")
    return lab


def check_rows(lab: pl.Lab, candidate: pl.Prompt, **kwargs: object) -> pl.CheckResult:
    return pl.check(NAME, lab=lab, data=ROWS, evaluators=[METRIC], candidate=candidate, **kwargs)  # type: ignore[arg-type]


def test_failed_candidate_calls_fail_the_gate_and_score_zero(tmp_path: Path) -> None:
    lab = labelled(tmp_path)

    result = check_rows(lab, FLAKY, min_score=0.8, max_drop=0.02)

    assert not result, "half the candidate's calls failed: it passed before, on the ten it survived"
    assert (result.errors, result.unscored, result.cells) == (10, 0, 20)
    assert result.failed_rules[0] == "errors"
    assert result.failures[0].startswith("10 of 20 candidate cells failed (max errors 0): 10 calls failed (`")
    assert f"history --run {result.run_id} --errors` lists them" in result.failures[0]
    c = result.comparison
    assert (c.n, c.mean_b, c.wins, c.losses, c.ties) == (20, 0.5, 0, 10, 10), "a failed cell scores 0"
    assert {"min_score", "max_drop", "regression"} <= set(result.failed_rules)
    row = next(line for line in result.table().splitlines() if line.startswith("candidate errors"))
    assert row.split("  ", 1)[1].strip() == "10 of 20: 10 calls failed, 0 not scored  (max errors 0)"
    assert "(failed cells score the worst value)" in result.table()
    failed_lines = [line.split("FAIL: ", 1)[1] for line in result.table().splitlines() if "FAIL: " in line]
    assert failed_lines == list(result.failures), "one line per rule that failed"
    cases = junit_failures(result.junit_xml())
    assert cases["errors"] == [result.failures[0]]
    assert "10 of 20: 10 calls failed" in result.junit_xml(), "the JUnit failure carries the table"


def test_max_errors_allows_some_failed_cells(tmp_path: Path) -> None:
    lab = labelled(tmp_path)

    allowed = check_rows(lab, FLAKY, max_errors=10, allow_regression=True)
    assert allowed, allowed.table()
    assert "errors" not in allowed.failed_rules and allowed.errors == 10
    assert not check_rows(lab, FLAKY, max_errors=9, allow_regression=True)
    still_scored = check_rows(lab, FLAKY, max_errors=10, min_score=0.8)
    assert still_scored.failed_rules == ("regression", "min_score"), "allowed failures still score 0"
    with pytest.raises(ConfigError, match="max_errors must be 0 or more"):
        check_rows(lab, FLAKY, max_errors=-1)


def test_an_output_the_evaluator_cannot_score_counts_as_a_failed_cell(tmp_path: Path) -> None:
    lab = labelled(tmp_path)

    def picky(output: str, row: dict[str, str]) -> bool:
        if "ODD" in output:
            raise ValueError("can't read shouting")
        return row["expected"] in output

    judged = pl.evals.code(picky, label="picky")
    shouting = pl.Prompt("Reply: {{ text | replace('odd', 'ODD') }}", name=NAME)
    result = pl.check(NAME, lab=lab, data=ROWS, evaluators=[judged], candidate=shouting, max_errors=9)

    assert not result
    assert (result.errors, result.unscored) == (0, 10)
    assert "10 outputs not scored on picky (`promptlab --db" in result.failures[0]
    assert " show " in result.failures[0] and "` says why)" in result.failures[0]


def test_with_no_threshold_a_clear_regression_fails(tmp_path: Path) -> None:
    lab = labelled(tmp_path)

    result = check_rows(lab, WRONG)

    assert not result, "1.0 to 0.0 on 20 inputs passed before: no threshold, nothing to fail"
    assert result.failed_rules == ("regression",)
    assert result.failures[0].startswith(
        "the candidate is clearly worse than the baseline (regression rule): it loses on 20 of 20 inputs and wins on 0"
    )
    assert "sign test p=1.91e-06" in result.failures[0]
    assert "--allow-regression" in result.failures[0]
    assert junit_failures(result.junit_xml()) == no_failures(regression=[result.failures[0]])
    assert junit_skipped(result.junit_xml()) == {"min_score", "max_drop"}


def test_the_regression_rule_applies_with_thresholds_unless_allowed(tmp_path: Path) -> None:
    lab = labelled(tmp_path)

    assert check_rows(lab, WRONG, max_drop=1.0, min_score=0.0).failed_rules == ("regression",)
    allowed = check_rows(lab, WRONG, max_drop=1.0, allow_regression=True)
    assert allowed, "the thresholds given allow it and the rule is off"
    assert "off (allow_regression)" in allowed.table()
    assert junit_skipped(allowed.junit_xml()) == {"regression", "min_score"}
    assert check_rows(lab, WRONG, max_drop=0.5, allow_regression=True).failed_rules == ("max_drop",)


def test_a_candidate_no_worse_passes_the_regression_rule(tmp_path: Path) -> None:
    lab = labelled(tmp_path)
    assert check_rows(lab, pl.Prompt("Say: {{ text }}", name=NAME))


def test_the_metrics_direction_comes_from_its_evaluator(tmp_path: Path) -> None:
    lab = labelled(tmp_path)
    words = pl.evals.code(lambda output, row: float(len(output.split())), label="words")
    words.higher_is_better = False  # type: ignore[attr-defined]
    wordy = pl.Prompt("Answer at length: {{ text }}", name=NAME)

    result = pl.check(NAME, lab=lab, data=ROWS, evaluators=[words], candidate=wordy, max_drop=1.5)

    assert result.comparison.difference == 2.0 and not result.comparison.higher_is_better
    assert result.failed_rules == ("regression", "max_drop"), "more words is worse here"
    assert "candidate drops 2.000 below the baseline (max drop 1.5)" in result.failures


def test_nothing_compared_fails(tmp_path: Path) -> None:
    broken_baseline = pl.Prompt("BROKEN {{ text }}", name=NAME)
    lab = labelled(tmp_path, broken_baseline)

    result = check_rows(lab, STEADY)

    assert result.comparison.n == 0 and result.baseline_errors == 20
    assert result.failed_rules == ("compared",)
    assert result.failures[0].startswith("no input has a score for both the baseline and the candidate")


# -- promptlab check: the new options and setup errors in JUnit (items 2, 3, 10) ------------


def rows_file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    return path


def test_the_cli_fails_on_failed_calls_and_regressions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = labelled(tmp_path)  # production runs on FAILS_ON_BROKEN, so the check does too
    base = [
        "--db",
        str(lab.path),
        "check",
        "--prompt",
        NAME,
        "--data",
        str(rows_file(tmp_path)),
        "--evaluators",
        METRIC,
    ]
    lab.sweep([FLAKY, WRONG], FAILS_ON_BROKEN, ROWS, display=NullDisplay())  # so their prefixes resolve
    flaky, wrong = ["--candidate", FLAKY.version[:8]], ["--candidate", WRONG.version[:8]]

    assert main([*base, *flaky, "--min-score", "0.8", "--max-drop", "0.02"]) == 1
    assert re.search(
        r"^candidate errors +10 of 20: 10 calls failed, 0 not scored  \(max errors 0\)$", capsys.readouterr().out, re.M
    )
    assert main([*base, *flaky, "--max-errors", "10", "--allow-regression"]) == 0
    capsys.readouterr()
    assert main([*base, *wrong]) == 1
    assert "FAIL: the candidate is clearly worse than the baseline (regression rule)" in capsys.readouterr().out
    assert main([*base, *wrong, "--allow-regression"]) == 0
    capsys.readouterr()
    assert main([*base, *wrong, "--max-errors", "-1"]) == 2
    assert "expected a whole number ≥ 0" in capsys.readouterr().err


SETUP_ERRORS = [
    (["--against", "nightly"], "no label 'nightly'"),
    (["--evaluators", "no_such_evaluator"], "unknown evaluator"),
    (["--db", "MISSING"], "no history file at"),
]


@pytest.mark.parametrize("setup", SETUP_ERRORS, ids=["no-label", "no-evaluator", "no-history"])
def test_a_setup_error_still_writes_the_junit_file(
    lab: pl.Lab, data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: tuple[list[str], str]
) -> None:
    problem, message = setup
    junit = tmp_path / "setup.xml"
    problem = [str(tmp_path / "missing.duckdb") if word == "MISSING" else word for word in problem]

    assert main([*cli_check(lab, data_file, "--junit", str(junit)), *problem]) == 2

    err = capsys.readouterr().err
    assert message in err
    suite = ET.fromstring(junit.read_text(encoding="utf-8"))
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("1", "1", "0")
    (case,) = list(suite)
    error = case.find("error")
    assert case.get("name") == "setup" and error is not None
    assert message in error.get("message", "") and message in (error.text or "")
    assert not (tmp_path / "missing.duckdb").exists()


def test_a_usage_error_still_writes_the_junit_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "usage.xml"

    assert main(["check", "--prompt", NAME, "--evaluators", METRIC, "--junit", str(junit)]) == 2

    assert "the following arguments are required: --data" in capsys.readouterr().err, "argparse's message still shows"
    suite = ET.fromstring(junit.read_text(encoding="utf-8"))
    error = suite.find("testcase/error")
    assert error is not None and "the following arguments are required: --data" in error.get("message", "")
    assert suite.get("name") == f"promptlab check {NAME}"
