"""Unpaired comparisons of two samples: two versions' production calls, which
share no inputs, so nothing can be paired (the paired tests are in
``comparison``).

- rates (how often calls failed, got feedback, were voted up): the
  difference of two proportions, with Newcombe's hybrid score interval
  (from the two Wilson intervals; it keeps its coverage near 0% and 100%,
  where the textbook Wald interval collapses) and the pooled two-proportion
  z test (the same p-value as a chi-square test without Yates' correction);
- values (latency, cost, scores): the difference of means with Welch's t
  test and its interval (no equal variances assumed), and for skewed ones
  such as latency the Mann–Whitney U test (normal approximation, tie and
  continuity corrected).

The t and normal distributions are computed here (the regularised
incomplete beta function by its continued fraction): scipy is no dependency
of promptlab, only of its tests, which check every number against it.
Pure functions; nothing here reads the store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
"""The level of every interval here."""


@dataclass(frozen=True)
class Difference:
    """B − A for one measure, with its interval and test."""

    estimate_a: float
    """A's rate or mean."""

    estimate_b: float
    """B's rate or mean."""

    difference: float
    """B − A."""

    ci_low: float
    """Lower end of the 95% interval of the difference."""

    ci_high: float
    """Upper end."""

    p_value: float
    """Two-sided p-value of the test named in ``test``."""

    test: str
    """The test: ``z test`` (two proportions) or ``Welch's t test``."""

    n_a: int
    """A's calls (for a rate, the calls it is a share of)."""

    n_b: int
    """B's calls."""


# -- distributions -------------------------------------------------------------------


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return result


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _continued_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _continued_fraction(b, a, 1 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (``inf``: the normal)."""
    if math.isinf(df):
        return 1 - NormalDist().cdf(t)
    tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1 - tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (bisection on ``t_sf``, to 1e-12)."""
    if math.isinf(df):
        return NormalDist().inv_cdf(p)
    low, high = -1e6, 1e6
    for _ in range(200):
        middle = (low + high) / 2
        if 1 - t_sf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, abs(middle)):
            break
    return (low + high) / 2


# -- rates ---------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval for a proportion; (nan, nan) when ``n`` is 0."""
    if n == 0:
        return (math.nan, math.nan)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportions(successes_a: int, n_a: int, successes_b: int, n_b: int) -> Difference:
    """B's rate − A's, with Newcombe's hybrid score interval (method 10 of his
    1998 paper) and the pooled two-proportion z test."""
    if n_a == 0 or n_b == 0:
        rate_a = successes_a / n_a if n_a else math.nan
        rate_b = successes_b / n_b if n_b else math.nan
        return Difference(rate_a, rate_b, rate_b - rate_a, math.nan, math.nan, math.nan, "z test", n_a, n_b)
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = wilson_interval(successes_a, n_a)
    low_b, high_b = wilson_interval(successes_b, n_b)
    difference = rate_b - rate_a
    ci_low = difference - math.sqrt((rate_b - low_b) ** 2 + (high_a - rate_a) ** 2)
    ci_high = difference + math.sqrt((high_b - rate_b) ** 2 + (rate_a - low_a) ** 2)
    pooled = (successes_a + successes_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_value = 1.0 if spread == 0 else 2 * (1 - NormalDist().cdf(abs(difference) / spread))
    return Difference(rate_a, rate_b, difference, ci_low, ci_high, p_value, "z test", n_a, n_b)


# -- values --------------------------------------------------------------------------


def _values(sample: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    data = np.asarray(pd.to_numeric(pd.Series(sample, dtype=object), errors="coerce"), dtype=float)
    return data[~np.isnan(data)]


def welch(a: Sequence[float] | np.ndarray | pd.Series, b: Sequence[float] | np.ndarray | pd.Series) -> Difference:
    """Mean of B − mean of A, with Welch's t test and interval (missing values left out)."""
    first, second = _values(a), _values(b)
    n_a, n_b = len(first), len(second)
    mean_a = float(first.mean()) if n_a else math.nan
    mean_b = float(second.mean()) if n_b else math.nan
    difference = mean_b - mean_a
    if n_a < 2 or n_b < 2:
        return Difference(mean_a, mean_b, difference, math.nan, math.nan, math.nan, "Welch's t test", n_a, n_b)
    share_a, share_b = first.var(ddof=1) / n_a, second.var(ddof=1) / n_b
    error = math.sqrt(share_a + share_b)
    if error == 0:
        p_value = 1.0 if difference == 0 else 0.0
        return Difference(mean_a, mean_b, difference, difference, difference, p_value, "Welch's t test", n_a, n_b)
    df = (share_a + share_b) ** 2 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
    t = difference / error
    half = t_quantile(1 - (1 - CONFIDENCE) / 2, df) * error
    p_value = min(1.0, 2 * t_sf(abs(t), df))
    return Difference(
        mean_a, mean_b, difference, difference - half, difference + half, p_value, "Welch's t test", n_a, n_b
    )


def mann_whitney(a: Sequence[float] | np.ndarray | pd.Series, b: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Two-sided p-value of the Mann–Whitney U test (normal approximation with
    tie and continuity corrections: scipy's ``method="asymptotic"``)."""
    first, second = _values(a), _values(b)
    n_a, n_b = len(first), len(second)
    if n_a == 0 or n_b == 0:
        return math.nan
    ranks = pd.Series(np.concatenate([first, second])).rank(method="average").to_numpy()
    u = ranks[:n_a].sum() - n_a * (n_a + 1) / 2
    n = n_a + n_b
    _, ties = np.unique(np.concatenate([first, second]), return_counts=True)
    variance = n_a * n_b / 12 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - n_a * n_b / 2) - 0.5) / math.sqrt(variance)
    return float(min(1.0, 2 * (1 - NormalDist().cdf(max(z, 0.0)))))
