"""``promptlab monitor NAME``: how a prompt does in production, as a table per
period, label and version (``Lab.monitor``), and with ``--compare A B`` two
versions or labels compared on their calls (``Monitor.compare``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from promptlab.cli import render
from promptlab.lab import Lab
from promptlab.lab_monitor import EVERY


def add_monitor_command(commands: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """The ``monitor`` subcommand's arguments."""
    monitor = commands.add_parser("monitor", parents=list(parents), help="a prompt's production metrics over time")
    monitor.add_argument("name", metavar="NAME", help="prompt name")
    monitor.add_argument("--since", metavar="DATE", help="calls logged at or after (ISO date or time, UTC)")
    monitor.add_argument("--until", metavar="DATE", help="calls logged before (ISO date or time, UTC)")
    monitor.add_argument("--every", choices=EVERY, default="day", help="period of each row (default: day)")
    monitor.add_argument("--label", metavar="L", help="only calls served by this label")
    monitor.add_argument("--source", metavar="APP", help="only calls this application logged")
    monitor.add_argument(
        "--compare", nargs=2, metavar=("A", "B"), help="compare B with A (versions or labels) on their calls"
    )


def metrics_lines(metrics: pd.DataFrame, every: str) -> list[str]:
    """``Monitor.df`` as a table: a line per period, label and version."""
    scores = [str(c).removesuffix("_mean") for c in metrics.columns if str(c).endswith("_mean")]
    headers = ["period", "label", "version", "calls", "errors", "p50", "p95", "cost", "per call", "feedback"]
    headers += ["votes", "corrected", *scores]
    stamp = "%Y-%m-%d %H:00" if every == "hour" else "%Y-%m-%d"
    rows = [
        [
            pd.Timestamp(row["period"]).strftime(stamp),
            str(row["label"]) or "-",
            str(row["prompt_version"])[:6],
            render.count(row["n"]),
            f"{render.count(row['errors'])} ({row['error_rate']:.1%})",
            render.duration(row["latency_p50_ms"]),
            render.duration(row["latency_p95_ms"]),
            render.money(row["cost_usd"]),
            render.money(row["cost_per_call_usd"]),
            f"{row['feedback_rate']:.0%}",
            f"+{render.count(row['votes_up'])}/-{render.count(row['votes_down'])}",
            render.count(row["corrections"]),
            *("-" if render.is_missing(row[f"{s}_mean"]) else f"{row[f'{s}_mean']:.2f}" for s in scores),
        ]
        for row in metrics.to_dict("records")
    ]
    right = ["calls", "errors", "p50", "p95", "cost", "per call", "feedback", "votes", "corrected", *scores]
    return render.table(headers, rows, right=right)


def monitor_command(args: argparse.Namespace, open_lab: Callable[[], Lab]) -> int:
    """``promptlab monitor NAME [--since DATE] [--every day|hour|week] [--label L] [--compare A B]``."""
    lab = open_lab()
    monitor = lab.monitor(
        args.name, since=args.since, until=args.until, every=args.every, label=args.label, source=args.source
    )
    if monitor.df.empty:
        print(f"no production calls of {args.name!r} match in {lab.location}")
        return 0
    print(str(monitor).splitlines()[0] + "\n")
    print("\n".join(metrics_lines(monitor.df, args.every)))
    if args.compare:
        print("\n" + str(monitor.compare(*args.compare)))
    return 0
