"""The ``promptlab`` command, on the fake provider and a temporary history file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from support.history import settle

import promptlab as pl
from promptlab import cli
from promptlab.cli import render
from promptlab.lab import Lab
from promptlab.providers import register_provider
from promptlab.runner.progress import NullDisplay
from promptlab.store import migrations
from promptlab.testing import FakeProvider, fake_model

ROWS = [
    '{"text": "the cake was lovely", "expected": "positive"}',
    '{"text": "a bad day at the beach", "expected": "negative"}',
    '{"text": "the train was late", "expected": "negative"}',
]

EXPERIMENT = """\
experiment: moods
description: Fake moods for the CLI tests
tags: [test]
prompts:
  - name: plain
    template: "Mood of: {{ text }}"
  - name: chat
    messages:
      - {role: system, content: "Label the mood."}
      - {role: user, content: "{{ text }}"}
models:
  - {name: echo, provider: fake, fail_if: bad}
data: data/rows.jsonl
"""


def write_experiment(folder: Path, text: str = EXPERIMENT, name: str = "moods.yaml") -> Path:
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "rows.jsonl").write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PROMPTLAB_DB", raising=False)
    monkeypatch.setenv("PROMPTLAB_USER", "ana")
    monkeypatch.setenv("COLUMNS", "100")
    return tmp_path / "history.duckdb"


@pytest.fixture
def experiment_file(tmp_path: Path) -> Path:
    return write_experiment(tmp_path)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def recorded(db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A history with one run of the experiment: 6 trials, 2 of them failed."""
    code, _, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file))
    assert code == 0
    return db


# -- run -----------------------------------------------------------------------------


def test_run_prints_summary_ids_and_where_to_look_next(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--db", str(db), "run", str(experiment_file))

    assert code == 0
    trials = Lab(db).trials()
    run_id = trials["run_id"].iloc[0]
    assert len(trials) == 6
    assert f"experiment moods, run {run_id} (done)" in out
    assert "6 trials: 4 ok, 2 failed, 0 from cache" in out
    header = next(line for line in out.splitlines() if line.startswith("prompt"))
    assert header.split() == [
        "prompt",
        "model",
        "params",
        "n",
        "errors",
        "cached",
        "p50",
        "p95",
        "tokens",
        "in/out",
        "cost",
    ]
    version = trials.loc[trials["prompt_name"] == "plain", "prompt_version"].iloc[0]
    plain = next(line for line in out.splitlines() if line.startswith(f"plain@{version[:6]}"))
    assert plain.split()[1:6] == ["echo", "fail_if=bad", "3", "1", "0"]
    assert plain.split()[-1] == "$0"
    assert f"recorded in {db.resolve()}" in out
    assert f"promptlab --db {db} history --experiment moods --errors" in out
    failed_id = trials.loc[trials["error_type"].notna(), "trial_id"].iloc[0]
    assert f"promptlab --db {db} show {failed_id[:8]}" in out
    assert f'pl.Lab("{db.resolve()}").trials(run="{run_id}")' in out
    assert "Traceback" not in out + err


def test_run_scores_with_the_files_evaluators_and_compares_two_variants(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scored = EXPERIMENT + "evaluators:\n  - {name: contains, target: 'Mood of', literal: true, label: framed}\n"
    code, out, _ = run_cli(capsys, "--db", str(db), "run", str(write_experiment(tmp_path, scored)))

    assert code == 0
    lines = out.splitlines()
    assert next(line for line in lines if line.startswith("prompt")).split()[-1] == "framed"
    # echo answers with the prompt: only "plain" says "Mood of"; the failed row has no score.
    # contains is a check: its pass rate is shown, and the verdict counts passes.
    assert next(line for line in lines if line.startswith("plain@")).endswith("100% pass")
    assert next(line for line in lines if line.startswith("chat@")).endswith("0% pass")
    a, b, verdict = lines[lines.index(next(line for line in lines if line.startswith("A = "))) :][:3]
    assert a.startswith("A = plain@") and b.startswith("B = chat@")  # in the file's order
    assert verdict.startswith(
        "no clear difference between A and B on framed (pass/fail): B passes 0 of 2 inputs, A 2; "
        "B passes where A fails on 0, fails where A passes on 2"
    )


def test_run_without_evaluators_prints_no_verdict(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file))
    assert "A = " not in out and "better" not in out


def test_run_shows_unknown_cost_as_a_dash(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The fake provider under another name: no built-in price, so the cost is unknown, not zero.
    register_provider("unpriced-fake", FakeProvider())
    path = write_experiment(tmp_path, EXPERIMENT.replace("provider: fake", "provider: unpriced-fake"))

    code, out, _ = run_cli(capsys, "--db", str(db), "run", str(path))

    assert code == 0
    plain = next(line for line in out.splitlines() if line.startswith("plain@"))
    assert plain.split()[-1] == "—"
    assert Lab(db).trials()["cost_usd"].isna().all()


def test_run_counts_cached_trials_and_no_cache_calls_again(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "--db", str(db), "run", str(experiment_file))

    code, out, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file))
    assert code == 0
    assert "6 trials: 4 ok, 2 failed, 4 from cache" in out

    code, out, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file), "--no-cache")
    assert code == 0
    assert "6 trials: 4 ok, 2 failed, 0 from cache" in out


def test_run_overrides_repeats_and_concurrency(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file), "--repeats", "2", "--concurrency", "1")

    assert code == 0
    assert "12 trials: 8 ok, 4 failed" in out
    run = Lab(db).runs().iloc[0]
    assert run["config"]["repeats"] == 2
    assert run["config"]["settings"]["concurrency"] == 1


def test_run_where_every_trial_fails_exits_1(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_experiment(tmp_path, EXPERIMENT.replace("fail_if: bad", "fail_if: the"))
    path.parent.joinpath("data", "rows.jsonl").write_text('{"text": "the end"}\n{"text": "the start"}\n')

    code, out, err = run_cli(capsys, "--db", str(db), "run", str(path))

    assert code == 1
    assert "4 trials: 0 ok, 4 failed" in out
    assert "every trial failed" in err


def test_run_with_a_broken_file_exits_2_without_a_traceback(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_experiment(tmp_path, EXPERIMENT.replace("models:", "modles:"))

    code, out, err = run_cli(capsys, "--db", str(db), "run", str(path))

    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {path}: modles: unknown key; did you mean 'models'?")
    assert "Traceback" not in err
    assert not db.exists(), "nothing is written for a file that doesn't load"


def test_run_missing_file_exits_2(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--db", str(db), "run", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "missing.yaml: no such experiment file" in err


def test_run_template_error_from_the_library_exits_2(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_experiment(tmp_path, EXPERIMENT.replace('"Mood of: {{ text }}"', '"Mood of: {{ txt }}"'))
    code, _, err = run_cli(capsys, "--db", str(db), "run", str(path))
    assert code == 2
    assert err.startswith("error: ")
    assert "txt" in err


def test_interrupt_exits_130(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Lab, "sweep", interrupted)
    code, _, err = run_cli(capsys, "--db", str(db), "run", str(experiment_file))
    assert code == 130
    assert "interrupted; finished trials are kept" in err


# -- history -------------------------------------------------------------------------


def test_history_lists_newest_first_one_line_each(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--db", str(recorded), "history")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["trial", "time", "(UTC)", "experiment", "prompt", "model", "latency", "cost", "output"]
    trials = Lab(recorded).trials()
    newest_first = [trial_id[:8] for trial_id in trials["trial_id"][::-1]]
    assert [line.split()[0] for line in lines[1:]] == newest_first
    assert all(len(line) <= 100 for line in lines)
    failed = trials.loc[trials["error_type"].notna()].iloc[0]
    failed_line = next(line for line in lines if line.startswith(failed["trial_id"][:8]))
    assert "moods" in failed_line
    assert f"{failed['prompt_name']}@{failed['prompt_version'][:6]}" in failed_line
    assert "ERROR PermanentError: f" in failed_line
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", failed_line)


def test_history_output_is_cut_to_the_terminal_width(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_experiment(tmp_path)
    path.parent.joinpath("data", "rows.jsonl").write_text('{"text": "' + "word " * 80 + '"}\n')
    run_cli(capsys, "--db", str(db), "run", str(path))
    monkeypatch.setenv("COLUMNS", "110")

    _, out, _ = run_cli(capsys, "--db", str(db), "history")

    lines = out.splitlines()[1:]
    assert all(len(line) == 110 for line in lines)
    assert all(line.endswith("…") for line in lines)


def test_history_limit_and_filters(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def listed(*options: str) -> list[str]:
        code, out, _ = run_cli(capsys, "--db", str(recorded), "history", *options)
        assert code == 0
        return [line for line in out.splitlines()[1:] if not line.startswith("(")]

    trials = Lab(recorded).trials()
    assert [line.split()[0] for line in listed("--limit", "2")] == [t[:8] for t in trials["trial_id"][::-1][:2]]
    assert len(listed("--errors")) == 2
    assert all("ERROR" in line for line in listed("--errors"))
    assert len(listed("--search", "CAKE")) == 2
    assert len(listed("--prompt", "chat")) == 3
    assert len(listed("--model", "echo", "--experiment", "moods", "--user", "ana")) == 6
    _, out, _ = run_cli(capsys, "--db", str(recorded), "history", "--limit", "2")
    assert "(2 newest shown; --limit N shows more)" in out
    _, out, _ = run_cli(capsys, "--db", str(recorded), "history", "--user", "lee")
    assert out.startswith("no trials match in")


def test_history_without_a_history_file_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--db", str(db), "history")

    assert code == 2
    assert err.startswith(f"error: no history file at {db}")
    assert "--db PATH" in err
    assert not db.exists(), "browsing never creates a history file"


def test_db_defaults_to_the_environment_and_may_follow_the_command(
    recorded: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMPTLAB_DB", str(recorded))
    code, out, _ = run_cli(capsys, "history", "--limit", "1")
    assert code == 0
    assert "moods" in out

    monkeypatch.setenv("PROMPTLAB_DB", str(tmp_path / "other.duckdb"))
    code, out, _ = run_cli(capsys, "history", "--db", str(recorded), "--limit", "1")
    assert code == 0
    assert "moods" in out


# -- show ----------------------------------------------------------------------------


def test_show_a_trial_by_prefix(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trials = Lab(recorded).trials()
    trial = trials[(trials["prompt_name"] == "chat") & trials["error_type"].isna()].iloc[0]

    code, out, _ = run_cli(capsys, "--db", str(recorded), "show", trial["trial_id"][:10])

    assert code == 0
    assert out.startswith(f"trial {trial['trial_id']}\n")
    for expected in (
        "experiment:    moods",
        f"run:           {trial['run_id']}",
        f"prompt:        chat (version {trial['prompt_version']})",
        f"model:         echo on fake (config {trial['model_id']})",
        "params:        fail_if=bad",
        '"text": "the cake was lovely"',
        "  [system]\n    Label the mood.\n  [user]\n    the cake was lovely",
        "output:\n  the cake was lovely",
        "tokens:        7 prompt + 4 completion",
        "cost:          $0",
        "cached:        no",
        "attempts:      1",
        "finish reason: stop",
        "request id:    fake-",
        "user:          ana",
        "started:       ",
        "finished:      ",
    ):
        assert expected in out


def test_show_a_failed_and_a_cached_trial(
    recorded: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = Lab(recorded).trials(errors=True)["trial_id"].iloc[0]
    _, out, _ = run_cli(capsys, "--db", str(recorded), "show", failed)
    assert "(FAILED)" in out
    assert "error: PermanentError\n  fake failure: the input contains 'bad'" in out
    assert "tokens:        — prompt + — completion" in out
    assert "cost:          —" in out

    run_cli(capsys, "--db", str(recorded), "run", str(experiment_file))
    cached = Lab(recorded).trials().query("cached").iloc[0]
    _, out, _ = run_cli(capsys, "--db", str(recorded), "show", cached["trial_id"])
    assert "(cached)" in out
    assert f"cached:        yes, reused trial {cached['cached_from']}" in out


def test_show_an_ambiguous_or_unknown_id_exits_2(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--db", str(recorded), "show", "")
    assert code == 2
    assert out == ""
    assert err == "error: 6 trials have ids starting ''; give more characters\n"

    code, _, err = run_cli(capsys, "--db", str(recorded), "show", "zzzzzz")
    assert code == 2
    assert err == "error: no trial with id 'zzzzzz'; `promptlab history` lists recent ones\n"


# -- experiments and runs ------------------------------------------------------------


def test_experiments_table(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--db", str(recorded), "experiments")

    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:6] == ["experiment", "runs", "trials", "errors", "users", "last"]
    assert header.endswith("description")
    assert row.split()[:5] == ["moods", "1", "6", "2", "ana"]
    assert row.endswith("Fake moods for the CLI tests")


def test_experiments_and_runs_on_an_empty_history(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Lab(db)
    code, out, _ = run_cli(capsys, "--db", str(db), "experiments")
    assert code == 0
    assert out.startswith("no experiments yet in")
    code, out, _ = run_cli(capsys, "--db", str(db), "runs")
    assert code == 0
    assert out.startswith("no runs in")


def test_runs_table(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--db", str(recorded), "runs")

    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "run",
        "experiment",
        "status",
        "trials",
        "errors",
        "cached",
        "spent",
        "started",
        "(UTC)",
        "took",
        "user",
    ]
    run_id = Lab(recorded).runs()["run_id"].iloc[0]
    assert row.split()[:7] == [run_id[:8], "moods", "done", "6/6", "2", "0", "$0"]
    assert row.split()[-1] == "ana"

    _, out, _ = run_cli(capsys, "--db", str(recorded), "runs", "--experiment", "nothing")
    assert out.startswith("no runs of experiment 'nothing' in")


# -- usage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["history", "--limit", "0"], ["run"], ["run", "x.yaml", "--repeats", "two"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert "usage: promptlab" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for command in ("run", "history", "show", "experiments", "runs"):
        assert command in out


@pytest.mark.parametrize(
    ("usd", "shown"),
    [(None, "—"), (float("nan"), "—"), (0.0, "$0"), (0.000043, "$0.000043"), (0.0123, "$0.0123"), (12.5, "$12.50")],
)
def test_money(usd: float | None, shown: str) -> None:
    assert render.money(usd) == shown


@pytest.mark.parametrize(
    ("ms", "shown"), [(None, "—"), (0.04, "0.0ms"), (850.2, "850ms"), (2400, "2.4s"), (185_000, "3m05s")]
)
def test_duration(ms: float | None, shown: str) -> None:
    assert render.duration(ms) == shown


def test_python_dash_m_runs_an_experiment(db: Path, experiment_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "promptlab", "--db", str(db), "run", str(experiment_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "6 trials: 4 ok, 2 failed, 0 from cache" in result.stdout
    assert "where to look next:" in result.stdout
    assert "Traceback" not in result.stderr
    assert len(Lab(db).trials()) == 6


# -- show: scores and feedback (issue 11 item 8) ----------------------------------------------


def judged_history(db: Path) -> tuple[str, str]:
    """A trial scored by three evaluators (one passes, one raises, a judge explains) with
    feedback from two people; returns its id and the judge's trial id."""
    register_provider("grader-fake", FakeProvider(lambda messages, model: '{"score": 8, "explanation": "Kind."}'))

    def fussy(output: str, row: dict[str, str]) -> bool:
        raise ValueError("can't read this")

    lab = Lab(db)
    run = lab.sweep(
        pl.Prompt("Mood of: {{ text }}", name="plain"),
        fake_model("echo"),
        [{"text": "the cake was lovely", "expected": "cake"}],
        experiment="moods",
        display=NullDisplay(),
        evaluators=[
            pl.evals.contains("expected"),
            pl.evals.code(fussy),
            pl.evals.judge("Is it kind?", model=pl.Model("grader", provider="grader-fake"), threshold=0.5),
        ],
    )
    trial = run.df.iloc[0]
    trial_id = str(trial["trial_id"])
    lab.feedback(trial_id, vote=1, user="ana")
    lab.feedback(trial_id, vote=-1, user="ana")  # ana changes her mind: her current vote is -1
    lab.feedback(trial_id, vote="up", user="lee")
    lab.feedback(trial_id, correction="The cake was lovely.", user="lee")
    lab.feedback(trial_id, comment="too literal", user="ana")
    lab.feedback(trial_id, action="copied", user="ana")
    return trial_id, str(trial["judge_trial_judge:Is it kind?"])


def test_show_prints_scores_explanations_errors_and_feedback(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trial_id, judge_id = judged_history(db)

    code, out, err = run_cli(capsys, "--db", str(db), "show", trial_id[:8])

    assert code == 0, err
    scores = out[out.index("\nscores:\n") :]
    assert "\n  contains:expected  1, passed\n" in scores
    assert "\n  fussy              no score\n    evaluator error:\n      ValueError: can't read this" in scores
    assert "\n  judge:Is it kind?  0.8, passed\n    explanation:\n      Kind.\n" in scores
    assert f"\n    judge's call:  {judge_id}  (promptlab --db {db} show {judge_id[:8]})\n" in scores
    feedback = out[out.index("\nfeedback:\n") :]
    assert "\n  votes (each person's current one): ana -1, lee +1\n" in feedback
    assert re.search(r"\n  \d{4}-\d\d-\d\d \d\d:\d\d  lee  correction:\n    The cake was lovely\.\n", feedback)
    assert re.search(r"  ana  comment:\n    too literal\n", feedback)
    assert re.search(r"  ana  action:\n    copied\n", feedback)

    code, out, _ = run_cli(capsys, "--db", str(db), "show", judge_id[:8])
    assert code == 0
    assert out.startswith(f"trial {judge_id}\n") and "prompt:        promptlab/judge" in out
    assert "scores: none" in out and "feedback: none yet" in out


def test_show_says_how_to_score_and_give_feedback_when_there_is_none(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trial_id = Lab(recorded).trials()["trial_id"].iloc[0]

    _, out, _ = run_cli(capsys, "--db", str(recorded), "show", trial_id)

    assert "\nscores: none (score stored trials with lab.evaluate(run, [...])" in out
    assert f'\nfeedback: none yet (lab.feedback("{trial_id[:8]}", vote=1) records' in out


# -- history --run (issue 11 item 10) ------------------------------------------------------------


def test_history_of_one_run_by_a_prefix_of_its_id(
    recorded: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "--db", str(recorded), "run", str(experiment_file), "--repeats", "2")
    runs = Lab(recorded).runs()
    first = runs["run_id"].iloc[-1]

    code, out, _ = run_cli(capsys, "--db", str(recorded), "history", "--run", first[:8], "--limit", "50")

    assert code == 0
    listed = {line.split()[0] for line in out.splitlines()[1:]}
    assert listed == {t[:8] for t in Lab(recorded).trials(run=first)["trial_id"]} and len(listed) == 6
    code, out, _ = run_cli(capsys, "--db", str(recorded), "history", "--run", first, "--errors")
    assert code == 0 and len(out.splitlines()) == 1 + 2
    code, _, err = run_cli(capsys, "--db", str(recorded), "history", "--run", "zzzz")
    assert code == 2 and err.startswith("error: no run with id 'zzzz'")


# -- run: the estimate first, --dry-run, evaluator errors (issue 11 items 8, 9) ----------------


def test_run_prints_the_estimate_before_it_spends(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file))

    first = out.splitlines()[0]
    assert first.startswith("estimate: 6 cells: 6 calls, 0 answered from history; ~")
    assert "rough upper bound" in first and "cost $0" in first
    assert out.index("estimate: ") < out.index("experiment moods, run")


def test_dry_run_prints_the_estimate_and_writes_nothing(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--db", str(db), "run", str(experiment_file), "--dry-run")

    assert code == 0, err
    assert out.startswith("estimate: 6 cells: 6 calls, 0 answered from history;")
    assert "dry run: nothing was called or recorded" in out
    assert not db.exists() and not list(db.parent.glob("history.duckdb*")), "not even a history file"

    run_cli(capsys, "--db", str(db), "run", str(experiment_file))
    Lab(db).fold()
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in db.parent.rglob("history.duckdb*"))
    code, out, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file), "--dry-run")
    assert code == 0
    assert out.startswith("estimate: 6 cells: 2 calls, 4 answered from history;"), "failed cells are called again"
    assert "this prompt version's history on this model (2 calls)" in out
    after = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in db.parent.rglob("history.duckdb*"))
    assert after == before
    assert len(Lab(db).trials()) == 6


def test_run_shows_evaluator_errors(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # json.loads(output, row) raises TypeError for every answered trial: 4 evaluator errors
    raising = EXPERIMENT + (
        "evaluators:\n  - {name: code, function: 'json:loads'}\n  - {name: icontains, target: the, literal: true}\n"
    )

    code, out, _ = run_cli(capsys, "--db", str(db), "run", str(write_experiment(tmp_path, raising)))

    assert code == 0
    trials = Lab(db).trials()
    unscored = trials.loc[trials["eval_errors"] > 0, "trial_id"].iloc[0]
    assert (
        f"6 trials: 4 ok, 2 failed, 0 from cache, 4 evaluator errors (`promptlab --db {db} show {unscored[:8]}`" in out
    )
    header = next(line for line in out.splitlines() if line.startswith("prompt"))
    assert header.split()[3:7] == ["n", "errors", "eval", "errors"]
    plain = next(line for line in out.splitlines() if line.startswith("plain@"))
    assert plain.split()[2:6] == ["fail_if=bad", "3", "1", "2"]


def test_run_without_evaluator_errors_has_no_such_column(
    db: Path, experiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "--db", str(db), "run", str(experiment_file))
    assert "eval errors" not in out and "evaluator errors" not in out


# -- db stats, db compact (issue 13 item 5) ---------------------------------------------------


def test_db_stats_and_db_compact(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--db", str(recorded), "db", "stats")

    assert code == 0
    assert out.startswith(f"history: {recorded.resolve()}\nsize: ")
    assert re.search(r"^free: (none \(\d+ blocks, all in use\)|\d+% \(\d+ of \d+ blocks, [\d.]+ MB;)", out, re.M)
    assert "trials 6, " in out and f"schema_migrations {migrations.LATEST}" in out
    assert "journal: 0 segment(s) waiting to be folded" in out

    code, out, _ = run_cli(capsys, "--db", str(recorded), "db", "compact")

    assert code == 0
    assert re.search(r"^size: [\d.]+ MB → [\d.]+ MB \(free: \d+% → 0%\) in [\d.]+ s$", out, re.M), out
    assert "rows: " in out and len(Lab(recorded).trials()) == 6


def test_db_compact_that_cant_leaves_the_file_and_exits_2(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Lab(recorded).fold()
    settle()
    con = duckdb.connect(str(recorded))
    con.execute("CREATE MACRO shout(s) AS upper(s)")
    con.close()
    before = recorded.read_bytes()

    code, out, err = run_cli(capsys, "--db", str(recorded), "db", "compact")

    assert code == 2 and out == ""
    assert err.startswith("error: ") and "was not compacted: it holds macro main.shout" in err
    assert recorded.read_bytes() == before


def test_db_stats_without_a_history_file_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--db", str(db), "db", "stats")
    assert code == 2 and err.startswith("error: no history file at") and not db.exists()


def test_an_experiment_file_may_run_on_a_dataset(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = Lab(db)
    dataset = lab.dataset("moods")
    dataset.add([{"text": "a sunny walk", "expected": "positive"}, {"text": "a lost key", "expected": "negative"}])
    version = dataset.version
    path = write_experiment(tmp_path, EXPERIMENT.replace("data: data/rows.jsonl", "data: dataset:moods"))
    code, out, err = run_cli(capsys, "--db", str(db), "run", "--dry-run", str(path))
    assert code == 0, err
    assert "4 cells:" in out, out  # 2 prompts × 2 rows of the dataset
    dataset.add([{"text": "bad weather", "expected": "negative"}])  # a later version
    pinned = path.read_text().replace("dataset:moods", f"dataset:moods@{version}")
    path.write_text(pinned)
    code, out, err = run_cli(capsys, "--db", str(db), "run", str(path))
    assert code == 0, err
    run = Lab(db).runs(experiment="moods").iloc[0]
    assert run["n_trials"] == 4
    assert Lab(db).run_info(run["run_id"])["config"]["data"] == f"dataset:moods@{version}"
    path.write_text(pinned.replace(f"dataset:moods@{version}", "dataset:nothing"))
    code, _, err = run_cli(capsys, "--db", str(db), "run", str(path))
    assert code == 2 and "nothing" in err
