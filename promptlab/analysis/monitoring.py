"""Production monitoring: the metrics of a prompt's logged calls per period,
label and version, and two versions compared on them.

Production calls share no inputs (each is a different user's request), so
two versions are compared unpaired (``unpaired``): rates by the difference of
two proportions, values by Welch's t test (latency also by Mann–Whitney,
since its tail is long). A verdict needs the test and the interval to agree,
as ``comparison.Comparison`` does. Pure functions over the frames
``promptlab.store.production_reads`` reads; nothing here reads the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import pandas as pd

from promptlab.analysis.comparison import ALPHA
from promptlab.analysis.unpaired import Difference, mann_whitney, two_proportions, welch

GROUP = ["period", "label", "prompt_version"]
"""The columns that identify one row of the metrics table."""

METRIC_COLUMNS = [
    *GROUP,
    "n",
    "errors",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "cost_usd",
    "cost_per_call_usd",
    "prompt_tokens",
    "completion_tokens",
    "with_feedback",
    "feedback_rate",
    "votes_up",
    "votes_down",
    "net_votes",
    "corrections",
]
"""The metrics table's fixed columns; then ``action_<name>_rate`` per action
taken and ``<evaluator>_mean`` per evaluator that scored the calls."""


def metrics_table(groups: pd.DataFrame, actions: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (period, label, version) with the rates and means derived
    from ``production_reads.metrics``' sums: ``error_rate`` of all calls,
    ``cost_per_call_usd`` over the calls with a known cost, ``feedback_rate``
    (calls with any feedback), ``net_votes`` (up − down), each action's rate
    and each evaluator's mean score."""
    table = groups.copy()
    if table.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    n = table["n"].astype(float)
    table["error_rate"] = table["errors"] / n
    table["cost_per_call_usd"] = table["cost_usd"] / table["n_costed"].where(table["n_costed"] > 0)
    table["feedback_rate"] = table["with_feedback"] / n
    table["net_votes"] = table["votes_up"] - table["votes_down"]
    table = table[METRIC_COLUMNS]
    if len(actions):
        taken = actions.pivot_table(index=GROUP, columns="action", values="n", aggfunc="sum").add_prefix("action_")
        table = table.merge(taken.add_suffix("_rate").reset_index(), on=GROUP, how="left")
        rates = [column for column in table.columns if column.startswith("action_")]
        table[rates] = table[rates].fillna(0).div(table["n"].astype(float), axis=0)
    if len(scores):
        means = scores.pivot_table(index=GROUP, columns="evaluator", values="mean", aggfunc="first")
        table = table.merge(means.add_suffix("_mean").reset_index(), on=GROUP, how="left")
    return table.reset_index(drop=True)


# -- two versions compared -------------------------------------------------------------


@dataclass(frozen=True)
class MeasureComparison:
    """Two versions' production calls compared on one measure (unpaired)."""

    measure: str
    """What was compared: ``error_rate``, ``latency_ms``, an evaluator's name, ..."""

    test: str
    """``z test`` (a rate: two proportions) or ``Welch's t test`` (a mean)."""

    n_a: int
    """A's calls counted (for the thumbs-up share: A's votes)."""

    n_b: int
    """B's calls counted."""

    a: float
    """A's rate or mean."""

    b: float
    """B's rate or mean."""

    difference: float
    """B − A."""

    ci_low: float
    """Lower end of the 95% interval of the difference (Newcombe's for a rate, Welch's for a mean)."""

    ci_high: float
    """Upper end."""

    p_value: float
    """Two-sided p-value of ``test``."""

    p_value_mann_whitney: float | None = None
    """For latency: the Mann–Whitney U test's two-sided p-value (medians, robust to the long tail)."""

    higher_is_better: bool | None = None
    """Which way is better; None where neither is (how often people gave feedback)."""

    @property
    def is_rate(self) -> bool:
        """Whether this is a share of calls (shown in per cent)."""
        return self.test == "z test"

    @property
    def significant(self) -> bool:
        """Whether A and B clearly differ: the test at ``ALPHA`` and the interval agree."""
        clear = not math.isnan(self.p_value) and self.p_value < ALPHA and self.difference != 0
        return clear and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def verdict(self) -> str:
        """The result in words, with both sides, the interval and the test."""
        if self.n_a == 0 or self.n_b == 0:
            return f"nothing to compare on {self.measure}: A has {self.n_a}, B {self.n_b}"
        who = "no clear difference between A and B"
        if self.significant and self.higher_is_better is None:
            who = "B differs from A"
        elif self.significant:
            who = "B is better than A" if (self.difference > 0) == self.higher_is_better else "B is worse than A"
        direction = {True: "", False: " (lower is better)", None: ""}[self.higher_is_better]
        if self.is_rate:
            sides = f"A {self.a:.1%} of {self.n_a}, B {self.b:.1%} of {self.n_b}"
            gap = (
                f"difference {100 * self.difference:+.1f} points, 95% CI {100 * self.ci_low:.1f} to "
                f"{100 * self.ci_high:.1f}"
            )
        else:
            sides = f"A {self.a:.4g} (n={self.n_a}), B {self.b:.4g} (n={self.n_b})"
            gap = f"difference {self.difference:+.3g}, 95% CI {self.ci_low:.3g} to {self.ci_high:.3g}"
        tests = f"{self.test} p={self.p_value:.3g}"
        if self.p_value_mann_whitney is not None:
            tests += f", Mann–Whitney p={self.p_value_mann_whitney:.3g}"
        return f"{who} on {self.measure}{direction}: {sides}; {gap}, {tests}"

    def __str__(self) -> str:
        return self.verdict


@dataclass(frozen=True)
class ProductionComparison:
    """Two versions (or labels) of a prompt compared on their production calls."""

    a: str
    """What A is (``summarize@1a2b3c``, ``label production``)."""

    b: str
    """What B is."""

    measures: tuple[MeasureComparison, ...]
    """One comparison per measure: rates first, then latency, cost and scores."""

    @property
    def df(self) -> pd.DataFrame:
        """One row per measure, every field plus ``significant`` and ``verdict``."""
        rows = [
            {**{f.name: getattr(m, f.name) for f in fields(m)}, "significant": m.significant, "verdict": m.verdict}
            for m in self.measures
        ]
        return pd.DataFrame(rows)

    def __getitem__(self, measure: str) -> MeasureComparison:
        for compared in self.measures:
            if compared.measure == measure:
                return compared
        raise KeyError(f"{measure!r}; measures compared: {', '.join(m.measure for m in self.measures)}")

    def __str__(self) -> str:
        return "\n".join([f"A = {self.a}", f"B = {self.b}", *(m.verdict for m in self.measures)])

    def _repr_html_(self) -> str:
        import html

        items = "".join(f"<li>{html.escape(m.verdict)}</li>" for m in self.measures)
        return f"<b>A</b> = {html.escape(self.a)}, <b>B</b> = {html.escape(self.b)}<ul>{items}</ul>"


def _measure(
    name: str, found: Difference, higher_is_better: bool | None, mann_whitney_p: float | None = None
) -> MeasureComparison:
    return MeasureComparison(
        measure=name,
        test=found.test,
        n_a=found.n_a,
        n_b=found.n_b,
        a=found.estimate_a,
        b=found.estimate_b,
        difference=found.difference,
        ci_low=found.ci_low,
        ci_high=found.ci_high,
        p_value=found.p_value,
        p_value_mann_whitney=mann_whitney_p,
        higher_is_better=higher_is_better,
    )


def _rate(name: str, hits_a: pd.Series, hits_b: pd.Series, higher_is_better: bool | None) -> MeasureComparison:
    found = two_proportions(int(hits_a.sum()), len(hits_a), int(hits_b.sum()), len(hits_b))
    return _measure(name, found, higher_is_better)


def compare_versions(
    a: Mapping[str, pd.DataFrame],
    b: Mapping[str, pd.DataFrame],
    *,
    name_a: str = "A",
    name_b: str = "B",
    higher_is_better: Mapping[str, bool] | None = None,
) -> ProductionComparison:
    """Compare two sets of production calls (``production_reads.calls`` of each):
    error rate, feedback rate, thumbs-up share (of the up and down votes), each
    action's rate, latency of successful calls (Welch and Mann–Whitney), cost
    per call, and each evaluator's newest scores (better upward unless
    ``higher_is_better`` says otherwise for its name)."""
    first, second = a["trials"], b["trials"]
    measures = [
        _rate("error_rate", first["failed"].astype(bool), second["failed"].astype(bool), False),
        _rate("feedback_rate", first["with_feedback"].astype(bool), second["with_feedback"].astype(bool), None),
    ]
    up_a, up_b = int(first["votes_up"].sum()), int(second["votes_up"].sum())
    votes_a, votes_b = up_a + int(first["votes_down"].sum()), up_b + int(second["votes_down"].sum())
    measures.append(_measure("thumbs_up_share", two_proportions(up_a, votes_a, up_b, votes_b), True))
    for action in sorted(set(a["actions"]["action"]) | set(b["actions"]["action"])):
        taken = [
            frame["trial_id"].isin(side["actions"].loc[side["actions"]["action"] == action, "trial_id"])
            for frame, side in ((first, a), (second, b))
        ]
        measures.append(_rate(f"action_{action}_rate", taken[0], taken[1], None))
    ok_a, ok_b = (
        first.loc[~first["failed"].astype(bool), "latency_ms"],
        second.loc[~second["failed"].astype(bool), "latency_ms"],
    )
    measures.append(_measure("latency_ms", welch(ok_a, ok_b), False, mann_whitney(ok_a, ok_b)))
    measures.append(_measure("cost_usd", welch(first["cost_usd"], second["cost_usd"]), False))
    directions = higher_is_better or {}
    for evaluator in sorted(set(a["scores"]["evaluator"]) | set(b["scores"]["evaluator"])):
        values = [side["scores"].loc[side["scores"]["evaluator"] == evaluator, "value"] for side in (a, b)]
        measures.append(_measure(evaluator, welch(values[0], values[1]), directions.get(evaluator, True)))
    return ProductionComparison(a=name_a, b=name_b, measures=tuple(measures))
