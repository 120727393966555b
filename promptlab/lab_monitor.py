"""The Lab's monitoring methods: how a prompt does in production, per period,
label and version, and two versions compared on their logged calls.

Applications log their calls into the history (``kind = 'production'``,
``promptlab.production``); this reads them summed up per period in SQL
(``store.production_reads``), so a million calls take well under a second,
and compares versions unpaired (``analysis.monitoring``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from promptlab import evals
from promptlab.analysis import frames, monitoring
from promptlab.analysis.monitor_plots import monitor_figure
from promptlab.errors import NotFoundError
from promptlab.store import Store, production_reads
from promptlab.store.production_reads import PERIODS, ProductionFilter
from promptlab.store.reads import Source

EVERY = PERIODS
"""What a monitor's period can be (``every=``): what the Monitor view and ``promptlab monitor`` offer."""

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Since = datetime | str | timedelta | None
"""A time: a datetime (UTC when naive), an ISO string, or a timedelta (that long ago)."""


class Monitor:
    """A prompt's production calls summed up per period, label and version
    (``lab.monitor(name)``, or ``Monitor(lab.store, name)``): ``df`` the metrics table (columns:
    ``promptlab.analysis.monitoring.METRIC_COLUMNS``, then each action's rate
    and each evaluator's mean), ``plot()`` it over time, ``compare(a, b)`` two
    versions or labels. Read once, when made."""

    def __init__(
        self,
        store: Source,
        name: str,
        *,
        since: Since = None,
        until: Since = None,
        every: str = "day",
        label: str | None = None,
        source: str | None = None,
    ) -> None:
        self.store = store
        """The history read (a Lab's ``store``)."""
        self.name = name
        self.every = every
        self._where = ProductionFilter(
            prompt=name, since=frames.as_utc(since), until=frames.as_utc(until), label=label, source=source
        )
        found = production_reads.metrics(store, self._where, every)
        self.df: pd.DataFrame = monitoring.metrics_table(found["groups"], found["actions"], found["scores"])
        """One row per (period, label, prompt_version), oldest first."""

    @property
    def labels(self) -> list[str]:
        """The labels that served the calls (``''``: calls that named a version)."""
        return sorted(set(self.df["label"]))

    @property
    def versions(self) -> list[str]:
        """The prompt versions called, in the order they first appear."""
        return list(dict.fromkeys(self.df["prompt_version"]))

    def plot(self) -> Figure:
        """Calls, error rate, latency p50/p95 and net votes over time, a line per label and version."""
        return monitor_figure(self.df, f"{self.name} in production, per {self.every}")

    def compare(self, a: str, b: str) -> monitoring.ProductionComparison:
        """B against A on their calls in this monitor's window: each a label
        (``"production"``) or a version (a unique prefix is enough). Unpaired:
        rates with a two-proportion z test and Newcombe's interval, latency,
        cost and scores with Welch's t test (latency also Mann–Whitney)."""
        sides = [self._calls(side) for side in (a, b)]
        scored = pd.concat([side["scores"]["trial_id"] for side in sides]).unique()
        meanings = evals.recorded_meanings(self.store, list(scored))
        return monitoring.compare_versions(
            sides[0],
            sides[1],
            name_a=self._describe(a),
            name_b=self._describe(b),
            higher_is_better={name: meaning.higher_is_better for name, meaning in meanings.items()},
        )

    def _selector(self, side: str) -> ProductionFilter:
        if side in self.labels:
            return ProductionFilter(**{**self._fields(), "label": side})
        matches = [v for v in self.versions if str(v).startswith(side)]
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise NotFoundError(
                f"{side!r} names {found} label or version of {self.name!r} in production here; "
                f"labels: {', '.join(repr(x) for x in self.labels) or 'none'}; "
                f"versions: {', '.join(str(v)[:12] for v in self.versions) or 'none'}"
            )
        return ProductionFilter(**{**self._fields(), "version": matches[0]})

    def _fields(self) -> dict[str, Any]:
        where = self._where
        return {
            "prompt": where.prompt,
            "since": where.since,
            "until": where.until,
            "label": where.label,
            "source": where.source,
        }

    def _calls(self, side: str) -> dict[str, pd.DataFrame]:
        return production_reads.calls(self.store, self._selector(side))

    def _describe(self, side: str) -> str:
        if side in self.labels:
            return f"label {side}"
        chosen = self._selector(side).version
        return f"{self.name}@{str(chosen)[:6]}"

    def summary(self) -> pd.DataFrame:
        """Per label and version over the whole window: calls, error rate, cost, feedback and votes."""
        if self.df.empty:
            return self.df.iloc[:0, 1:]
        grouped = self.df.groupby(["label", "prompt_version"], sort=False)
        total = grouped[["n", "errors", "cost_usd", "with_feedback", "votes_up", "votes_down", "corrections"]].sum()
        total["error_rate"] = total["errors"] / total["n"]
        total["feedback_rate"] = total["with_feedback"] / total["n"]
        total["net_votes"] = total["votes_up"] - total["votes_down"]
        total["first"], total["last"] = grouped["period"].min(), grouped["period"].max()
        return total.reset_index()

    def __str__(self) -> str:
        if self.df.empty:
            return f"no production calls of {self.name!r} in this window"
        lines = [f"{self.name} in production, per {self.every}: {int(self.df['n'].sum())} calls"]
        for row in self.summary().to_dict("records"):
            lines.append(
                f"  {row['label'] or '-'} · {str(row['prompt_version'])[:6]}: {int(row['n'])} calls, "
                f"{row['error_rate']:.1%} errors, {row['feedback_rate']:.1%} with feedback, "
                f"net votes {int(row['net_votes']):+d}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Monitor({self.name!r}, every={self.every!r}, rows={len(self.df)})"

    def _repr_html_(self) -> str:
        import html

        heading = html.escape(str(self).splitlines()[0])
        return f"<b>{heading}</b>{self.df.to_html(index=False, max_rows=60, float_format=lambda v: f'{v:.4g}')}"


class MonitorMethods:
    """``Lab.monitor``, ``Lab.compare_production`` and ``Lab.production_prompts``
    (a mixin: ``Lab`` provides ``store``)."""

    store: Store

    def monitor(
        self,
        name: str,
        *,
        since: Since = None,
        until: Since = None,
        every: str = "day",
        label: str | None = None,
        source: str | None = None,
    ) -> Monitor:
        """How prompt ``name`` does in production: per period (``every``: ``hour``,
        ``day`` or ``week``), label and version, its calls, errors, latency
        p50/p95, cost, tokens, feedback rate, votes, actions, corrections and
        evaluators' mean scores. ``since``/``until`` bound the window (a
        datetime, an ISO string or a timedelta ago), ``label`` and ``source``
        (the application) narrow it."""
        return Monitor(self.store, name, since=since, until=until, every=every, label=label, source=source)

    def compare_production(
        self, name: str, a: str, b: str, *, since: Since = None, until: Since = None
    ) -> monitoring.ProductionComparison:
        """Two versions (or labels) of prompt ``name`` compared on their production
        calls: ``lab.monitor(name, since=..., until=...).compare(a, b)``."""
        return self.monitor(name, since=since, until=until).compare(a, b)

    def production_prompts(self) -> pd.DataFrame:
        """Prompt names with production calls: ``prompt_name``, ``n`` calls, ``last_at``, most recent first."""
        return production_reads.production_prompts(self.store)
