"""Statistics over trial DataFrames (pandas in, pandas out): per-variant
summaries with confidence intervals, paired comparisons, run diffs, and the
stability of repeated calls. Pure functions; nothing here reads the store."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from promptlab.analysis.columns import EVAL_ERRORS, PASSED_PREFIX, SCORE_PREFIX, metric_column, score_columns
from promptlab.core.hashing import canonical_json
from promptlab.errors import ConfigError

VARIANT = ["prompt_name", "prompt_version", "model", "params"]
"""The columns that identify a variant: one prompt version on one model config."""

ALPHA = 0.05
"""The sign test's significance level for a verdict (and the gate's regression rule)."""

RESAMPLES = 2000
"""Bootstrap resamples; with the fixed seed, results are reproducible."""


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
    else:
        raise ConfigError(f"a variant is picked by a name, a version or a mapping of columns, not {selector!r}")
    picked = trials[chosen]
    names = sorted({variant_name(row) for _, row in picked.iterrows()})
    if len(names) != 1:
        every = sorted({variant_name(row) for _, row in trials.iterrows()})
        found = "no variant" if not names else f"{len(names)} variants"
        raise ConfigError(f"{selector!r} picks {found}; this run's variants: {'; '.join(every)}")
    return picked


def variants(trials: pd.DataFrame) -> list[pd.DataFrame]:
    """The trials of each variant, in the order they first appear."""
    keys = with_variant_labels(trials)[VARIANT].astype(str).agg("\x1f".join, axis=1)
    return [trials[keys == key] for key in dict.fromkeys(keys)]


def with_variant_labels(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with ``params`` as text, so variants can be grouped."""
    frame = trials.copy()
    frame["params"] = frame["params"].map(params_label)
    return frame


def variant_name(row: pd.Series | dict[str, Any]) -> str:
    """``prompt@version6 · model (params)`` for a row with the VARIANT columns."""
    params = row["params"] if isinstance(row["params"], str) else params_label(row["params"])
    return f"{row['prompt_name']}@{str(row['prompt_version'])[:6]} · {row['model']}" + (
        f" ({params})" if params else ""
    )


# -- intervals and tests ---------------------------------------------------------


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; (nan, nan) without values."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if data.size == 1:
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = rng.choice(data, size=(resamples, data.size), replace=True).mean(axis=1)
    tail = (1 - confidence) / 2
    return (float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)))


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p-value (ties left out); 1.0 with no untied pairs."""
    n = wins + losses
    if n == 0:
        return 1.0
    smaller = min(wins, losses)
    tail = sum(math.comb(n, k) for k in range(smaller + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap_p(differences: Sequence[float] | np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Two-sided bootstrap p-value that the mean paired difference is 0."""
    data = np.asarray(differences, dtype=float)
    if data.size == 0 or np.all(data == 0):
        return 1.0
    rng = np.random.default_rng(seed)
    centred = data - data.mean()  # resample under the null: mean difference 0
    means = rng.choice(centred, size=(resamples, data.size), replace=True).mean(axis=1)
    return float(min(1.0, (np.sum(np.abs(means) >= abs(data.mean())) + 1) / (resamples + 1)))


# -- summary ------------------------------------------------------------------------


def summary(trials: pd.DataFrame, *, ci: bool = True) -> pd.DataFrame:
    """Per variant: n, errors, cached, latency p50/p95, tokens, cost, spend, and for
    every evaluator its mean with a 95% bootstrap interval (``ci=False`` skips the
    intervals, for live displays) and pass rate."""
    base = [
        *VARIANT,
        "n",
        "errors",
        "error_rate",
        "eval_errors",
        "cached",
        "latency_p50_ms",
        "latency_p95_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "spent_usd",
    ]
    if trials.empty:
        return pd.DataFrame(columns=base)
    frame = with_variant_labels(trials)
    frame["failed"] = frame["error_type"].notna()
    frame["ok_latency"] = frame["latency_ms"].where(~frame["failed"])
    frame["spent"] = frame["cost_usd"].where(~frame["cached"].astype(bool), 0.0)
    grouped = frame.groupby(VARIANT, sort=False, dropna=False)
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
            result[f"{label}_ci_low"] = pd.concat([intervals.map(lambda interval: interval[0]), mean], axis=1).min(
                axis=1
            )
            result[f"{label}_ci_high"] = pd.concat([intervals.map(lambda interval: interval[1]), mean], axis=1).max(
                axis=1
            )
        result[f"{label}_n"] = values.count()
        if PASSED_PREFIX + label in frame:
            result[f"{label}_pass_rate"] = grouped[PASSED_PREFIX + label].mean()
    result = result.reset_index()
    result["error_rate"] = result["errors"] / result["n"]
    repeated = stability(trials) if trials["repeat"].max() > 0 else pd.DataFrame()
    if len(repeated):  # repeats > 1: how often a variant's repeats of an input agree
        agreement = repeated.groupby(VARIANT, sort=False)["agreement"].mean().rename("repeat_agreement")
        result = result.merge(agreement.reset_index(), on=VARIANT, how="left")
    extra = [c for c in result.columns if c not in base]
    return result[base + extra]


# -- comparisons ---------------------------------------------------------------------


def input_key(trials: pd.DataFrame, by: Sequence[str] = ()) -> pd.Series:
    """Identifies the input of each trial (its row and repeat, and the ``by``
    columns when given), to pair trials."""
    key = trials["vars"].map(canonical_json) + "#" + trials["repeat"].astype(str)
    for column in by:
        key = key + "#" + trials[column].map(canonical_json)
    return key


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of two variants over the inputs both have."""

    metric: str
    """What was compared."""

    n: int
    """Paired inputs."""

    mean_a: float
    """A's mean over the pairs."""

    mean_b: float
    """B's mean over the pairs."""

    difference: float
    """Mean of B − A."""

    ci_low: float
    """Lower end of the 95% bootstrap interval of the difference."""

    ci_high: float
    """Upper end."""

    wins: int
    """Inputs where B did better."""

    losses: int
    """Inputs where B did worse."""

    ties: int
    """Inputs where they did the same."""

    p_value: float
    """Two-sided exact sign test (ties left out)."""

    p_value_bootstrap: float
    """Two-sided paired bootstrap test of the mean difference."""

    pairs: pd.DataFrame
    """One row per input: a, b and b − a."""

    higher_is_better: bool = True
    """Whether larger values of the metric are better."""

    @property
    def significant(self) -> bool:
        """Whether A and B clearly differ. Both tests must agree: with a handful of
        inputs that all moved one way the bootstrap interval collapses away from
        0 while the sign test rightly says that few inputs prove nothing."""
        clear = self.n > 0 and self.difference != 0 and self.p_value < ALPHA
        return clear and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def clearly_better(self) -> bool:
        """B is clearly better than A (in the metric's direction)."""
        return self.significant and (self.difference > 0) == self.higher_is_better

    @property
    def clearly_worse(self) -> bool:
        """B is clearly worse than A (in the metric's direction)."""
        return self.significant and (self.difference > 0) != self.higher_is_better

    @property
    def verdict(self) -> str:
        """The result in plain words."""
        if self.n == 0:
            return f"no inputs in common to compare on {self.metric}"
        who = "no clear difference between A and B"
        if self.clearly_better:
            who = "B is better than A"
        elif self.clearly_worse:
            who = "B is worse than A"
        return (
            f"{who} on {self.metric}: B wins on {self.wins} of {self.n} inputs, loses on {self.losses}, "
            f"ties {self.ties}; difference {self.difference:+.3g}, 95% CI {self.ci_low:.3g} to "
            f"{self.ci_high:.3g}, sign test p={self.p_value:.3g}"
        )

    def __str__(self) -> str:
        return self.verdict


def compare(
    a: pd.DataFrame, b: pd.DataFrame, metric: str, *, higher_is_better: bool = True, by: Sequence[str] = ()
) -> Comparison:
    """Pair A's and B's trials by input (and the ``by`` columns, e.g. model) and
    compare them on ``metric`` (an evaluator label, or a column such as ``latency_ms``)."""
    column_a, column_b = metric_column(a, metric), metric_column(b, metric)
    left = pd.DataFrame({"key": input_key(a, by), "a": pd.to_numeric(a[column_a], errors="coerce")}).dropna()
    right = pd.DataFrame({"key": input_key(b, by), "b": pd.to_numeric(b[column_b], errors="coerce")}).dropna()
    pairs = left.groupby("key").mean().join(right.groupby("key").mean(), how="inner")
    pairs["difference"] = pairs["b"] - pairs["a"]
    signed = pairs["difference"] if higher_is_better else -pairs["difference"]
    wins, losses = int((signed > 0).sum()), int((signed < 0).sum())
    low, high = bootstrap_ci(pairs["difference"].to_numpy())
    return Comparison(
        metric=metric,
        n=len(pairs),
        mean_a=float(pairs["a"].mean()) if len(pairs) else math.nan,
        mean_b=float(pairs["b"].mean()) if len(pairs) else math.nan,
        difference=float(pairs["difference"].mean()) if len(pairs) else math.nan,
        ci_low=low,
        ci_high=high,
        wins=wins,
        losses=losses,
        ties=len(pairs) - wins - losses,
        p_value=sign_test(wins, losses),
        p_value_bootstrap=paired_bootstrap_p(pairs["difference"].to_numpy()),
        pairs=pairs.reset_index(),
        higher_is_better=higher_is_better,
    )


def _outcome(frame: pd.DataFrame, metric: str | None) -> pd.Series:
    """1 for a good trial, 0 for a bad one: passed (or no error) unless a metric says."""
    if metric is not None:
        passed = PASSED_PREFIX + metric
        if passed in frame:
            return frame[passed].astype("float")
        return pd.to_numeric(frame[metric_column(frame, metric)], errors="coerce")
    return frame["error_type"].isna().astype(float)


def diff_runs(before: pd.DataFrame, after: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Cells whose outcome changed between two runs of the same sweep: matched by
    prompt name, model, params and input; ``change`` is regression, fix or
    changed (same outcome, different output)."""
    keys = ["prompt_name", "model", "params", "input"]

    def prepared(frame: pd.DataFrame) -> pd.DataFrame:
        out = with_variant_labels(frame)
        out["input"] = input_key(frame)
        out["outcome"] = _outcome(frame, metric)
        return out[[*keys, "vars", "output", "error", "outcome", "trial_id"]]

    merged = prepared(before).merge(prepared(after), on=keys, suffixes=("_before", "_after"))
    worse = merged["outcome_after"] < merged["outcome_before"]
    better = merged["outcome_after"] > merged["outcome_before"]
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
    grouped = frame.groupby([*VARIANT, "input"], sort=False)
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
