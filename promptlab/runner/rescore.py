"""Scoring stored trials after the fact, and pairwise preferences between
variants: what ``Lab.evaluate`` and ``Lab.compare_pairwise`` do.

The scored model is never called again: evaluators read the recorded
outputs. Judges do call their model, each call a recorded trial in the run
of the trial it grades, answered from the cache when asked before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import pandas as pd

from promptlab.analysis.stats import input_key, with_variant_labels
from promptlab.core.lineage import current_lineage
from promptlab.evals.judges import PairwiseJudge
from promptlab.evals.protocol import Evaluator, Score, TrialView
from promptlab.runner.cells import CellRunner, RunSettings
from promptlab.runner.group_commit import GroupCommit
from promptlab.runner.progress import NullDisplay
from promptlab.runner.scoring import Scorer, score_row
from promptlab.runner.trial_rows import RunContext
from promptlab.store import Store

T = TypeVar("T")


async def _per_run(
    store: Store,
    trials: pd.DataFrame,
    settings: RunSettings,
    work: Callable[[CellRunner, pd.DataFrame], Awaitable[list[T]]],
    *,
    tiers: Mapping[str, str] | None = None,
    scrub: Mapping[str, tuple[str, ...]] | None = None,
) -> list[T]:
    """Run ``work`` per run of the trials, with a judge runner recording into
    that run (its trials of the run's tier in ``tiers``)."""
    lineage = current_lineage(store.identity)
    results: list[T] = []
    for (run_id, experiment), group in trials.groupby(["run_id", "experiment"], sort=False):
        tier = (tiers or {}).get(str(run_id))
        context = RunContext(str(run_id), str(experiment), lineage, kind="judge", tier=tier, scrub=scrub or {})
        judges = CellRunner(GroupCommit(store), context, settings, NullDisplay())
        try:
            results += await work(judges, group)
        finally:
            await judges.aclose()
    return results


async def score_stored(
    store: Store,
    trials: pd.DataFrame,
    evaluators: Sequence[Evaluator],
    settings: RunSettings,
    *,
    tiers: Mapping[str, str] | None = None,
    scrub: Mapping[str, tuple[str, ...]] | None = None,
) -> list[dict[str, Any]]:
    """Score rows for stored trials (a DataFrame from ``Lab.trials``); a judge's
    trials get the tier ``tiers`` gives the run they grade in."""
    user = current_lineage().user
    limit = asyncio.Semaphore(settings.concurrency)

    async def work(judges: CellRunner, group: pd.DataFrame) -> list[dict[str, Any]]:
        scorer = Scorer(evaluators, judges, user)

        async def one(row: dict[str, Any]) -> list[dict[str, Any]]:
            async with limit:
                return await scorer.score(TrialView.from_row(row), str(row["run_id"]))

        records = [{str(k): v for k, v in row.items()} for row in group.to_dict("records")]
        scored = await asyncio.gather(*(one(row) for row in records))
        return [score for rows in scored for score in rows]

    return await _per_run(store, trials, settings, work, tiers=tiers, scrub=scrub)


def pair_by_input(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """One row per input both have: the two trials side by side (columns ``*_a``, ``*_b``)."""
    left = with_variant_labels(a).assign(input=input_key(a)).drop_duplicates("input")
    right = with_variant_labels(b).assign(input=input_key(b)).drop_duplicates("input")
    return left.merge(right, on="input", suffixes=("_a", "_b"))


async def prefer_pairs(
    store: Store, pairs: pd.DataFrame, judge: PairwiseJudge, settings: RunSettings
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The judge's preference per pair, and the score rows recording it on both trials."""
    user = current_lineage().user
    limit = asyncio.Semaphore(settings.concurrency)
    # (value, label) for trial A, then for trial B, by the judge's winner
    outcome = {
        "a": ((1.0, "win"), (0.0, "loss")),
        "b": ((0.0, "loss"), (1.0, "win")),
        "tie": ((0.5, "tie"), (0.5, "tie")),
    }

    async def work(judges: CellRunner, group: pd.DataFrame) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        async def one(row: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            view_a = TrialView.from_row({k[:-2]: v for k, v in row.items() if k.endswith("_a")})
            view_b = TrialView.from_row({k[:-2]: v for k, v in row.items() if k.endswith("_b")})
            async with limit:
                preference = await judge.prefer(view_a, view_b, judges)
            first = preference.judge_trial_ids[0]
            sides = [(view_a, row["run_id_a"], view_b), (view_b, row["run_id_b"], view_a)]
            rows = []
            for (view, run_id, opponent), (value, label) in zip(sides, outcome[preference.winner], strict=True):
                score = Score(value, label=label, explanation=preference.explanation, judge_trial_id=first)
                recorded = score_row(view.trial_id, str(run_id), judge, score, error=None, user=user)
                rows.append({**recorded, "args": {**recorded["args"], "opponent": opponent.trial_id}})
            verdict = {
                "input": row["input"],
                "trial_a": view_a.trial_id,
                "trial_b": view_b.trial_id,
                "output_a": view_a.output,
                "output_b": view_b.output,
                "winner": preference.winner,
                "explanation": preference.explanation,
            }
            return verdict, rows

        records = [{str(k): v for k, v in row.items()} for row in group.to_dict("records")]
        return list(await asyncio.gather(*(one(row) for row in records)))

    # judge calls are recorded in the run of A's trial
    grouped = pairs.rename(columns={"run_id_a": "run_id", "experiment_a": "experiment"})
    results = await _per_run(
        store,
        grouped,
        settings,
        lambda judges, group: work(judges, group.rename(columns={"run_id": "run_id_a", "experiment": "experiment_a"})),
    )
    verdicts = pd.DataFrame([verdict for verdict, _ in results])
    return verdicts, [row for _, rows in results for row in rows]
