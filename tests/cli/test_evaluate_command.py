"""``promptlab evaluate --source production``: the cron job that scores a sample
of logged calls, what it prints, and its refusals (exit 2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import promptlab as pl
from promptlab import cli
from promptlab.cli.evaluate import since_value

SUPPORT = pl.Prompt([{"role": "user", "content": "{{ question }}"}], name="support")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A history with 10 calls ``app`` logged (label production) and 4 ``batch`` logged (staging)."""
    lab = pl.Lab(tmp_path / "h.duckdb")
    for app, label, n in (("app", "production", 10), ("batch", "staging", 4)):
        log = pl.logger(str(lab.path), source=app)
        for i in range(n):
            answer = f"yes, a long answer {i}" if i % 2 else "yes"
            log.record(SUPPORT.labelled(label), {"question": f"q{i}", "expected": "yes"}, answer, model="gpt-4o-mini")
        log.close()
    lab.fold()
    return lab.path


def test_evaluate_scores_the_calls_once_and_prints_the_means(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", str(db), "evaluate", "--source", "production", "--since", "1d", "--app", "app"]
    code, out, err = run_cli(capsys, *argv, "--evaluators", "icontains:expected", "max_length:3")
    assert code == 0, err
    assert out.splitlines() == [
        "selected 10 of 10 production calls (100% sample)",
        "scored 10",
        "  icontains:expected: mean 1.000 (n=10)",
        "  max_length:3: mean 0.500 (n=10)",
    ]
    code, out, err = run_cli(capsys, *argv, "--evaluators", "icontains:expected,max_length:3")
    assert code == 0, err
    assert out.splitlines() == [
        "selected 10 of 10 production calls (100% sample), 10 already scored",
        "scored 0: nothing new to score",
    ]
    scores = pl.Lab(db).trials(kind="production").set_index("source")["score_icontains:expected"]
    assert scores["app"].notna().all() and scores["batch"].isna().all()


def test_evaluate_samples_by_seed_and_label(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", str(db), "evaluate", "--source", "production", "--label", "staging"]
    code, out, err = run_cli(capsys, *argv, "--sample", "0.5", "--seed", "7", "--evaluators", "icontains:expected")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("selected ") and first.endswith(" of 4 production calls (50% sample)")
    lab = pl.Lab(db)
    trials = lab.trials(kind="production")
    # the sample hashes the (random) trial ids: any number of the 4 may be in it, none included
    scored = trials["score_icontains:expected"].notna().sum() if "score_icontains:expected" in trials else 0
    assert scored == int(first.split()[1])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sample", "0", "--evaluators", "icontains:expected"], "expected a fraction above 0"),
        (["--sample", "2", "--evaluators", "icontains:expected"], "expected a fraction above 0"),
        (["--evaluators", "no_such_thing"], "unknown evaluator 'no_such_thing'"),
        (["--since", "last tuesday", "--evaluators", "icontains:expected"], "is not a time"),
        (["--evaluators", "icontains:question"], None),  # a column every call has: fine
    ],
)
def test_bad_input_exits_2_with_a_message(
    db: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str | None
) -> None:
    code, _, err = run_cli(capsys, "--db", str(db), "evaluate", "--source", "production", *extra)
    if message is None:
        assert code == 0, err
        return
    assert code == 2 and message in err


def test_the_source_is_required(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--db", str(db), "evaluate", "--evaluators", "icontains:expected")
    assert code == 2 and "--source" in err


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("1d", timedelta(days=1)),
        ("1.5h", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("2026-11-30", "2026-11-30"),
    ],
)
def test_since_takes_a_duration_or_a_date(text: str, value: timedelta | str) -> None:
    assert since_value(text) == value
