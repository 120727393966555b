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
from promptlab.ui.cells import OutputCell
from promptlab.ui.common import RED
from promptlab.ui.scores import score_line

LAMP_ERROR = "short_enough: evaluator error: ValueError: lamp outputs are not handled yet"


@pytest.fixture
def grid(team: TeamHistory) -> ResultsGrid:
    """The team's judged run, every input on one page."""
    return results(team.runs["grid"], lab=team.lab(), page_size=100)


def cell_of(grid: ResultsGrid, trial_id: str) -> OutputCell:
    (cell,) = [cell for cell in grid.output_cells() if cell.trial_id == trial_id]
    return cell


def test_each_score_shows_with_its_explanation(grid: ResultsGrid, team: TeamHistory) -> None:
    judged = cell_of(grid, team.trials["judged"])
    shown = text_of(judged.body.value)
    assert f"{JUDGE_LABEL} 0.8 ✓ — fine, one sentence" in shown
    assert "contains:expected 1 ✓" in shown
    assert 'title="fine, one sentence"' in judged.body.value  # the whole explanation as a tooltip
    shouted = [c for c in grid.output_cells() if "shouted in capitals" in c.body.value]
    assert shouted and all(f"{JUDGE_LABEL} 0.3 ✗ — shouted in capitals" in text_of(c.body.value) for c in shouted)


def test_an_evaluator_error_is_marked_with_its_message(grid: ResultsGrid, team: TeamHistory) -> None:
    failing = cell_of(grid, team.trials["eval_error"])
    assert failing.eval_errors >= 1
    assert f"⚠ {LAMP_ERROR}" in text_of(failing.body.value)
    assert f'<div style="color:{RED};font-size:11px"' in failing.body.value
    words = [c for c in grid.output_cells() if "holds no score" in c.body.value]  # the judge answered in words
    assert words and all(f"⚠ {JUDGE_LABEL}: evaluator error: EvaluatorError" in text_of(c.body.value) for c in words)


def test_a_failed_call_says_why_the_judge_gave_no_score(grid: ResultsGrid, team: TeamHistory) -> None:
    failed = cell_of(grid, team.trials["failed"])
    assert failed.failed
    assert f"{JUDGE_LABEL} no score — no output to judge: the endpoint refused" in text_of(failed.body.value)
    assert failed.judge is None  # the judge was never called


def test_the_judge_button_shows_the_judges_call(grid: ResultsGrid, team: TeamHistory) -> None:
    lab = team.lab()
    cell = cell_of(grid, team.trials["judged"])
    assert cell.judge is not None and cell.judge in cell.feedback.controls.children
    assert cell.judge.calls is None and len(cell.children) == 2  # read (and drawn) only when asked
    cell.judge.value = True
    assert cell.judge.calls is cell.children[-1]
    call = lab.trial(cell.judge.judges[JUDGE_LABEL])
    shown = text_of(cell.judge.shown)
    assert f"{JUDGE_LABEL} · judged by grader · trial {call['trial_id'][:8]}" in shown
    assert f"Rubric: {JUDGE_RUBRIC}" in shown and call["output"] in shown
    assert call["output"] == '{"score": 8, "explanation": "fine, one sentence"}'
    assert cell.judge.show(False) == "" and not cell.judge.value
    assert "grader" in cell.judge.show()  # the same as a public call
    assert len(cell.children) == 3


def test_the_summary_counts_evaluator_errors_per_variant(grid: ResultsGrid) -> None:
    summary = stats.summary(grid.table.trials)
    assert summary["eval_errors"].sum() > 0
    shown = text_of(grid.summary.value).splitlines()
    assert shown[0].split()[:4] == ["variant", "n", "errors", "eval"]  # "eval errors", next to errors
    labels = list(grid.table.variants)
    for row, line in zip(summary.to_dict("records"), shown[1:], strict=False):
        label = next(label for label in labels if line.startswith(label + " "))
        assert line.removeprefix(label).split()[:3] == [str(row["n"]), str(row["errors"]), str(row["eval_errors"])]
    assert "% pass)" in grid.summary.value  # pass rates beside the means


def test_review_shows_the_whole_verdicts_and_the_judges_call(team: TeamHistory) -> None:
    panel = review(team.runs["grid"], lab=team.lab())
    while panel.current is not None and panel.current["trial_id"] != team.trials["eval_error"]:
        panel.step(1)
    assert f"⚠ {LAMP_ERROR}" in text_of(panel.output.value)
    assert panel.judge is not None
    panel.judge.value = True
    assert "grader" in panel.judge.shown and panel.judge.calls in panel.feedback_box.children


def test_a_long_explanation_is_cut_with_more_and_whole_in_the_tooltip(lab: pl.Lab) -> None:
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
    (cell,) = results(run).output_cells()
    assert reason not in text_of(cell.body.value) and "…" in cell.body.value
    assert f'title="{reason}"' in cell.body.value
    assert cell.more is not None and cell.judge is None
    cell.more.value = True
    assert f"verbose 0.5 — {reason}" in text_of(cell.body.value)


def test_a_score_line_says_nothing_for_an_evaluator_that_did_not_run() -> None:
    assert score_line({"score_x": float("nan")}, "x") == ""
    assert "x 1 ✓" in text_of(score_line({"score_x": 1.0, "passed_x": True}, "x"))
