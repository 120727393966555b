"""A run: one execution of a sweep, and its results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from promptlab import stats
from promptlab.columns import score_columns
from promptlab.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from promptlab.lab import Lab


@dataclass(frozen=True)
class Run:
    """A handle on a recorded run. Its data is read from the store each time,
    so it shows what teammates see."""

    lab: Lab
    """The lab (history file) the run is recorded in."""

    run_id: str
    """The run's id."""

    experiment: str
    """The experiment it belongs to."""

    @property
    def status(self) -> str:
        """running, done, cancelled or failed."""
        return str(self.lab.run_info(self.run_id)["status"])

    @property
    def df(self) -> pd.DataFrame:
        """One row per cell: its newest trial (columns: ``promptlab.columns.TRIAL_COLUMNS``).
        A resumed run retries the cells that failed; ``lab.trials(run=...)`` keeps
        every attempt, this keeps the one that counts."""
        trials = self.lab.trials(run=self.run_id)
        return trials.drop_duplicates("cell_key", keep="last").reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Per variant: n, errors, latency p50/p95, tokens, cost, each evaluator's
        mean with its 95% interval, and with repeats how often they agree."""
        return stats.summary(self.df)

    def compare(
        self,
        metric: str,
        a: stats.Selector = None,
        b: stats.Selector = None,
        *,
        higher_is_better: bool = True,
    ) -> stats.Comparison:
        """Paired comparison of two variants of this run on ``metric``: by
        default its two variants in the order they ran (B against A); pick
        others with ``a=`` / ``b=`` (a prompt name, a version prefix, a model
        name, ``name@version`` or a mapping of trial columns)."""
        trials = self.df
        if a is None and b is None:
            found = stats.variants(trials)
            if len(found) != 2:
                names = "; ".join(sorted({stats.variant_name(v.iloc[0]) for v in found}))
                raise ConfigError(f"this run has {len(found)} variants ({names}); pick two with a= and b=")
            first, second = found
        else:
            first, second = stats.select_variant(trials, a), stats.select_variant(trials, b)
        return stats.compare(first, second, metric, higher_is_better=higher_is_better)

    def stability(self, metric: str | None = None) -> pd.DataFrame:
        """For cells run more than once (``repeats > 1``): per variant and input,
        how often the repeats agree and how far ``metric`` spreads."""
        return stats.stability(self.df, metric)

    def plot(self, metric: str | None = None) -> Figure:
        """A Figure: ``metric`` (default: the first evaluator's) per variant with
        95% intervals; the latency per variant when nothing scored the run."""
        from promptlab import plots

        trials = self.df
        labels = score_columns(trials)
        if metric is None and not labels:
            return plots.latency_by_variant(trials)
        return plots.score_by_variant(trials, metric or labels[0])

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r}, experiment={self.experiment!r})"
