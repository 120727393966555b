"""Online evaluation: scoring a sample of the calls applications logged
(``kind = 'production'``), what ``Lab.evaluate(source="production")`` and
``promptlab evaluate`` do, typically from an hourly cron job.

Whether a call is in the sample is decided by a hash of its trial id (and
``seed``), not by a draw per run: each call is in or out for good. A job
whose windows overlap (every hour, ``since`` one day) so keeps scoring the
same ``sample`` fraction, where fresh draws would creep toward every call.
With ``unscored_only`` a call these evaluators already scored (or failed to:
the error is their verdict) is left out, so reruns score nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

import pandas as pd

from promptlab.analysis import columns, frames
from promptlab.core.hashing import hash_strings
from promptlab.errors import ConfigError
from promptlab.evals.protocol import Evaluator
from promptlab.store import Store

Since = datetime | str | timedelta | None
"""A time: a datetime (UTC when naive), an ISO string, or a timedelta (that long ago)."""

SOURCES = ("sweep", "production")
"""What ``Lab.evaluate`` scores: the target given (``sweep``), or logged calls (``production``)."""


class EvaluateOptions(TypedDict, total=False):
    """``Lab.evaluate``'s keyword options. The selection ones (all but
    ``concurrency`` and ``cache``) apply with ``source="production"`` and no target."""

    concurrency: int
    """Judge calls in flight (default 8)."""
    cache: bool
    """Answer a judge's call from history when it was asked before (default True)."""
    source: str
    """``sweep`` (the default): score the target; ``production``: the calls apps logged."""
    since: Since
    """Calls logged at or after this time."""
    until: Since
    """Calls logged before this time."""
    sample: float
    """The fraction of calls to score, 0 < sample ≤ 1 (default 1: all)."""
    prompt: str | None
    """Only calls of this prompt name."""
    label: str | None
    """Only calls served by this label (``''``: calls that named a version)."""
    app: str | None
    """Only calls this application logged (the trials' ``source``)."""
    seed: int | None
    """Picks another sample (each is as stable as the default one)."""
    unscored_only: bool
    """Leave out calls these evaluators already scored (default True)."""


RUN_OPTIONS = frozenset({"concurrency", "cache"})


@dataclass(frozen=True)
class ProductionSample:
    """The logged calls chosen for scoring, and how many there were to choose from."""

    trials: pd.DataFrame
    """The chosen calls (a trials frame), oldest first."""
    matched: int
    """Calls that match the filters."""
    sampled: int
    """Of those, the ones in the sample (the chosen ones plus those already scored)."""


def check_options(has_target: bool, options: Mapping[str, Any]) -> None:
    """Raise a ``ConfigError`` saying what to do when ``Lab.evaluate``'s target and options don't fit together."""
    source = options.get("source", "sweep" if has_target else None)
    if source is not None and source not in SOURCES:
        raise ConfigError(f"source={source!r}: give source='production' (logged calls) or 'sweep' (a target)")
    selection = sorted(set(options) - RUN_OPTIONS - {"source"})
    if has_target and (source != "sweep" or selection):
        raise ConfigError(
            f"a target is scored as given, so {', '.join(selection) or 'source'}= would be ignored: "
            "leave out the target to score production calls (source='production'), or filter the trials yourself"
        )
    if not has_target and source != "production":
        raise ConfigError(
            "evaluate what? Give a target (a run, a run id or a trials DataFrame), "
            "or source='production' to score a sample of the calls applications logged"
        )


def production_trials(store: Store, evaluators: Sequence[Evaluator], options: Mapping[str, Any]) -> pd.DataFrame:
    """The calls ``Lab.evaluate(source="production", ...)`` scores (see ``select_production``);
    ``options`` as ``check_options`` passed them."""
    chosen = {k: v for k, v in options.items() if k not in RUN_OPTIONS and k != "source"}
    return select_production(store, evaluators, **chosen).trials


def select_production(
    store: Store,
    evaluators: Sequence[Evaluator],
    *,
    since: Since = None,
    until: Since = None,
    sample: float = 1.0,
    prompt: str | None = None,
    label: str | None = None,
    app: str | None = None,
    seed: int | None = None,
    unscored_only: bool = True,
) -> ProductionSample:
    """The production calls logged in ``since``–``until`` (of ``prompt``, served
    by ``label``, logged by ``app``) that are in the ``sample`` (a stable fraction:
    see the module docstring), without those ``evaluators`` all scored already
    when ``unscored_only``."""
    if not evaluators:
        raise ConfigError("evaluators=[...] is empty: name what to score the calls with, e.g. [evals.icontains('x')]")
    if isinstance(sample, bool) or not isinstance(sample, int | float) or not 0 < sample <= 1:
        raise ConfigError(f"sample={sample!r}: give the fraction of calls to score, above 0 and at most 1 (0.1: 10%)")
    where = frames.trial_filter(prompt=prompt, since=since, kind="production")
    trials = frames.read_trials(store, where)
    end = frames.as_utc(until)
    keep = pd.Series(True, index=trials.index)
    if end is not None:
        keep &= pd.to_datetime(trials["created_at"], utc=True).dt.tz_localize(None) < end
    if label is not None:
        keep &= trials["label"].fillna("") == label
    if app is not None:
        keep &= trials["source"] == app
    matched = trials[keep]
    sampled = matched[matched["trial_id"].map(lambda trial_id: in_sample(str(trial_id), sample, seed)).astype(bool)]
    chosen = sampled[~scored_by(sampled, evaluators)] if unscored_only else sampled
    return ProductionSample(chosen.reset_index(drop=True), matched=len(matched), sampled=len(sampled))


def in_sample(trial_id: str, fraction: float, seed: int | None = None) -> bool:
    """Whether the trial is in a ``fraction`` sample: the same answer every time for one ``seed``."""
    return int(hash_strings([str(seed or 0), trial_id], 15), 16) < fraction * 16**15


def scored_by(trials: pd.DataFrame, evaluators: Sequence[Evaluator]) -> pd.Series:
    """Per trial, whether every evaluator has a verdict on it already (a score, or the error it met)."""
    done = pd.Series(True, index=trials.index)
    for evaluator in evaluators:
        verdict = pd.Series(False, index=trials.index)
        for prefix in (columns.SCORE_PREFIX, columns.PASSED_PREFIX, columns.LABEL_PREFIX, columns.EVAL_ERROR_PREFIX):
            if f"{prefix}{evaluator.label}" in trials:
                verdict |= trials[f"{prefix}{evaluator.label}"].notna()
        done &= verdict
    return done
