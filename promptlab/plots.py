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
from promptlab.stats import params_label

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
            "price unknown" if pd.isna(value) else f"${value:.4f}", (0, y), xytext=(4, 0),
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
    """Mean ``metric`` per variant with 95% confidence intervals (normal approximation)."""
    column = score_column(trials, metric)
    frame, variants = _labelled(trials)
    fig, ax = _figure(len(variants), f"{column.removeprefix(SCORE_PREFIX)} by variant")
    grouped = frame.groupby("variant", sort=False)[column]
    means = grouped.mean().reindex(variants)
    if means.isna().all():
        _empty(ax, f"no {column} values to plot")
        return fig
    errors = (1.96 * grouped.sem()).reindex(variants).fillna(0.0)
    positions = np.arange(len(variants))
    ax.barh(positions, means.fillna(0.0).to_numpy(dtype=float), xerr=errors.to_numpy(dtype=float), capsize=4)
    ax.set_yticks(positions, variants)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean {column.removeprefix(SCORE_PREFIX)} (95% CI)")
    return fig
