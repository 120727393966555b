"""promptlab.analysis.plots: DataFrames in, Figures out, nothing left open in pyplot."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

import promptlab as pl
from promptlab.analysis import plots, stats
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

pytestmark = pytest.mark.both_stores


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
    with pytest.raises(pl.ConfigError, match=r"scored none of these trials.*none yet"):
        plots.score_by_variant(trials, "exact")
    with pytest.raises(pl.ConfigError, match="Evaluators that did: other"):
        plots.score_by_variant(trials.assign(score_other=1.0), "exact")


def test_plots_of_no_trials_say_so(trials) -> None:
    empty = trials.iloc[0:0]
    for fig in (plots.latency_by_variant(empty), plots.cost_by_variant(empty)):
        assert "no" in fig.axes[0].texts[0].get_text()


# -- on crowded plots (issue 11: labels on top of each other, a legend over the points) -------------------


def renderer_of(fig: Figure) -> RendererAgg:
    """The figure drawn as its PNG is (by Agg), to measure where things landed."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def label_boxes(fig: Figure) -> list[Bbox]:
    renderer = renderer_of(fig)
    # Text's own extent: an Annotation's adds its leader line, which may cross other labels' lines
    return [Text.get_window_extent(text, renderer) for text in fig.axes[0].texts]


def clustered(lab: pl.Lab) -> pd.DataFrame:
    """Twelve variants, eight of them at about the same quality and cost."""
    prompts = [pl.Prompt("Say {{ text }}", name="say"), pl.Prompt("Say it: {{ text }}", name="say")]
    models = [fake_model("echo"), fake_model("upper"), fake_model("other")]
    df = lab.sweep(
        prompts,
        models,
        [{"text": f"input {i}"} for i in range(4)],
        params={"temperature": [0.0, 0.7]},
        display=NullDisplay(),
    ).df
    shouting = df["model"] == "upper"
    return df.assign(score_q=[0.3 if s else 0.8 for s in shouting], cost_usd=[2e-4 if s else 1e-5 for s in shouting])


def test_pareto_labels_of_variants_at_the_same_place_do_not_overlap(lab: pl.Lab) -> None:
    trials = clustered(lab)
    for x in ("cost_usd", "latency_ms"):
        fig = plots.quality_vs(trials, "q", x)
        boxes = label_boxes(fig)
        assert len(boxes) == 12
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1 :]), fig.axes[0].texts[i].get_text()
            assert fig.bbox.contains(a.x0, a.y0) and fig.bbox.contains(a.x1, a.y1)  # none cut off
        points = fig.axes[0].transData.transform(fig.axes[0].collections[0].get_offsets())
        for box in boxes:
            assert not any(box.contains(px, py) for px, py in points)  # no label over a point


def test_place_labels_stacks_labels_of_one_point(lab: pl.Lab) -> None:
    fig, ax = plt.subplots(figsize=(4, 3))
    plt.close(fig)
    ax.scatter([1.0] * 5, [1.0] * 5)
    placed = plots.place_labels(ax, [(f"variant number {i}", 1.0, 1.0) for i in range(5)])
    boxes = label_boxes(fig)
    assert len(placed) == 5 and not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_the_paired_differences_legend_is_outside_the_data(lab: pl.Lab) -> None:
    a = pd.DataFrame({"vars": [{"i": i} for i in range(30)], "repeat": 0, "score_acc": [0.0] * 30})
    b = a.assign(score_acc=[float(i % 3 == 0) for i in range(30)])
    fig = plots.paired_differences(stats.compare(a, b, "acc"))
    renderer = renderer_of(fig)
    (legend,) = fig.legends
    assert not legend.get_window_extent(renderer).overlaps(fig.axes[0].get_window_extent(renderer))
    assert fig.bbox.contains(*legend.get_window_extent(renderer).p1)  # and still in the picture
    assert [t.get_text() for t in legend.get_texts()] == ["95% CI of the mean", "mean +0.333"]


def test_score_bars_of_a_score_that_never_varies(lab: pl.Lab) -> None:
    # eight judge grades of 0.8: pandas' mean is 0.7999999999999999, the bootstrap interval's
    # ends 0.8, so the lower error bar came out negative and matplotlib refused to draw it
    run = lab.sweep(
        pl.Prompt("Say {{ text }}"), fake_model("echo"), [{"text": f"t{i}"} for i in range(8)], display=NullDisplay()
    )
    fig = plots.score_by_variant(run.df.assign(score_judge=0.8), "judge")
    assert len(fig.axes[0].patches) == 1
