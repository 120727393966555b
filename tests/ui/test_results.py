"""The results grid: a page is one table of cells coloured by pass or fail,
bounded by cells (a wide run gets fewer rows), views of failures, passes,
errors and differences, sorting, the per-variant summary with pass rates,
variants named A, B, … in the builder's order, and a cell opened whole with
its feedback controls (issue 14)."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest
from support.team_history import JUDGE_LABEL, ROWS, SUMMARIZE, TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.analysis import plots
from promptlab.core.pricing import dollars
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import ResultsGrid, playground, results
from promptlab.ui.cells import CellDetail
from promptlab.ui.result_parts import figure_png
from promptlab.ui.table import FAIL, PASS, results_table, select_rows

pytestmark = pytest.mark.both_stores

SAY, SHOUT = pl.Prompt("Say {{ text }}", name="say"), pl.Prompt("Shout {{ text }}", name="shout")


def live_widgets() -> int:
    return len(widgets.widget._instances)


def sweep(lab: pl.Lab, rows: list[dict], prompts=(SAY, SHOUT), models=None, **options) -> pl.Run:
    return lab.sweep(list(prompts), models or [fake_model("echo")], rows, display=NullDisplay(), **options)


def open_ref(grid: ResultsGrid, ref: str) -> CellDetail:
    """Open the cell listed as ``ref`` (``#0 · A``) on the page shown."""
    (value,) = [value for label, value in grid.cell.options if label == ref]
    detail = grid.open_cell(value)
    assert detail is not None
    return detail


def shown(grid: ResultsGrid) -> str:
    return text_of(grid.matrix.value)


@pytest.fixture
def big_run(lab: pl.Lab) -> pl.Run:
    return sweep(lab, [{"text": f"input {i}"} for i in range(250)], concurrency=16)


def test_pages_are_bounded_by_cells_and_draw_no_widget_per_cell(big_run: pl.Run) -> None:
    grid = results(big_run)
    assert grid.lab is big_run.lab
    assert len(grid.table.rows) == 250 and grid.table.variants.letters == ["A", "B"]
    assert grid.table.variants.names == ["say · echo", "shout · echo"]
    assert list(grid.visible_rows()["row_index"]) == list(range(25))  # 50 cells across 2 variants
    assert grid.page.max == 10 and "of 10" in grid.page_label.value
    before = live_widgets()
    grid.page_size.value = 100
    assert len(grid.visible_rows()) == 50 and grid.page.max == 5
    assert live_widgets() == before  # 100 cells drawn as one HTML value
    grid.next.click()
    assert list(grid.visible_rows()["row_index"]) == list(range(50, 100))
    assert "#50" in shown(grid) and "#49 " not in shown(grid)
    grid.last.click()
    assert grid.page.value == 5 and list(grid.visible_rows()["row_index"]) == list(range(200, 250))
    assert grid.next.disabled and not grid.previous.disabled
    grid.first.click()
    assert list(grid.visible_rows()["row_index"]) == list(range(50))


def test_choosing_variants_shows_only_them_and_fits_more_rows(big_run: pl.Run) -> None:
    grid = results(big_run)
    grid.columns.value = (1,)
    assert len(grid.visible_rows()) == 50  # one variant: 50 rows of one cell
    assert "Shout input 0" in shown(grid) and "Say input 0" not in shown(grid)
    assert "1 of 2 variants" in text_of(grid.filters_note.value)


def test_cells_show_outputs_side_by_side_with_latency_and_cost(lab: pl.Lab) -> None:
    run = sweep(lab, [{"text": "hello"}])
    grid = results(run)
    cost = run.df.set_index("prompt_name")["cost_usd"]
    assert "Say hello" in shown(grid) and "Shout hello" in shown(grid)
    assert f" ms · {dollars(cost['say'])}" in shown(grid)  # the same money format as everywhere else
    assert f"cost {dollars(cost.sum())}" in text_of(grid.title.value)  # what the run cost, in its title


def test_a_cell_opens_whole_with_the_prompt_as_sent_and_its_numbers(lab: pl.Lab) -> None:
    long_text = " ".join(f"word{i}" for i in range(200))
    run = sweep(lab, [{"text": long_text}], prompts=[SAY])
    grid = results(run)
    assert "word199" not in shown(grid) and "…" in shown(grid)
    assert grid.detail.children == ()  # nothing built until a cell is opened
    detail = open_ref(grid, "#0 · A")
    body = text_of(detail.body.value)
    assert "word199" in body.split("prompt as sent")[0]  # the whole response
    assert f"[user]\nSay {long_text}" in body  # the prompt as sent
    trial = run.df.iloc[0]
    assert f"{trial['prompt_tokens']} + {trial['completion_tokens']} tokens" in body
    assert grid.opened is detail
    grid.cell.value = None
    assert grid.opened is None


def test_errors_are_red_counted_by_type_and_model_and_shown_alone(lab: pl.Lab) -> None:
    rows = [{"text": "fine"}, {"text": "bad apple"}, {"text": "also fine"}]
    grid = results(sweep(lab, rows, prompts=[SAY], models=[fake_model("echo", fail_if="bad")]))
    assert grid.matrix.value.count('class="pl-error"') == 1
    assert "PermanentError" in shown(grid)
    grid.view.value = "Errors"
    assert list(grid.visible_rows()["row_index"]) == [1]
    assert '<span style="color:#c0392b">1</span>' in grid.summary.value
    assert "PermanentError echo 1" in text_of(grid.errors.value)


def test_filter_text_searches_inputs_and_outputs(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "apple"}, {"text": "pear"}, {"text": "grape"}]))
    grid.filter_text.value = "PEAR"
    assert list(grid.visible_rows()["row_index"]) == [1]
    assert "filters on: text “PEAR”" in text_of(grid.filters_note.value)
    grid.filter_text.value = "shout ap"  # only in an output
    assert list(grid.visible_rows()["row_index"]) == [0]
    grid.filter_text.value = "text"  # a column name, not a value
    assert grid.visible_rows().empty
    assert "no inputs match" in grid.matrix.value
    grid.clear_button.click()
    assert len(grid.visible_rows()) == 3 and grid.filters_note.value == ""


def test_the_different_view_keeps_rows_where_variants_differ(lab: pl.Lab) -> None:
    shouting = pl.Prompt("{{ text }}", name="plain")
    rows = [{"text": "ALREADY LOUD"}, {"text": "quiet"}, {"text": "123"}]
    grid = results(sweep(lab, rows, prompts=[shouting], models=[fake_model("echo"), fake_model("upper")]))
    assert len(grid.visible_rows()) == 3
    grid.view.value = "Different"
    assert list(grid.visible_rows()["row_index"]) == [1]


def test_cells_are_coloured_by_pass_and_fail_with_views_of_each(lab: pl.Lab) -> None:
    rows = [{"text": "apple", "expected": "apple"}, {"text": "pear", "expected": "plum"}]
    run = sweep(lab, rows, evaluators=[pl.evals.contains("expected")])
    grid = results(run)
    assert grid.table.status().tolist() == [[PASS, PASS], [FAIL, FAIL]]
    assert grid.matrix.value.count('class="pl-pass"') == 2 and grid.matrix.value.count('class="pl-fail"') == 2
    assert "✓ contains:expected" in shown(grid) and "✗ contains:expected" in shown(grid)
    headers = text_of(grid.matrix.value).split("#0")[0]
    assert headers.count("contains:expected 50% pass") == 2  # pass rate in each column's header
    grid.view.value = "Failures"
    assert list(grid.visible_rows()["row_index"]) == [1]
    grid.view.value = "Passes"
    assert list(grid.visible_rows()["row_index"]) == [0]


def test_sorting_by_latency_cost_and_score_under_readable_names(lab: pl.Lab) -> None:
    trials = sweep(lab, [{"text": f"t{i}"} for i in range(5)]).df
    trials["latency_ms"] = np.arange(len(trials), dtype=float)[::-1]
    trials["cost_usd"] = np.arange(len(trials), dtype=float)
    trials["score_len"] = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.4, 0.8, 0.6, 0.0]
    grid = results(trials, lab=lab)
    assert [name for name, _ in grid.sort_by.options] == [
        "input order",
        "latency (mean)",
        "cost (total)",
        "score: len",
    ]
    grid.sort_by.value = "latency"
    assert list(grid.visible_rows()["row_index"]) == [4, 3, 2, 1, 0]
    grid.sort_by.value = "cost"
    grid.descending.value = True
    assert list(grid.visible_rows()["row_index"]) == [4, 3, 2, 1, 0]
    grid.sort_by.value = "score_len"
    grid.descending.value = False
    means = {i: np.mean(trials["score_len"][trials["row_index"] == i]) for i in range(5)}
    assert list(grid.visible_rows()["row_index"]) == sorted(means, key=means.__getitem__)


def test_the_summary_is_the_legend_of_the_letters_with_pass_rates(lab: pl.Lab) -> None:
    rows = [{"text": "apple", "expected": "apple"}, {"text": "pear", "expected": "plum"}]
    grid = results(
        sweep(lab, rows, models=[fake_model("echo"), fake_model("upper")], evaluators=[pl.evals.contains("expected")])
    )
    summary = text_of(grid.summary.value)
    for letter, label in zip("ABCD", ("say · echo", "say · upper", "shout · echo", "shout · upper"), strict=True):
        assert f"{letter} {label}" in summary
    assert "p50 latency" in summary and "50% pass · mean 0.5" in summary and "0% pass · mean 0" in summary


def test_repeats_get_a_row_each_or_share_a_cell(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "a"}, {"text": "b"}], prompts=[SAY], repeats=3))
    assert list(grid.visible_rows()["repeat"]) == [0, 1, 2, 0, 1, 2]
    assert "#0 · repeat 2" in shown(grid)
    grid.group_repeats.value = True
    assert len(grid.visible_rows()) == 2 and grid.table.cells.shape == (2, 1, 3)
    assert shown(grid).count("r2 ") == 2  # each cell lists its three repeats
    detail = open_ref(grid, "#1 · A")
    assert [label for label, _ in detail.repeat.options] == ["repeat 0", "repeat 1", "repeat 2"]
    detail.repeat.value = 2
    assert str(detail.trial["trial_id"]) == str(grid.table.trials.iloc[grid.table.cells[1, 0, 2]]["trial_id"])


def test_feedback_votes_corrections_and_comments_are_stored(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "hello"}]))
    bar = open_ref(grid, "#0 · A").feedback
    assert bar is not None
    bar.up.click()
    bar.up.click()
    bar.down.click()
    assert "▲ 0 ▼ 1" in bar.state.value  # one person, one current vote: the newest
    assert "▲ 0 ▼ 1" in shown(grid)  # the grid's cell says so too
    bar.edit.value = True
    assert bar.correction is not None and bar.comment is not None and bar.editor is not None
    assert bar.correction.value == "Say hello"
    bar.correction.value = "Hello!"
    bar.comment.value = "too literal"
    bar.editor.children[2].click()  # Save
    stored = lab.feedback_for(bar.trial_id)
    assert list(stored["vote"].dropna()) == [1, 1, -1]
    assert stored["correction"].dropna().tolist() == ["Hello!"]
    assert stored["comment"].dropna().tolist() == ["too literal"]
    assert set(stored["user"]) == {"tester"}  # PROMPTLAB_USER
    assert "corrected · 1 comment" in bar.state.value and bar.comment.value == ""
    assert "corrected" in shown(grid)


def test_saving_nothing_says_so_without_storing(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "hello"}], prompts=[SAY]))
    bar = open_ref(grid, "#0 · A").feedback
    assert bar is not None
    bar.show_editor()
    assert not bar.save_editor()
    assert "nothing to save" in bar.state.value
    assert lab.feedback_for().empty


def test_feedback_errors_from_the_library_show_in_red(lab: pl.Lab) -> None:
    trials = sweep(lab, [{"text": "hello"}], prompts=[SAY]).df.assign(trial_id="no-such-trial")
    bar = open_ref(results(trials, lab=lab), "#0 · A").feedback
    assert bar is not None
    bar.up.click()
    assert "no trial with id" in bar.state.value and "#c0392b" in bar.state.value


def test_a_dataframe_without_a_lab_has_no_feedback_buttons(lab: pl.Lab) -> None:
    grid = results(sweep(lab, [{"text": "hello"}]).df)
    assert open_ref(grid, "#0 · A").feedback is None
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


def test_plots_open_above_the_grid_as_images(lab: pl.Lab) -> None:
    trials = sweep(lab, [{"text": "a"}, {"text": "b"}]).df.assign(score_exact=1.0)
    grid = results(trials)
    assert grid.plots.layout.display == "none"
    grid.plots_button.click()
    assert len(grid.plots.images.children) == 5 and grid.plots.layout.display is None
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in grid.plots.images.children)
    matrix_box = next(i for i, child in enumerate(grid.children) if grid.matrix in getattr(child, "children", ()))
    assert grid.children.index(grid.plots) < matrix_box  # above the grid, not under every row
    grid.plots.hide_button.click()
    assert grid.plots.layout.display == "none" and grid.plots.images.children == ()
    assert figure_png(plots.cost_by_variant(trials)).startswith(b"\x89PNG")


def test_trials_of_several_runs_line_up_by_input(lab: pl.Lab) -> None:
    sweep(lab, [{"text": "a"}, {"text": "b"}], prompts=[SAY])
    sweep(lab, [{"text": "b"}, {"text": "a"}], prompts=[SHOUT])
    table = results_table(lab.trials())
    assert len(table.rows) == 2 and (table.cells >= 0).all()
    assert list(select_rows(table)) == [0, 1]


def test_an_empty_grid_says_there_is_nothing_yet() -> None:
    grid = ResultsGrid()
    assert "no trials yet" in grid.matrix.value
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
    assert table.cells[:, :, 0].tolist() == [[0, 2], [1, -1]]
    assert table.trial(1, 1) is None


def test_scores_recorded_by_evaluators_appear_in_the_grid(lab: pl.Lab) -> None:
    rows = [{"text": "apple", "expected": "apple"}, {"text": "pear", "expected": "plum"}]
    run = sweep(lab, rows, prompts=[SAY])
    lab.evaluate(run, [pl.evals.contains("expected")])
    grid = results(run)
    (column,) = grid.table.scores
    assert column.startswith("score_") and column in {key for _, key in grid.sort_by.options}
    label = column.removeprefix("score_")
    assert "50% pass · mean 0.5" in text_of(grid.summary.value)
    assert f"✓ {label}" in shown(grid) and f"✗ {label}" in shown(grid)


# -- on the history a team has (tests/support/team_history.py) -----------------------------------------------


def test_variants_come_in_the_builders_order_with_what_sets_them_apart(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab)
    frame = grid.table.variants.frame
    assert grid.table.variants.letters == list("ABCDEFGHIJKL")
    v2, v3 = (p.version for p in SUMMARIZE[1:])
    assert list(frame["prompt_version"]) == [v2] * 6 + [v3] * 6  # as the sweep listed them
    assert list(frame["model"]) == ["echo", "echo", "upper", "upper", "flaky", "flaky"] * 2
    assert [p["temperature"] for p in frame["params"]] == [0.0, 0.7] * 6
    assert frame["differs"].iloc[5].splitlines()[:3] == [f"version: v2 · {v2[:8]}", "model: flaky", "temperature: 0.7"]
    assert list(frame["name"][:2]) == ["summarize v2 · echo (temperature=0.0)", "summarize v2 · echo (temperature=0.7)"]
    assert "+ system: Be terse." in frame["differs"].iloc[0]
    assert 'title="version: ' in grid.matrix.value  # what differs, on hover over the column's header
    again = results(team.runs["grid"], lab=lab)
    assert again.table.variants.names == grid.table.variants.names


def test_headers_and_summary_match_the_librarys_numbers(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab, page_size=100)
    trials = lab.trials(run=team.runs["grid"])
    trials["temperature"] = trials["params"].map(lambda p: p["temperature"])
    headers = grid.matrix.value.split("<tr>")[1]
    for row in grid.table.variants.frame.to_dict("records"):
        mine = trials[
            (trials["prompt_version"] == row["prompt_version"])
            & (trials["model"] == row["model"])
            & (trials["temperature"] == row["params"]["temperature"])
        ]
        rate = mine["passed_contains:expected"].dropna().astype(float).mean()
        judge = mine[f"score_{JUDGE_LABEL}"].mean()
        header = text_of(headers.split("<th")[2 + ord(row["letter"]) - ord("A")])
        assert f"contains:expected {rate:.0%} pass" in header, row["letter"]
        assert f"mean {judge:.3g}" in header and f"n {len(mine)}" in header
        assert dollars(float(mine["cost_usd"].sum())) in header


def test_a_judged_grid_on_three_models_two_temperatures_and_repeats(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab)
    assert len(grid.table.variants) == 12 and len(grid.table.rows) == 8  # 2 versions × 3 models × 2 temperatures
    assert "summarize v2 · flaky (temperature=0.7)" in grid.table.variants.names  # v2: lab.prompt_versions' number
    numbers = lab.prompt_versions("summarize").set_index("version")["number"]
    assert numbers[SUMMARIZE[1].version] == 2 and numbers[SUMMARIZE[2].version] == 3
    assert len(grid.visible_rows()) == 4  # 50 cells across 12 variants
    assert "#0 · repeat 1" in shown(grid)
    assert "96/96 trials" in text_of(grid.title.value) and "by ben" in text_of(grid.title.value)
    grid.view.value = "Errors"
    assert {row["text"] for row in grid.visible_rows()["vars"]} == {ROWS[1]["text"]}  # flaky refuses storms
    assert "PermanentError flaky 8" in text_of(grid.errors.value)
    grid.view.value = "All"
    grid.sort_by.value = "score_" + JUDGE_LABEL
    grid.descending.value = True
    assert grid.visible_rows()["vars"].iloc[0]["text"] != ROWS[1]["text"]
    grid.plots_button.click()  # judge scores that are all the same once broke the bar chart's error bars
    assert len(grid.plots.images.children) == 2 + 3 * 4  # per score: by variant, vs cost, vs latency, vs temperature


def test_votes_in_the_grid_are_current_votes(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab, page_size=100)
    expected = {"disputed": "▲ 1 ▼ 1", "agreed": "▲ 2 ▼ 0", "withdrawn": "▲ 0 ▼ 0", "corrected": "▲ 0 ▼ 0"}
    trials = lab.trials(run=team.runs["grid"]).set_index("trial_id")
    for role, counts in expected.items():
        detail = grid.open_trial(team.trials[role])
        assert detail is not None and detail.feedback is not None
        assert counts in detail.feedback.state.value, role  # drawn from lab.trials()
        row = trials.loc[team.trials[role]]
        assert f"▲ {row['votes_up']} ▼ {row['votes_down']}" == counts
        detail.feedback.refresh()  # read from the feedback log, as after a click
        assert counts in detail.feedback.state.value, role
    corrected = grid.open_trial(team.trials["corrected"])
    assert corrected is not None and corrected.feedback is not None
    assert "corrected · 2 comments" in corrected.feedback.state.value


def test_a_vote_stays_shown_when_its_page_is_drawn_again(team: TeamHistory) -> None:
    grid = results(team.runs["grid"], lab=team.lab())
    first = grid.open_trial(team.trials["disputed"])
    assert first is not None and first.feedback is not None
    first.feedback.down.click()
    assert "▲ 1 ▼ 2" in first.feedback.state.value
    grid.filter_text.value = "kettle"
    grid.filter_text.value = ""
    again = grid.open_trial(team.trials["disputed"])
    assert again is not None and again is not first
    assert again.feedback is not None and "▲ 1 ▼ 2" in again.feedback.state.value


def test_refresh_redraws_votes_that_moved_between_trials(team: TeamHistory) -> None:
    lab = team.lab()
    grid = results(team.runs["grid"], lab=lab, page_size=100)
    before = grid.matrix.value
    lab.feedback(team.trials["agreed"], vote=0, user="ben")  # ben takes his 👍 from one trial …
    lab.feedback(team.trials["withdrawn"], vote="up", user="ben")  # … to another: the run's totals don't move
    grid.refresh()
    assert grid.matrix.value != before
    for role in ("agreed", "withdrawn"):
        detail = grid.open_trial(team.trials[role])
        assert detail is not None and detail.feedback is not None and "▲ 1 ▼ 0" in detail.feedback.state.value, role


def test_filters_do_not_leak_into_the_next_run_opened(team: TeamHistory) -> None:
    grid = results(team.runs["grid"], lab=team.lab())
    grid.filter_text.value = "lamp"
    grid.view.value = "Failures"
    assert "filters on" in text_of(grid.filters_note.value)
    grid.show_run(team.runs["sentiment"])
    assert grid.filter_text.value == "" and grid.view.value == "All" and grid.filters_note.value == ""
    grid.show_run(team.runs["grid"], search="storm")  # opened from a search: what found it is the filter
    assert grid.filter_text.value == "storm" and "text “storm”" in text_of(grid.filters_note.value)
    assert {row["text"] for row in grid.visible_rows()["vars"]} == {ROWS[1]["text"]}


def test_review_one_by_one_reviews_what_the_grid_shows(team: TeamHistory) -> None:
    app = playground(team.lab())
    app.open_run(team.runs["grid"])
    app.results.filter_text.value = "lamp"
    app.results.columns.value = (0, 1)
    app.results.review_button.click()
    assert app.selected_index == 3
    trials = app.review.trials
    assert len(trials) == 2 * 2  # the lamp input's two repeats × the two variants shown
    assert all("lamp" in row["text"].lower() for row in trials["vars"])
    names = app.results.table.variants.names
    assert list(trials["variant"][:2]) == [f"A · {names[0]}", f"B · {names[1]}"]  # the grid's letters and order
    assert f"A · {names[0]}" in text_of(app.review.header.value)


def test_a_run_started_in_the_builder_is_one_click_away_in_results(lab: pl.Lab) -> None:
    app = playground(lab, models=[fake_model("echo", latency=0.01)], namespace={})
    rows = app.builder.editors()[0].rows.children
    rows[1].content.value = "Say {{ text }}"
    typed = app.builder.data.typed
    while len(typed.body.children) < 3:
        typed.add_row.click()
    for row, text in zip(typed.body.children, ["one", "two", "three"], strict=True):
        row.children[0].value = text
    app.builder.run_button.click()
    handle = app.builder.handle
    assert handle is not None and handle.wait(30)
    assert app.builder.watch is not None and app.builder.watch.join(30)
    assert app.results.run_id == handle.run_id  # no History → Refresh → Open
    app.selected_index = 1  # the Results tab: a run still going when last read is read again
    assert len(app.results.table.trials) == 3 and "3/3 trials" in text_of(app.results.title.value)
    cost = lab.trials(run=handle.run_id)["cost_usd"].sum()
    assert f"cost {dollars(float(cost))}" in text_of(app.results.title.value)


def test_a_search_in_history_carries_into_the_results_it_opens(team: TeamHistory) -> None:
    app = playground(team.lab(), namespace={})
    app.history.search.value = "storm"
    app.history.open_run(team.runs["grid"])
    assert app.selected_index == 1 and app.results.filter_text.value == "storm"
    assert {row["text"] for row in app.results.visible_rows()["vars"]} == {ROWS[1]["text"]}
    app.history.search.value = ""
    app.history.open_run(team.runs["sentiment"])
    assert app.results.filter_text.value == "" and app.results.filters_note.value == ""


def test_refreshing_a_run_reads_version_numbers_only_when_a_version_appears(
    team: TeamHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = team.lab()
    calls: list[tuple[str, ...]] = []
    read = lab.version_numbers
    monkeypatch.setattr(lab, "version_numbers", lambda *names: calls.append(names) or read(*names))
    grid = results(team.runs["grid"], lab=lab)
    grid.refresh()
    grid.refresh()  # a live run's grid refreshes every few seconds
    assert calls == [("summarize",)]
    assert "summarize v2 · echo (temperature=0.0)" in grid.table.variants.names
