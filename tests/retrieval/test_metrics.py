"""Retrieval metrics against hand-computed values, and against trec_eval.

The reference implementation is ``pytrec_eval`` (the ``pytrec-eval-terrier``
wheel in the ``dev`` extra: Python bindings to trec_eval's own C code). Its
measures ``recall.k``, ``P.k``, ``success.k``, ``recip_rank`` (on the run cut
to k) and ``ndcg_cut.k`` are compared to ours on 400 seeded random queries,
to 1e-9. ``ranx`` would install here too (pip resolves it), but it brings
numba, ir_datasets and a dozen other packages and compiles on first use;
trec_eval is the older reference, and its wheel is 300 kB. trec_eval can't express a ranking with a
repeated id, so the repeat rule is checked by hand only.
"""

from __future__ import annotations

import math
import random

import pytest

from promptlab.errors import ConfigError
from promptlab.retrieval.metrics import (
    RetrievalScores,
    hit_rate_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    score_queries,
    score_ranking,
)

RANKING = ["d1", "d2", "d3", "d4", "d5"]
RELEVANT = {"d2", "d4", "d9"}  # d9 is never retrieved

# With binary grades, DCG@k = Σ 1/log2(rank + 1) over relevant ranks, and the
# ideal puts the 3 relevant ids at ranks 1, 2, 3:
# IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.630930 + 0.5 = 2.130930
IDCG_3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)


def test_the_metrics_of_one_ranking_at_5() -> None:
    # d2 (rank 2) and d4 (rank 4) of d2, d4, d9 are in the first 5
    assert recall_at_k(RANKING, RELEVANT, 5) == pytest.approx(2 / 3)
    assert precision_at_k(RANKING, RELEVANT, 5) == pytest.approx(2 / 5)
    assert hit_rate_at_k(RANKING, RELEVANT, 5) == 1.0
    assert mrr(RANKING, RELEVANT, 5) == pytest.approx(1 / 2)  # first relevant at rank 2
    # DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606; / 2.130930 = 0.498189
    assert ndcg_at_k(RANKING, RELEVANT, 5) == pytest.approx(0.498189, abs=1e-6)
    assert ndcg_at_k(RANKING, RELEVANT, 5) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / IDCG_3)


def test_only_the_first_k_count() -> None:
    # first 3: d1, d2, d3: only d2 is relevant
    assert recall_at_k(RANKING, RELEVANT, 3) == pytest.approx(1 / 3)
    assert precision_at_k(RANKING, RELEVANT, 3) == pytest.approx(1 / 3)
    # DCG = 1/log2(3) = 0.630930; the ideal still has 3 relevant ids within 3 ranks: 0.630930 / 2.130930 = 0.296082
    assert ndcg_at_k(RANKING, RELEVANT, 3) == pytest.approx(0.296082, abs=1e-6)
    # first 1: d1, not relevant: every metric is 0
    assert score_ranking(RANKING, RELEVANT, 1) == RetrievalScores(
        k=1, recall=0.0, precision=0.0, hit_rate=0.0, mrr=0.0, ndcg=0.0
    )


def test_mrr_without_a_cut_looks_down_the_whole_ranking() -> None:
    ranking = [f"x{i}" for i in range(6)] + ["hit"]
    assert mrr(ranking, ["hit"]) == pytest.approx(1 / 7)
    assert mrr(ranking, ["hit"], k=5) == 0.0
    assert mrr(ranking, ["nowhere"]) == 0.0


def test_a_ranking_shorter_than_k_is_not_padded_but_precision_divides_by_k() -> None:
    assert precision_at_k(["a"], ["a"], 5) == pytest.approx(1 / 5)
    assert recall_at_k(["a"], ["a"], 5) == 1.0
    assert ndcg_at_k(["a"], ["a"], 5) == 1.0  # the ideal has one relevant id too
    assert score_ranking([], ["a"], 3) == RetrievalScores(
        k=3, recall=0.0, precision=0.0, hit_rate=0.0, mrr=0.0, ndcg=0.0
    )


def test_graded_relevance_uses_the_grade_as_gain() -> None:
    grades = {"a": 1, "c": 3, "z": 2, "n": 0}  # n is judged not relevant; z is never retrieved
    # DCG = 1/log2(2) + 0/log2(3) + 3/log2(4) = 1 + 0 + 1.5 = 2.5
    # ideal: grades 3, 2, 1 at ranks 1..3: 3/1 + 2/log2(3) + 1/log2(4) = 3 + 1.261860 + 0.5 = 4.761860
    # nDCG = 2.5 / 4.761860 = 0.525005
    assert ndcg_at_k(["a", "b", "c"], grades, 3) == pytest.approx(0.525005, abs=1e-6)
    # the binary metrics count grade > 0 as relevant: a and c of a, c, z
    assert recall_at_k(["a", "b", "c", "n"], grades, 4) == pytest.approx(2 / 3)
    assert precision_at_k(["n", "a"], grades, 2) == pytest.approx(1 / 2)
    assert mrr(["n", "b", "c"], grades) == pytest.approx(1 / 3)


def test_a_repeated_id_keeps_its_place_but_earns_nothing() -> None:
    ranking = ["a", "a", "b"]  # e.g. two chunks of document a, then one of b
    relevant = {"a", "b"}
    # first 2: a, then a again (nothing): 1 of 2 relevant found, 1 relevant of 2 positions
    assert recall_at_k(ranking, relevant, 2) == pytest.approx(1 / 2)
    assert precision_at_k(ranking, relevant, 2) == pytest.approx(1 / 2)
    # DCG = 1/log2(2) = 1; ideal = 1 + 1/log2(3) = 1.630930: 0.613147
    assert ndcg_at_k(ranking, relevant, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    # first 3: b at rank 3 counts: DCG = 1 + 1/log2(4) = 1.5; / 1.630930 = 0.919721
    assert ndcg_at_k(ranking, relevant, 3) == pytest.approx(0.919721, abs=1e-6)
    assert precision_at_k(ranking, relevant, 3) == pytest.approx(2 / 3)
    assert precision_at_k(["a", "a", "a"], {"a"}, 3) == pytest.approx(1 / 3)
    assert ndcg_at_k(["a", "a"], {"a"}, 2) == 1.0  # never above 1


@pytest.mark.parametrize("relevant", [set(), [], {}, {"a": 0, "b": -1}])
def test_a_query_without_relevant_ids_scores_nan(relevant: object) -> None:
    scores = score_ranking(["a", "b"], relevant, 2)  # type: ignore[arg-type]
    assert all(math.isnan(getattr(scores, name)) for name in ("recall", "precision", "hit_rate", "mrr", "ndcg"))
    assert math.isnan(mrr(["a"], relevant))  # type: ignore[arg-type]


def test_the_means_leave_out_queries_that_cant_be_scored() -> None:
    summary = score_queries([RANKING, ["d9"], ["a"]], [RELEVANT, ["d9"], []], k=5)
    assert (summary.queries, summary.scored) == (3, 2)
    assert summary.recall == pytest.approx((2 / 3 + 1) / 2)
    assert summary.precision == pytest.approx((2 / 5 + 1 / 5) / 2)
    assert summary.hit_rate == 1.0
    assert summary.mrr == pytest.approx((1 / 2 + 1) / 2)
    assert summary.ndcg == pytest.approx((0.498189 + 1) / 2, abs=1e-6)
    nothing = score_queries([["a"]], [[]], k=1)
    assert nothing.scored == 0 and math.isnan(nothing.recall)


def test_mistakes_are_config_errors_that_say_what_to_do() -> None:
    with pytest.raises(ConfigError, match=r"use \['d1'\]"):
        recall_at_k(RANKING, "d1", 3)
    for k in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="k must be a whole number"):
            precision_at_k(RANKING, RELEVANT, k)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not the string"):
        mrr("d1 d2", RELEVANT)
    with pytest.raises(ConfigError, match="2 rankings but 1 sets"):
        score_queries([RANKING, RANKING], [RELEVANT], 3)


def test_the_metrics_agree_with_trec_eval_on_random_queries() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(18)
    pool = [f"d{i}" for i in range(40)]
    qrels, runs, ours = {}, {}, {}
    for n in range(400):
        judged = rng.sample(pool, rng.randint(1, 10))
        grades = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        if not any(grades.values()):
            grades[judged[0]] = 1  # trec_eval drops queries without a relevant id; ours are NaN (tested above)
        ranking = rng.sample(pool, rng.randint(0, 15))
        qrels[f"q{n}"] = grades
        runs[f"q{n}"] = {d: float(len(ranking) - rank) for rank, d in enumerate(ranking)}  # distinct, descending
        ours[f"q{n}"] = (ranking, grades)
    for k in (1, 3, 5, 10):
        measures = {f"recall.{k}", f"P.{k}", f"success.{k}", f"ndcg_cut.{k}"}
        theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(runs)
        cut = {q: dict(list(run.items())[:k]) for q, run in runs.items()}  # recip_rank has no cut in trec_eval
        reciprocal = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
        for q, (ranking, grades) in ours.items():
            mine = score_ranking(ranking, grades, k)
            assert mine.recall == pytest.approx(theirs[q][f"recall_{k}"], abs=1e-9), (q, k)
            assert mine.precision == pytest.approx(theirs[q][f"P_{k}"], abs=1e-9), (q, k)
            assert mine.hit_rate == pytest.approx(theirs[q][f"success_{k}"], abs=1e-9), (q, k)
            assert mine.ndcg == pytest.approx(theirs[q][f"ndcg_cut_{k}"], abs=1e-9), (q, k)
            assert mine.mrr == pytest.approx(reciprocal[q]["recip_rank"], abs=1e-9), (q, k)
