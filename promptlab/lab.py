"""The Lab: one shared history file, and the sweeps recorded into it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Unpack

import pandas as pd

from promptlab import evals
from promptlab.analysis import columns, frames, stats
from promptlab.core.feedback import Verdict, feedback_row
from promptlab.core.lineage import person, run_status
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.rows import Data
from promptlab.errors import PolicyError
from promptlab.evals.judges import PairwiseJudge
from promptlab.evals.protocol import Evaluator
from promptlab.lab_datasets import DatasetMethods
from promptlab.lab_monitor import MonitorMethods
from promptlab.lab_privacy import PrivacyMethods
from promptlab.lab_release import ReleaseMethods
from promptlab.lab_retrieval import RetrievalMethods
from promptlab.lab_upkeep import UpkeepMethods
from promptlab.run import Run, SweepHandle
from promptlab.runner import online
from promptlab.runner.cells import RunSettings
from promptlab.runner.estimate import Estimate, estimate_sweep
from promptlab.runner.loops import run_sync
from promptlab.runner.plan import SweepOptions
from promptlab.runner.record import record_sweep
from promptlab.runner.rescore import pair_by_input, prefer_pairs, score_stored
from promptlab.runner.scoring import require_columns
from promptlab.store import Store, compaction, reads, run_reads
from promptlab.store.database import BUSY_TIMEOUT
from promptlab.store.location import default_db_path
from promptlab.store.server.connection import is_server
from promptlab.store.server.opening import server_store

FEEDBACK_FOLD_DELAY = 3.0
"""Seconds a feedback write waits before folding, so a reviewer's burst of clicks shares one fold."""


class Lab(ReleaseMethods, UpkeepMethods, MonitorMethods, DatasetMethods, PrivacyMethods, RetrievalMethods):
    """A history file and everything recorded in it.

    ``Lab()`` opens ``$PROMPTLAB_DB`` or ``./promptlab.duckdb``; any path is
    created and migrated on open. Many processes may use one file at once.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = BUSY_TIMEOUT, mkdir: bool = False
    ) -> None:
        """``busy_timeout``: seconds a read waits while a program outside
        promptlab (a DuckDB shell, a DBeaver tab) holds the file. The file's
        folder must exist unless ``mkdir=True``."""
        location = path if path is not None else default_db_path()
        self.store: Store  # on a team server, a ServerStore: the same methods a Lab uses
        if is_server(location):
            self.store = server_store(str(location), busy_timeout=busy_timeout)
        else:
            self.store = Store(Path(location), busy_timeout=busy_timeout, mkdir=mkdir)
            self.store.after_background_fold = compaction.compact_when_worth_it  # on the fold worker, off sweeps' path

    @property
    def path(self) -> Path:
        """The DuckDB file (on a team server: this user's local spool for it)."""
        return self.store.path

    @property
    def location(self) -> str:
        """Where the history lives: the file's path, or the server's URL without its password."""
        return self.store.location

    def __repr__(self) -> str:
        return f"Lab({self.location!r})"

    # -- sweeping ----------------------------------------------------------------

    def sweep(
        self,
        prompts: Prompt | Sequence[Prompt],
        models: Model | Sequence[Model],
        data: Data,
        **options: Unpack[SweepOptions],
    ) -> Run:
        """Run prompts × models × params × rows × repeats and record every trial.

        Works the same in a script and in a notebook cell. Cells whose exact
        request already succeeded (for anyone using this file) are answered
        from history (``cached``) with no call, unless ``cache=False``.
        ``resume="auto"`` continues this user's unfinished run of the same
        sweep (cancelled, failed, or whose process died); pass a run id to
        continue that run, or False to always start a new one. Interrupting
        keeps every finished trial. Options: ``promptlab.SweepOptions``.
        """
        plan = self._plan(prompts, models, data, options, clear=True)
        run_id = run_sync(lambda: record_sweep(self.store, plan, options))
        return Run(self, run_id, plan.experiment)

    async def asweep(
        self,
        prompts: Prompt | Sequence[Prompt],
        models: Model | Sequence[Model],
        data: Data,
        **options: Unpack[SweepOptions],
    ) -> Run:
        """``sweep`` for async code: ``run = await lab.asweep(...)``."""
        plan = await asyncio.to_thread(self._plan, prompts, models, data, options, clear=True)
        return Run(self, await record_sweep(self.store, plan, options), plan.experiment)

    def start(
        self,
        prompts: Prompt | Sequence[Prompt],
        models: Model | Sequence[Model],
        data: Data,
        **options: Unpack[SweepOptions],
    ) -> SweepHandle:
        """``sweep`` in the background: returns at once with a handle to watch
        (``progress``), stop (``cancel()``) or wait for (``result()``) the run."""
        return SweepHandle(self, self._plan(prompts, models, data, options, clear=True), options)

    def estimate(
        self,
        prompts: Prompt | Sequence[Prompt],
        models: Model | Sequence[Model],
        data: Data,
        **options: Unpack[SweepOptions],
    ) -> Estimate:
        """What ``sweep`` with these arguments would do: cells, calls, cache hits,
        tokens and cost (see ``promptlab.runner.estimate`` for how tokens are counted)."""
        return estimate_sweep(self.store, self._plan(prompts, models, data, options))

    # -- evaluating --------------------------------------------------------------------

    def evaluate(
        self,
        target: Run | pd.DataFrame | str | None = None,
        evaluators: Sequence[Evaluator | Callable[..., Any]] = (),
        **options: Unpack[online.EvaluateOptions],
    ) -> pd.DataFrame:
        """Score stored trials (a run, a run id, or a trials DataFrame) without
        calling their model again; returns the trials with the new score columns.
        Judges' calls are recorded and answered from the cache when asked before.
        No target, ``source="production"``: a sample of the calls apps logged, not
        yet scored (``since=``, ``sample=``, ...: ``promptlab.EvaluateOptions``)."""
        return run_sync(lambda: self.aevaluate(target, evaluators, **options))

    async def aevaluate(
        self,
        target: Run | pd.DataFrame | str | None = None,
        evaluators: Sequence[Evaluator | Callable[..., Any]] = (),
        **options: Unpack[online.EvaluateOptions],
    ) -> pd.DataFrame:
        """``evaluate`` for async code."""
        chosen = evals.coerce(evaluators)
        online.check_options(target is not None, options)
        trials = online.production_trials(self.store, chosen, options) if target is None else self._frame(target)
        require_columns(chosen, list(trials["vars"]))
        policy = self.privacy_policy  # read once: it is a file
        tiers = await asyncio.to_thread(self._clear_grading, trials, chosen, policy)
        settings = RunSettings(concurrency=options.get("concurrency", 8), cache=options.get("cache", True))
        scrub = policy.stored_redaction()
        rows = await score_stored(self.store, trials, chosen, settings, tiers=tiers, scrub=scrub)
        await asyncio.to_thread(self.store.append, {"scores": rows})
        self.store.fold_soon()
        return self._trials_by_id(list(trials["trial_id"]))

    def compare(
        self,
        a: Run | pd.DataFrame | str,
        b: Run | pd.DataFrame | str,
        metric: str,
        *,
        higher_is_better: bool | None = None,
        on: str | None = None,
    ) -> stats.Comparison:
        """Paired comparison of two variants (runs or trial DataFrames) over the
        inputs both have: mean difference with a 95% CI, wins/losses/ties, sign
        test and paired bootstrap p-values, and a verdict in words. A check is
        compared on how often it passes, a score in its direction, as its
        evaluator declared (``meanings``); ``higher_is_better=`` or
        ``on="score"``/``"passed"`` say otherwise."""
        first, second = self._frame(a), self._frame(b)
        higher, weighed = self._meaning(metric, first, second).compared(higher_is_better, on)
        return stats.compare(first, second, metric, higher_is_better=higher, on=weighed)

    def meanings(self, target: Run | pd.DataFrame | str) -> dict[str, evals.Meaning]:
        """What each evaluator's scores in a run (or trials DataFrame) mean, by label:
        ``higher_is_better`` and ``is_check`` (compared on passes; show its
        ``<label>_pass_rate`` first), as the history recorded the evaluators."""
        trials = self._frame(target)
        recorded = evals.recorded_meanings(self.store, list(trials["trial_id"]))
        return {label: recorded.get(label, evals.Meaning()) for label in columns.score_columns(trials)}

    def _meaning(self, metric: str | None, *frames: pd.DataFrame) -> evals.Meaning:
        """The recorded meaning of ``metric`` in these trials (the default one for a plain column)."""
        if metric is None:
            return evals.Meaning()
        return self.meanings(pd.concat(frames)).get(metric.removeprefix(columns.SCORE_PREFIX), evals.Meaning())

    def stability(self, target: Run | pd.DataFrame | str, metric: str | None = None) -> pd.DataFrame:
        """For cells run more than once (``repeats > 1``) in a run (or trials
        DataFrame): per variant and input, how often the repeats agree and how
        far ``metric`` spreads."""
        return stats.stability(self._frame(target), metric)

    def diff_runs(
        self,
        before: Run | pd.DataFrame | str,
        after: Run | pd.DataFrame | str,
        metric: str | None = None,
        *,
        higher_is_better: bool | None = None,
    ) -> pd.DataFrame:
        """Cells whose outcome changed between two runs of the same sweep (a prompt
        change, a model upgrade): regressions first, then fixes, then changed
        outputs. On a ``metric``, a check's outcome is its pass or fail, a
        score's its value, in the direction its evaluator declared unless
        ``higher_is_better=`` says."""
        first, second = self._frame(before), self._frame(after)
        higher, on = self._meaning(metric, first, second).compared(higher_is_better)
        # a score that also passes (a judge with a threshold) keeps the rule of its passes here: None
        return stats.diff_runs(first, second, metric, higher_is_better=higher, on="passed" if on == "passed" else None)

    def compare_pairwise(
        self,
        a: Run | pd.DataFrame | str,
        b: Run | pd.DataFrame | str,
        judge: PairwiseJudge,
        *,
        concurrency: int = 8,
    ) -> pd.DataFrame:
        """Ask ``judge`` (``pl.evals.pairwise_judge``) which output is better for each
        input A and B share, both orders; records a win/tie/loss score on both
        trials and returns one row per input with the winner."""
        pairs = pair_by_input(self._frame(a), self._frame(b))
        settings = RunSettings(concurrency=concurrency)
        verdicts, rows = run_sync(lambda: prefer_pairs(self.store, pairs, judge, settings))
        self.store.append({"scores": rows})
        self.store.fold_soon()
        return verdicts

    def _frame(self, target: Run | pd.DataFrame | str) -> pd.DataFrame:
        if isinstance(target, pd.DataFrame):
            return target
        run_id = target.run_id if isinstance(target, Run) else target
        return self.trials(run=str(run_reads.run(self.store, run_id)["run_id"]))

    def _trials_by_id(self, trial_ids: list[str]) -> pd.DataFrame:
        where = reads.TrialFilter(trial_ids=trial_ids, kind=None)
        with self.store.reading() as reader:
            stored = reads.trials(reader, columns.TRIAL_COLUMN_NAMES, where)
            scores = reads.latest_scores(reader, where)
        return columns.trial_frame(stored, scores)

    # -- reading -------------------------------------------------------------------

    def trials(
        self,
        *,
        experiment: str | None = None,
        prompt: str | None = None,
        prompt_version: str | None = None,
        model: str | None = None,
        run: str | Run | None = None,
        user: str | None = None,
        since: datetime | str | timedelta | None = None,
        search: str | None = None,
        errors: bool | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        kind: str | None = "sweep",
        trial_ids: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Trials matching every filter given, oldest first (columns: ``promptlab.analysis.columns``).

        ``since`` takes a datetime (UTC when naive), an ISO string or a
        timedelta (that long ago); ``search`` finds text in inputs or
        outputs, case-insensitively; ``errors=True`` keeps failed trials only;
        ``newest_first=True`` with ``limit=N`` gives the latest N; ``kind="judge"``
        gives the calls judges made (None: all); ``trial_ids`` keeps only those
        trials. Each evaluator that scored the trials adds ``score_<label>``
        (and ``passed_<label>``, ``label_<label>``, ``explanation_<label>``,
        ``eval_error_<label>``, ``judge_trial_<label>`` when it gave them) columns.
        """
        where = frames.trial_filter(
            experiment=experiment,
            prompt=prompt,
            prompt_version=prompt_version,
            model=model,
            run=run,
            user=user,
            since=since,
            search=search,
            errors=errors,
            kind=kind,
            trial_ids=trial_ids,
        )
        return frames.read_trials(self.store, where, limit, newest_first=newest_first)

    def trial(self, trial_id: str) -> dict[str, Any]:
        """Every stored field of one trial (a unique id prefix is enough)."""
        return columns.decode_row(reads.trial(self.store, trial_id))

    def experiments(self) -> pd.DataFrame:
        """Experiments with run and trial counts, most recently active first."""
        return frames.read_experiments(self.store)

    def runs(
        self,
        experiment: str | None = None,
        *,
        user: str | None = None,
        tag: str | None = None,
        prompt: str | None = None,
        model: str | None = None,
        since: datetime | str | timedelta | None = None,
        until: datetime | str | timedelta | None = None,
        search: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        totals: bool = True,
    ) -> pd.DataFrame:
        """Runs by everyone, newest first: who, when, status, trial/error/cache
        counts, cost, p50 latency, prompts and models; filtered by any of the
        arguments (``search`` looks in the runs' inputs and outputs; ``status``
        as shown: ``done``, ``running``, ``interrupted``, ...); ``limit`` and
        ``offset`` page through them, and only the page's trials are read.
        ``totals=False``: only ``run_id``, ``user`` and ``status``, fast however
        long the history."""
        where = run_reads.RunFilter(
            experiment=experiment,
            user=user,
            tag=tag,
            prompt=prompt,
            model=model,
            since=frames.as_utc(since),
            until=frames.as_utc(until),
            search=search,
        )
        return frames.read_runs(self.store, where, status=status, limit=limit, offset=offset, totals=totals)

    def model_names(self) -> list[str]:
        """The names of every model a sweep has called, sorted."""
        return run_reads.sweep_models(self.store)

    def run_info(self, run_id: str) -> dict[str, Any]:
        """One run's stored row (a unique id prefix is enough); a ``running`` run
        whose process is gone reads as ``interrupted``."""
        info = columns.decode_row(run_reads.run(self.store, run_id))
        info["status"] = run_status(info["status"], info["host"], info["pid"], info.get("heartbeat_at"))
        return info

    def run(self, run_id: str) -> Run:
        """A handle on a recorded run (a unique id prefix is enough)."""
        info = run_reads.run(self.store, run_id)
        return Run(self, str(info["run_id"]), str(info["experiment"]))

    # -- feedback ------------------------------------------------------------------

    def feedback(self, trial_id: str, **verdict: Unpack[Verdict]) -> str:
        """Record a person's verdict on a trial; returns the feedback id.

        ``vote`` is 1 / -1 (or "up" / "down"); ``correction`` is the output as
        it should have been (kept next to the original); ``action`` names
        what someone did with the output ("copied", "accepted", ...). ``user``
        defaults to ``PROMPTLAB_USER``, else the login name; on a team server
        it is the role that logged in, and naming someone else is refused. A
        unique prefix of the trial id is enough.
        """
        full_id = str(reads.trial(self.store, trial_id)["trial_id"])
        identity = self.store.identity
        if identity and verdict.get("user") and person(verdict.get("user")) != person(identity):
            raise PolicyError(
                f"on a team server a verdict is recorded as the role that logged in ({identity}); "
                f"{verdict.get('user')} gives theirs from their own login"
            )
        row = feedback_row(full_id, **(verdict | {"user": identity} if identity else verdict))
        self.store.append({"feedback": [row]})
        self.store.fold_soon(delay=FEEDBACK_FOLD_DELAY)
        return str(row["feedback_id"])

    def feedback_for(self, trial_id: str | None = None) -> pd.DataFrame:
        """Feedback rows (one trial's, or all), oldest first."""
        full_id = None if trial_id is None else str(reads.trial(self.store, trial_id)["trial_id"])
        return reads.feedback(self.store, full_id)

    def ui(self) -> Any:
        """The widget app over this history: ``promptlab.ui.playground(self)`` (a ``Playground``)."""
        from promptlab.ui import playground

        return playground(self)
