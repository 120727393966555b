"""Statistics (``promptlab/analysis/stats.py``) against answers computed here independently:
sign test vs the binomial distribution, bootstrap vs a plain numpy resampler,
comparisons, summaries, run diffs and stability on DataFrames built by hand."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest

from promptlab.analysis import stats
from promptlab.core.hashing import canonical_json
from promptlab.errors import ConfigError

# -- independent references ----------------------------------------------------------------


def binomial_two_sided(wins: int, losses: int) -> float:
    """Exact two-sided binomial test at p = 1/2: the probability of every outcome
    no more likely than the one observed (what scipy's binomtest computes)."""
    n = wins + losses
    if n == 0:
        return 1.0
    observed = math.comb(n, wins)
    return float(
        sum((Fraction(math.comb(n, k), 2**n) for k in range(n + 1) if math.comb(n, k) <= observed), Fraction(0))
    )


def numpy_bootstrap_ci(values: list[float], resamples: int, seed: int, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap of the mean, resampling indices with numpy's Generator."""
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


# -- sign test -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wins", "losses", "p"),
    [(8, 2, 0.109375), (9, 1, 0.021484375), (0, 0, 1.0), (2, 8, 0.109375), (10, 0, 0.001953125), (5, 5, 1.0)],
)
def test_sign_test_known_values(wins: int, losses: int, p: float) -> None:
    assert stats.sign_test(wins, losses) == pytest.approx(p, abs=1e-15)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12, 25])
def test_sign_test_matches_the_exact_binomial(n: int) -> None:
    for wins in range(n + 1):
        assert stats.sign_test(wins, n - wins) == pytest.approx(binomial_two_sided(wins, n - wins), rel=1e-12)


def test_sign_test_matches_scipy() -> None:
    from scipy import stats as scipy_stats  # a dev dependency, only for this cross-check

    for wins, losses in [(8, 2), (9, 1), (3, 4), (15, 2), (0, 6), (20, 20)]:
        expected = scipy_stats.binomtest(wins, wins + losses, 0.5).pvalue
        assert stats.sign_test(wins, losses) == pytest.approx(expected, rel=1e-9)


# -- bootstrap --------------------------------------------------------------------------------------

DATA = [0.1, 0.5, 0.9, 0.3, 0.7, 1.0, 0.0, 0.2, 0.6, 0.4]


def test_bootstrap_ci_matches_an_independent_numpy_resampler() -> None:
    for seed, resamples in [(0, 2000), (7, 500)]:
        got = stats.bootstrap_ci(DATA, resamples=resamples, seed=seed)
        assert got == pytest.approx(numpy_bootstrap_ci(DATA, resamples, seed), abs=1e-12)
    assert stats.bootstrap_ci(DATA, confidence=0.8) == pytest.approx(numpy_bootstrap_ci(DATA, 2000, 0, 0.8))


def test_bootstrap_ci_is_reproducible_and_contains_the_mean() -> None:
    low, high = stats.bootstrap_ci(DATA)
    assert low < np.mean(DATA) < high
    assert stats.bootstrap_ci(DATA) == (low, high)
    assert stats.bootstrap_ci(DATA, seed=1) != (low, high)
    assert stats.bootstrap_ci(DATA, confidence=0.5)[1] - stats.bootstrap_ci(DATA, confidence=0.5)[0] < high - low


def test_bootstrap_ci_narrows_with_more_data_towards_the_normal_interval() -> None:
    small = stats.bootstrap_ci(DATA)
    large = stats.bootstrap_ci(DATA * 20)
    assert large[1] - large[0] < (small[1] - small[0]) / 3
    # for 200 values the percentile bootstrap is close to mean ± 1.96 · sd / √n
    values = np.asarray(DATA * 20)
    half_width = 1.96 * values.std() / math.sqrt(values.size)
    assert large == pytest.approx((values.mean() - half_width, values.mean() + half_width), abs=0.01)


def test_bootstrap_ci_edge_cases() -> None:
    assert all(math.isnan(v) for v in stats.bootstrap_ci([]))
    assert all(math.isnan(v) for v in stats.bootstrap_ci([float("nan")]))
    assert stats.bootstrap_ci([0.4]) == (0.4, 0.4)
    assert stats.bootstrap_ci([0.7] * 5) == pytest.approx((0.7, 0.7))
    assert stats.bootstrap_ci([1.0, float("nan"), 0.0]) == stats.bootstrap_ci([1.0, 0.0])


def test_paired_bootstrap_p() -> None:
    assert stats.paired_bootstrap_p([]) == 1.0
    assert stats.paired_bootstrap_p([0.0] * 8) == 1.0
    # every difference the same and non-zero: no resample under the null reaches it
    assert stats.paired_bootstrap_p([0.5] * 10) == pytest.approx(1 / 2001)
    # symmetric differences: mean 0, nothing to reject
    assert stats.paired_bootstrap_p([1.0, -1.0] * 5) == 1.0
    # against a plain numpy version of the same test
    differences = np.array([0.3, -0.1, 0.4, 0.2, 0.0, 0.5, -0.2, 0.3])
    centred = differences - differences.mean()
    rng = np.random.default_rng(0)
    means = centred[rng.integers(0, centred.size, size=(2000, centred.size))].mean(axis=1)
    expected = (np.sum(np.abs(means) >= abs(differences.mean())) + 1) / 2001
    assert stats.paired_bootstrap_p(differences) == pytest.approx(expected)
    assert stats.paired_bootstrap_p(differences) == stats.paired_bootstrap_p(-differences)


# -- frames built by hand ----------------------------------------------------------------------------


def trial(text: str, **values: Any) -> dict[str, Any]:
    """One row of a trials DataFrame, with what stats reads filled in."""
    row: dict[str, Any] = {
        "trial_id": f"t-{text}-{values.get('repeat', 0)}-{values.get('prompt_version', 'v1')}",
        "prompt_name": "p",
        "prompt_version": "v1",
        "model": "m",
        "params": {},
        "vars": {"text": text},
        "repeat": 0,
        "output": f"out {text}",
        "error": None,
        "error_type": None,
        "latency_ms": 100.0,
        "cached": False,
        "cost_usd": 0.001,
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    row.update(values)
    return row


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def scored(values: list[float], **extra: Any) -> pd.DataFrame:
    return frame([trial(f"q{i}", score_acc=v, **extra) for i, v in enumerate(values)])


# -- compare ---------------------------------------------------------------------------------------------


def test_compare_counts_wins_losses_ties_and_the_mean_difference() -> None:
    a = scored([0.5] * 14)
    b = scored([1.0] * 11 + [0.0] + [0.5] * 2)
    result = stats.compare(a, b, "acc")
    assert (result.n, result.wins, result.losses, result.ties) == (14, 11, 1, 2)
    assert result.mean_a == pytest.approx(0.5)
    assert result.mean_b == pytest.approx((11 + 1.0) / 14)
    assert result.difference == pytest.approx((11 * 0.5 - 0.5) / 14)
    assert result.p_value == pytest.approx(binomial_two_sided(11, 1))
    assert result.ci_low <= result.difference <= result.ci_high
    assert (result.ci_low, result.ci_high) == stats.bootstrap_ci(result.pairs["difference"].to_numpy())
    assert result.p_value_bootstrap == stats.paired_bootstrap_p(result.pairs["difference"].to_numpy())
    assert len(result.pairs) == 14 and set(result.pairs.columns) >= {"a", "b", "difference"}
    assert result.verdict.startswith("B is better than A on acc")
    assert "B wins on 11 of 14 inputs, loses on 1, ties 2" in result.verdict
    assert str(result) == result.verdict


def test_compare_on_too_few_inputs_is_no_clear_difference() -> None:
    result = stats.compare(scored([0.0, 0.0, 0.0]), scored([1.0, 1.0, 1.0]), "acc")
    assert (result.ci_low, result.ci_high) == (1.0, 1.0)  # every resample is the same
    assert result.p_value == pytest.approx(0.25)  # but 3 of 3 happens a quarter of the time by chance
    assert result.verdict.startswith("no clear difference between A and B on acc: B wins on 3 of 3 inputs")


def test_compare_a_significant_sign_test_with_an_interval_across_zero_is_no_clear_difference() -> None:
    # B wins 9 small ones and loses one by a lot: the sign test likes B, the mean doesn't move.
    result = stats.compare(scored([0.5] * 10), scored([0.6] * 9 + [-0.4]), "acc")
    assert result.p_value < 0.05 and result.ci_low < 0 < result.ci_high
    assert result.verdict.startswith("no clear difference")


def test_compare_the_other_way_is_worse() -> None:
    a = scored([1.0] * 11 + [0.0] + [0.5] * 2)
    b = scored([0.5] * 14)
    result = stats.compare(a, b, "acc")
    assert (result.wins, result.losses, result.ties) == (1, 11, 2)
    assert result.difference == pytest.approx(-5 / 14)
    assert result.verdict.startswith("B is worse than A")


def test_compare_says_no_clear_difference_when_it_is_noise() -> None:
    balanced = stats.compare(scored([0.5] * 10), scored([1.0, 1.0, 1.0, 0.0, 0.0, 0.0] + [0.5] * 4), "acc")
    assert (balanced.wins, balanced.losses, balanced.ties) == (3, 3, 4)
    assert balanced.difference == pytest.approx(0.0)
    assert balanced.verdict.startswith("no clear difference between A and B")
    small = stats.compare(scored([0.5] * 10), scored([1.0, 1.0, 0.0] + [0.5] * 7), "acc")
    assert small.difference == pytest.approx(0.05) and small.p_value == 1.0
    assert small.ci_low < 0 < small.ci_high
    assert small.verdict.startswith("no clear difference")


def test_compare_pairs_only_inputs_both_have_by_input_and_repeat() -> None:
    a = frame([trial("x", score_acc=0.0), trial("x", repeat=1, score_acc=0.0), trial("only-a", score_acc=0.0)])
    b = frame(
        [
            trial("x", score_acc=1.0),
            trial("x", repeat=1, score_acc=0.0),
            trial("only-b", score_acc=1.0),
            trial("y", score_acc=float("nan")),
        ]
    )
    result = stats.compare(a, b, "acc")
    assert (result.n, result.wins, result.ties) == (2, 1, 1)
    assert result.difference == pytest.approx(0.5)
    empty = stats.compare(scored([1.0]), frame([trial("elsewhere", score_acc=1.0)]), "acc")
    assert empty.n == 0 and empty.verdict.startswith("no inputs in common")


def test_compare_on_a_column_where_lower_is_better() -> None:
    a = frame([trial(f"q{i}", latency_ms=100.0) for i in range(8)])
    b = frame([trial(f"q{i}", latency_ms=50.0) for i in range(8)])
    result = stats.compare(a, b, "latency_ms", higher_is_better=False)
    assert (result.wins, result.losses) == (8, 0)
    assert result.difference == pytest.approx(-50.0)
    assert result.p_value == pytest.approx(2 / 2**8)
    assert result.verdict.startswith("B is better than A on latency_ms")
    assert stats.compare(a, b, "latency_ms").verdict.startswith("B is worse than A")


def test_compare_names_the_scored_metrics_when_one_is_missing() -> None:
    with pytest.raises(ConfigError, match="acc"):
        stats.compare(scored([1.0]), scored([1.0]), "accuracy")


# -- summary -------------------------------------------------------------------------------------------------


def test_summary_per_variant_with_intervals_and_pass_rates() -> None:
    v1 = [1.0, 0.0, 1.0, 1.0]
    rows = [trial(f"q{i}", score_acc=v, passed_acc=bool(v)) for i, v in enumerate(v1)]
    rows += [
        trial(f"q{i}", prompt_version="v2", score_acc=v, passed_acc=bool(v), latency_ms=200.0 + i, cached=i == 0)
        for i, v in enumerate([0.0, 0.0, 1.0])
    ]
    rows.append(
        trial(
            "q9",
            prompt_version="v2",
            output=None,
            error="boom",
            error_type="PermanentError",
            score_acc=float("nan"),
            passed_acc=None,
            cost_usd=None,
        )
    )
    trials = frame(rows)
    trials["passed_acc"] = trials["passed_acc"].astype("boolean")
    table = stats.summary(trials).set_index("prompt_version")
    for column in ("acc_mean", "acc_ci_low", "acc_ci_high", "acc_pass_rate", "acc_n", "n", "errors", "error_rate"):
        assert column in table.columns
    first, second = table.loc["v1"], table.loc["v2"]
    assert (first["n"], first["errors"], first["acc_n"]) == (4, 0, 4)
    assert first["acc_mean"] == pytest.approx(0.75) and first["acc_pass_rate"] == pytest.approx(0.75)
    assert (first["acc_ci_low"], first["acc_ci_high"]) == pytest.approx(numpy_bootstrap_ci(v1, 2000, 0))
    assert (second["n"], second["errors"], second["acc_n"], second["cached"]) == (4, 1, 3, 1)
    assert second["error_rate"] == pytest.approx(0.25)
    assert second["acc_mean"] == pytest.approx(1 / 3) and second["acc_pass_rate"] == pytest.approx(1 / 3)
    assert second["latency_p50_ms"] == pytest.approx(201.0)  # the failed call's latency is left out
    assert second["cost_usd"] == pytest.approx(0.003) and second["spent_usd"] == pytest.approx(0.002)


def test_summary_of_nothing_has_the_base_columns() -> None:
    table = stats.summary(frame([]))
    assert table.empty and {"n", "errors", "latency_p50_ms", "cost_usd"} <= set(table.columns)


# -- diff_runs -----------------------------------------------------------------------------------------------


def test_diff_runs_labels_regressions_and_fixes_regressions_first() -> None:
    before = frame(
        [
            trial("unchanged-output", output="x"),
            trial("fixed", output=None, error="boom", error_type="PermanentError"),
            trial("broken", output="fine"),
            trial("reworded", output="old words"),
            trial("same", output="same"),
        ]
    )
    after = frame(
        [
            trial("unchanged-output", output="x"),
            trial("reworded", output="new words"),
            trial("fixed", output="ok"),
            trial("broken", output=None, error="boom", error_type="PermanentError"),
            trial("same", output="same"),
        ]
    )
    changes = stats.diff_runs(before, after)
    assert list(changes["change"]) == ["regression", "fix", "changed"]
    assert [v["text"] for v in changes["vars"]] == ["broken", "fixed", "reworded"]
    assert list(changes["output_before"].fillna("-")) == ["fine", "-", "old words"]
    assert list(changes["output_after"].fillna("-")) == ["-", "ok", "new words"]


def test_diff_runs_on_a_metric() -> None:
    before = frame(
        [trial(t, score_acc=s, passed_acc=p) for t, s, p in [("a", 1.0, True), ("b", 0.0, False), ("c", 1.0, True)]]
    )
    after = frame(
        [trial(t, score_acc=s, passed_acc=p) for t, s, p in [("a", 0.0, False), ("b", 1.0, True), ("c", 1.0, True)]]
    )
    changes = stats.diff_runs(after=after, before=before, metric="acc")
    assert dict(zip([v["text"] for v in changes["vars"]], changes["change"], strict=True)) == {
        "a": "regression",
        "b": "fix",
    }
    # a score without a pass/fail column: a lower value is a regression
    lower = stats.diff_runs(scored([0.9, 0.5]), scored([0.4, 0.5]), metric="acc")
    assert list(lower["change"]) == ["regression"] and lower["vars"][0] == {"text": "q0"}


# -- stability ---------------------------------------------------------------------------------------------------


def test_stability_agreement_of_repeats() -> None:
    rows = [
        trial("a", repeat=r, output=o, score_acc=s) for r, (o, s) in enumerate([("a", 1.0), ("a", 1.0), ("b", 0.0)])
    ]
    rows += [trial("b", repeat=r, output="x", score_acc=1.0) for r in range(3)]
    rows.append(trial("single", output="z"))
    table = stats.stability(frame(rows), metric="acc")
    assert len(table) == 2  # a cell called once has no stability to report
    by_input = {row["input"]: row for row in table.to_dict("records")}
    mixed, steady = by_input[canonical_json({"text": "a"})], by_input[canonical_json({"text": "b"})]
    assert (mixed["repeats"], mixed["distinct_outputs"]) == (3, 2)
    assert mixed["agreement"] == pytest.approx(2 / 3)
    assert mixed["acc_std"] == pytest.approx(np.std([1.0, 1.0, 0.0], ddof=1))
    assert (steady["repeats"], steady["distinct_outputs"], steady["agreement"], steady["acc_std"]) == (3, 1, 1.0, 0.0)


def test_stability_counts_failed_repeats_as_an_output_of_their_own() -> None:
    rows = [
        trial("a", repeat=0, output="yes"),
        trial("a", repeat=1, output=None, error_type="X"),
        trial("a", repeat=2, output=None, error_type="X"),
        trial("a", repeat=3, output="yes"),
    ]
    (row,) = stats.stability(frame(rows)).to_dict("records")
    assert row["agreement"] == pytest.approx(0.5) and row["distinct_outputs"] == 2


def test_variant_names() -> None:
    assert stats.params_label({"temperature": 0.7, "max_tokens": 64}) == "max_tokens=64, temperature=0.7"
    assert stats.params_label({}) == ""
    row = {"prompt_name": "p", "prompt_version": "abcdef123", "model": "m", "params": {"temperature": 0}}
    assert stats.variant_name(row) == "p@abcdef · m (temperature=0)"


# -- what a score means: checks compared on passes, directions -------------------------------------------


def word_counts(counts: list[int], maximum: int = 30) -> pd.DataFrame:
    """A ``word_count:30`` check's scores: the count as the value, passed when within the maximum."""
    return frame(
        [
            trial(f"q{i}", **{"score_word_count:30": float(n), "passed_word_count:30": n <= maximum})
            for i, n in enumerate(counts)
        ]
    )


def test_a_check_whose_outputs_are_twice_too_long_is_worse_not_better() -> None:
    a = word_counts([25] * 14 + [35] * 2)  # 14 of 16 within 30 words
    b = word_counts([60] * 11 + [28] * 3 + [60] * 2)  # twice as long as allowed: 3 of 16 pass
    assert stats.compare(a, b, "word_count:30").clearly_better, "the bug: on raw counts, more words win"

    result = stats.compare(a, b, "word_count:30", on="passed")
    assert result.clearly_worse and not result.clearly_better
    assert (result.mean_a, result.mean_b) == (pytest.approx(14 / 16), pytest.approx(3 / 16))
    assert (result.wins, result.losses, result.ties, result.on) == (0, 11, 5, "passed")
    assert result.verdict.startswith(
        "B is worse than A on word_count:30 (pass/fail): B passes 3 of 16 inputs, A 14; "
        "B passes where A fails on 0, fails where A passes on 11; sign test p="
    )


def test_passes_are_better_whatever_the_values_direction() -> None:
    a, b = word_counts([60] * 10), word_counts([20] * 10)
    result = stats.compare(a, b, "word_count:30", on="passed", higher_is_better=False)
    assert result.higher_is_better and result.clearly_better
    assert result.verdict.startswith("B is better than A on word_count:30 (pass/fail): B passes 10 of 10")


def test_a_side_whose_every_call_failed_has_no_passes_to_compare() -> None:
    a = word_counts([20] * 3)
    b = frame([trial(f"q{i}", **{"score_word_count:30": math.nan}) for i in range(3)])
    result = stats.compare(a, b, "word_count:30", on="passed")
    assert result.n == 0
    assert result.verdict == "no inputs in common where both passed or failed to compare on word_count:30"
    with pytest.raises(ConfigError, match="on= takes 'score' or 'passed'"):
        stats.compare(a, b, "word_count:30", on="value")


def test_a_lower_is_better_score_says_b_is_better_when_lower() -> None:
    a = frame([trial(f"q{i}", score_cost=1.0 + i / 10) for i in range(8)])
    b = frame([trial(f"q{i}", score_cost=0.5 + i / 10) for i in range(8)])
    result = stats.compare(a, b, "cost", higher_is_better=False)
    assert result.clearly_better and (result.wins, result.losses) == (8, 0)
    assert result.verdict.startswith("B is better than A on cost (lower is better): B wins on 8 of 8 inputs")


def test_diff_runs_follows_the_direction_and_a_checks_passes() -> None:
    before = frame([trial(f"q{i}", score_cost=c) for i, c in enumerate([1.0, 1.0])])
    after = frame([trial(f"q{i}", score_cost=c) for i, c in enumerate([2.0, 0.5])])
    lower = stats.diff_runs(before, after, metric="cost", higher_is_better=False)
    assert dict(zip(lower["vars"].map(lambda v: v["text"]), lower["change"], strict=True)) == {
        "q0": "regression",
        "q1": "fix",
    }
    longer = stats.diff_runs(word_counts([20, 40]), word_counts([45, 10]), metric="word_count:30", on="passed")
    assert list(longer["change"]) == ["regression", "fix"], "45 words fail the check: a regression, not a gain"
    assert list(longer["outcome_before"]) == [1.0, 0.0]


def test_summary_has_a_checks_pass_rate_beside_its_mean() -> None:
    result = stats.summary(word_counts([20, 40, 25, 60]))
    assert result.loc[0, "word_count:30_mean"] == pytest.approx(36.25)
    assert result.loc[0, "word_count:30_pass_rate"] == pytest.approx(0.5)
