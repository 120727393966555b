"""The production metrics table over time, as one matplotlib Figure: calls,
error rate, latency (p50 solid, p95 dashed) and net votes per period, a
line per label and prompt version. A DataFrame in (``Monitor.df``), a Figure
out; like ``plots``, it never queries and pyplot forgets the figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from promptlab.analysis.plots import _choose_backend

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANELS = (
    ("n", "calls", None),
    ("error_rate", "error rate", None),
    ("latency_p50_ms", "latency (ms): p50 —, p95 --", "latency_p95_ms"),
    ("net_votes", "net votes (up − down)", None),
)
"""(column, title, a second column drawn dashed in the same colour)."""


def series_name(label: object, version: object) -> str:
    """``production · 1a2b3c`` (``-`` for calls that named a version, not a label)."""
    return f"{label or '-'} · {str(version)[:6]}"


def monitor_figure(metrics: pd.DataFrame, title: str = "Production") -> Figure:
    """Four panels sharing the time axis, one line per (label, version)."""
    _choose_backend()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True, layout="constrained")
    plt.close(fig)  # the caller owns it now
    fig.suptitle(title, fontsize=12)
    if metrics.empty:
        for ax in axes.flat:
            ax.text(0.5, 0.5, "no production calls", ha="center", va="center", transform=ax.transAxes, color="grey")
            ax.set_axis_off()
        return fig
    frame = metrics.sort_values("period")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups = list(frame.groupby(["label", "prompt_version"], sort=True))
    for ax, (column, panel_title, dashed) in zip(axes.flat, PANELS, strict=True):
        ax.set_title(panel_title, fontsize=10)
        for index, ((label, version), rows) in enumerate(groups):
            colour = colours[index % len(colours)]
            periods = pd.to_datetime(rows["period"])
            ax.plot(
                periods, rows[column].astype(float), marker="o", ms=3, color=colour, label=series_name(label, version)
            )
            if dashed:
                ax.plot(periods, rows[dashed].astype(float), linestyle="--", color=colour)
        if column == "error_rate":
            ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.grid(alpha=0.3)
    periods = pd.to_datetime(frame["period"])
    if periods.nunique() == 1:  # one period: a day either side, not years of empty axis
        axes.flat[0].set_xlim(periods.iloc[0] - pd.Timedelta(days=1), periods.iloc[0] + pd.Timedelta(days=1))
    axes.flat[0].legend(fontsize=8, title="label · version", title_fontsize=8)
    return fig
