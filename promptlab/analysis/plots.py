"""Plots of trial DataFrames: a DataFrame in, a matplotlib Figure out.

These never query: pass ``run.df`` or ``lab.trials(...)``. Each figure is
closed in pyplot as soon as it is drawn, so a notebook shows it once (as the
cell's value) and a long session doesn't keep every figure alive. Without a
screen (CI, a server) pyplot gets the non-interactive Agg backend.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from promptlab.analysis.columns import SCORE_PREFIX, metric_column
from promptlab.analysis.stats import Comparison, bootstrap_ci, params_label
from promptlab.core.pricing import dollars
from promptlab.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def variant_labels(trials: pd.DataFrame) -> pd.Series:
    """A short label per trial naming its variant: ``prompt · model (params)``.

    The prompt version is added (``name@abc123``) only when one name has
    several versions in ``trials``, so labels stay short but never collide.
    """
    if trials.empty:
        return pd.Series([], index=trials.index, dtype=object)
    params = trials["params"].map(lambda p: p if isinstance(p, str) else params_label(p))
    versions = trials.groupby("prompt_name")["prompt_version"].transform("nunique")
    names = (
        trials["prompt_name"]
        .astype(str)
        .where(versions <= 1, trials["prompt_name"].astype(str) + "@" + trials["prompt_version"].astype(str).str[:6])
    )
    labels = names + " · " + trials["model"].astype(str)
    labels = labels.where(params == "", labels + " (" + params + ")")
    if "retriever" in trials and trials["retriever"].notna().any():
        labels = labels + trials["retriever"].map(lambda r: f" · {r}" if isinstance(r, str) and r else "")
    return labels.astype(object)


def _choose_backend() -> None:
    """Agg when nothing could show a window and nobody chose a backend."""
    import matplotlib

    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    chosen = "MPLBACKEND" in os.environ or "matplotlib.pyplot" in sys.modules
    if headless and not chosen and "ipykernel" not in sys.modules:
        matplotlib.use("Agg")


def _figure(n_variants: int, title: str) -> tuple[Figure, Axes]:
    _choose_backend()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 1.4 + 0.45 * max(n_variants, 1)), layout="constrained")
    plt.close(fig)  # the caller owns it now; pyplot forgets it (no double display, no leak)
    ax.set_title(title, fontsize=11)
    return fig, ax


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_axis_off()


def _labelled(trials: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    frame = trials.assign(variant=variant_labels(trials))
    return frame, list(dict.fromkeys(frame["variant"]))


def latency_by_variant(trials: pd.DataFrame) -> Figure:
    """Distribution of call latency per variant (box plot, successful calls only)."""
    frame, variants = _labelled(trials)
    fig, ax = _figure(len(variants), "Latency by variant")
    ok = frame[frame["error_type"].isna()] if "error_type" in frame else frame
    data = [ok.loc[ok["variant"] == v, "latency_ms"].dropna().to_numpy(dtype=float) for v in variants]
    if not any(len(d) for d in data):
        _empty(ax, "no successful trials to plot")
        return fig
    ax.boxplot(data, orientation="horizontal", tick_labels=variants, showfliers=True)
    ax.invert_yaxis()  # first variant on top, as in the tables
    ax.set_xlabel("latency (ms)")
    return fig


def cost_by_variant(trials: pd.DataFrame) -> Figure:
    """Total cost per variant (bar); a variant whose price is unknown is marked so."""
    frame, variants = _labelled(trials)
    fig, ax = _figure(len(variants), "Cost by variant")
    if not variants:
        _empty(ax, "no trials to plot")
        return fig
    totals = frame.groupby("variant", sort=False)["cost_usd"].sum(min_count=1).reindex(variants)
    positions = np.arange(len(variants))
    ax.barh(positions, totals.fillna(0.0).to_numpy(dtype=float), color="#4c78a8")
    for y, value in zip(positions, totals, strict=True):
        ax.annotate(
            "price unknown" if pd.isna(value) else dollars(float(value)),
            (0, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(positions, variants)
    ax.invert_yaxis()
    ax.set_xlabel("cost (USD)")
    return fig


def score_by_variant(trials: pd.DataFrame, metric: str) -> Figure:
    """Mean ``metric`` per variant with its 95% bootstrap interval (as in ``run.summary()``)."""
    column = metric_column(trials, metric, plain=False)
    frame, variants = _labelled(trials)
    fig, ax = _figure(len(variants), f"{column.removeprefix(SCORE_PREFIX)} by variant")
    _score_bars(ax, frame, variants, column)
    return fig


def retrieval_and_answer(trials: pd.DataFrame, retrieval: str, answer: str) -> Figure:
    """Retrieval quality and answer quality side by side, per variant (retriever ×
    prompt × model): each metric's mean with its 95% interval, on one row per
    variant, so a low answer score reads as a search that missed (left low too)
    or a prompt or model that wasted good passages (left high, right low)."""
    frame, variants = _labelled(trials)
    _choose_backend()
    import matplotlib.pyplot as plt

    height = 1.4 + 0.45 * max(len(variants), 1)
    fig, (left, right) = plt.subplots(1, 2, sharey=True, figsize=(11, height), layout="constrained")
    plt.close(fig)  # as in _figure: the caller owns it
    for ax, metric, stage in ((left, retrieval, "retrieval"), (right, answer, "answer")):
        column = metric_column(trials, metric, plain=False)
        ax.set_title(f"{stage}: {column.removeprefix(SCORE_PREFIX)}", fontsize=11)
        _score_bars(ax, frame, variants, column)
    right.tick_params(labelleft=False)
    return fig


def _score_bars(ax: Axes, frame: pd.DataFrame, variants: list[str], column: str) -> None:
    grouped = frame.groupby("variant", sort=False)[column]
    means = grouped.mean().reindex(variants)
    if means.isna().all():
        _empty(ax, f"no {column} values to plot")
        return
    intervals = [
        bootstrap_ci(grouped.get_group(v).dropna().to_numpy()) if v in grouped.groups else (np.nan, np.nan)
        for v in variants
    ]
    # clipped at 0: when every value is the same, the interval's ends can miss the mean by a rounding error
    low = np.clip([m - lo for m, (lo, _) in zip(means, intervals, strict=True)], 0.0, None).astype(float)
    high = np.clip([hi - m for m, (_, hi) in zip(means, intervals, strict=True)], 0.0, None).astype(float)
    positions = np.arange(len(variants))
    ax.barh(positions, means.fillna(0.0).to_numpy(dtype=float), xerr=np.nan_to_num(np.vstack([low, high])), capsize=4)
    ax.set_yticks(positions, variants)
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_xlabel(f"mean {column.removeprefix(SCORE_PREFIX)} (95% bootstrap CI)")


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.Series:
    """Which points no other point beats: lower ``x`` (cost, latency) and higher ``y`` (quality)."""
    front = []
    for _, point in points.iterrows():
        beaten = (points[x] <= point[x]) & (points[y] >= point[y]) & ((points[x] < point[x]) | (points[y] > point[y]))
        front.append(not beaten.any())
    return pd.Series(front, index=points.index, dtype=bool)


def quality_vs(trials: pd.DataFrame, metric: str, x: str = "cost_usd") -> Figure:
    """Each variant's mean ``metric`` against its mean ``x`` per trial (``cost_usd`` or
    ``latency_ms``), the Pareto front (best quality for the price or speed) highlighted."""
    column = metric_column(trials, metric, plain=False)
    if x not in ("cost_usd", "latency_ms"):
        raise ConfigError(f"quality_vs plots against cost_usd or latency_ms, not {x!r}")
    frame, variants = _labelled(trials)
    fig, ax = _figure(max(len(variants), 6) // 2, f"{column.removeprefix(SCORE_PREFIX)} vs {x}")
    points = frame.groupby("variant", sort=False).agg(quality=(column, "mean"), cost=(x, "mean")).dropna()
    if points.empty:
        _empty(ax, f"no variant has both {column} and {x}")
        return fig
    on_front = pareto_front(points, "cost", "quality")
    ax.scatter(points["cost"], points["quality"], color=np.where(on_front, "#e45756", "#9d9d9d"), zorder=3)
    front = points[on_front].sort_values("cost")
    ax.plot(front["cost"], front["quality"], color="#e45756", linewidth=1, zorder=2, label="Pareto front")
    ax.set_xlabel("mean cost per trial (USD)" if x == "cost_usd" else "mean latency (ms)")
    ax.set_ylabel(f"mean {column.removeprefix(SCORE_PREFIX)}")
    fig.legend(loc="outside lower center", fontsize=8, frameon=False)
    place_labels(ax, [(str(name), p["cost"], p["quality"]) for name, p in points.iterrows()])
    return fig


def numeric_params(trials: pd.DataFrame) -> list[str]:
    """The params that take more than one numeric value in ``trials`` (a grid's axes, such as temperature)."""
    values: dict[str, set[float]] = {}
    for params in trials["params"]:
        for key, value in (params if isinstance(params, dict) else {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(key, set()).add(float(value))
    return sorted(key for key, seen in values.items() if len(seen) > 1)


def score_vs_param(trials: pd.DataFrame, metric: str, param: str) -> Figure:
    """Mean ``metric`` at each value of a numeric param (a grid's temperature), a line per prompt × model."""
    column = metric_column(trials, metric, plain=False)
    frame = trials.assign(
        _x=trials["params"].map(lambda p: p.get(param) if isinstance(p, dict) else None),
        _line=trials["prompt_name"].astype(str)
        + "@"
        + trials["prompt_version"].astype(str).str[:6]
        + " · "
        + trials["model"].astype(str),
    ).dropna(subset=["_x"])
    fig, ax = _figure(6, f"{column.removeprefix(SCORE_PREFIX)} vs {param}")
    means = frame.groupby(["_line", "_x"], sort=True)[column].mean().dropna()
    if means.empty:
        _empty(ax, f"no {column} values at any {param}")
        return fig
    for line, points in means.groupby(level="_line", sort=False):
        ax.plot(points.index.get_level_values("_x"), points.to_numpy(), marker="o", label=str(line))
    ax.set_xlabel(param)
    ax.set_ylabel(f"mean {column.removeprefix(SCORE_PREFIX)}")
    fig.legend(loc="outside lower center", fontsize=8, frameon=False, ncols=2)
    return fig


def paired_differences(comparison: Comparison) -> Figure:
    """Per-input differences B − A of a ``Lab.compare``, with their mean and 95% CI."""
    fig, ax = _figure(3, f"B − A on {comparison.metric} ({comparison.n} inputs)")
    differences = comparison.pairs["difference"].to_numpy(dtype=float) if comparison.n else np.array([])
    if differences.size == 0:
        _empty(ax, "no inputs in common")
        return fig
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, differences.size)
    colours = np.where(differences > 0, "#54a24b", np.where(differences < 0, "#e45756", "#9d9d9d"))
    ax.scatter(differences, jitter, c=colours, alpha=0.7, s=18)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.axvspan(comparison.ci_low, comparison.ci_high, color="#4c78a8", alpha=0.15, label="95% CI of the mean")
    ax.axvline(comparison.difference, color="#4c78a8", linewidth=2, label=f"mean {comparison.difference:+.3g}")
    ax.set_yticks([])
    ax.set_xlabel(f"B − A  (wins {comparison.wins}, losses {comparison.losses}, ties {comparison.ties})")
    fig.legend(loc="outside right upper", fontsize=8)  # beside the axes: never over the points
    return fig


LABEL_OFFSETS = [(dx, sign * (3 + 11 * step)) for step in range(10) for sign in (1, -1) for dx in (5, -5)]
"""Where a point's label may go, in points from it, nearest first: right or left, then
a line further up or down at a time (a label is about 11 points tall)."""


def place_labels(ax: Axes, points: list[tuple[str, float, float]], fontsize: float = 8) -> list[Any]:
    """Label each ``(text, x, y)`` point next to it where the label overlaps no other
    label and no point and stays inside the axes: variants at about the same place
    get their labels stacked apart, joined to their point by a thin line. Where
    no place is free, the one with the fewest overlaps is taken."""
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    ax.margins(0.12)  # room for labels inside the axes, around the outermost points
    fig.draw_without_rendering()  # lay the figure out first: the places are measured in pixels
    pixels_per_point = fig.dpi / 72
    marks = [ax.transData.transform((x, y)) for _, x, y in points]
    taken = [Bbox.from_extents(px - 5, py - 5, px + 5, py + 5) for px, py in marks]
    placed = []
    for text, x, y in sorted(points, key=lambda p: (-p[2], p[1])):
        probe = ax.text(0, 0, text, fontsize=fontsize)
        size = probe.get_window_extent()  # a label's size doesn't depend on where it goes
        probe.remove()
        px, py = ax.transData.transform((x, y))
        best: tuple[int, tuple[int, int], Any] | None = None
        for dx, dy in LABEL_OFFSETS:
            left = px + dx * pixels_per_point - (0 if dx > 0 else size.width)
            bottom = py + dy * pixels_per_point - (0 if dy > 0 else size.height)
            box = Bbox.from_bounds(left, bottom, size.width, size.height).padded(1)
            # a label cut off by the figure's edge is the worst place; outside the axes, over the ticks, the next
            in_axes, in_figure = (all(r.contains(*corner) for corner in box.corners()) for r in (ax.bbox, fig.bbox))
            clashes = sum(box.overlaps(other) for other in taken) + (0 if in_axes else 1) + (0 if in_figure else 3)
            if best is None or clashes < best[0]:
                best = (clashes, (dx, dy), box)
            if clashes == 0:
                break
        assert best is not None
        (dx, dy), box = best[1], best[2]
        taken.append(box)
        label = ax.annotate(
            text,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=fontsize,
            ha="left" if dx > 0 else "right",
            va="bottom" if dy > 0 else "top",
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "#9d9d9d", "lw": 0.5, "shrinkA": 0} if abs(dy) > 3 else None,
        )
        label.set_in_layout(False)  # placed after the layout: it must not move the axes
        placed.append(label)
    return placed
