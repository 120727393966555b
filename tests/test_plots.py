"""promptlab.plots: DataFrames in, Figures out, nothing left open in pyplot."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

import promptlab as pl
from promptlab import plots, stats
from promptlab.display import NullDisplay
from promptlab.testing import fake_model


@pytest.fixture
def trials(lab: pl.Lab):
    prompts = [pl.Prompt("Say {{ text }}", name="say"), pl.Prompt("Shout {{ text }}", name="shout")]
    rows = [{"text": f"input {i}"} for i in range(6)]
    run = lab.sweep(prompts, [fake_model("echo"), fake_model("upper")], rows, display=NullDisplay())
    return run.df


def test_uses_a_non_interactive_backend_without_a_screen() -> None:
    assert matplotlib.get_backend().lower() == "agg"


def test_variant_labels_name_prompt_and_model(trials) -> None:
    labels = plots.variant_labels(trials)
    assert list(dict.fromkeys(labels)) == ["say · echo", "say · upper", "shout · echo", "shout · upper"]


def test_variant_labels_add_the_version_only_when_a_name_has_several(lab: pl.Lab) -> None:
    prompts = [pl.Prompt("A {{ text }}", name="p"), pl.Prompt("B {{ text }}", name="p")]
    df = lab.sweep(prompts, fake_model("echo", temperature=0.5), [{"text": "x"}], display=NullDisplay()).df
    labels = set(plots.variant_labels(df))
    assert labels == {f"p@{p.version[:6]} · echo (temperature=0.5)" for p in prompts}


def test_latency_by_variant_draws_one_box_per_variant(trials) -> None:
    before = plt.get_fignums()
    fig = plots.latency_by_variant(trials)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(dict.fromkeys(plots.variant_labels(trials)))
    assert ax.get_xlabel() == "latency (ms)"
    assert plt.get_fignums() == before  # closed in pyplot: no leak, no second display


def test_cost_by_variant_draws_a_bar_per_variant_and_marks_unknown_prices(trials) -> None:
    fig = plots.cost_by_variant(trials)
    assert len(fig.axes[0].patches) == 4
    unknown = trials.assign(cost_usd=float("nan"))
    texts = [t.get_text() for t in plots.cost_by_variant(unknown).axes[0].texts]
    assert texts == ["price unknown"] * 4


def test_score_by_variant_shows_means_with_error_bars(trials) -> None:
    scored = trials.assign(score_exact=[1.0, 0.0] * (len(trials) // 2))
    fig = plots.score_by_variant(scored, "exact")
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    assert ax.get_xlabel() == "mean exact (95% bootstrap CI)"
    assert plots.score_by_variant(scored, "score_exact").axes[0].get_xlabel() == "mean exact (95% bootstrap CI)"
    # the bars' error ranges are the same bootstrap intervals run.summary() reports
    variant_scores = scored.groupby(plots.variant_labels(scored), sort=False)["score_exact"]
    first = next(iter(variant_scores))[1].to_numpy()
    low, high = stats.bootstrap_ci(first)
    segments = ax.collections[0].get_segments()  # the error bars, one segment per variant
    assert segments[0][0][0] == pytest.approx(low)
    assert segments[0][1][0] == pytest.approx(high)


def test_pareto_front_keeps_the_undominated_variants() -> None:
    points = pd.DataFrame({"cost": [1.0, 2.0, 3.0, 2.5], "quality": [0.5, 0.8, 0.9, 0.7]}, index=list("abcd"))
    assert list(points.index[plots.pareto_front(points, "cost", "quality")]) == ["a", "b", "c"]


def test_quality_vs_cost_and_latency(trials) -> None:
    scored = trials.assign(score_exact=[1.0, 0.0] * (len(trials) // 2), cost_usd=0.001)
    for x in ("cost_usd", "latency_ms"):
        fig = plots.quality_vs(scored, "exact", x)
        assert fig.axes[0].get_ylabel() == "mean exact"
        assert (
            len(fig.axes[0].collections[0].get_offsets())
            == scored.assign(v=plots.variant_labels(scored))["v"].nunique()
        )
    with pytest.raises(pl.ConfigError, match="cost_usd or latency_ms"):
        plots.quality_vs(scored, "exact", "tokens")


def test_paired_differences_marks_the_mean_and_interval() -> None:
    a = pd.DataFrame({"vars": [{"i": i} for i in range(6)], "repeat": 0, "score_acc": [0.0] * 6})
    b = a.assign(score_acc=[1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    comparison = stats.compare(a, b, "acc")
    fig = plots.paired_differences(comparison)
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 6
    assert any(line.get_xdata()[0] == pytest.approx(comparison.difference) for line in ax.lines)


def test_score_by_variant_needs_the_score_column(trials) -> None:
    with pytest.raises(pl.ConfigError, match="no score columns"):
        plots.score_by_variant(trials, "exact")
    with pytest.raises(pl.ConfigError, match="scores present: other"):
        plots.score_by_variant(trials.assign(score_other=1.0), "exact")


def test_plots_of_no_trials_say_so(trials) -> None:
    empty = trials.iloc[0:0]
    for fig in (plots.latency_by_variant(empty), plots.cost_by_variant(empty)):
        assert "no" in fig.axes[0].texts[0].get_text()
