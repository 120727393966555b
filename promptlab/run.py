"""A run: one execution of a sweep, and its results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from promptlab import stats
from promptlab.columns import score_columns

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
        """Per variant: n, errors, latency p50/p95, tokens, cost."""
        return stats.summary(self.df)

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
