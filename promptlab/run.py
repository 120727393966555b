"""A run: one execution of a sweep, and its results (``Run``), and a sweep
running in the background so a notebook kernel stays free to work and a
widget can show progress and a Stop button (``SweepHandle``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from promptlab import evals
from promptlab.analysis import stats
from promptlab.analysis.columns import score_columns
from promptlab.errors import ConfigError
from promptlab.runner.loops import BackgroundTask
from promptlab.runner.plan import PlannedSweep, SweepOptions
from promptlab.runner.progress import Display, NullDisplay, Progress
from promptlab.runner.record import record_sweep

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
        higher_is_better: bool | None = None,
        on: str | None = None,
    ) -> stats.Comparison:
        """Paired comparison of two variants of this run on ``metric``: by
        default its two variants in the order they ran (B against A); pick
        others with ``a=`` / ``b=`` (a prompt name, a version prefix, a model
        name, ``name@version`` or a mapping of trial columns). A check is
        compared on how often it passes, a score in its declared direction,
        unless ``higher_is_better=`` or ``on=`` say otherwise (``Lab.compare``)."""
        trials = self.df
        if a is None and b is None:
            found = stats.variants(trials)
            if len(found) != 2:
                names = "; ".join(sorted({stats.variant_name(v.iloc[0]) for v in found}))
                raise ConfigError(f"this run has {len(found)} variants ({names}); pick two with a= and b=")
            first, second = found
        else:
            first, second = stats.select_variant(trials, a), stats.select_variant(trials, b)
        return self.lab.compare(first, second, metric, higher_is_better=higher_is_better, on=on)

    def meanings(self) -> dict[str, evals.Meaning]:
        """What each evaluator's scores in this run mean, by label (``Lab.meanings``)."""
        return self.lab.meanings(self.df)

    def stability(self, metric: str | None = None) -> pd.DataFrame:
        """For cells run more than once (``repeats > 1``): per variant and input,
        how often the repeats agree and how far ``metric`` spreads."""
        return stats.stability(self.df, metric)

    def plot(self, metric: str | None = None) -> Figure:
        """A Figure: ``metric`` (default: the first evaluator's) per variant with
        95% intervals; the latency per variant when nothing scored the run."""
        from promptlab.analysis import plots

        trials = self.df
        labels = score_columns(trials)
        if metric is None and not labels:
            return plots.latency_by_variant(trials)
        return plots.score_by_variant(trials, metric or labels[0])

    def plot_retrieval(self, retrieval: str | None = None, answer: str | None = None) -> Figure:
        """A Figure: retrieval quality beside answer quality per variant (retriever ×
        prompt × model), so a low answer score shows which stage to fix. Default:
        the first retrieval evaluator (``pl.evals.retrieval_recall``, ...,
        ``context_relevance``) and the first other evaluator of the run."""
        from promptlab.analysis import plots

        trials = self.df
        recorded = self.lab.run_info(self.run_id)["config"].get("evaluators") or []
        searched = [spec["label"] for spec in recorded if spec["name"] in evals.RETRIEVAL_EVALUATORS]
        labels = score_columns(trials)
        retrieval = retrieval or next((label for label in labels if label in searched), None)
        answer = answer or next((label for label in labels if label not in searched), None)
        if retrieval is None or answer is None:
            raise ConfigError(
                "plot_retrieval needs a retrieval score and an answer score: sweep with evaluators such as "
                "pl.evals.retrieval_recall(k=5) and pl.evals.icontains('expected'), or name them: "
                f"retrieval=..., answer=... (this run's scores: {', '.join(labels) or 'none'})"
            )
        return plots.retrieval_and_answer(trials, retrieval, answer)

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r}, experiment={self.experiment!r})"


class _Watch:
    """Forwards progress to the user's display and keeps the latest copy."""

    def __init__(self, inner: Display) -> None:
        self.inner = inner
        self.progress: Progress | None = None
        self.messages: list[str] = []
        self.status: str | None = None

    def start(self, title: str, progress: Progress) -> None:
        self.progress = progress
        self.inner.start(title, progress)

    def update(self, progress: Progress) -> None:
        self.progress = progress
        self.inner.update(progress)

    def message(self, text: str) -> None:
        self.messages.append(text)
        self.inner.message(text)

    def finish(self, progress: Progress, status: str) -> None:
        self.progress = progress
        self.status = status
        self.inner.finish(progress, status)


class SweepHandle:
    """A sweep started by ``Lab.start``: watch it, stop it, get its ``Run``.

    The sweep is recorded exactly as ``Lab.sweep`` records it, on a thread
    and event loop of its own; ``cancel()`` stops it cleanly, keeping every
    finished trial.
    """

    def __init__(self, lab: Lab, plan: PlannedSweep, options: SweepOptions) -> None:
        self.lab = lab
        self.run_id: str | None = None
        """The run's id, once it is known (before the first call)."""
        self._watch = _Watch(options.get("display") or NullDisplay())
        watched: SweepOptions = {**options, "display": self._watch}
        self._task = BackgroundTask(
            lambda: record_sweep(lab.store, plan, watched, on_run=self._set_run_id), name="promptlab-sweep"
        )

    def _set_run_id(self, run_id: str) -> None:
        self.run_id = run_id

    @property
    def progress(self) -> Progress | None:
        """The latest progress (None until the run has started)."""
        return self._watch.progress

    @property
    def messages(self) -> list[str]:
        """Notes the run reported (rate limits, cancellation)."""
        return list(self._watch.messages)

    @property
    def done(self) -> bool:
        """True once the sweep has ended: done, cancelled or failed."""
        return self._task.done

    @property
    def status(self) -> str:
        """running, done, cancelled or failed."""
        if not self.done:
            return "running"
        return self._watch.status or "failed"

    def cancel(self) -> None:
        """Stop the sweep; finished trials are kept and the run is marked cancelled."""
        self._task.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the sweep to end (at most ``timeout`` seconds); True when it has."""
        return self._task.wait(timeout)

    def result(self) -> Run:
        """The recorded run once ended (a cancelled sweep gives its run, status
        cancelled); re-raises what made a sweep fail."""
        try:
            self._task.result()
        except asyncio.CancelledError:
            if self.run_id is None:
                raise
        assert self.run_id is not None
        return self.lab.run(self.run_id)

    def __repr__(self) -> str:
        progress = self.progress.describe() if self.progress else "starting"
        return f"SweepHandle(run {str(self.run_id)[:8]}: {self.status}, {progress})"
