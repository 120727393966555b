"""What evaluators said, in the results grid and in Review (issue 11, item 8):
each score with its explanation, an evaluator's error in red with its
message, and the judge's own call behind a "judge" button; evaluator errors
counted in the per-variant summary. On the history a team has
(``tests/support/team_history.py``): a judge whose grades come with reasons and who
once answers in words, a ``code`` evaluator that raises, failed calls."""

from __future__ import annotations

import pytest
from support.team_history import JUDGE_LABEL, JUDGE_RUBRIC, TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.analysis import stats
from promptlab.evals import Score
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import ResultsGrid, results, review
from promptlab.ui.cells import CellDetail
from promptlab.ui.common import RED
from promptlab.ui.scores import score_line

LAMP_ERROR = "short_enough: evaluator error: ValueError: lamp outputs are not handled yet"


@pytest.fixture
def grid(team: TeamHistory) -> ResultsGrid:
    """The team's judged run, every input on one page."""
    return results(team.runs["grid"], lab=team.lab(), page_size=100)


def cell_of(grid: ResultsGrid, trial_id: str) -> CellDetail:
    """The cell holding a trial, opened whole."""
    cell = grid.open_trial(trial_id)
    assert cell is not None
    return cell


def explained(grid: ResultsGrid, column: str, text: str) -> list[str]:
    """The trials whose ``column`` holds ``text``."""
    trials = grid.table.trials
    return list(trials.loc[trials[column].fillna("").astype(str).str.contains(text, regex=False), "trial_id"])


def test_each_score_shows_with_its_explanation(grid: ResultsGrid, team: TeamHistory) -> None:
    judged = cell_of(grid, team.trials["judged"])
    shown = text_of(judged.body.value)
    assert f"{JUDGE_LABEL} 0.8 ✓ — fine, one sentence" in shown
    assert "contains:expected 1 ✓" in shown
    assert 'title="fine, one sentence"' in judged.body.value  # the whole explanation as a tooltip
    shouted = explained(grid, f"explanation_{JUDGE_LABEL}", "shouted in capitals")
    assert shouted and all(
        f"{JUDGE_LABEL} 0.3 ✗ — shouted in capitals" in text_of(cell_of(grid, t).body.value) for t in shouted
    )
    assert f"✗ {JUDGE_LABEL} 0.3" in text_of(grid.matrix.value)  # in the grid: the verdict, the reason on opening


def test_an_evaluator_error_is_marked_with_its_message(grid: ResultsGrid, team: TeamHistory) -> None:
    failing = cell_of(grid, team.trials["eval_error"])
    assert failing.eval_errors >= 1
    assert f"⚠ {LAMP_ERROR}" in text_of(failing.body.value)
    assert f'<div style="color:{RED};font-size:11px"' in failing.body.value
    words = explained(grid, f"eval_error_{JUDGE_LABEL}", "holds no score")  # the judge answered in words
    assert words and all(
        f"⚠ {JUDGE_LABEL}: evaluator error: EvaluatorError" in text_of(cell_of(grid, t).body.value) for t in words
    )
    assert f"⚠ {JUDGE_LABEL}" in text_of(grid.matrix.value)


def test_a_failed_call_says_why_the_judge_gave_no_score(grid: ResultsGrid, team: TeamHistory) -> None:
    failed = cell_of(grid, team.trials["failed"])
    assert failed.failed
    assert f"{JUDGE_LABEL} no score — no output to judge: the endpoint refused" in text_of(failed.body.value)
    assert failed.judge is None  # the judge was never called


def test_the_judge_button_shows_the_judges_call(grid: ResultsGrid, team: TeamHistory) -> None:
    lab = team.lab()
    cell = cell_of(grid, team.trials["judged"])
    assert cell.judge is not None and cell.feedback is not None and cell.judge in cell.feedback.controls.children
    assert cell.judge.calls is None and len(cell.extra.children) == 1  # read (and drawn) only when asked
    cell.judge.value = True
    assert cell.judge.calls is cell.extra.children[-1]
    call = lab.trial(cell.judge.judges[JUDGE_LABEL])
    shown = text_of(cell.judge.shown)
    assert f"{JUDGE_LABEL} · judged by grader · trial {call['trial_id'][:8]}" in shown
    assert f"Rubric: {JUDGE_RUBRIC}" in shown and call["output"] in shown
    assert call["output"] == '{"score": 8, "explanation": "fine, one sentence"}'
    assert cell.judge.show(False) == "" and not cell.judge.value
    assert "grader" in cell.judge.show()  # the same as a public call
    assert len(cell.extra.children) == 2


def test_the_summary_counts_evaluator_errors_per_variant(grid: ResultsGrid) -> None:
    trials = grid.table.trials
    assert stats.summary(trials)["eval_errors"].sum() > 0
    shown = text_of(grid.summary.value).splitlines()
    assert shown[0].split()[:5] == ["variant", "n", "errors", "eval", "errors"]  # "eval errors", next to errors
    lines = {line.split()[0]: line for line in shown[1:] if line.strip()}
    for j, (letter, name) in enumerate(zip(grid.table.variants.letters, grid.table.variants.names, strict=True)):
        row = stats.summary(trials[trials["variant"] == j]).iloc[0]
        counts = lines[letter].removeprefix(f"{letter} {name}").split()[:3]
        assert counts == [str(row["n"]), str(row["errors"]), str(row["eval_errors"])], letter
    assert "% pass · mean" in text_of(grid.summary.value)  # pass rates beside the means


def test_review_shows_the_whole_verdicts_and_the_judges_call(team: TeamHistory) -> None:
    panel = review(team.runs["grid"], lab=team.lab())
    while panel.current is not None and panel.current["trial_id"] != team.trials["eval_error"]:
        panel.step(1)
    assert f"⚠ {LAMP_ERROR}" in text_of(panel.output.value)
    assert panel.judge is not None
    panel.judge.value = True
    assert "grader" in panel.judge.shown and panel.judge.calls in panel.feedback_box.children


def test_a_long_explanation_shows_whole_in_the_opened_cell(lab: pl.Lab) -> None:
    reason = "because " + "the output rambles on " * 10

    def verbose(output: str, row: dict) -> Score:
        return Score(0.5, explanation=reason)

    run = lab.sweep(
        pl.Prompt("Say {{ text }}"),
        fake_model("echo"),
        [{"text": "hi"}],
        evaluators=[pl.evals.code(verbose)],
        display=NullDisplay(),
    )
    grid = results(run)
    assert "verbose 0.5" in text_of(grid.matrix.value) and reason not in text_of(grid.matrix.value)
    (trial_id,) = grid.table.trials["trial_id"]
    cell = cell_of(grid, str(trial_id))
    assert f"verbose 0.5 — {reason}" in text_of(cell.body.value) and cell.judge is None


def test_a_score_line_says_nothing_for_an_evaluator_that_did_not_run() -> None:
    assert score_line({"score_x": float("nan")}, "x") == ""
    assert "x 1 ✓" in text_of(score_line({"score_x": 1.0, "passed_x": True}, "x"))
