"""Retrieval scored apart from generation (``promptlab/evals/retrieval.py``):
the metrics of a trial's hits against the row's ``relevant_ids``, worked by
hand in the comments; what can't be scored; registered, declared and replayed."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.retrievals import EXAMPLE, retrieval, view

import promptlab as pl
from promptlab import evals
from promptlab.errors import ConfigError, EvaluatorError
from promptlab.evals import Score, TrialView
from promptlab.evals.retrieval import relevant_ids
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider

# The worked example: hits [d3, d1, d1, d7] (EXAMPLE), relevant [d1, d9]. d1 is
# found at rank 2 (its second chunk at rank 3 earns nothing), d9 is never found.
# nDCG with d1 at rank 2 of two relevant documents: DCG = 1/log2(3) = 0.63093,
# ideal DCG = 1/log2(2) + 1/log2(3) = 1.63093, so 0.63093 / 1.63093 = 0.38685.
NDCG_EXAMPLE = 0.38685


class NoJudges:
    """Retrieval metrics never ask a judge."""

    async def ask(self, prompt: Any, model: Any, variables: Mapping[str, Any]) -> Any:
        raise AssertionError("a retrieval metric asked a judge")


def scored(evaluator: evals.Evaluator, trial: TrialView) -> Score:
    return asyncio.run(evaluator.score(trial, NoJudges()))


# -- the metrics, by hand --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evaluator", "label", "value"),
    [
        (evals.retrieval_recall(k=2), "recall@2", 0.5),  # d1 of {d1, d9} in [d3, d1]
        (evals.retrieval_recall(), "recall@k", 0.5),  # the retrieval's own k, 4: d9 still missing
        (evals.retrieval_precision(k=2), "precision@2", 0.5),  # 1 of 2 positions
        (evals.retrieval_precision(), "precision@k", 0.25),  # d1's second chunk earns nothing: 1 of 4
        (evals.retrieval_hit_rate(k=1), "hit_rate@1", 0.0),  # d3 only
        (evals.retrieval_hit_rate(k=2), "hit_rate@2", 1.0),
        (evals.retrieval_mrr(), "mrr", 0.5),  # first relevant at rank 2
        (evals.retrieval_mrr(k=1), "mrr@1", 0.0),
        (evals.retrieval_ndcg(), "ndcg@k", NDCG_EXAMPLE),
        (evals.retrieval_ndcg(k=2), "ndcg@2", NDCG_EXAMPLE),  # the same: d7 at rank 4 adds nothing
    ],
)
def test_metrics_of_the_worked_example(evaluator: evals.Evaluator, label: str, value: float) -> None:
    score = scored(evaluator, view(relevant_ids=["d1", "d9"]))
    assert evaluator.label == label
    assert score.value == pytest.approx(value, abs=1e-5)
    assert score.passed is None and score.judge_trial_id is None


def test_the_explanation_names_what_was_found_and_missed() -> None:
    score = scored(evals.retrieval_recall(k=2), view(relevant_ids=["d1", "d9"]))
    assert score.explanation == "in the first 2 passages: found d1 (rank 2); missed d9"
    score = scored(evals.retrieval_recall(k=1), view(relevant_ids=["d1", "d9"]))
    assert score.explanation == "in the first passage: found none of the relevant documents; missed d1, d9"


def test_chunks_of_one_document_count_once_at_its_best_rank() -> None:
    # [d1, d1, d9]: d1 at rank 1, its second chunk holds rank 2 and earns nothing, d9 at rank 3.
    found = retrieval("d1#0", "d1#1", "d9#0")
    relevant = {"relevant_ids": ["d1", "d9"]}
    assert scored(evals.retrieval_recall(k=2), view(found, **relevant)).value == 0.5
    assert scored(evals.retrieval_recall(k=3), view(found, **relevant)).value == 1.0
    assert scored(evals.retrieval_precision(k=3), view(found, **relevant)).value == pytest.approx(2 / 3)
    # DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.63093; 1.5 / 1.63093 = 0.91972
    assert scored(evals.retrieval_ndcg(), view(found, **relevant)).value == pytest.approx(0.91972, abs=1e-5)


def test_graded_relevance_weighs_ndcg() -> None:
    # grades d1: 1, d3: 2 over [d3, d1, d1, d7]: DCG = 2 + 1/log2(3) = 2.63093, the ideal order's too: 1.0
    assert scored(evals.retrieval_ndcg(), view(relevant_ids='{"d1": 1, "d3": 2}')).value == pytest.approx(1.0)
    # grades d1: 2, d3: 1: DCG = 1 + 2/log2(3) = 2.26186; ideal = 2 + 1/log2(3) = 2.63093; 0.85972
    assert scored(evals.retrieval_ndcg(), view(relevant_ids={"d1": 2, "d3": 1})).value == pytest.approx(
        0.85972, abs=1e-5
    )


def test_fewer_hits_than_k_are_not_padded() -> None:
    found = retrieval("d1#0", "d2#0", k=5)  # asked for 5, got 2
    assert scored(evals.retrieval_precision(), view(found, relevant_ids=["d1"])).value == pytest.approx(1 / 5)
    assert scored(evals.retrieval_recall(), view(found, relevant_ids=["d1"])).value == 1.0
    nothing = retrieval(k=5)
    assert scored(evals.retrieval_recall(), view(nothing, relevant_ids=["d1"])).value == 0.0
    assert scored(evals.retrieval_mrr(), view(nothing, relevant_ids=["d1"])).value == 0.0


# -- relevant_ids as data gives it ------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        ["d1", "d9"],
        ("d1", "d9"),
        np.array(["d1", "d9"]),
        '["d1", "d9"]',
        "d1, d9",
        "d1;d9",
        " d1 ; d9 ",
        "['d1', 'd9']",
        "[d1, d9]",
    ],
)
def test_relevant_ids_are_read_from_lists_and_strings(cell: Any) -> None:
    assert relevant_ids(cell) == ["d1", "d9"]
    assert scored(evals.retrieval_recall(k=2), view(relevant_ids=cell)).value == 0.5


@pytest.mark.parametrize(("cell", "ids"), [(3, ["3"]), (3.0, ["3"]), ("d1", ["d1"]), ([1, 2], ["1", "2"])])
def test_a_number_or_a_single_id_is_one_id(cell: Any, ids: list[str]) -> None:
    assert relevant_ids(cell) == ids  # a CSV column of numeric ids reads as numbers


@pytest.mark.parametrize("cell", [None, math.nan, "", "  ", [], "[]", ",", "{}"])
def test_a_blank_cell_has_no_relevant_ids(cell: Any) -> None:
    assert relevant_ids(cell) is None


@pytest.mark.parametrize("cell", [True, {"d1": "very"}])
def test_relevant_ids_of_the_wrong_kind_are_an_error(cell: Any) -> None:
    with pytest.raises(EvaluatorError, match="relevant_ids"):
        relevant_ids(cell)


# -- what can't be scored -------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [evals.retrieval_recall, evals.retrieval_mrr, evals.retrieval_ndcg])
def test_a_trial_without_retrieval_scores_none_with_the_reason(metric: Callable[[], evals.Evaluator]) -> None:
    score = scored(metric(), view(None, relevant_ids=["d1"]))
    assert score.value is None
    assert score.explanation is not None and score.explanation.startswith("no retrieval in this trial")
    assert "retrievers=" in score.explanation


@pytest.mark.parametrize("row", [{}, {"relevant_ids": None}, {"relevant_ids": ""}, {"relevant_ids": math.nan}])
def test_a_row_without_relevant_ids_scores_none_not_zero(row: dict[str, Any]) -> None:
    score = scored(evals.retrieval_recall(k=2), view(**row))
    assert score.value is None
    assert score.explanation is not None and score.explanation.startswith("no relevant_ids in this row;")


def test_grades_all_zero_are_no_relevant_ids() -> None:
    assert scored(evals.retrieval_ndcg(), view(relevant_ids={"d1": 0})).value is None


def test_a_failed_call_still_has_its_retrieval_scored() -> None:
    trial = view(EXAMPLE, None, error="RateLimitError: slow down", relevant_ids=["d1"])
    assert scored(evals.retrieval_recall(), trial).value == 1.0


def test_a_stored_row_with_retrieval_as_json_text_is_read() -> None:
    row = {"trial_id": "t9", "output": "x", "vars": {"relevant_ids": "d1"}, "retrieval": json.dumps(EXAMPLE)}
    assert scored(evals.retrieval_mrr(), TrialView.from_row(row)).value == 0.5


@pytest.mark.parametrize("k", [0, -1, True, 2.5, "5"])
def test_k_must_be_a_whole_number_of_at_least_one(k: Any) -> None:
    with pytest.raises(ConfigError, match="k, a whole number"):
        evals.retrieval_recall(k=k)


# -- declared, registered, replayed ----------------------------------------------------------------

METRICS = [
    evals.retrieval_recall,
    evals.retrieval_precision,
    evals.retrieval_hit_rate,
    evals.retrieval_mrr,
    evals.retrieval_ndcg,
]
JUDGE_MODEL = pl.Model("grader", provider="fake", temperature=0)


def every_retrieval_evaluator() -> list[Any]:
    made = [metric(k) for metric in METRICS for k in (None, 3)]
    judges = [evals.context_relevance, evals.faithfulness, evals.answer_relevance]
    return made + [j(JUDGE_MODEL) for j in judges] + [evals.faithfulness(JUDGE_MODEL, threshold=0.8, label="faith")]


@pytest.mark.parametrize("evaluator", every_retrieval_evaluator(), ids=repr)
def test_each_round_trips_through_its_spec(evaluator: Any) -> None:
    recorded = json.loads(json.dumps(evals.spec(evaluator)))  # as the history stores it
    rebuilt = evals.from_spec(recorded)
    assert evals.spec(rebuilt) == evals.spec(evaluator)
    assert type(rebuilt) is type(evaluator)
    assert rebuilt.required_columns() == evaluator.required_columns()
    assert evals.meaning_of(rebuilt) == evals.Meaning(higher_is_better=True, is_check=False)
    assert evals.meaning(recorded["name"], recorded["args"]) == evals.Meaning(higher_is_better=True, is_check=False)


def test_the_metrics_need_relevant_ids_and_the_judges_need_no_column() -> None:
    for evaluator in every_retrieval_evaluator():
        wanted = {"relevant_ids"} if evaluator.name.startswith("retrieval_") else set()
        assert evaluator.required_columns() == wanted


def test_a_short_spec_gives_k() -> None:
    evaluator = evals.parse("retrieval_recall:5")
    assert (evaluator.label, evaluator.args) == ("recall@5", {"k": 5})
    assert evals.parse("retrieval_ndcg").label == "ndcg@k"
    with pytest.raises(ConfigError, match="needs a judge model"):
        evals.parse("faithfulness")


@pytest.mark.parametrize("judge", [evals.context_relevance, evals.faithfulness, evals.answer_relevance])
def test_judges_need_a_model(judge: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match="needs a judge model"):
        judge()


def test_a_sweep_without_relevant_ids_fails_before_any_call(tmp_path: Path) -> None:
    provider = FakeProvider()
    endpoint = f"fake-{uuid.uuid4().hex[:10]}"
    pl.register_provider(endpoint, provider)
    lab = pl.Lab(tmp_path / "h.duckdb")
    rows = [{"text": "a", "relevant_ids": ["d1"]}, {"text": "b"}]
    with pytest.raises(ConfigError, match="relevant_ids"):
        lab.sweep(
            pl.Prompt("Answer: {{ text }}", name="answer"),
            pl.Model("m", provider=endpoint),
            rows,
            evaluators=[evals.retrieval_recall(k=5)],
            display=NullDisplay(),
        )
    assert provider.calls == 0
