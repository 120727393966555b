"""Monitoring production traffic: the metrics table checked against the
hand-built history worked out with pandas (on the file and on the server),
and the unpaired comparison of two versions checked against scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats  # a dev dependency, only for these cross-checks
from support.production import OTHER, PROMPT, V1, V2, ProductionHistory, fill_production_history

import promptlab as pl
from promptlab.analysis import monitoring, unpaired
from promptlab.errors import ConfigError, NotFoundError

pytestmark = pytest.mark.both_stores


def expected_metrics(history: ProductionHistory, every: str = "D") -> pd.DataFrame:
    """The metrics table worked out from the rows written, with pandas alone."""
    trials = history.frame("trials")
    trials = trials[(trials["prompt_name"] == PROMPT) & (trials["kind"] == "production")].copy()
    trials["period"] = pd.to_datetime(trials["created_at"]).dt.floor(every)
    trials["failed"] = trials["error_type"].notna()
    feedback = history.frame("feedback")
    by_app_id = dict(zip(trials["external_id"], trials["trial_id"], strict=True))
    feedback["trial_id"] = feedback["trial_id"].fillna(feedback["external_id"].map(by_app_id))
    feedback = feedback[feedback["trial_id"].isin(trials["trial_id"])]
    votes = feedback[feedback["vote"].notna()].copy()
    votes["person"] = votes["end_user"].fillna(votes["user"]).str.strip().str.lower()
    current = votes.sort_values(["created_at", "feedback_id"]).groupby(["trial_id", "person"]).last()["vote"]
    current = current.reset_index()
    up = current[current["vote"] > 0].groupby("trial_id").size()
    down = current[current["vote"] < 0].groupby("trial_id").size()
    trials["with_feedback"] = trials["trial_id"].isin(feedback["trial_id"])
    trials["corrected"] = trials["trial_id"].isin(feedback.loc[feedback["correction"].notna(), "trial_id"])
    trials["votes_up"] = trials["trial_id"].map(up).fillna(0)
    trials["votes_down"] = trials["trial_id"].map(down).fillna(0)
    for action in ("copied", "edited", "ignored"):
        trials[f"took_{action}"] = trials["trial_id"].isin(feedback.loc[feedback["action"] == action, "trial_id"])
    scores = history.frame("scores").sort_values("created_at").groupby("trial_id").last()["value"]
    trials["helpful"] = trials["trial_id"].map(scores)
    rows = []
    for (period, label, version), calls in trials.groupby(["period", "label", "prompt_version"]):
        ok = calls.loc[~calls["failed"], "latency_ms"]
        rows.append(
            {
                "period": period,
                "label": label,
                "prompt_version": version,
                "n": len(calls),
                "errors": int(calls["failed"].sum()),
                "error_rate": calls["failed"].mean(),
                "latency_p50_ms": ok.quantile(0.5),
                "latency_p95_ms": ok.quantile(0.95),
                "cost_usd": calls["cost_usd"].sum(),
                "cost_per_call_usd": calls["cost_usd"].mean(),
                "prompt_tokens": calls["prompt_tokens"].sum(),
                "completion_tokens": calls["completion_tokens"].sum(),
                "with_feedback": int(calls["with_feedback"].sum()),
                "feedback_rate": calls["with_feedback"].mean(),
                "votes_up": calls["votes_up"].sum(),
                "votes_down": calls["votes_down"].sum(),
                "net_votes": calls["votes_up"].sum() - calls["votes_down"].sum(),
                "corrections": int(calls["corrected"].sum()),
                **{f"action_{a}_rate": calls[f"took_{a}"].mean() for a in ("copied", "edited", "ignored")},
                "helpful_mean": calls["helpful"].mean(),
            }
        )
    return pd.DataFrame(rows)


def test_monitor_numbers_match_the_history_worked_out_by_hand(lab: pl.Lab) -> None:
    history = fill_production_history(lab)
    monitor = lab.monitor(PROMPT)
    expected = expected_metrics(history)
    got = monitor.df
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) == 8  # 4 days × (production, staging); production moves to V2 on day 3
    assert set(got["prompt_version"]) == {V1, V2}
    pd.testing.assert_frame_equal(
        got.astype(dict.fromkeys(got.columns[3:], float)).reset_index(drop=True),
        expected.astype(dict.fromkeys(expected.columns[3:], float)).reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        rtol=1e-9,
    )
    # the feedback an app sent by its own id for the call counts
    assert got["with_feedback"].sum() > 0 and expected["with_feedback"].sum() == got["with_feedback"].sum()


def test_monitor_filters_periods_labels_and_window(lab: pl.Lab) -> None:
    history = fill_production_history(lab)
    weekly = lab.monitor(PROMPT, every="week")
    assert set(weekly.df["period"]) == {pd.Timestamp("2026-03-02")}
    assert weekly.df["n"].sum() == lab.monitor(PROMPT).df["n"].sum() == 92
    hourly = lab.monitor(PROMPT, every="hour", label="staging")
    expected = expected_metrics(history, every="h")
    staging = expected[expected["label"] == "staging"]
    assert hourly.df["n"].sum() == staging["n"].sum() and len(hourly.df) == len(staging)
    window = lab.monitor(PROMPT, since="2026-03-04", until="2026-03-05")
    assert set(window.df["period"]) == {pd.Timestamp("2026-03-04")}
    assert lab.monitor(PROMPT, source="another-app").df.empty
    assert lab.monitor(OTHER).df["n"].sum() == 6
    assert list(lab.production_prompts()["prompt_name"]) and set(lab.production_prompts()["prompt_name"]) == {
        PROMPT,
        OTHER,
    }
    with pytest.raises(ConfigError, match="every="):
        lab.monitor(PROMPT, every="month")


def test_compare_two_versions_unpaired_matches_scipy(lab: pl.Lab) -> None:
    history = fill_production_history(lab)
    compared = lab.monitor(PROMPT, label="production").compare(V1[:6], V2)
    trials = history.frame("trials")
    calls = trials[(trials["prompt_name"] == PROMPT) & (trials["kind"] == "production")]
    calls = calls[calls["label"] == "production"]
    a, b = calls[calls["prompt_version"] == V1], calls[calls["prompt_version"] == V2]
    latency = compared["latency_ms"]
    ok_a, ok_b = a.loc[a["error_type"].isna(), "latency_ms"], b.loc[b["error_type"].isna(), "latency_ms"]
    welch = scipy_stats.ttest_ind(ok_b, ok_a, equal_var=False)
    assert latency.p_value == pytest.approx(welch.pvalue, rel=1e-9)
    interval = welch.confidence_interval()
    assert (latency.ci_low, latency.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9)
    assert latency.p_value_mann_whitney == pytest.approx(
        scipy_stats.mannwhitneyu(ok_a, ok_b, method="asymptotic").pvalue, rel=1e-9
    )
    errors = compared["error_rate"]
    failed = [int(side["error_type"].notna().sum()) for side in (a, b)]
    table = [[failed[0], len(a) - failed[0]], [failed[1], len(b) - failed[1]]]
    assert errors.p_value == pytest.approx(scipy_stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)
    assert (errors.a, errors.b) == (failed[0] / len(a), failed[1] / len(b))
    assert compared.a == f"{PROMPT}@{V1[:6]}" and compared.b == f"{PROMPT}@{V2[:6]}"
    assert {"feedback_rate", "thumbs_up_share", "cost_usd", "helpful", "action_copied_rate"} <= set(
        compared.df["measure"]
    )
    assert "Welch's t test p=" in str(compared) and "A = support-reply@a1a1a1" in str(compared)
    by_label = lab.compare_production(PROMPT, "production", "staging")
    assert by_label.a == "label production" and by_label["error_rate"].n_a == 56
    with pytest.raises(NotFoundError, match="versions: "):
        lab.monitor(PROMPT).compare("zz", V1)


def test_wilson_and_newcombe_intervals_match_scipy_and_hand() -> None:
    for successes, n in [(0, 10), (7, 40), (40, 40), (123, 1000)]:
        expected = scipy_stats.binomtest(successes, n).proportion_ci(method="wilson")
        assert unpaired.wilson_interval(successes, n) == pytest.approx((expected.low, expected.high), abs=1e-12)
    found = unpaired.two_proportions(7, 40, 18, 55)
    first = scipy_stats.binomtest(7, 40).proportion_ci(method="wilson")
    second = scipy_stats.binomtest(18, 55).proportion_ci(method="wilson")
    low_a, high_a, low_b, high_b = first.low, first.high, second.low, second.high
    pa, pb = 7 / 40, 18 / 55
    assert found.ci_low == pytest.approx(pb - pa - math.hypot(pb - low_b, high_a - pa), rel=1e-12)
    assert found.ci_high == pytest.approx(pb - pa + math.hypot(high_b - pb, pa - low_a), rel=1e-12)
    # Newcombe's worked example (Stat Med 1998, table II, method 10): 56/70 vs 48/80 → 0.0524 to 0.3339
    example = unpaired.two_proportions(48, 80, 56, 70)
    assert (round(example.ci_low, 4), round(example.ci_high, 4)) == (0.0524, 0.3339)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_and_mann_whitney_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.lognormal(6, 0.4, 12 + seed * 30), np.round(rng.lognormal(6.1, 0.8, 7 + seed * 50), -1)
    found = unpaired.welch(a, b)
    expected = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert found.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    interval = expected.confidence_interval()
    assert (found.ci_low, found.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9)
    assert unpaired.mann_whitney(a, b) == pytest.approx(
        scipy_stats.mannwhitneyu(a, b, method="asymptotic").pvalue, rel=1e-9
    )
    for t, df in [(0.3, 2.5), (-2.1, 7.0), (4.0, 120.0)]:
        assert unpaired.t_sf(t, df) == pytest.approx(scipy_stats.t.sf(t, df), rel=1e-9)
        assert unpaired.t_quantile(0.975, df) == pytest.approx(scipy_stats.t.ppf(0.975, df), rel=1e-9)


def test_verdicts_say_which_way_and_why() -> None:
    def side(failed: list[bool], latency: list[float]) -> dict[str, pd.DataFrame]:
        trials = pd.DataFrame(
            {
                "trial_id": [f"t{i}" for i in range(len(failed))],
                "failed": failed,
                "latency_ms": latency,
                "cost_usd": 0.001,
                "with_feedback": False,
                "votes_up": 0,
                "votes_down": 0,
            }
        )
        return {
            "trials": trials,
            "actions": pd.DataFrame(columns=["trial_id", "action"]),
            "scores": pd.DataFrame(columns=["trial_id", "evaluator", "value"]),
        }

    worse = side([True] * 60 + [False] * 140, [900.0 + i for i in range(200)])
    better = side([True] * 10 + [False] * 190, [500.0 + i for i in range(200)])
    compared = monitoring.compare_versions(worse, better)
    assert compared["error_rate"].verdict.startswith("B is better than A on error_rate (lower is better): A 30.0%")
    assert compared["latency_ms"].verdict.startswith("B is better than A on latency_ms (lower is better)")
    assert compared["feedback_rate"].verdict.startswith("nothing to compare") is False
    assert compared["thumbs_up_share"].verdict.startswith("nothing to compare on thumbs_up_share")
    assert not compared["cost_usd"].significant
