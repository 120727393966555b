"""The sweep builder: validation beside each field (once something is typed),
Run, Stop, what a run cost, evaluators, the experiment's tags, and its plain
``sweep_arguments()``. Handlers run synchronously headless; sweeps run in the
background, so tests wait on the builder's handle and watcher."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from support.team_history import JUDGE_LABEL, ROWS, TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.core.pricing import dollars
from promptlab.runner.progress import Progress
from promptlab.testing import fake_model
from promptlab.ui import SweepArguments, SweepBuilder, WidgetDisplay, builder
from promptlab.ui.common import RED
from promptlab.ui.progress import describe

pytestmark = pytest.mark.both_stores


def fill_prompt(b: SweepBuilder, user: str, *, system: str = "", index: int = 0) -> None:
    rows = b.editors()[index].rows.children
    rows[0].content.value = system
    rows[1].content.value = user


def type_rows(b: SweepBuilder, texts: list[str]) -> None:
    grid = b.data.typed
    while len(grid.body.children) < len(texts):
        grid.add_row.click()
    for row, text in zip(grid.body.children, texts, strict=False):
        row.children[0].value = text


def finish(b: SweepBuilder) -> None:
    assert b.handle is not None and b.watch is not None
    assert b.handle.wait(30)
    assert b.watch.join(30)


@pytest.fixture
def ready(lab: pl.Lab) -> SweepBuilder:
    """A builder with one valid variant, the echo model ticked and three typed rows."""
    b = builder(lab, models=[fake_model("echo")], namespace={})
    fill_prompt(b, "Say {{ text }}")
    type_rows(b, ["one", "two", "three"])
    return b


def test_a_new_builder_says_what_is_missing_and_cannot_run(lab: pl.Lab) -> None:
    b = builder(lab, namespace={})
    problems = b.check()
    assert "empty" in problems["prompt 1"] and "empty" in b.editors()[0].error.value
    assert problems["models"] == "pick at least one model"
    assert "pick at least one model" in b.models.error.value
    assert "type at least one input row" in b.data.error.value
    assert b.run_button.disabled
    with pytest.raises(pl.ConfigError):
        b.sweep_arguments()


def test_a_new_builder_shows_no_error_until_something_is_typed(lab: pl.Lab) -> None:
    b = builder(lab, namespace={})
    errors = [b.editors()[0].error, b.models.error, b.data.error, b.params_error, b.options_error]
    assert all(label.value == "" for label in errors)
    assert "then Run" in b.size.value and b.run_button.disabled
    fill_prompt(b, "Say {{ text }}")
    assert "pick at least one model" in b.models.error.value
    assert "type at least one input row" in b.data.error.value


def test_pressing_run_on_a_new_builder_shows_what_is_missing(lab: pl.Lab) -> None:
    b = builder(lab, namespace={})
    assert b.run() is None
    assert "empty" in b.editors()[0].error.value and "pick at least one model" in b.models.error.value


def test_the_embedded_model_is_offered(lab: pl.Lab) -> None:
    b = builder(lab, namespace={})
    assert [c.model.name for c in b.models.choices.children] == ["smollm2"]
    assert not b.models.selected()


def test_an_undefined_variable_is_shown_next_to_its_prompt(ready: SweepBuilder) -> None:
    assert not ready.run_button.disabled
    fill_prompt(ready, "Translate {{ text }} into {{ language }}")
    editor = ready.editors()[0]
    assert "language" in editor.error.value and "columns: text" in editor.error.value
    assert "{{ language }}" in editor.variables.value and "{{ text }}" in editor.variables.value
    assert ready.run_button.disabled
    ready.data.typed.add_wanted.click()  # add the columns the prompts use
    assert ready.data.typed.column_names() == ["text", "language"]
    assert editor.error.value == ""
    assert not ready.run_button.disabled


def test_an_empty_prompt_and_no_model_disable_run(ready: SweepBuilder) -> None:
    fill_prompt(ready, "   ", system="Be terse.")
    assert "no user message" in ready.editors()[0].error.value
    assert ready.run_button.disabled
    fill_prompt(ready, "Say {{ text }}")
    assert not ready.run_button.disabled
    ready.models.choices.children[0].checkbox.value = False
    assert ready.run_button.disabled and "pick at least one model" in ready.models.error.value


def test_a_template_syntax_error_is_shown_beside_the_prompt(ready: SweepBuilder) -> None:
    fill_prompt(ready, "Say {{ text ")
    assert "syntax error" in ready.editors()[0].error.value
    assert ready.run_button.disabled


def test_bad_parameter_values_are_shown_beside_the_parameters(ready: SweepBuilder) -> None:
    ready.temperature.value = "0, hot"
    assert "temperature" in ready.params_error.value and "hot" in ready.params_error.value
    assert ready.run_button.disabled
    ready.temperature.value = "0, 0.7"
    ready.max_tokens.value = "0.5"
    assert "whole number" in ready.params_error.value
    ready.max_tokens.value = "64"
    ready.other_params.value = "top_p=0.9, 1"
    assert ready.params_error.value == ""
    assert ready.params() == {"temperature": [0.0, 0.7], "max_tokens": [64], "top_p": [0.9, 1]}


def test_sweep_arguments_are_plain_data_a_notebook_can_use(ready: SweepBuilder, lab: pl.Lab) -> None:
    ready.temperature.value = "0, 0.5"
    ready.repeats.value = 2
    ready.experiment.value = "greetings"
    ready.tags.value = "demo, draft"
    args = ready.sweep_arguments()
    assert args.prompts == [pl.Prompt([{"role": "user", "content": "Say {{ text }}"}][0]["content"], name="prompt-1")]
    assert args.models == [fake_model("echo")]
    assert args.data == [{"text": "one"}, {"text": "two"}, {"text": "three"}]
    assert args.options["params"] == {"temperature": [0.0, 0.5]}
    assert (args.options["repeats"], args.options["experiment"]) == (2, "greetings")
    assert args.options["tags"] == ["demo", "draft"]
    assert args.cell_count(3) == 12
    estimate = lab.estimate(args.prompts, args.models, args.data, **args.options)
    assert estimate.cells == 12
    assert ready.size.value.startswith("12 cells: 12 calls")


def test_variants_can_be_duplicated_renamed_and_removed(ready: SweepBuilder) -> None:
    fill_prompt(ready, "Say {{ text }}", system="Be terse.")
    original = ready.editors()[0]
    ready.editors()[0].duplicate.click()
    copy = ready.editors()[1]
    assert copy.name.value == "prompt-1-copy"
    assert copy.messages() == original.messages()
    copy.name.value = "shouty"
    fill_prompt(ready, "SAY {{ text }}!", system="Be terse.", index=1)
    ready.add_prompt.click()
    assert [e.name.value for e in ready.editors()] == ["prompt-1", "shouty", "prompt-2"]
    assert ready.run_button.disabled  # the new variant is empty
    ready.editors()[2].remove.click()
    args = ready.sweep_arguments()
    assert [p.name for p in args.prompts] == ["prompt-1", "shouty"]
    assert args.prompts[1].template == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "SAY {{ text }}!"},
    ]


def test_a_model_typed_in_is_added_with_its_endpoint(ready: SweepBuilder) -> None:
    picker = ready.models
    picker.name.value = "llama3.2"
    picker.base_url.value = "http://localhost:11434/v1"
    picker.add_button.click()
    added = picker.selected()[-1]
    assert (added.name, added.provider, added.base_url) == ("llama3.2", "openai", "http://localhost:11434/v1")
    picker.name.value = "gpt-4o-mini"
    picker.base_url.value = "https://user:hunter2@example.com/v1"
    picker.add_button.click()
    assert "password" in picker.add_error.value
    assert len(picker.selected()) == 2
    picker.name.value = ""
    picker.add_button.click()
    assert "type a model name" in picker.add_error.value


def test_data_comes_from_a_notebook_dataframe(lab: pl.Lab) -> None:
    frame = pd.DataFrame({"question": ["a?", "b?"]})
    b = builder(lab, models=[fake_model("echo")], namespace={"questions": frame, "_hidden": frame, "n": 3})
    assert b.data.source.value == "frame"
    assert [label for label, _ in b.data.frame.options] == ["questions (2 rows)"]
    fill_prompt(b, "Answer {{ question }}")
    assert not b.run_button.disabled
    assert b.sweep_arguments().data is frame
    assert "2 rows" in b.data.preview.value


def test_data_comes_from_a_file_under_experiments(lab: pl.Lab, tmp_path: Path) -> None:
    (tmp_path / "experiments" / "data").mkdir(parents=True)
    (tmp_path / "experiments" / "data" / "words.jsonl").write_text('{"word": "hi"}\n{"word": "yo"}\n')
    (tmp_path / "experiments" / "notes.txt").write_text("not data")
    b = builder(lab, models=[fake_model("echo")], namespace={})
    assert b.data.source.value == "file"
    assert list(b.data.file.options) == ["experiments/data/words.jsonl"]
    fill_prompt(b, "Say {{ word }}")
    assert b.sweep_arguments().data == "experiments/data/words.jsonl"
    b.run_button.click()
    finish(b)
    assert len(lab.trials()) == 2
    assert lab.run_info(b.handle.run_id)["config"]["data"] == "experiments/data/words.jsonl"


def test_run_records_every_cell_and_shows_the_results(ready: SweepBuilder, lab: pl.Lab) -> None:
    fill_prompt(ready, "Say {{ text }}")
    ready.add_prompt.click()
    fill_prompt(ready, "Shout {{ text }}", index=1)
    ready.temperature.value = "0, 0.5"
    ready.run_button.click()
    assert ready.handle is not None
    assert ready.run_button.disabled and not ready.stop_button.disabled
    finish(ready)
    trials = lab.trials(run=ready.handle.run_id)
    assert len(trials) == 2 * 2 * 3  # prompts × temperatures × rows
    assert set(trials["output"]) >= {"Say one", "Shout three"}
    assert ready.handle.result().status == "done"
    assert "12/12 done" in ready.display.label.value and "done" in ready.display.label.value
    assert ready.results.run_id == ready.handle.run_id
    assert len(ready.results.visible_rows()) == 3
    assert len(ready.results.table.trials) == 3 * 4
    assert not ready.run_button.disabled and ready.stop_button.disabled


def test_stop_cancels_the_run_and_keeps_finished_trials(lab: pl.Lab) -> None:
    b = builder(lab, models=[fake_model("echo", latency=0.05)], namespace={})
    fill_prompt(b, "Say {{ text }}")
    b.add_prompt.click()
    fill_prompt(b, "Repeat {{ text }}", index=1)
    b.data.typed.set_rows([{"text": f"row {i}"} for i in range(50)])
    b.concurrency.value = 2
    assert b.sweep_arguments().cell_count(50) == 100
    b.run_button.click()
    handle = b.handle
    assert handle is not None
    deadline = time.monotonic() + 20
    while (handle.progress is None or handle.progress.done < 4) and time.monotonic() < deadline:
        time.sleep(0.01)
    b.stop_button.click()
    finish(b)
    assert handle.status == "cancelled"
    run = handle.result()
    assert run.status == "cancelled"
    recorded = len(lab.trials(run=run.run_id))
    assert 4 <= recorded < 100
    assert "cancelled" in b.display.label.value
    assert b.run_error.value == ""


def test_a_failure_after_start_is_shown_beside_run_not_raised(ready: SweepBuilder, lab: pl.Lab) -> None:
    ready.models.add(pl.Model("mystery", provider="no-such-provider"))
    ready.models.choices.children[0].checkbox.value = False
    ready.run_button.click()
    finish(ready)
    assert "no-such-provider" in ready.run_error.value
    assert lab.trials().empty


def test_the_builder_describes_itself_briefly(ready: SweepBuilder) -> None:
    assert repr(ready) == "SweepBuilder(1 prompt variant, 1 model)"


def test_the_widget_display_redraws_at_most_five_times_a_second() -> None:
    shown = WidgetDisplay()
    progress = Progress(total=1000)
    shown.start("demo · run 1234", progress)
    for done in range(1, 1001):
        progress.done = done
        progress.errors = done // 100
        shown.update(progress)
    assert shown.redraws <= 3  # the start, and at most a couple within the same instant
    shown.message("rate limited: pausing all calls for 2.0s")
    shown.finish(progress, "done")
    assert shown.bar.value == shown.bar.max == 1000 and shown.bar.bar_style == "success"
    assert "1000/1000 done · 10 errors · 0 cached" in text_of(shown.label.value)
    assert "demo · run 1234" in shown.label.value
    assert "rate limited" in shown.messages.value
    assert "application/vnd.jupyter.widget-view+json" in shown._repr_mimebundle_()


def test_the_display_line_has_an_eta_while_running() -> None:
    progress = Progress(total=10, done=4, started=time.monotonic() - 2.0)
    assert describe(progress).startswith("4/10 done · 0 errors · 0 cached · 2.0 s · ETA 3 s")
    assert describe(progress, "cancelled").endswith("cancelled")


def test_the_progress_widget_shows_evaluator_errors_next_to_errors() -> None:
    shown = WidgetDisplay()
    progress = Progress(total=10, done=10, errors=1, eval_errors=3)
    shown.start("judged", progress)
    shown.finish(progress, "done")
    assert "10/10 done · 1 errors · 3 evaluator errors · 0 cached" in text_of(shown.label.value)
    assert f'<span style="color:{RED}">3 evaluator errors</span>' in shown.label.value
    assert "evaluator" not in describe(Progress(total=10, done=10))  # none: not mentioned
    assert "1 evaluator error ·" in describe(Progress(total=2, done=2, eval_errors=1))


def test_a_sweep_run_from_the_builder_counts_its_evaluator_errors(lab: pl.Lab) -> None:
    b = builder(lab, models=[fake_model("echo")], namespace={})
    fill_prompt(b, "Say {{ text }}")
    type_rows(b, ["one", "two"])
    arguments = b.sweep_arguments()
    failing = pl.evals.code(lambda output, row: 1 / 0)
    options = {**arguments.options, "evaluators": [failing]}
    handle = SweepArguments(arguments.prompts, arguments.models, arguments.data, options).start(lab, display=b.display)
    handle.result()
    assert "2 evaluator errors" in text_of(b.display.label.value)


def test_loaded_rows_sit_next_to_notebook_dataframes(lab: pl.Lab) -> None:
    frame = pd.DataFrame({"text": ["x", "y"]})
    b = builder(lab, models=[fake_model("echo")], namespace={"frame": frame})
    fill_prompt(b, "Say {{ text }}")
    rows = [{"text": "loaded"}]
    b.data.set_data(rows, "rows of run 1234")
    assert b.data.frame.label == "rows of run 1234" and b.sweep_arguments().data == rows
    b.data.rescan_button.click()
    assert [label for label, _ in b.data.frame.options] == ["frame (2 rows)", "rows of run 1234"]
    assert b.sweep_arguments().data == rows  # still picked
    b.data.frame.index = 0
    assert b.sweep_arguments().data is frame


# -- on the history a team has (tests/support/team_history.py) -----------------------------------------------


def test_load_a_run_on_three_models_with_a_grid_and_repeats_and_run_it_again(team: TeamHistory) -> None:
    lab = team.lab()
    b = builder(lab, namespace={})
    b.load_run(team.runs["grid"])
    assert [e.name.value for e in b.editors()] == ["summarize", "summarize"]
    assert b.editors()[0].rows.children[0].content.value == "Be terse."
    assert [m.name for m in b.models.selected()] == ["echo", "upper", "flaky"]
    assert b.temperature.value == "0.0, 0.7" and b.repeats.value == 2 and b.experiment.value == "summaries"
    assert not b.check()
    assert b.size.value.startswith("96 cells: 96 calls")  # ben's run didn't reuse answers: nor does its copy
    b.cache.value = True
    assert b.size.value.startswith("96 cells: 8 calls, 88 answered from history")  # flaky's failures are asked again
    handle = b.run()
    assert handle is not None
    finish(b)
    again = lab.trials(run=handle.run_id)
    assert len(again) == 96 and again["cached"].sum() == 88 and again["error_type"].notna().sum() == 8
    assert len(b.results.table.variants) == 12
    shown = text_of(b.display.label.value)  # its evaluators came with it: the code one fails on lamps, as before
    assert "96/96 done · 8 errors · " in shown and " evaluator errors · 88 cached" in shown


def test_models_a_team_used_are_offered_with_prices_but_not_test_ones(team: TeamHistory) -> None:
    b = builder(team.lab(), namespace={})
    offered = [choice.model.name for choice in b.models.choices.children]
    assert offered == ["smollm2", "flaky"]  # echo and upper ran on the fake provider; the judge's model ran no sweep
    described = [choice.checkbox.description for choice in b.models.choices.children]
    assert described == ["smollm2 · llamacpp · free", "flaky · team-flaky · $0.50 / $1.50 per 1M tokens"]
    passed = builder(team.lab(), models=[fake_model("echo")], namespace={})
    assert [m.name for m in passed.models.selected()] == ["echo"]  # passed in: offered, whatever its provider


def test_many_models_are_searched_and_all_can_be_listed(lab: pl.Lab) -> None:
    many = [pl.Model(f"model-{i}", base_url="http://localhost:9/v1") for i in range(12)]
    b = builder(lab, models=[fake_model("echo")], namespace={})
    for model in many:
        b.models.add(model, checked=False)
    assert len(b.models.shown()) == 8 and b.models.more.description == "show all 14"
    b.models.add(many[11])  # ticked: listed whatever the cap
    assert len(b.models.shown()) == 9
    b.models.search.value = "model-1"
    assert [m.name for m in b.models.shown()] == ["echo", "model-1", "model-10", "model-11"]
    b.models.search.value = ""
    b.models.more.click()
    assert len(b.models.shown()) == 14 and b.models.more.layout.display == "none"


def test_a_run_shows_what_it_cost_not_a_fresh_estimate(lab: pl.Lab) -> None:
    started: list[str] = []
    b = pl.ui.SweepBuilder(
        lab, models=[fake_model("echo", price=(2.5, 10.0))], namespace={}, on_run_started=started.append
    )
    fill_prompt(b, "Say {{ text }}")
    type_rows(b, ["one", "two", "three"])
    b.run_button.click()
    finish(b)
    trials = lab.trials(run=b.handle.run_id)
    spent = trials["cost_usd"].sum()
    assert spent > 0 and started == [b.handle.run_id]
    assert text_of(b.runner.spent.value) == f"This run cost {dollars(spent)} · 3 calls"
    assert text_of(b.size.value).startswith("Running it again: 3 cells: 0 calls, 3 answered from history")
    b.run_button.click()
    finish(b)
    assert text_of(b.runner.spent.value) == "This run cost $0 · 0 calls · 3 answered from history (no new cost)"
    b.repeats.value = 2
    assert not text_of(b.size.value).startswith("Running it again")  # an edit: an estimate of the new sweep


# -- the experiment's tags, on the team's history: summaries has news and weekly ---------------------------------


def summaries_tags(lab: pl.Lab) -> list[str]:
    return list(lab.experiments().set_index("experiment").loc["summaries", "tags"])


def run_on_summaries(b: SweepBuilder) -> None:
    b.run_button.click()
    finish(b)
    assert b.handle.result().status == "done"


@pytest.fixture
def on_summaries(team: TeamHistory) -> SweepBuilder:
    b = builder(team.lab(), models=[fake_model("echo")], namespace={})
    fill_prompt(b, "Say {{ text }}")
    type_rows(b, ["one"])
    b.experiment.value = "summaries"
    return b


def test_an_existing_experiments_tags_are_filled_in(on_summaries: SweepBuilder) -> None:
    assert on_summaries.tags.value == "news, weekly"
    on_summaries.experiment.value = "sentiment"
    assert on_summaries.tags.value == "support"
    on_summaries.experiment.value = "brand new"
    assert on_summaries.tags.value == ""


def test_a_run_with_blank_tags_keeps_the_experiments_tags(on_summaries: SweepBuilder) -> None:
    on_summaries.tags.value = ""
    assert on_summaries.sweep_arguments().options["tags"] is None
    run_on_summaries(on_summaries)
    assert summaries_tags(on_summaries.lab) == ["news", "weekly"]


def test_a_tag_typed_in_is_added_and_one_deleted_is_removed(on_summaries: SweepBuilder) -> None:
    on_summaries.tags.value = "news, weekly, draft"
    run_on_summaries(on_summaries)
    assert summaries_tags(on_summaries.lab) == ["news", "weekly", "draft"]
    on_summaries.experiment.value = "summaries"  # read again
    on_summaries.experiment_fields.fill_tags()
    assert on_summaries.tags.value == "news, weekly, draft"
    on_summaries.tags.value = "news, draft"
    assert on_summaries.sweep_arguments().options["remove_tags"] == ["weekly"]
    run_on_summaries(on_summaries)
    assert summaries_tags(on_summaries.lab) == ["news", "draft"]


def test_tags_typed_for_a_new_experiment_are_added_to_an_existing_ones(on_summaries: SweepBuilder) -> None:
    on_summaries.experiment.value = "brand new"
    on_summaries.tags.value = "draft"
    on_summaries.experiment.value = "summaries"
    assert on_summaries.tags.value == "news, weekly, draft"


# -- evaluators ----------------------------------------------------------------------------------------------------


def test_a_builder_run_with_contains_expected_records_scores(team: TeamHistory) -> None:
    lab = team.lab()
    b = builder(lab, models=[fake_model("echo")], namespace={"reviews": pd.DataFrame(ROWS)})
    fill_prompt(b, "{{ text }}")
    assert b.evaluators.hint.value and "unscored" in b.evaluators.hint.value
    b.evaluators.add_button.click()
    row = b.evaluators.rows.children[0]
    assert row.name.value == "contains"
    target = row.fields[0]
    assert target.argument.name == "target" and target.control.value == "expected"
    assert list(target.control.options) == ["text", "expected"]
    assert [e.label for e in b.sweep_arguments().options["evaluators"]] == ["contains:expected"]
    run_on_summaries(b)
    trials = lab.trials(run=b.handle.run_id)
    assert trials["passed_contains:expected"].tolist() == [True] * 4  # echo repeats the text, which names it


def test_an_evaluator_needing_a_missing_column_is_shown_beside_it(ready: SweepBuilder) -> None:
    ready.evaluators.add_button.click()
    row = ready.evaluators.rows.children[0]
    assert "'expected' is not a column of the data (columns: text)" in text_of(row.error.value)
    assert ready.run_button.disabled
    row.fields[0].control.value = "text"
    assert row.error.value == "" and not ready.run_button.disabled


def test_loading_the_teams_grid_run_restores_its_evaluators(team: TeamHistory) -> None:
    lab = team.lab()
    b = builder(lab, namespace={})
    b.load_run(team.runs["grid"])
    rows = b.evaluators.rows.children
    assert [row.name.value for row in rows] == ["contains", "judge", "code"]
    judge = {field.argument.name: field for field in rows[1].fields}
    assert judge["model"].control.value.name == "grader" and judge["threshold"].control.value == "0.5"
    recorded = lab.run_info(team.runs["grid"])["config"]["evaluators"]
    assert [pl.evals.spec(e) for e in b.sweep_arguments().options["evaluators"]] == recorded
    assert [e.label for e in b.sweep_arguments().options["evaluators"]][1] == JUDGE_LABEL[:46]


def test_an_evaluator_that_cannot_be_rebuilt_is_named_in_the_note(lab: pl.Lab) -> None:
    unnamed = pl.evals.code(lambda output, row: 1.0)
    run = lab.sweep(
        pl.Prompt("Say {{ text }}"), fake_model("echo"), [{"text": "a"}], evaluators=[unnamed], display=None
    )
    b = builder(lab, namespace={})
    b.load_run(run.run_id)
    assert "the evaluator code can't be restored" in text_of(b.note.value)
    assert not b.evaluators.rows.children
