"""Statistics over trial DataFrames (pandas in, pandas out): per-variant
summaries with confidence intervals and pass rates, run diffs, and the
stability of repeated calls; the paired comparison is in ``comparison``.
Pure functions; nothing here reads the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from promptlab.analysis.columns import EVAL_ERRORS, PASSED_PREFIX, SCORE_PREFIX, metric_column, score_columns
from promptlab.analysis.comparison import (
    ALPHA,
    RESAMPLES,
    Comparison,
    bootstrap_ci,
    compare,
    compared_values,
    input_key,
    paired_bootstrap_p,
    sign_test,
)
from promptlab.core.hashing import canonical_json
from promptlab.errors import ConfigError

__all__ = [
    "ALPHA",
    "RESAMPLES",
    "VARIANT",
    "Comparison",
    "Selector",
    "bootstrap_ci",
    "compare",
    "diff_runs",
    "input_key",
    "paired_bootstrap_p",
    "params_label",
    "select_variant",
    "sign_test",
    "stability",
    "summary",
    "variant_columns",
    "variant_name",
    "variants",
    "with_variant_labels",
]
"""The paired comparison's names (``comparison``) are public here too, where callers found them."""

VARIANT = ["prompt_name", "prompt_version", "model", "params"]
"""The columns that identify a variant: one prompt version on one model config
(and, in a sweep with retrievers, one retriever: ``variant_columns``)."""


def variant_columns(trials: pd.DataFrame) -> list[str]:
    """``VARIANT``, and ``retriever`` when any of ``trials`` had one."""
    searched = "retriever" in trials and bool(trials["retriever"].notna().any())
    return [*VARIANT, "retriever"] if searched else list(VARIANT)


def params_label(params: Any) -> str:
    """``temperature=0.7, max_tokens=64`` for a params dict ('' when none)."""
    if not isinstance(params, dict) or not params:
        return ""
    return ", ".join(f"{key}={value}" for key, value in sorted(params.items()))


Selector = str | Mapping[str, Any] | None
"""Picks variants of a run: a prompt name, a prompt version (or prefix), a
model name, ``name@version``, or a mapping of trial columns to values
(``{"model": "gpt-4o-mini", "params": {"temperature": 0}}``)."""


def select_variant(trials: pd.DataFrame, selector: Selector) -> pd.DataFrame:
    """The trials of the one variant ``selector`` picks; a ``ConfigError`` that
    lists the variants when it picks none or several."""
    if isinstance(selector, Mapping):
        chosen = pd.Series(True, index=trials.index)
        for column, value in selector.items():
            if column not in trials:
                raise ConfigError(f"no trial column {column!r} to select a variant by")
            chosen &= trials[column].map(lambda v, want=value: v == want)
    elif isinstance(selector, str):
        name, _, version = selector.partition("@")
        chosen = (
            (trials["prompt_name"] == selector)
            | trials["prompt_version"].astype(str).str.startswith(selector)
            | (trials["model"] == selector)
            | ((trials["prompt_name"] == name) & trials["prompt_version"].astype(str).str.startswith(version or "\0"))
        )
        if "retriever" in trials:
            chosen |= trials["retriever"] == selector
    else:
        raise ConfigError(f"a variant is picked by a name, a version or a mapping of columns, not {selector!r}")
    picked = trials[chosen]
    names = sorted({variant_name(row) for _, row in picked.iterrows()})
    if len(names) > 1 and _names_only_retriever(selector, picked):
        return picked  # one retriever's searches, whatever prompt and model used them: compare retrieval metrics
    if len(names) != 1:
        every = sorted({variant_name(row) for _, row in trials.iterrows()})
        found = "no variant" if not names else f"{len(names)} variants"
        raise ConfigError(f"{selector!r} picks {found}; this run's variants: {'; '.join(every)}")
    return picked


def _names_only_retriever(selector: Selector, picked: pd.DataFrame) -> bool:
    """True when ``selector`` is a retriever's label (or ``{"retriever": label}``) and
    picked only its trials: the retriever's searches are the same for every prompt
    and model, so its retrieval metrics pool across them (``compare`` pairs by input)."""
    if "retriever" not in picked or picked["retriever"].nunique(dropna=False) != 1:
        return False
    label = picked["retriever"].iloc[0]
    return selector == label or (isinstance(selector, Mapping) and dict(selector) == {"retriever": label})


def variants(trials: pd.DataFrame) -> list[pd.DataFrame]:
    """The trials of each variant, in the order they first appear."""
    keys = with_variant_labels(trials)[variant_columns(trials)].astype(str).agg("\x1f".join, axis=1)
    return [trials[keys == key] for key in dict.fromkeys(keys)]


def with_variant_labels(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with ``params`` as text, so variants can be grouped."""
    frame = trials.copy()
    frame["params"] = frame["params"].map(params_label)
    return frame


def variant_name(row: pd.Series | dict[str, Any]) -> str:
    """``prompt@version6 · model (params)`` for a row with the VARIANT columns."""
    params = row["params"] if isinstance(row["params"], str) else params_label(row["params"])
    retriever = row.get("retriever")
    searched = f" · {retriever}" if isinstance(retriever, str) and retriever else ""
    return (
        f"{row['prompt_name']}@{str(row['prompt_version'])[:6]} · {row['model']}"
        + (f" ({params})" if params else "")
        + searched
    )


# -- summary ------------------------------------------------------------------------


def summary(trials: pd.DataFrame, *, ci: bool = True) -> pd.DataFrame:
    """Per variant: n, errors, cached, latency p50/p95, tokens, cost, spend, and for
    every evaluator its mean with a 95% bootstrap interval (``ci=False`` skips the
    intervals, for live displays) and pass rate."""
    variant = variant_columns(trials)
    base = [*variant, "n", "errors", "error_rate", "eval_errors", "cached", "latency_p50_ms", "latency_p95_ms"]
    base += ["prompt_tokens", "completion_tokens", "cost_usd", "spent_usd"]
    if trials.empty:
        return pd.DataFrame(columns=base)
    frame = with_variant_labels(trials)
    frame["failed"] = frame["error_type"].notna()
    frame["ok_latency"] = frame["latency_ms"].where(~frame["failed"])
    frame["spent"] = frame["cost_usd"].where(~frame["cached"].astype(bool), 0.0)
    grouped = frame.groupby(variant, sort=False, dropna=False)
    result = pd.DataFrame(
        {
            "n": grouped.size(),
            "errors": grouped["failed"].sum(),
            "cached": grouped["cached"].sum(),
            "latency_p50_ms": grouped["ok_latency"].quantile(0.5),
            "latency_p95_ms": grouped["ok_latency"].quantile(0.95),
            "prompt_tokens": grouped["prompt_tokens"].sum(min_count=1),
            "completion_tokens": grouped["completion_tokens"].sum(min_count=1),
            # min_count=1: a variant whose price is unknown sums to NaN, not a fake 0
            "cost_usd": grouped["cost_usd"].sum(min_count=1),
            "spent_usd": grouped["spent"].sum(min_count=1),
            "eval_errors": grouped[EVAL_ERRORS].sum() if EVAL_ERRORS in frame else 0,
        }
    )
    for label in score_columns(trials):
        values = grouped[SCORE_PREFIX + label]
        result[f"{label}_mean"] = values.mean()
        if ci:
            intervals = values.apply(lambda v: bootstrap_ci(v.dropna().to_numpy()))
            # the bootstrap and pandas sum in different orders: keep the mean inside its own interval
            mean = result[f"{label}_mean"]
            result[f"{label}_ci_low"] = np.fmin(intervals.map(lambda interval: interval[0]), mean)
            result[f"{label}_ci_high"] = np.fmax(intervals.map(lambda interval: interval[1]), mean)
        result[f"{label}_n"] = values.count()
        if PASSED_PREFIX + label in frame:
            result[f"{label}_pass_rate"] = grouped[PASSED_PREFIX + label].mean()
    result = result.reset_index()
    result["error_rate"] = result["errors"] / result["n"]
    repeated = stability(trials) if trials["repeat"].max() > 0 else pd.DataFrame()
    if len(repeated):  # repeats > 1: how often a variant's repeats of an input agree
        agreement = repeated.groupby(variant, sort=False)["agreement"].mean().rename("repeat_agreement")
        result = result.merge(agreement.reset_index(), on=variant, how="left")
    extra = [c for c in result.columns if c not in base]
    return result[base + extra]


# -- comparisons ---------------------------------------------------------------------


def _outcome(frame: pd.DataFrame, metric: str | None, on: str) -> pd.Series:
    """What each trial came to: whether the call succeeded (1 or 0), or on a
    metric its pass (1) or fail (0) (``on="passed"``) or its value (``on="score"``)."""
    if metric is None:
        return frame["error_type"].isna().astype(float)
    return compared_values(frame, metric, on)


def _judged_on(metric: str | None, on: str | None, *frames: pd.DataFrame) -> str:
    """``on``, or when not given ``passed`` for an evaluator that decided pass or fail on any of ``frames``."""
    if on is not None or metric is None:
        return on or "score"
    label = metric.removeprefix(SCORE_PREFIX)
    return "passed" if any(PASSED_PREFIX + label in frame for frame in frames) else "score"


def diff_runs(
    before: pd.DataFrame,
    after: pd.DataFrame,
    metric: str | None = None,
    *,
    higher_is_better: bool = True,
    on: str | None = None,
) -> pd.DataFrame:
    """Cells whose outcome changed between two runs of the same sweep: matched by
    prompt name, model, params and input; ``change`` is regression, fix or
    changed (same outcome, different output). On a ``metric``, the outcome is
    its pass or fail when it decides one (or ``on="passed"``), else its value
    (``on="score"``), better in the direction ``higher_is_better`` says."""
    keys = ["prompt_name", "model", "params", "input"]
    if "retriever" in variant_columns(before) or "retriever" in variant_columns(after):
        keys.append("retriever")

    def prepared(frame: pd.DataFrame) -> pd.DataFrame:
        out = with_variant_labels(frame)
        out["input"] = input_key(frame)
        out["outcome"] = _outcome(frame, metric, judged)
        return out[[*keys, "vars", "output", "error", "outcome", "trial_id"]]

    judged = _judged_on(metric, on, before, after)
    upward = metric is None or higher_is_better or judged == "passed"  # a success, a pass: up is better
    merged = prepared(before).merge(prepared(after), on=keys, suffixes=("_before", "_after"))
    gain = merged["outcome_after"] - merged["outcome_before"]
    worse, better = (gain < 0, gain > 0) if upward else (gain > 0, gain < 0)
    differs = merged["output_before"].fillna("\0") != merged["output_after"].fillna("\0")
    merged["change"] = np.select([worse, better, differs], ["regression", "fix", "changed"], default="same")
    changed = merged[merged["change"] != "same"].drop(columns=["vars_after"]).rename(columns={"vars_before": "vars"})
    order = {"regression": 0, "fix": 1, "changed": 2}
    return changed.sort_values("change", key=lambda c: c.map(order)).reset_index(drop=True)


def stability(trials: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """For cells called more than once (``repeats > 1``): how often the repeats
    agree (share of the most common output) and how much a metric spreads."""
    frame = with_variant_labels(trials)
    frame["input"] = frame["vars"].map(canonical_json)
    grouped = frame.groupby([*variant_columns(trials), "input"], sort=False, dropna=False)
    result = pd.DataFrame(
        {
            "repeats": grouped.size(),
            "distinct_outputs": grouped["output"].nunique(dropna=False),
            "agreement": grouped["output"].agg(lambda o: o.fillna("\0").value_counts(normalize=True).iloc[0]),
        }
    )
    if metric is not None:
        result[f"{metric}_std"] = grouped[metric_column(trials, metric)].std()
    return result[result["repeats"] > 1].reset_index()
