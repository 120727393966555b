"""Paired comparisons of two variants, and the tests and intervals behind
them. A comparison says what it weighed: an evaluator's values, in the
direction that is better for it, or for a check how often each side passed
(``on="passed"``), so a longer summary is never called better for having
more words. Pure functions; nothing here reads the store or knows the
evaluators: callers say the direction (``promptlab.evals.meaning``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from promptlab.analysis.columns import PASSED_PREFIX, SCORE_PREFIX, metric_column
from promptlab.core.hashing import canonical_json
from promptlab.errors import ConfigError

ALPHA = 0.05
"""The sign test's significance level for a verdict (and the gate's regression rule)."""

RESAMPLES = 2000
"""Bootstrap resamples; with the fixed seed, results are reproducible."""


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
    """A's mean over the pairs (its pass rate when compared on ``passed``)."""

    mean_b: float
    """B's mean over the pairs (its pass rate when compared on ``passed``)."""

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
    """Whether larger values of the metric are better (always, for passes)."""

    on: str = "score"
    """``score``: the metric's values were compared; ``passed``: how often each passed."""

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
        """The result in plain words, saying what was compared: ``(pass/fail)``
        for a check's passes, ``(lower is better)`` for a cost or a length."""
        if self.n == 0:
            decided = " where both passed or failed" if self.on == "passed" else ""
            return f"no inputs in common{decided} to compare on {self.metric}"
        who = "no clear difference between A and B"
        if self.clearly_better:
            who = "B is better than A"
        elif self.clearly_worse:
            who = "B is worse than A"
        if self.on == "passed":
            passes_a, passes_b = (f"{float(self.pairs[side].sum()):.4g}" for side in ("a", "b"))
            return (
                f"{who} on {self.metric} (pass/fail): B passes {passes_b} of {self.n} inputs, A {passes_a}; "
                f"B passes where A fails on {self.wins}, fails where A passes on {self.losses}; "
                f"sign test p={self.p_value:.3g}"
            )
        direction = "" if self.higher_is_better else " (lower is better)"
        return (
            f"{who} on {self.metric}{direction}: B wins on {self.wins} of {self.n} inputs, loses on {self.losses}, "
            f"ties {self.ties}; difference {self.difference:+.3g}, 95% CI {self.ci_low:.3g} to "
            f"{self.ci_high:.3g}, sign test p={self.p_value:.3g}"
        )

    def __str__(self) -> str:
        return self.verdict


def compared_values(trials: pd.DataFrame, metric: str, on: str) -> pd.Series:
    """The numbers ``compare`` pairs: the metric's values, or with ``on="passed"``
    1 for a pass and 0 for a fail (none where the evaluator decided neither)."""
    column = metric_column(trials, metric)
    if on == "score":
        return pd.to_numeric(trials[column], errors="coerce")
    passed = PASSED_PREFIX + column.removeprefix(SCORE_PREFIX)
    if passed not in trials:  # every call of this side failed, or it never decides
        return pd.Series(math.nan, index=trials.index)
    return trials[passed].astype("Float64").astype(float)


def compare(
    a: pd.DataFrame,
    b: pd.DataFrame,
    metric: str,
    *,
    higher_is_better: bool = True,
    on: str = "score",
    by: Sequence[str] = (),
) -> Comparison:
    """Pair A's and B's trials by input (and the ``by`` columns, e.g. model) and
    compare them on ``metric`` (an evaluator label, or a column such as
    ``latency_ms``): its values, in the direction ``higher_is_better`` says, or
    with ``on="passed"`` how often each passed (what a check is compared on)."""
    if on not in ("score", "passed"):
        raise ConfigError(f"on= takes 'score' or 'passed', not {on!r}")
    higher_is_better = higher_is_better or on == "passed"
    left = pd.DataFrame({"key": input_key(a, by), "a": compared_values(a, metric, on)}).dropna()
    right = pd.DataFrame({"key": input_key(b, by), "b": compared_values(b, metric, on)}).dropna()
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
        on=on,
    )
