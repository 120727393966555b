"""Judges of retrieval-augmented answers: were the passages found relevant to the
query (``context_relevance``), does the answer say only what they support
(``faithfulness``), and does it answer the question asked (``answer_relevance``).

Each reads the trial's retrieval (``TrialView.retrieval``): its query, and its
passages numbered ``[1]``, ``[2]``, ... with their chunk ids. A trial made
without retrieval scores None with the reason and the judge is not asked
(a baseline arm of a sweep has no query or passages to judge against; grade
it with ``judge``). As with ``judge``, each call is a recorded ``kind="judge"``
trial linked from its score and answered from the cache when asked before
(so the context relevance of one retrieval is paid for once, however many
prompts and models were shown it).

The first two ask for one verdict per passage or per claim, not a grade, so
the score is a count a reader can check (claims supported / claims made) and
the explanation names what failed. Small judge models wrap JSON in prose or
fences, write ``yes``/``no`` or Python's ``True``, leave trailing commas, or
stop mid-list; the parsing (``verdicts.py``) takes all of that and keeps
every whole verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.errors import ConfigError, EvaluatorError
from promptlab.evals.judges import parse_grade
from promptlab.evals.protocol import JudgeCalls, Score, TrialView, register
from promptlab.evals.retrieval import no_retrieval, retrieval_of
from promptlab.evals.verdicts import first_of, truth, verdict_items

_SYSTEM = {"role": "system", "content": "You are a strict, fair grader. You reply with JSON only."}
_PASSAGES = (
    "Passages:\n{% for p in passages %}[{{ p.number }}] ({{ p.chunk_id }})\n{{ p.text }}\n\n"
    "{% else %}(none)\n\n{% endfor %}"
)

CONTEXT_RELEVANCE_PROMPT = Prompt(
    [
        _SYSTEM,
        {
            "role": "user",
            "content": "Query:\n{{ query }}\n\n" + _PASSAGES + "For each passage, decide whether it is relevant to "
            "the query: whether it holds information that helps answer it. Reply with JSON only: "
            '{"passages": [{"passage": <number>, "relevant": true | false}], "explanation": "<one sentence>"}',
        },
    ],
    name="promptlab/context-relevance",
)

FAITHFULNESS_PROMPT = Prompt(
    [
        _SYSTEM,
        {
            "role": "user",
            "content": "Question:\n{{ query }}\n\n" + _PASSAGES + "Answer:\n{{ output }}\n\n"
            "List every claim the answer makes (each fact it states). For each claim, decide whether the passages "
            "support it: a claim they neither state nor imply is unsupported, even when it is true. Reply with JSON "
            'only: {"claims": [{"claim": "<the claim>", "supported": true | false, "passages": [<numbers>]}]}',
        },
    ],
    name="promptlab/faithfulness",
)

ANSWER_RELEVANCE_PROMPT = Prompt(
    [
        _SYSTEM,
        {
            "role": "user",
            "content": "Question:\n{{ query }}\n\nAnswer:\n{{ output }}\n\nDoes the answer address the question: "
            "does it answer what was asked, directly and completely, without wandering off topic? Whether it is "
            "correct is not the point here. Grade it from 0 (does not answer it) to 10 (answers it fully). Reply "
            'with JSON only: {"score": <0-10>, "explanation": "<one sentence>"}',
        },
    ],
    name="promptlab/answer-relevance",
)

_PASSAGE_KEYS = ("passage", "number", "id", "index", "chunk_id")
_RELEVANT_KEYS = ("relevant", "verdict", "is_relevant", "relevance")
_CLAIM_KEYS = ("claim", "statement", "text")
_SUPPORT_KEYS = ("supported", "verdict", "is_supported", "faithful", "support")


_NUMBERED = re.compile(r"(?:passage\s*)?\[?(\d+)\]?", re.I)


def _reference(value: Any) -> str:
    """A passage as a judge named it (``2``, ``2.0``, ``"[2]"``, ``"Passage 2"``, its chunk id), as text."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    numbered = _NUMBERED.fullmatch(text)
    return numbered.group(1) if numbered else text


def _quoted(texts: list[str]) -> str:
    return "; ".join(f"“{t}”" for t in texts)


def _every(count: int, noun: str, verdict: str) -> str:
    """``all 3 claims supported``, ``the one claim supported``."""
    return f"the one {noun} {verdict}" if count == 1 else f"all {count} {noun}s {verdict}"


# -- the judges ------------------------------------------------------------------------------------


class RetrievalJudge:
    """A judge model grading a trial's retrieval (and its answer), 0–1."""

    prompt: Prompt
    """The judge's prompt."""
    needs_output = True
    """Whether it grades the answer (a failed call then has nothing to judge)."""
    shows_passages = True
    """Whether the judge is shown the passages (only what it is shown goes into its cache key)."""
    needs_passages = False
    """Whether there is nothing to judge when the retriever found no passage."""

    def __init__(self, name: str, model: Model, threshold: float | None, label: str | None) -> None:
        self.name = name
        self.model = model
        self.threshold = threshold
        self.args = {"model": model.to_dict(), "threshold": threshold}
        self.label = label or name
        self.higher_is_better = True
        """A higher grade is better."""
        self.is_check = False
        """A grade is a score: compared on its value, even when a threshold gives it a pass."""

    def required_columns(self) -> set[str]:
        """None: it reads the trial's retrieval and output."""
        return set()

    async def score(self, trial: TrialView, judges: JudgeCalls) -> Score:
        """Ask the judge about the trial's retrieval; its call is recorded and linked."""
        if self.needs_output and trial.output is None:
            return Score(None, explanation=f"no output to judge: {trial.error or 'the call failed'}")
        retrieval = retrieval_of(trial)
        if retrieval is None:
            return no_retrieval(f"{self.name} judges against the query and passages a retriever found")
        hits = list(retrieval.get("hits") or [])
        passages = [
            {"number": n, "chunk_id": str(hit.get("chunk_id", "")), "text": str(hit.get("text", ""))}
            for n, hit in enumerate(hits, start=1)
        ]
        if self.needs_passages and not passages:
            return Score(None, explanation="the retriever found no passages to judge")
        variables: dict[str, Any] = {"query": str(retrieval.get("query") or "")}
        if self.shows_passages:
            variables["passages"] = passages
        if self.needs_output:
            variables["output"] = trial.output or ""
        asked = await judges.ask(self.prompt, self.model, variables)
        if asked.output is None:
            raise EvaluatorError(f"the judge's call failed: {asked.error}")
        value, explanation = self.verdict(asked.output, passages)
        passed = None if self.threshold is None or value is None else value >= self.threshold
        return Score(value, passed=passed, explanation=explanation, judge_trial_id=asked.trial_id)

    def verdict(self, answer: str, passages: list[dict[str, Any]]) -> tuple[float | None, str | None]:
        """The 0–1 score and explanation in the judge's answer."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<evaluator {self.label}>"


class ContextRelevance(RetrievalJudge):
    """Share of the passages the judge finds relevant to the query."""

    prompt = CONTEXT_RELEVANCE_PROMPT
    needs_output = False  # the passages are judged apart from the answer
    needs_passages = True

    def verdict(self, answer: str, passages: list[dict[str, Any]]) -> tuple[float | None, str | None]:
        """Relevant passages / passages judged; the explanation names the irrelevant ones."""
        items, whole = verdict_items(answer, "passages")
        numbers = {str(p["number"]): p["number"] for p in passages} | {p["chunk_id"]: p["number"] for p in passages}
        judged: dict[int, bool] = {}
        for item in items:
            ref = _reference(first_of(item, _PASSAGE_KEYS))
            relevant = truth(first_of(item, _RELEVANT_KEYS))
            if ref in numbers and relevant is not None:
                judged[numbers[ref]] = relevant
        if not judged:
            raise EvaluatorError(f"the judge's answer holds no verdict on the passages: {answer.strip()[:200]!r}")
        off = [f"[{n}] {passages[n - 1]['chunk_id']}" for n, ok in sorted(judged.items()) if not ok]
        said = f"irrelevant: {', '.join(off)}" if off else _every(len(judged), "passage", "relevant")
        if len(judged) < len(passages):
            said += f" (judged {len(judged)} of {len(passages)})"
        reason = whole.get("explanation")
        return sum(judged.values()) / len(judged), f"{said}; {reason}" if reason else said


class Faithfulness(RetrievalJudge):
    """Share of the answer's claims that the passages support."""

    prompt = FAITHFULNESS_PROMPT

    def verdict(self, answer: str, passages: list[dict[str, Any]]) -> tuple[float | None, str | None]:
        """Supported claims / claims; the explanation quotes the unsupported ones.
        An answer with no claims (``I don't know``) scores None: nothing was stated to check."""
        items, whole = verdict_items(answer, "claims")
        claims = [(str(first_of(item, _CLAIM_KEYS) or "?"), truth(first_of(item, _SUPPORT_KEYS))) for item in items]
        read = [(claim, ok) for claim, ok in claims if ok is not None]
        if not read:
            if isinstance(whole.get("claims"), list) and not whole["claims"]:
                return None, "the judge found no claims in the answer to check"
            raise EvaluatorError(f"the judge's answer holds no verdict on any claim: {answer.strip()[:200]!r}")
        unsupported = [claim for claim, ok in read if not ok]
        if not unsupported:
            return 1.0, _every(len(read), "claim", "supported")
        return (len(read) - len(unsupported)) / len(read), (
            f"{len(unsupported)} of {len(read)} claims unsupported: {_quoted(unsupported)}"
        )


class AnswerRelevance(RetrievalJudge):
    """How well the answer addresses the retrieval's query, 0–10 from the judge, as 0–1."""

    prompt = ANSWER_RELEVANCE_PROMPT
    shows_passages = False  # whether it answers the question, not whether it is right

    def verdict(self, answer: str, passages: list[dict[str, Any]]) -> tuple[float | None, str | None]:
        """The judge's grade (``parse_grade``, as ``judge`` reads it)."""
        return parse_grade(answer)


def _judge_model(name: str, model: Model | Mapping[str, Any] | None) -> Model:
    if model is None:
        raise ConfigError(f"{name} needs a judge model: pl.evals.{name}(pl.Model('gpt-4o-mini'))")
    return model if isinstance(model, Model) else Model.from_dict(model)


@register("context_relevance")
def context_relevance(
    model: Model | Mapping[str, Any] | None = None, *, threshold: float | None = None, label: str | None = None
) -> ContextRelevance:
    """Share of the retrieved passages a judge model finds relevant to the query
    (0–1): retrieval quality for rows without ``relevant_ids``. Scored even when
    the answering call failed; passes at ``threshold`` when given."""
    return ContextRelevance("context_relevance", _judge_model("context_relevance", model), threshold, label)


@register("faithfulness")
def faithfulness(
    model: Model | Mapping[str, Any] | None = None, *, threshold: float | None = None, label: str | None = None
) -> Faithfulness:
    """Share of the output's claims the retrieved passages support (0–1): the
    judge lists the claims and marks each; the explanation quotes the unsupported
    ones. Passes at ``threshold`` when given."""
    return Faithfulness("faithfulness", _judge_model("faithfulness", model), threshold, label)


@register("answer_relevance")
def answer_relevance(
    model: Model | Mapping[str, Any] | None = None, *, threshold: float | None = None, label: str | None = None
) -> AnswerRelevance:
    """How fully the output answers the retrieval's query, as a judge model
    grades it (0–1; correctness is ``faithfulness``'s and ``judge``'s business).
    Passes at ``threshold`` when given."""
    return AnswerRelevance("answer_relevance", _judge_model("answer_relevance", model), threshold, label)
