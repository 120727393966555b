"""The history browser: everyone's runs, newest first, filtered; open a run,
load it into the builder, compare a prompt's versions."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
import pytest
from support.stores import as_user
from support.team_history import TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import HistoryBrowser, Playground, ResultsGrid, SweepBuilder, history, playground
from promptlab.ui.arguments import sweep_arguments_from_run
from promptlab.ui.cells import trial_meta
from promptlab.ui.diff import prompt_diff_html
from promptlab.ui.listing import search_snippet

SUMMARIZE_V1 = pl.Prompt("Summarize: {{ text }}", name="summarize")
SUMMARIZE_V2 = pl.Prompt(
    [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Summarize briefly: {{ text }}"}],
    name="summarize",
)
GREET = pl.Prompt("Greet {{ text }}", name="greet")

pytestmark = pytest.mark.both_stores


@pytest.fixture
def shared(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> dict[str, pl.Run]:
    """Two people, two experiments, two versions of one prompt."""
    first = as_user(lab, "ana", monkeypatch).sweep(
        SUMMARIZE_V1,
        fake_model("echo"),
        [{"text": "apples"}, {"text": "pears"}],
        experiment="fruit",
        tags=["food", "demo"],
        display=NullDisplay(),
    )
    time.sleep(0.01)
    second = as_user(lab, "ben", monkeypatch).sweep(
        [SUMMARIZE_V2, GREET],
        [fake_model("upper", temperature=0.5)],
        [{"text": "rain"}],
        experiment="weather",
        params={"max_tokens": [32, 64]},
        repeats=2,
        concurrency=3,
        display=NullDisplay(),
    )
    monkeypatch.setenv("PROMPTLAB_USER", "tester")
    return {"ana": first, "ben": second}


def test_runs_by_everyone_newest_first(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    assert browser.run_ids() == [shared["ben"].run_id, shared["ana"].run_id]
    assert "2 runs" in browser.count.value
    first_row = browser.run_rows.children[0]
    assert "ben" in first_row.summary.value and "weather" in first_row.summary.value
    assert "8/8 trials" in first_row.summary.value
    assert [label for label, _ in browser.experiment.options] == ["any", "fruit · 1 run", "weather · 1 run"]
    assert browser.experiment_info.value == ""  # a line for the experiment picked, none for "any"
    browser.experiment.value = "fruit"
    assert "food, demo" in browser.experiment_info.value and "1 run · 2 trials" in browser.experiment_info.value
    assert [label for label, _ in browser.user.options] == ["anyone", "ana", "ben"]


@pytest.mark.parametrize(
    ("control", "value", "who"),
    [
        ("user", "ana", "ana"),
        ("experiment", "weather", "ben"),
        ("tag", "food", "ana"),
        ("prompt", "greet", "ben"),
        ("model", "echo", "ana"),
        ("search", "PEARS", "ana"),
    ],
)
def test_each_filter_narrows_the_runs(
    shared: dict[str, pl.Run], lab: pl.Lab, control: str, value: str, who: str
) -> None:
    browser = history(lab)
    getattr(browser, control).value = value
    assert browser.run_ids() == [shared[who].run_id]
    assert len(browser.run_rows.children) == 1


def test_date_filters(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    today = dt.datetime.now(dt.UTC).date()
    browser.since.value = today + dt.timedelta(days=1)
    assert browser.run_ids() == []
    assert "no runs match" in browser.run_rows.children[0].value
    browser.since.value = today - dt.timedelta(days=1)
    browser.until.value = today  # through the end of today
    assert len(browser.run_ids()) == 2
    browser.until.value = today - dt.timedelta(days=1)
    assert browser.run_ids() == []


def test_refresh_finds_new_runs(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    newer = lab.sweep(GREET, fake_model("echo"), [{"text": "x"}], experiment="fresh", display=NullDisplay())
    assert newer.run_id not in browser.run_ids()
    browser.refresh_button.click()
    assert browser.run_ids()[0] == newer.run_id
    assert ("fresh · 1 run", "fresh") in browser.experiment.options


def test_a_refresh_keeps_the_rows_shown_so_a_click_meanwhile_lands(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    before = {row.run_id: row for row in browser.run_rows.children}
    row = before[shared["ana"].run_id]
    row.summary.value = "stale"
    newer = lab.sweep(GREET, fake_model("echo"), [{"text": "z"}], display=NullDisplay())
    browser.refresh_button.click()
    after = {row.run_id: row for row in browser.run_rows.children}
    assert after[newer.run_id] not in before.values()  # the new run gets a row of its own
    assert all(after[run_id] is shown for run_id, shown in before.items())  # the others stay, not replaced
    assert row.open_button.comm is not None, "a row shown before the refresh was closed"
    assert f"run {shared['ana'].run_id[:8]}" in row.summary.value, "the row shows the run as read again"
    row.open_button.click()
    (grid,) = browser.detail.children
    assert isinstance(grid, ResultsGrid) and grid.run_id == shared["ana"].run_id


def test_a_filter_with_nothing_to_choose_is_hidden_until_there_is(lab: pl.Lab) -> None:
    lab.sweep(GREET, fake_model("echo"), [{"text": "ana"}], display=NullDisplay())
    browser = history(lab)
    assert browser.tag.layout.display == "none" and browser.user.layout.display is None
    lab.sweep(GREET, fake_model("echo"), [{"text": "bo"}], experiment="tagged", tags=["demo"], display=NullDisplay())
    browser.refresh()
    assert browser.tag.layout.display is None
    assert [label for label, _ in browser.tag.options] == ["any", "demo"] and browser.tag.value == ""


def test_auto_refresh_runs_on_a_timer_thread(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    browser.set_auto_refresh(True, every=0.25)
    assert browser.auto_refresh.value and browser.ticker is not None and browser.ticker.running
    newer = lab.sweep(GREET, fake_model("echo"), [{"text": "y"}], display=NullDisplay())
    deadline = time.monotonic() + 10
    while newer.run_id not in browser.run_ids() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert newer.run_id in browser.run_ids()
    ticker = browser.ticker
    browser.auto_refresh.value = False
    assert browser.ticker is None and not ticker.running
    ticker.join(5)


def test_open_shows_the_run_in_a_results_grid(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    browser.run_rows.children[1].open_button.click()
    (grid,) = browser.detail.children
    assert isinstance(grid, ResultsGrid) and grid.run_id == shared["ana"].run_id
    assert len(grid.visible_rows()) == 2


def test_load_into_builder_restores_prompts_models_and_settings(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    browser.run_rows.children[0].load_button.click()
    (built,) = browser.detail.children
    assert isinstance(built, SweepBuilder)
    args = built.sweep_arguments()
    assert args.prompts == [SUMMARIZE_V2, GREET]
    assert [p.version for p in args.prompts] == [SUMMARIZE_V2.version, GREET.version]
    assert args.models == [fake_model("upper", temperature=0.5)]
    assert args.data == [{"text": "rain"}]
    assert args.options["params"] == {"max_tokens": [32, 64]}
    assert (args.options["repeats"], args.options["experiment"], args.options["concurrency"]) == (2, "weather", 3)
    assert built.max_tokens.value == "32, 64"
    assert built.editors()[0].rows.children[0].content.value == "Be terse."
    assert built.data.source.value == "frame" and "rows of run" in built.data.frame.label


def test_a_loaded_run_runs_again_from_history(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    app = playground(lab, namespace={"notes": pd.DataFrame({"text": ["a notebook frame"]})})
    app.history.run_rows.children[1].load_button.click()
    assert app.selected_index == 0
    assert app.builder.sweep_arguments().prompts == [SUMMARIZE_V1]
    assert app.builder.size.value.startswith("2 cells: 0 calls, 2 answered from history")
    app.builder.editors()[0].duplicate.click()  # fork: a new variant next to the old one
    app.builder.editors()[1].rows.children[1].content.value = "TL;DR {{ text }}"
    app.builder.run_button.click()
    assert app.builder.handle is not None and app.builder.handle.wait(30)
    assert app.builder.watch is not None and app.builder.watch.join(30)
    trials = lab.trials(run=app.builder.handle.run_id)
    assert set(trials["prompt_name"]) == {"summarize", "summarize-copy"}
    assert trials["cached"].sum() == 2


def test_sweep_arguments_from_run_keeps_a_data_file_path(lab: pl.Lab, tmp_path: Path) -> None:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "rows.csv").write_text("text\nhello\nbye\n")
    run = lab.sweep(GREET, fake_model("echo"), "experiments/rows.csv", experiment="files", display=NullDisplay())
    args = sweep_arguments_from_run(lab, run.run_id)
    assert args.data == "experiments/rows.csv" and args.note is None
    builder = SweepBuilder(lab, namespace={})
    builder.load(args)
    assert builder.data.source.value == "file" and builder.data.file.value == "experiments/rows.csv"


def test_sweep_arguments_from_a_cancelled_run_note_missing_rows(lab: pl.Lab) -> None:
    handle = lab.start(
        GREET,
        fake_model("echo", latency=0.05),
        [{"text": f"r{i}"} for i in range(40)],
        concurrency=1,
        display=NullDisplay(),
    )
    while handle.progress is None or handle.progress.done < 2:
        time.sleep(0.01)
    handle.cancel()
    handle.wait(30)
    args = sweep_arguments_from_run(lab, handle.result().run_id)
    assert 2 <= len(args.data) < 40
    assert args.note is not None and "of the run's 40 input rows" in args.note


def test_prompt_versions_side_by_side(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    browser = history(lab)
    browser.versions_of.value = "summarize"
    assert browser.versions_reader.wait(30)
    assert "2 versions of summarize" in browser.versions.value
    assert browser.version_a.value == SUMMARIZE_V1.version
    assert browser.version_b.value == SUMMARIZE_V2.version
    assert browser.version_a.label.startswith(f"v1 · {SUMMARIZE_V1.version[:8]} · ana · ")
    assert "diff_add" in browser.diff.value and "terse" in browser.diff.value
    assert "no evaluator scored both versions" in browser.diff.value
    browser.version_b.value = browser.version_a.value  # a version against itself
    assert "the same text" in browser.diff.value


def test_the_runs_show_before_the_versions_are_read(
    shared: dict[str, pl.Run], lab: pl.Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading, release = threading.Event(), threading.Event()
    read = lab.prompt_versions

    def slow_versions(name: str) -> pd.DataFrame:
        reading.set()
        assert release.wait(30)
        return read(name)

    monkeypatch.setattr(lab, "prompt_versions", slow_versions)
    browser = history(lab)  # returns while the versions are still being read
    assert reading.wait(30) and browser.run_ids() and "run " in browser.run_rows.children[0].summary.value
    assert "reading the versions of" in browser.versions.value
    browser.refresh_button.click()  # asked again meanwhile: read once more, after the first
    release.set()
    assert browser.versions_reader.wait(30)
    assert re.search(r"\d versions? of greet", browser.versions.value) and "reading" not in browser.versions.value
    assert browser.version_b.value


def test_a_prompt_diff_is_escaped_html(lab: pl.Lab) -> None:
    risky = [pl.Prompt("<script>{{ text }}", name="r"), pl.Prompt("<b>{{ text }}</b>", name="r")]
    lab.sweep(risky, fake_model("echo"), [{"text": "x"}], display=NullDisplay())
    html = prompt_diff_html(lab.prompt_diff("r", risky[0].version, risky[1].version))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_playground_wires_history_results_and_review(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    app = lab.ui()
    titles = ("Build & run", "Results", "History", "Review", "Registry", "Monitor")
    assert isinstance(app, Playground) and app.titles == titles
    assert isinstance(pl.ui.playground(lab), Playground)
    app.history.run_rows.children[1].open_button.click()
    assert app.selected_index == 1 and app.results.run_id == shared["ana"].run_id
    app.results.review_button.click()
    assert app.selected_index == 3 and app.review.count.value == "of 2"
    where = "history.duckdb" if lab.location.endswith(".duckdb") else lab.location
    assert repr(app) == f"Playground({where}: Build & run | Results | History | Review | Registry | Monitor)"


def test_browser_describes_itself(shared: dict[str, pl.Run], lab: pl.Lab) -> None:
    assert repr(HistoryBrowser(lab)) == "HistoryBrowser(2 runs)"


# -- on the history a team has (tests/support/team_history.py) -----------------------------------------------


def row_of(browser: HistoryBrowser, run_id: str) -> str:
    (row,) = [r for r in browser.run_rows.children if r.run_id == run_id]
    return text_of(row.summary.value)


def test_a_teams_runs_read_right_the_interrupted_one_too(team: TeamHistory) -> None:
    browser = history(team.lab())
    assert len(browser.run_ids()) == 8 and browser.run_ids()[0] == team.runs["crashed"]  # newest first
    crashed = row_of(browser, team.runs["crashed"])  # no trials: its lists and counts are <NA>
    assert "ben · greetings · interrupted · 0/3 trials" in crashed and "prompts: — · models: —" in crashed
    assert "run the same sweep again to resume it" in crashed
    grid = row_of(browser, team.runs["grid"])
    assert "96/96 trials · 8 errors · 0 cached" in grid and "models: echo, flaky, upper" in grid
    assert re.search(r"\$[\d.]+ \+ judge \$[\d.]+ \(88 calls\)", grid), grid  # judge spend apart
    assert "8/8 trials · 8 cached" in row_of(browser, team.runs["rerun"])
    app = row_of(browser, team.runs["production"])  # an app's run counts its logged calls
    assert "app-bot · summarize-app · done · 14/14 trials · 1 errors" in app and "prompts: summarize" in app
    browser.experiment.value = "summaries"
    experiment = text_of(browser.experiment_info.value)
    assert re.search(r"summaries · tags: news, weekly · 3 runs · 112 trials · 8 errors · \$[\d.]+ \+ judge", experiment)
    assert [label for label, _ in browser.status.options] == ["any", "done", "interrupted"]


@pytest.mark.parametrize(
    ("control", "value", "roles"),
    [
        ("status", "interrupted", ["crashed"]),
        ("status", "done", ["production", "rerun", "rag", "greetings", "sentiment", "grid", "first_look"]),
        ("model", "flaky", ["rag", "sentiment", "grid"]),
        ("prompt", "summarize", ["rerun", "grid", "first_look"]),
        ("user", "kim", ["rerun"]),
        ("tag", "support", ["sentiment"]),
        ("experiment", "greetings", ["crashed", "greetings"]),
    ],
)
def test_filters_on_a_teams_history(team: TeamHistory, control: str, value: str, roles: list[str]) -> None:
    browser = history(team.lab())
    getattr(browser, control).value = value
    assert browser.run_ids() == [team.runs[role] for role in roles]
    assert len(browser.run_rows.children) == len(roles)


def test_every_filter_choice_of_a_teams_history_shows(team: TeamHistory) -> None:
    browser = history(team.lab())
    for control in (browser.user, browser.experiment, browser.tag, browser.prompt, browser.model, browser.status):
        assert control.layout.display is None  # something to choose in each
        for label, value in [*control.options[1:], control.options[0]]:  # each choice, then "any" again
            control.value = value
            assert browser.run_ids() and "no runs match" not in text_of(browser.run_rows.children[0].summary.value)
            assert control.label == label and control.index is not None  # "any" again reads "any", not blank
    browser.status.value = "interrupted"
    browser.user.value = "ana"
    assert browser.run_ids() == [] and "no runs match" in browser.run_rows.children[0].value


def test_every_run_of_a_team_opens_and_loads(team: TeamHistory, tmp_path: Path) -> None:
    app = playground(team.lab(), namespace={})
    for row in list(app.history.run_rows.children):
        row.open_button.click()
        assert app.results.run_id == row.run_id and not app.results.error.value
        app.results.review_button.click()
        assert not app.review.error.value
        row.load_button.click()
        assert not app.builder.run_error.value
    app.history.run_rows.children[0].open_button.click()  # the interrupted run, with no trials
    assert "interrupted · 0/3 trials" in text_of(app.results.title.value) and "resume" in app.results.title.value
    app.history.run_rows.children[0].load_button.click()
    assert "recorded no trial" in app.builder.note.value and "pick the data again" in app.builder.note.value


def test_a_teams_prompt_versions_side_by_side(team: TeamHistory) -> None:
    browser = history(team.lab())
    browser.versions_of.value = "summarize"
    assert browser.versions_reader.wait(30)
    v1, v2, v3 = team.versions["summarize"]
    assert "3 versions of summarize" in browser.versions.value
    assert (browser.version_a.value, browser.version_b.value) == (v2, v3)
    assert browser.version_a.label.endswith("48 trials · production, staging")
    assert "judge:Is it one clear sentence?" in browser.diff.value
    browser.version_a.value = v1
    assert "contains:expected" in browser.diff.value


def test_the_runs_list_comes_first_and_an_experiment_is_a_filter(team: TeamHistory) -> None:
    lab = team.lab()
    browser = history(lab)
    order = list(browser.children)
    assert order.index(browser.filter_bar) < order.index(browser.run_rows) == 5  # heading, filters, line, error, count
    assert order.index(browser.run_rows) < order.index(browser.comparison) < order.index(browser.detail)
    assert list(browser.experiment.options) == [
        ("any", ""),
        ("greetings · 2 runs", "greetings"),
        ("handbook-qa · 1 run", "handbook-qa"),
        ("sentiment · 1 run", "sentiment"),
        ("summaries · 3 runs", "summaries"),
        ("summarize-app · 1 run", "summarize-app"),  # an app's logged calls
    ]
    for _, name in browser.experiment.options[1:]:
        browser.experiment.value = name
        assert browser.run_ids() == lab.runs(name)["run_id"].tolist()
        assert f"experiment {name}" in text_of(browser.count.value)


def test_a_search_lists_the_runs_it_matched_with_the_text_marked(team: TeamHistory) -> None:
    lab = team.lab()
    heard: list[str] = []
    browser = HistoryBrowser(lab, on_search=heard.append)
    browser.search.value = " KETTLE "
    assert browser.run_ids() == lab.runs(search="KETTLE")["run_id"].tolist()
    assert team.runs["first_look"] in browser.run_ids() and team.runs["greetings"] not in browser.run_ids()
    for row in browser.run_rows.children:
        assert re.search("<mark>kettle</mark>", row.snippet.value, re.IGNORECASE)  # as the trial has it
        assert text_of(row.snippet.value).startswith("output: ")
    assert browser.search_text == "KETTLE" and heard == ["KETTLE"]  # for the results grid's filter
    assert "“KETTLE”" in text_of(browser.count.value)
    browser.user.value = "kim"  # another filter: the search text is still the same
    assert heard == ["KETTLE"] and browser.run_ids() == [team.runs["rerun"]]
    browser.search.value = ""
    assert heard == ["KETTLE", ""] and all(row.snippet.value == "" for row in browser.run_rows.children)


def test_a_search_snippet_says_where_it_matched_escaped_and_cut() -> None:
    trial = {"output": "no match here", "vars": {"text": "a <b> " + "x" * 200 + " Kettle " + "y" * 200}}
    snippet = search_snippet(trial, "kettle", width=30)
    assert snippet.startswith("input text: …") and snippet.endswith("…")
    assert "<mark>Kettle</mark>" in snippet and len(text_of(snippet)) < 50
    assert search_snippet({"output": "<i>tea</i>"}, "tea") == "output: &lt;i&gt;<mark>tea</mark>&lt;/i&gt;"
    assert search_snippet({"output": None, "vars": {}}, "tea") == ""


def test_time_presets_narrow_the_runs(team: TeamHistory) -> None:
    lab = team.lab()
    browser = history(lab)
    assert [label for label, _ in browser.period.options] == ["any time", "today", "last 7 days", "last 30 days"]
    browser.period.value = "7d"
    since = browser.filters()["since"]
    assert browser.run_ids() == lab.runs(since=since)["run_id"].tolist() and len(browser.run_ids()) == 8
    assert "last 7 days" in text_of(browser.count.value)
    browser.period.value = "today"
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert browser.filters()["since"] == midnight.isoformat()
    browser.since.value = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)  # the later start wins
    assert browser.run_ids() == []


def test_the_user_filter_keeps_and_shows_its_choice_after_a_refresh(
    team: TeamHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = team.lab()
    browser = history(lab)
    browser.user.value = "kim"
    monkeypatch.setenv("PROMPTLAB_USER", "zoe")  # someone new writes meanwhile: the choices change
    lab.sweep(GREET, fake_model("echo"), [{"text": "x"}], display=NullDisplay())
    browser.refresh_button.click()
    assert ("zoe", "zoe") in browser.user.options
    assert (browser.user.value, browser.user.label) == ("kim", "kim")
    assert browser.user.options[browser.user.index] == ("kim", "kim")
    assert browser.run_ids() == [team.runs["rerun"]] and "user kim" in text_of(browser.count.value)
    sent: list[str | None] = []
    monkeypatch.setattr(browser.user, "send_state", lambda key=None: sent.append(key))
    browser.refresh_button.click()  # nothing new: the selection is sent to the page again anyway
    assert sent == ["index"] and browser.user.label == "kim"


def test_the_a_and_b_buttons_of_two_runs_compare_them(team: TeamHistory) -> None:
    lab = team.lab()
    browser = history(lab)
    rows = {row.run_id: row for row in browser.run_rows.children}
    rows[team.runs["first_look"]].a_button.click()
    rows[team.runs["rerun"]].b_button.click()
    shown = browser.comparison
    assert (shown.a.run.value, shown.b.run.value) == (team.runs["first_look"], team.runs["rerun"])
    expected = lab.compare(team.runs["first_look"], team.runs["rerun"], "latency_ms", higher_is_better=False)
    assert shown.comparison is not None and (shown.comparison.n, shown.comparison.ties) == (expected.n, expected.ties)
    assert "no cell changed" in shown.changes.value


def html_of(widget: object) -> list[str]:
    """Every HTML text a widget tree shows."""
    found = [widget.value] if isinstance(widget, widgets.HTML) else []
    for child in getattr(widget, "children", ()):
        found += html_of(child)
    return found


def test_no_number_of_a_teams_history_shows_unformatted(team: TeamHistory) -> None:
    browser = history(team.lab())
    browser.experiment.value = "summaries"
    browser.compare_runs(team.runs["first_look"], team.runs["grid"])
    for metric in [value for _, value in browser.comparison.metric.options]:
        browser.comparison.metric.value = metric
        for text in html_of(browser):
            assert not re.search(r"\d\.\d{7,}", text), text  # 0.22950000000000004


def test_the_privacy_log_and_the_tiers_show_in_the_app(team: TeamHistory) -> None:
    browser = HistoryBrowser(team.lab())
    log = text_of(browser.privacy.value)
    assert "pat (asked by ana) approved restricted data of support to model gpt-4o-mini" in log
    assert "“vendor DPA PRIV-112”" in log and "until 2100-01-01 00:00 UTC" in log  # through the day given
    assert "ana was refused" in log and "exported internal data as trials export" in log and "“QBR”" in log
    # newest first: the export, then the refusal, then the approval
    assert log.index("exported") < log.index("was refused") < log.index("approved")
    trials = team.lab().trials(experiment="summaries")
    assert "tier internal" in trial_meta(trials.iloc[0].to_dict())
