"""Judges of retrieval-augmented answers (``promptlab/evals/rag_judges.py``) with
a fake judge model: the rendered prompts show the query and the numbered
passages, verdicts are read however a small model writes them
(``promptlab/evals/verdicts.py``), and in a lab the judge's call is a recorded
trial linked from its score."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.retrievals import EXAMPLE, retrieval, view

import promptlab as pl
from promptlab import evals
from promptlab.errors import EvaluatorError
from promptlab.evals import Score, TrialView
from promptlab.evals.rag_judges import ANSWER_RELEVANCE_PROMPT, CONTEXT_RELEVANCE_PROMPT, FAITHFULNESS_PROMPT
from promptlab.evals.verdicts import truth, verdict_items
from promptlab.providers.protocol import Request
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider

JUDGE_MODEL = pl.Model("grader", provider="fake", temperature=0)


@dataclass
class Answered:
    output: str | None
    trial_id: str
    error: str | None = None


class FakeJudgeCalls:
    """JudgeCalls that render the judge's prompt (sandboxed, as a sweep does) and
    ask a FakeProvider; they keep the messages sent."""

    def __init__(self, answer: str | None) -> None:
        self.provider = FakeProvider(lambda messages, model: answer or "")
        self.answer = answer
        self.sent: list[tuple[Any, list[dict[str, str]]]] = []

    async def ask(self, prompt: Any, model: Any, variables: Mapping[str, Any]) -> Answered:
        messages = prompt.render(variables)
        self.sent.append((prompt, messages))
        if self.answer is None:
            return Answered(None, f"judge-{len(self.sent)}", "PermanentError: boom")
        completion = await self.provider.complete(Request(model, messages))
        return Answered(completion.output, f"judge-{len(self.sent)}")

    @property
    def user_message(self) -> str:
        ((_, messages),) = self.sent
        return next(m["content"] for m in messages if m["role"] == "user")


def judged(evaluator: Any, answer: str | None, trial: TrialView | None = None) -> tuple[Score, FakeJudgeCalls]:
    calls = FakeJudgeCalls(answer)
    return asyncio.run(evaluator.score(trial or view(), calls)), calls


def test_context_relevance_shows_the_numbered_passages_and_counts_relevant_ones() -> None:
    answer = json.dumps(
        {
            "passages": [
                {"passage": 1, "relevant": False},
                {"passage": 2, "relevant": True},
                {"passage": 3, "relevant": True},
                {"passage": 4, "relevant": False},
            ],
            "explanation": "two are about d1",
        }
    )
    score, calls = judged(evals.context_relevance(JUDGE_MODEL), answer)
    assert score == Score(0.5, explanation="irrelevant: [1] d3#0, [4] d7#0; two are about d1", judge_trial_id="judge-1")
    ((prompt, _),) = calls.sent
    assert prompt is CONTEXT_RELEVANCE_PROMPT
    text = calls.user_message
    assert text.startswith("Query:\nWhere is d1?\n\nPassages:\n[1] (d3#0)\ntext of d3#0\n\n[2] (d1#0)\ntext of d1#0")
    assert "[4] (d7#0)\ntext of d7#0\n\nFor each passage" in text


def test_context_relevance_is_judged_even_when_the_answer_failed() -> None:
    answer = '{"passages": [{"passage": 1, "relevant": true}]}'
    score, _ = judged(evals.context_relevance(JUDGE_MODEL), answer, view(retrieval("d1#0"), None, error="boom"))
    assert score.value == 1.0 and score.explanation == "the one passage relevant"


def test_context_relevance_of_no_passages_is_none_without_asking() -> None:
    score, calls = judged(evals.context_relevance(JUDGE_MODEL), "10/10", view(retrieval(k=5)))
    assert score == Score(None, explanation="the retriever found no passages to judge") and calls.sent == []


def test_context_relevance_reads_passages_named_by_chunk_id_and_says_how_many_were_judged() -> None:
    answer = (
        'Here you go: {"passages": [{"id": "d1#0", "relevant": "yes"}, {"id": "[1]", "relevant": "no"}, '
        '{"passage": "Passage 3", "relevant": 1}, {"passage": 9, "relevant": true}]}'
    )
    score, _ = judged(evals.context_relevance(JUDGE_MODEL), answer)
    assert score.value == pytest.approx(2 / 3)  # passage 9 doesn't exist: not counted
    assert score.explanation == "irrelevant: [1] d3#0 (judged 3 of 4)"


def test_faithfulness_counts_supported_claims_and_quotes_the_others() -> None:
    answer = json.dumps(
        {
            "claims": [
                {"claim": "d1 is in the attic", "supported": True, "passages": [2]},
                {"claim": "the attic is blue", "supported": False, "passages": []},
                {"claim": "d1 was moved in 2020", "supported": False, "passages": []},
            ]
        }
    )
    ev = evals.faithfulness(JUDGE_MODEL, threshold=0.5)
    score, calls = judged(ev, answer, view(output="d1 is in the blue attic since 2020."))
    assert score.value == pytest.approx(1 / 3)
    assert score.passed is False and score.judge_trial_id == "judge-1"
    assert score.explanation == "2 of 3 claims unsupported: “the attic is blue”; “d1 was moved in 2020”"
    ((prompt, _),) = calls.sent
    assert prompt is FAITHFULNESS_PROMPT
    text = calls.user_message
    assert "Question:\nWhere is d1?" in text
    assert "[3] (d1#2)\ntext of d1#2" in text
    assert "Answer:\nd1 is in the blue attic since 2020.\n\nList every claim" in text


NOISY_VERDICTS = [
    # prose and a fence around Python-ish JSON: single quotes, Yes/False, a trailing comma
    "Sure! Here is my analysis:\n```json\n{'claims': [{'claim': 'A', 'supported': 'Yes'}, "
    "{'claim': 'B', 'supported': False},]}\n```\nHope this helps.",
    # cut off at the token limit in the middle of the third claim
    '{"claims": [{"claim": "A", "supported": true}, {"claim": "B", "supported": "no"}, {"claim": "C", "supp',
    # a bare list, other key names
    '[{"statement": "A", "verdict": "Supported"}, {"statement": "B", "verdict": "partially supported"}]',
    # another key than asked, and 1/0 for yes/no
    '{"results": [{"claim": "A", "supported": 1}, {"claim": "B", "supported": 0}], "note": "done"}',
]


@pytest.mark.parametrize("answer", NOISY_VERDICTS)
def test_faithfulness_reads_a_small_models_noisy_verdict(answer: str) -> None:
    score, _ = judged(evals.faithfulness(JUDGE_MODEL), answer)
    assert score.value == 0.5
    assert score.explanation == "1 of 2 claims unsupported: “B”"


def test_faithfulness_when_every_claim_is_supported() -> None:
    answer = '{"claims": [{"claim": "A", "supported": true}, {"claim": "B", "supported": true}]}'
    assert judged(evals.faithfulness(JUDGE_MODEL), answer)[0].explanation == "all 2 claims supported"


def test_faithfulness_of_an_answer_without_claims_is_none() -> None:
    score, _ = judged(evals.faithfulness(JUDGE_MODEL), '{"claims": []}', view(output="I don't know."))
    assert score.value is None and score.passed is None
    assert score.explanation == "the judge found no claims in the answer to check"
    assert score.judge_trial_id == "judge-1"


@pytest.mark.parametrize("answer", ["The answer looks faithful to me.", '{"claims": [{"claim": "A"}]}', ""])
def test_a_verdict_without_any_judgement_is_an_error(answer: str) -> None:
    with pytest.raises(EvaluatorError, match="holds no verdict"):
        judged(evals.faithfulness(JUDGE_MODEL), answer)
    with pytest.raises(EvaluatorError, match="holds no verdict"):
        judged(evals.context_relevance(JUDGE_MODEL), answer)


def test_answer_relevance_grades_the_answer_to_the_query_without_the_passages() -> None:
    ev = evals.answer_relevance(JUDGE_MODEL, threshold=0.7)
    score, calls = judged(ev, 'Okay. {"score": 8, "explanation": "answers it"}')
    assert score == Score(0.8, passed=True, explanation="answers it", judge_trial_id="judge-1")
    ((prompt, _),) = calls.sent
    assert prompt is ANSWER_RELEVANCE_PROMPT
    assert calls.user_message.startswith("Question:\nWhere is d1?\n\nAnswer:\nd1 is in the attic.\n\nDoes the answer")
    assert "text of" not in calls.user_message


@pytest.mark.parametrize("judge", [evals.context_relevance, evals.faithfulness, evals.answer_relevance])
def test_judges_refuse_a_trial_without_retrieval_without_asking(judge: Callable[..., Any]) -> None:
    score, calls = judged(judge(JUDGE_MODEL), "10/10", view(None))
    assert score.value is None and calls.sent == []
    assert score.explanation is not None and score.explanation.startswith("no retrieval in this trial")


@pytest.mark.parametrize("judge", [evals.faithfulness, evals.answer_relevance])
def test_judges_of_the_answer_do_not_ask_about_a_failed_call(judge: Callable[..., Any]) -> None:
    score, calls = judged(judge(JUDGE_MODEL), "10/10", view(output=None, error="boom"))
    assert score.value is None and calls.sent == []


@pytest.mark.parametrize("judge", [evals.context_relevance, evals.faithfulness, evals.answer_relevance])
def test_a_failed_judge_call_is_an_error(judge: Callable[..., Any]) -> None:
    with pytest.raises(EvaluatorError, match="judge's call failed"):
        judged(judge(JUDGE_MODEL), None)


def test_passage_text_is_shown_as_text_not_run_as_a_template() -> None:
    found = retrieval("d1#0")
    found["hits"][0]["text"] = "{{ 7 * 7 }} and {% if true %}x{% endif %}"
    _, calls = judged(evals.faithfulness(JUDGE_MODEL), '{"claims": []}', view(found))
    assert "{{ 7 * 7 }} and {% if true %}x{% endif %}" in calls.user_message


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("yes", True),
        ("Yes, passage 2", True),
        ("Supported", True),
        ("relevant", True),
        ("no", False),
        ("not supported", False),
        ("Unsupported", False),
        ("irrelevant", False),
        ("partially", False),
        ("maybe", None),
        (None, None),
        (0.5, None),
    ],
)
def test_truth_reads_yes_and_no_as_judges_write_them(value: Any, verdict: bool | None) -> None:
    assert truth(value) is verdict


def test_verdict_items_keep_the_whole_answer_for_its_explanation() -> None:
    items, whole = verdict_items('{"passages": [{"passage": 1, "relevant": true}], "explanation": "ok"}', "passages")
    assert items == [{"passage": 1, "relevant": True}] and whole["explanation"] == "ok"


# -- in a lab: the judge's call recorded and linked ---------------------------------------------------


def test_a_rag_judges_call_is_a_recorded_trial_linked_from_its_score(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    answering, judging = (
        FakeProvider(lambda m, model: "d1 is in the attic."),
        FakeProvider(lambda m, model: '{"claims": [{"claim": "d1 is in the attic", "supported": true}]}'),
    )
    names = [f"fake-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    pl.register_provider(names[0], answering)
    pl.register_provider(names[1], judging)
    run = lab.sweep(
        pl.Prompt("Answer: {{ text }}", name="answer"),
        pl.Model("m", provider=names[0]),
        [{"text": "Where is d1?"}],
        display=NullDisplay(),
    )
    trials = run.df.assign(retrieval=[EXAMPLE])  # as a sweep with retrievers= records it
    ev = evals.faithfulness(pl.Model("grader", provider=names[1]))
    scored_df = lab.evaluate(trials, [ev])
    assert list(scored_df["score_faithfulness"]) == [1.0]
    judge_trials = lab.trials(kind="judge")
    assert list(judge_trials["prompt_name"]) == ["promptlab/faithfulness"]
    (messages,) = judge_trials["messages"]
    assert "[2] (d1#0)\ntext of d1#0" in messages[-1]["content"]
    scores = lab.store.query("SELECT judge_trial_id, explanation, evaluator_name FROM scores")
    assert list(scores["judge_trial_id"]) == list(judge_trials["trial_id"])
    assert list(scores["explanation"]) == ["the one claim supported"]
    assert list(scores["evaluator_name"]) == ["faithfulness"]
    assert judging.calls == 1
