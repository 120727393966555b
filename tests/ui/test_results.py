"""The results grid: a page of widgets at a time, sorting, filters, the
per-variant summary, scores when present, feedback on every output."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest
from support.team_history import JUDGE_LABEL, ROWS, TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.analysis import plots
from promptlab.core.pricing import dollars
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import ResultsGrid, results
from promptlab.ui.results import figure_png
from promptlab.ui.table import results_table, select_rows

SAY, SHOUT = pl.Prompt("Say {{ text }}", name="say"), pl.Prompt("Shout {{ text }}", name="shout")


def live_widgets() -> int:
    return len(widgets.widget._instances)


def sweep(lab: pl.Lab, rows: list[dict], prompts=(SAY, SHOUT), models=None, **options) -> pl.Run:
    return lab.sweep(list(prompts), models or [fake_model("echo")], rows, display=NullDisplay(), **options)


@pytest.fixture
def big_run(lab: pl.Lab) -> pl.Run:
    return sweep(lab, [{"text": f"input {i}"} for i in range(250)], concurrency=16)


def test_pages_show_ten_inputs_and_build_widgets_only_for_them(big_run: pl.Run) -> None:
    before = live_widgets()
    grid = results(big_run)
    assert grid.lab is big_run.lab
    assert len(grid.table.rows) == 250 and grid.table.variants == ["say · echo", "shout · echo"]
    assert list(grid.visible_rows()["row_index"]) == list(range(10))
    assert len(grid.output_cells()) == 20
    assert grid.page.max == 25 and "of 25" in grid.page_label.value
    built = live_widgets() - before
    assert built < 1000  # a page's worth; all 500 outputs would be ~10,000
    grid.next.click()
    assert list(grid.visible_rows()["row_index"]) == list(range(10, 20))
    assert live_widgets() - before == built  # the previous page's widgets were closed
    grid.last.click()
    assert grid.page.value == 25
    assert list(grid.visible_rows()["row_index"]) == list(range(240, 250))
    assert grid.next.disabled and not grid.previous.disabled
    grid.first.click()
    assert list(grid.visible_rows()["row_index"]) == list(range(10))
    grid.page_size.value = 25
    assert len(grid.visible_rows()) == 25 and grid.page.max == 10


def test_cells_show_outputs_side_by_side_with_latency_and_cost(lab: pl.Lab) -> None:
    run = sweep(lab, [{"text": "hello"}])
    grid = results(run)
    say, shout = grid.output_cells()
    assert "Say hello" in say.body.value and "Shout hello" in shout.body.value
    cost = run.df.set_index("prompt_name")["cost_usd"]
    assert f" ms · {dollars(cost['say'])}" in say.body.value  # the same money format as everywhere else


def test_long_outputs_are_cut_with_a_toggle_to_expand(lab: pl.Lab) -> None:
    long_text = " ".join(f"word{i}" for i in range(200))
    grid = results(sweep(lab, [{"text": long_text}], prompts=[SAY]))
    (cell,) = grid.output_cells()
    assert "word199" not in cell.body.value and "…" in cell.body.value
    assert cell.more is not None
    cell.more.value = True
    assert "word199" in cell.body.value and cell.more.description == "less"


def test_errors_are_red_and_can_be_shown_alone(lab: pl.Lab) -> None:
    rows = [{"text": "fine"}, {"text": "bad apple"}, {"text": "also fine"}]
    grid = results(sweep(lab, rows, prompts=[SAY], models=[fake_model("echo", fail_if="bad")]))
    failed = [cell for cell in grid.output_cells() if cell.failed]
    assert len(failed) == 1
    assert "#c0392b" in failed[0].body.value and "PermanentError" in failed[0].body.value
    grid.errors_only.value = True
    assert list(grid.visible_rows()["row_index"]) == [1]
    assert '<span style="color:#c0392b">1</span>' in grid.summary.value


def test_filter_text_searches_inputs_and_outputs(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "apple"}, {"text": "pear"}, {"text": "grape"}]))
    grid.filter_text.value = "PEAR"
    assert list(grid.visible_rows()["row_index"]) == [1]
    grid.filter_text.value = "shout ap"  # only in an output
    assert list(grid.visible_rows()["row_index"]) == [0]
    grid.filter_text.value = "text"  # a column name, not a value
    assert grid.visible_rows().empty
    assert "no inputs match" in grid.grid.children[0].value


def test_only_rows_where_variants_differ(lab: pl.Lab) -> None:
    shouting = pl.Prompt("{{ text }}", name="plain")
    rows = [{"text": "ALREADY LOUD"}, {"text": "quiet"}, {"text": "123"}]
    grid = results(sweep(lab, rows, prompts=[shouting], models=[fake_model("echo"), fake_model("upper")]))
    assert len(grid.visible_rows()) == 3
    grid.differ_only.value = True
    assert list(grid.visible_rows()["row_index"]) == [1]


def test_sorting_by_latency_cost_and_score(lab: pl.Lab) -> None:
    trials = sweep(lab, [{"text": f"t{i}"} for i in range(5)]).df
    trials["latency_ms"] = np.arange(len(trials), dtype=float)[::-1]
    trials["cost_usd"] = np.arange(len(trials), dtype=float)
    trials["score_len"] = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.4, 0.8, 0.6, 0.0]
    grid = results(trials, lab=lab)
    assert list(grid.sort_by.options) == ["input", "latency", "cost", "score_len"]
    grid.sort_by.value = "latency"
    assert list(grid.visible_rows()["row_index"]) == [4, 3, 2, 1, 0]
    grid.sort_by.value = "cost"
    grid.descending.value = True
    assert list(grid.visible_rows()["row_index"]) == [4, 3, 2, 1, 0]
    grid.sort_by.value = "score_len"
    grid.descending.value = False
    means = {i: np.mean(trials["score_len"][trials["row_index"] == i]) for i in range(5)}
    assert list(grid.visible_rows()["row_index"]) == sorted(means, key=means.__getitem__)


def test_scores_show_in_cells_and_summary_when_present(lab: pl.Lab) -> None:
    trials = sweep(lab, [{"text": "a"}, {"text": "b"}]).df.assign(score_exact=[1.0, 0.0, 1.0, 1.0])
    grid = results(trials, lab=lab)
    assert "exact" in grid.summary.value and "0.500" in grid.summary.value and "1.000" in grid.summary.value
    assert "exact 1" in grid.output_cells()[0].body.value


def test_summary_strip_has_a_row_per_variant(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "a"}, {"text": "b"}], models=[fake_model("echo"), fake_model("upper")]))
    for label in ("say · echo", "say · upper", "shout · echo", "shout · upper"):
        assert label in grid.summary.value
    assert "p50 latency" in grid.summary.value


def test_repeats_get_a_row_each(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "a"}], prompts=[SAY], repeats=3))
    assert list(grid.visible_rows()["repeat"]) == [0, 1, 2]
    assert "repeat 2" in grid.grid.children[-2].body.value


def test_feedback_votes_corrections_and_comments_are_stored(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "hello"}]))
    cell = grid.output_cells()[0]
    assert cell.feedback is not None
    cell.feedback.up.click()
    cell.feedback.up.click()
    cell.feedback.down.click()
    assert "▲ 0 ▼ 1" in cell.feedback.state.value  # one person, one current vote: the newest
    cell.feedback.edit.value = True
    assert cell.feedback.correction is not None and cell.feedback.comment is not None
    assert cell.feedback.correction.value == "Say hello"
    cell.feedback.correction.value = "Hello!"
    cell.feedback.comment.value = "too literal"
    cell.feedback.editor.children[2].click()  # Save
    stored = lab.feedback_for(cell.trial_id)
    assert list(stored["vote"].dropna()) == [1, 1, -1]
    assert stored["correction"].dropna().tolist() == ["Hello!"]
    assert stored["comment"].dropna().tolist() == ["too literal"]
    assert set(stored["user"]) == {"tester"}  # PROMPTLAB_USER
    assert "corrected · 1 comment" in cell.feedback.state.value
    assert cell.feedback.comment.value == ""


def test_saving_nothing_says_so_without_storing(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "hello"}], prompts=[SAY]))
    bar = grid.output_cells()[0].feedback
    assert bar is not None
    bar.show_editor()
    assert not bar.save_editor()
    assert "nothing to save" in bar.state.value
    assert lab.feedback_for().empty


def test_feedback_errors_from_the_library_show_in_red(lab: pl.Lab) -> None:
    trials = sweep(lab, [{"text": "hello"}], prompts=[SAY]).df.assign(trial_id="no-such-trial")
    bar = results(trials, lab=lab).output_cells()[0].feedback
    assert bar is not None
    bar.up.click()
    assert "no trial with id" in bar.state.value and "#c0392b" in bar.state.value


def test_a_dataframe_without_a_lab_has_no_feedback_buttons(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "hello"}]).df)
    assert all(cell.feedback is None for cell in grid.output_cells())
    assert grid.refresh_button.layout.display == "none"


def test_a_run_id_needs_its_lab(lab: pl.Lab) -> None:
    run = sweep(lab, [{"text": "hello"}])
    with pytest.raises(pl.ConfigError, match="needs its lab"):
        results(run.run_id)
    assert "run " + run.run_id[:8] in results(run.run_id, lab=lab).title.value


def test_refresh_reads_the_run_again(lab: pl.Lab) -> None:
    handle = lab.start(
        [SAY],
        fake_model("echo", latency=0.02),
        [{"text": f"r{i}"} for i in range(30)],
        concurrency=1,
        display=NullDisplay(),
    )
    while handle.run_id is None:
        handle.wait(0.01)
    grid = ResultsGrid(handle.run_id, lab=lab)
    assert handle.wait(30)
    grid.refresh()
    assert len(grid.table.trials) == 30 and "done" in grid.title.value


def test_plots_are_drawn_as_images(lab: pl.Lab) -> None:
    trials = sweep(lab, [{"text": "a"}, {"text": "b"}]).df.assign(score_exact=1.0)
    grid = results(trials)
    assert set(grid.figures()) == {"latency", "cost", "score_exact", "score_exact vs cost", "score_exact vs latency"}
    grid.plots_button.click()
    assert len(grid.plots.children) == 5
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in grid.plots.children)
    assert figure_png(plots.cost_by_variant(trials)).startswith(b"\x89PNG")


def test_trials_of_several_runs_line_up_by_input(lab: pl.Lab) -> None:
    sweep(lab, [{"text": "a"}, {"text": "b"}], prompts=[SAY])
    sweep(lab, [{"text": "b"}, {"text": "a"}], prompts=[SHOUT])
    table = results_table(lab.trials())
    assert len(table.rows) == 2 and (table.cells >= 0).all()
    assert list(select_rows(table)) == [0, 1]


def test_an_empty_grid_says_there_is_nothing_yet() -> None:
    grid = ResultsGrid()
    assert "no trials yet" in grid.grid.children[0].value
    assert "no trials yet" in grid.summary.value
    assert repr(grid) == "ResultsGrid(0 inputs × 0 variants)"


def test_results_table_of_a_frame_with_missing_cells() -> None:
    trials = pd.DataFrame(
        {
            "trial_id": ["t1", "t2", "t3"],
            "params": [{}, {}, {}],
            "vars": [{"x": 1}, {"x": 2}, {"x": 1}],
            "prompt_name": ["p", "p", "q"],
            "prompt_version": ["v1", "v1", "v2"],
            "model": ["m", "m", "m"],
            "row_index": [0, 1, 0],
            "repeat": [0, 0, 0],
            "output": ["a", "b", "a"],
            "error": [None] * 3,
            "error_type": [None] * 3,
            "created_at": pd.to_datetime(["2026-01-01"] * 3),
        }
    )
    table = results_table(trials)
    assert table.cells.tolist() == [[0, 2], [1, -1]]
    assert table.trial(1, 1) is None


def test_scores_recorded_by_evaluators_appear_in_the_grid(lab: pl.Lab) -> None:
    rows = [{"text": "apple", "expected": "apple"}, {"text": "pear", "expected": "plum"}]
    run = sweep(lab, rows, prompts=[SAY])
    lab.evaluate(run, [pl.evals.contains("expected")])
    grid = results(run)
    (column,) = grid.table.scores
    assert column.startswith("score_") and column in grid.sort_by.options
    label = column.removeprefix("score_")
    assert f"mean {label}" in grid.summary.value and "0.500" in grid.summary.value
    assert [f"{label} 1" in c.body.value for c in grid.output_cells()] == [True, False]
    assert set(grid.figures()) == {"latency", "cost", column, f"{column} vs cost", f"{column} vs latency"}


# -- on the history a team has (tests/support/team_history.py) -----------------------------------------------


def test_a_judged_grid_on_three_models_two_temperatures_and_repeats(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab)
    assert len(grid.table.variants) == 12 and len(grid.table.rows) == 8  # 2 versions × 3 models × 2 temperatures
    assert "summarize@1828dd · flaky (temperature=0.7)" in grid.table.variants
    assert "repeat 1" in text_of(grid.grid.children[1 + 12 + 1 + 12].body.value)  # input 0 again, its 2nd repeat
    assert "96/96 trials · by ben" in text_of(grid.title.value)
    grid.errors_only.value = True
    assert {row["text"] for row in grid.visible_rows()["vars"]} == {ROWS[1]["text"]}  # flaky refuses storms
    grid.errors_only.value = False
    grid.sort_by.value = "score_" + JUDGE_LABEL
    grid.descending.value = True
    assert grid.visible_rows()["vars"].iloc[0]["text"] != ROWS[1]["text"]
    grid.plots_button.click()  # judge scores that are all the same once broke the bar chart's error bars
    assert len(grid.plots.children) == 2 + 3 * 3


def test_votes_in_the_grid_are_current_votes(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab, page_size=100)
    cells = {cell.trial_id: cell for cell in grid.output_cells()}
    expected = {"disputed": "▲ 1 ▼ 1", "agreed": "▲ 2 ▼ 0", "withdrawn": "▲ 0 ▼ 0", "corrected": "▲ 0 ▼ 0"}
    trials = lab.trials(run=team.runs["grid"]).set_index("trial_id")
    for role, counts in expected.items():
        bar = cells[team.trials[role]].feedback
        assert bar is not None and counts in bar.state.value, role  # drawn from lab.trials()
        row = trials.loc[team.trials[role]]
        assert f"▲ {row['votes_up']} ▼ {row['votes_down']}" == counts
        bar.refresh()  # read from the feedback log, as after a click
        assert counts in bar.state.value, role
    assert "corrected · 2 comments" in cells[team.trials["corrected"]].feedback.state.value


def test_a_vote_stays_shown_when_its_page_is_drawn_again(team: TeamHistory) -> None:
    grid = results(team.runs["grid"], lab=team.lab())
    (first,) = [cell for cell in grid.output_cells() if cell.trial_id == team.trials["disputed"]]
    assert first.feedback is not None
    first.feedback.down.click()
    assert "▲ 1 ▼ 2" in first.feedback.state.value
    grid.filter_text.value = "kettle"
    grid.filter_text.value = ""  # the page's widgets are built again from the grid's trials
    (again,) = [cell for cell in grid.output_cells() if cell.trial_id == team.trials["disputed"]]
    assert again is not first
    assert again.feedback is not None and "▲ 1 ▼ 2" in again.feedback.state.value


def test_refresh_redraws_votes_that_moved_between_trials(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab, page_size=100)
    lab.feedback(team.trials["agreed"], vote=0, user="ben")  # ben takes his 👍 from one trial …
    lab.feedback(team.trials["withdrawn"], vote="up", user="ben")  # … to another: the run's totals don't move
    grid.refresh()
    cells = {cell.trial_id: cell for cell in grid.output_cells()}
    for role in ("agreed", "withdrawn"):
        bar = cells[team.trials[role]].feedback
        assert bar is not None and "▲ 1 ▼ 0" in bar.state.value, role
