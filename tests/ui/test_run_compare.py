"""Run against run: two runs (or a variant of each) compared as ``lab.compare``
and ``lab.diff_runs`` compare them, on the history a team has."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from support.team_history import FLAKY_PROVIDER, ROWS, SUMMARIZE, TeamHistory, models
from support.widgets import text_of

import promptlab as pl
from promptlab.analysis.plots import variant_labels
from promptlab.analysis.stats import Comparison
from promptlab.runner.progress import NullDisplay
from promptlab.ui.run_compare import RunComparison, amount, verdict_html


def shows(panel: RunComparison, expected: Comparison) -> None:
    """The numbers on screen are ``expected``'s, and the panel holds the same."""
    got = panel.comparison
    assert got is not None
    for field in ("n", "wins", "losses", "ties", "mean_a", "mean_b", "difference", "p_value"):
        assert getattr(got, field) == getattr(expected, field) or (
            math.isnan(getattr(got, field)) and math.isnan(getattr(expected, field))
        ), field
    text = text_of(panel.verdict.value)
    assert f"inputs paired: {expected.n}" in text
    assert f"B wins / loses / ties: {expected.wins} / {expected.losses} / {expected.ties}" in text
    assert f"sign test p: {expected.p_value:.3g}" in text and f"bootstrap p: {expected.p_value_bootstrap:.3g}" in text


@pytest.fixture
def upgraded(team: TeamHistory) -> pl.Run:
    """The first look again with "echo" served by another endpoint: its answers change (a model upgrade)."""
    echo = pl.Model("echo", provider=FLAKY_PROVIDER, price=(0.15, 0.6))
    return team.lab().sweep(
        SUMMARIZE[0],
        [echo, models()["upper"]],
        ROWS,
        evaluators=[pl.evals.contains("expected")],
        experiment="summaries",
        display=NullDisplay(),
    )


def test_a_cached_rerun_matches_its_run_cell_for_cell(team: TeamHistory) -> None:
    lab = team.lab()
    panel = RunComparison(lab)
    panel.pick(team.runs["first_look"], team.runs["rerun"])
    # the rerun was answered from the history and scored by nobody: latency and cost are what both have
    assert [value for _, value in panel.metric.options] == ["latency_ms", "cost_usd"]
    assert panel.metric.value == "latency_ms"
    shows(panel, lab.compare(team.runs["first_look"], team.runs["rerun"], "latency_ms", higher_is_better=False))
    assert "no clear difference" in panel.verdict.value and " ms" in text_of(panel.verdict.value)
    assert panel.differences.empty and lab.diff_runs(team.runs["first_look"], team.runs["rerun"]).empty
    assert "no cell changed" in panel.changes.value
    assert "ana · summaries" in text_of(panel.a.about.value) and "kim · summaries" in text_of(panel.b.about.value)
    panel.metric.value = "cost_usd"
    assert "$" in text_of(panel.verdict.value)


def test_an_upgrade_shows_its_verdict_and_the_cells_that_regressed(team: TeamHistory, upgraded: pl.Run) -> None:
    lab = team.lab()
    panel = RunComparison(lab)
    panel.pick(team.runs["first_look"][:8], upgraded.run_id)  # an id's start is enough
    assert panel.metric.value == "contains:expected"  # an evaluator both have comes first
    shows(panel, lab.compare(team.runs["first_look"], upgraded, "contains:expected"))
    expected = lab.diff_runs(team.runs["first_look"], upgraded, "contains:expected")
    pd.testing.assert_frame_equal(panel.differences, expected)
    regressed = expected[expected["change"] == "regression"]
    assert len(regressed) == 2
    text = text_of(panel.changes.value)
    assert text.startswith(f"2 regressed · {(expected['change'] == 'changed').sum()} answered differently")
    for row in regressed.to_dict("records"):  # input, both outputs and both scores
        assert f"regressed summarize · echo text: {row['vars']['text']}" in text
        assert f"{row['output_before']} {row['output_after']} 1 0" in text
    assert "error: the endpoint refused the request" in text  # the storm: B failed
    panel.pick(upgraded.run_id, team.runs["first_look"])  # the other way round they are fixes
    assert text_of(panel.changes.value).startswith("2 fixed")
    shows(panel, lab.compare(upgraded, team.runs["first_look"], "contains:expected"))


def test_two_variants_of_one_run_compare(team: TeamHistory) -> None:
    lab = team.lab()
    panel = RunComparison(lab)
    panel.pick(team.runs["grid"], team.runs["grid"])
    echo, flaky = "summarize@1828dd · echo (temperature=0.0)", "summarize@1828dd · flaky (temperature=0.0)"
    panel.a.variant.value, panel.b.variant.value = echo, flaky
    panel.metric.value = "short_enough"
    trials = lab.trials(run=team.runs["grid"])
    labels = variant_labels(trials)
    expected = lab.compare(trials[labels == echo], trials[labels == flaky], "short_enough")
    shows(panel, expected)
    assert expected.wins > 0 and panel.differences.empty  # another model: no cell of A is one of B's
    assert "no cell changed" in panel.changes.value


def test_a_run_that_isnt_there_says_so(team: TeamHistory) -> None:
    panel = RunComparison(team.lab())
    panel.pick("nosuchrun", team.runs["rerun"])
    assert "nosuchrun" in panel.a.error.value and panel.comparison is None
    assert "pick two runs" in panel.verdict.value
    panel.a.run.value = team.runs["first_look"]
    assert panel.a.error.value == "" and panel.comparison is not None
    panel.a.run.value = ""
    assert panel.a.about.value == "" and panel.comparison is None
    assert repr(panel) == f"RunComparison(? vs {team.runs['rerun'][:8]})"


def test_amounts_read_as_people_write_them() -> None:
    assert amount(0.22950000000000004, "score") == "0.23"
    assert amount(0.000125, "cost_usd") == "$0.000125" and amount(0.0523, "latency_ms") == "0.0523 ms"
    assert amount(1234.5, "latency_ms") == "1,234 ms" and amount(float("nan"), "score") == "—"
    nothing = dict.fromkeys(("mean_a", "mean_b", "difference", "ci_low", "ci_high"), math.nan)
    empty = Comparison(
        metric="score",
        n=0,
        wins=0,
        losses=0,
        ties=0,
        p_value=1.0,
        p_value_bootstrap=1.0,
        pairs=pd.DataFrame(),
        **nothing,
    )
    assert "no inputs in common" in verdict_html(empty)
