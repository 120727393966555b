"""Plots of trial DataFrames: a DataFrame in, a matplotlib Figure out.

These never query: pass ``run.df`` or ``lab.trials(...)``. Each figure is
closed in pyplot as soon as it is drawn, so a notebook shows it once (as the
cell's value) and a long session doesn't keep every figure alive. Without a
screen (CI, a server) pyplot gets the non-interactive Agg backend.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from promptlab.columns import SCORE_PREFIX
from promptlab.errors import ConfigError
from promptlab.pricing import dollars
from promptlab.stats import Comparison, bootstrap_ci, params_label

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
    return labels.where(params == "", labels + " (" + params + ")").astype(object)


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
            "price unknown" if pd.isna(value) else dollars(float(value)), (0, y), xytext=(4, 0),
            textcoords="offset points", va="center", fontsize=8,
        )  # fmt: skip
    ax.set_yticks(positions, variants)
    ax.invert_yaxis()
    ax.set_xlabel("cost (USD)")
    return fig


def score_column(trials: pd.DataFrame, metric: str) -> str:
    """The column of ``trials`` holding ``metric`` (``"contains"`` or ``"score_contains"``)."""
    for name in (metric, f"{SCORE_PREFIX}{metric}"):
        if name.startswith(SCORE_PREFIX) and name in trials.columns:
            return name
    available = [c.removeprefix(SCORE_PREFIX) for c in trials.columns if str(c).startswith(SCORE_PREFIX)]
    raise ConfigError(
        f"no score named {metric!r} in these trials; "
        + (f"scores present: {', '.join(available)}" if available else "run evaluators first (no score columns)")
    )


def score_by_variant(trials: pd.DataFrame, metric: str) -> Figure:
    """Mean ``metric`` per variant with its 95% bootstrap interval (as in ``run.summary()``)."""
    column = score_column(trials, metric)
    frame, variants = _labelled(trials)
    fig, ax = _figure(len(variants), f"{column.removeprefix(SCORE_PREFIX)} by variant")
    grouped = frame.groupby("variant", sort=False)[column]
    means = grouped.mean().reindex(variants)
    if means.isna().all():
        _empty(ax, f"no {column} values to plot")
        return fig
    intervals = [bootstrap_ci(grouped.get_group(v).dropna().to_numpy()) if v in grouped.groups else (np.nan, np.nan)
                 for v in variants]  # fmt: skip
    low = np.array([m - lo for m, (lo, _) in zip(means, intervals, strict=True)], dtype=float)
    high = np.array([hi - m for m, (_, hi) in zip(means, intervals, strict=True)], dtype=float)
    positions = np.arange(len(variants))
    ax.barh(positions, means.fillna(0.0).to_numpy(dtype=float),
            xerr=np.nan_to_num(np.vstack([low, high])), capsize=4)  # fmt: skip
    ax.set_yticks(positions, variants)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean {column.removeprefix(SCORE_PREFIX)} (95% bootstrap CI)")
    return fig


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
    column = score_column(trials, metric)
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
    for name, point in points.iterrows():
        ax.annotate(str(name), (point["cost"], point["quality"]), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel("mean cost per trial (USD)" if x == "cost_usd" else "mean latency (ms)")
    ax.set_ylabel(f"mean {column.removeprefix(SCORE_PREFIX)}")
    ax.legend(loc="lower right", fontsize=8)
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
    ax.legend(loc="upper right", fontsize=8)
    return fig
