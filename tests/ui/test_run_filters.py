"""The history browser's filters: presets of time, dates, choices kept, and a
line naming what is in effect."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from promptlab.ui.run_filters import ANY, RunFilters, choices, period_start

NOW = dt.datetime(2026, 3, 10, 15, 30, tzinfo=dt.UTC)


def filters() -> tuple[RunFilters, list[int]]:
    changes: list[int] = []
    bar = RunFilters(lambda: changes.append(1))
    runs = pd.DataFrame({"user": ["kim", "ana", "kim"], "status": ["done", "done", "interrupted"]})
    experiments = pd.DataFrame({"experiment": ["b", "a"], "n_runs": [1, 2], "tags": [["x"], []]})
    bar.set_choices(runs, experiments, ["p"], ["echo"])
    return bar, changes


def test_a_preset_starts_at_midnight_or_days_before_now() -> None:
    assert period_start(ANY, NOW) is None
    assert period_start("today", NOW) == dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    assert period_start("7d", NOW) == dt.datetime(2026, 3, 3, 15, 30, tzinfo=dt.UTC)
    assert period_start("30d", NOW) == dt.datetime(2026, 2, 8, 15, 30, tzinfo=dt.UTC)


def test_a_preset_and_a_date_both_given_the_later_start_wins() -> None:
    bar, _ = filters()
    bar.period.value = "7d"
    assert bar.runs_filter(NOW) == {"since": "2026-03-03T15:30:00+00:00"}
    bar.since.value = dt.date(2026, 3, 8)
    bar.until.value = dt.date(2026, 3, 9)  # through that whole day
    assert bar.runs_filter(NOW) == {"since": "2026-03-08T00:00:00+00:00", "until": "2026-03-10"}
    bar.since.value = dt.date(2026, 1, 1)
    assert bar.runs_filter(NOW)["since"] == "2026-03-03T15:30:00+00:00"


def test_choices_name_each_value_once_with_any_first_and_experiments_with_their_runs() -> None:
    assert choices(["b", None, "a", "b", float("nan"), ""], "anyone") == [("anyone", ANY), ("a", "a"), ("b", "b")]
    bar, changes = filters()
    assert list(bar.experiment.options) == [("any", ANY), ("a · 2 runs", "a"), ("b · 1 run", "b")]
    assert list(bar.status.options) == [("any", ANY), ("done", "done"), ("interrupted", "interrupted")]
    assert changes == []  # offering choices is no change of a person's


def test_the_summary_names_what_is_in_effect() -> None:
    bar, changes = filters()
    assert bar.summary() == "" and bar.runs_filter(NOW) == {}
    bar.user.value = "kim"
    bar.experiment.value = "a"
    bar.period.value = "today"
    bar.search.value = "  kettle "
    assert bar.summary() == "user kim · experiment a · today · “kettle”"
    assert bar.runs_filter(NOW) == {
        "user": "kim",
        "experiment": "a",
        "since": "2026-03-10T00:00:00+00:00",
        "search": "kettle",
    }
    assert len(changes) == 4


def test_no_description_is_cut() -> None:
    bar, _ = filters()
    for control in bar.controls:
        assert control.style.description_width == "initial", control.description
