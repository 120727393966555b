"""Model-graded evaluators: a judge model scores outputs against a rubric.

The judge's own call is an ordinary recorded trial (``kind="judge"``, with
its prompt, model, tokens and cost), linked from the score, and answered
from the cache when the same judgement was asked for before, so re-scoring
stored trials costs nothing. ``pairwise_judge`` asks which of two outputs is
better, twice with the order swapped, so a judge that favours a position
cancels out: a verdict stands only when both orders agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.errors import ConfigError, EvaluatorError
from promptlab.evals.protocol import JudgeCalls, Score, TrialView, register

JUDGE_PROMPT = Prompt(
    [
        {"role": "system", "content": "You are a strict, fair grader. You reply with JSON only."},
        {
            "role": "user",
            "content": "Rubric: {{ rubric }}\n\nInput:\n{{ input }}\n\nResponse:\n{{ output }}\n\n"
            "Grade the response against the rubric from 0 (fails it) to 10 (fully meets it). Reply with JSON only: "
            '{"score": <0-10>, "explanation": "<one sentence>"}',
        },
    ],
    name="promptlab/judge",
)

PAIRWISE_PROMPT = Prompt(
    [
        {"role": "system", "content": "You compare two responses fairly. You reply with JSON only."},
        {
            "role": "user",
            "content": "Rubric: {{ rubric }}\n\nInput:\n{{ input }}\n\nResponse A:\n{{ a }}\n\nResponse B:\n{{ b }}\n\n"
            'Which response meets the rubric better? Reply with JSON only: {"winner": "A" | "B" | "tie", '
            '"explanation": "<one sentence>"}',
        },
    ],
    name="promptlab/pairwise-judge",
)

# A 0–10 grade, maybe "/10", maybe ending a sentence ("Score: 9."), but not part
# of a longer number or word ("85", "v1.2").
_NUMBER = re.compile(r"(?<![\w.])(10|\d(?:\.\d+)?)(?:\s*/\s*10)?(?!\w|\.\d)")


def _input_text(trial: TrialView) -> str:
    user = [m["content"] for m in trial.messages if m.get("role") == "user"]
    return user[-1] if user else json.dumps(dict(trial.vars), ensure_ascii=False)


def _json_object(text: str) -> dict[str, Any] | None:
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return None
    try:
        found = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def parse_grade(text: str) -> tuple[float, str | None]:
    """The 0–1 score and explanation in a judge's answer (JSON, or the first 0–10 number)."""
    found = _json_object(text)
    if found is not None and isinstance(found.get("score"), (int, float)):
        return min(max(float(found["score"]) / 10, 0.0), 1.0), found.get("explanation")
    number = _NUMBER.search(text)
    if number:
        return min(max(float(number.group(1)) / 10, 0.0), 1.0), text.strip()[:300]
    raise EvaluatorError(f"the judge's answer holds no score: {text.strip()[:200]!r}")


def parse_winner(text: str) -> str:
    """``A``, ``B`` or ``tie`` from a pairwise judge's answer."""
    found = _json_object(text)
    raw = str(found.get("winner", "")) if found else text
    cleaned = raw.strip().strip('."').upper().removeprefix("RESPONSE ").strip()
    if cleaned in ("A", "B"):
        return cleaned
    if cleaned == "TIE" or not found:
        letters = re.findall(r"\b(A|B|TIE)\b", text.upper())
        if len(set(letters)) == 1:
            return letters[0] if letters[0] != "TIE" else "tie"
        return "tie"
    return "tie"


class ModelJudge:
    """Scores each trial 0–1 against a rubric with a judge model."""

    def __init__(self, rubric: str, model: Model, threshold: float | None, label: str | None) -> None:
        self.name = "judge"
        self.rubric = rubric
        self.model = model
        self.threshold = threshold
        self.args = {"rubric": rubric, "model": model.to_dict(), "threshold": threshold}
        self.label = label or f"judge:{rubric[:40]}"
        self.higher_is_better = True
        """A higher grade is better."""
        self.is_check = False
        """A grade is a score: compared on its value, even when a threshold gives it a pass."""

    def required_columns(self) -> set[str]:
        """A judge reads the rendered input, not particular columns."""
        return set()

    async def score(self, trial: TrialView, judges: JudgeCalls) -> Score:
        """Ask the judge; its trial is recorded and linked."""
        if trial.output is None:
            return Score(None, explanation=f"no output to judge: {trial.error or 'the call failed'}")
        variables = {"rubric": self.rubric, "input": _input_text(trial), "output": trial.output}
        asked = await judges.ask(JUDGE_PROMPT, self.model, variables)
        if asked.output is None:
            raise EvaluatorError(f"the judge's call failed: {asked.error}")
        value, explanation = parse_grade(asked.output)
        passed = None if self.threshold is None else value >= self.threshold
        return Score(value, passed=passed, explanation=explanation, judge_trial_id=asked.trial_id)

    def __repr__(self) -> str:
        return f"<evaluator {self.label}>"


@register("judge")
def judge(
    rubric: str,
    model: Model | Mapping[str, Any] | None = None,
    *,
    threshold: float | None = None,
    label: str | None = None,
) -> ModelJudge:
    """A judge model's 0–1 score against ``rubric``; passes at ``threshold`` when given."""
    if model is None:
        raise ConfigError("judge needs a model: pl.evals.judge('Is it one sentence?', model=pl.Model('gpt-4o-mini'))")
    if not isinstance(rubric, str) or not rubric.strip():
        raise ConfigError("judge needs a rubric: the question the judge answers about each output")
    judge_model = model if isinstance(model, Model) else Model.from_dict(model)
    return ModelJudge(rubric, judge_model, threshold, label)


@dataclass(frozen=True)
class Preference:
    """A pairwise verdict on two outputs for the same input."""

    winner: str
    """``a``, ``b`` or ``tie`` (the two orders disagreed, or the judge said so)."""

    explanation: str | None
    """The judge's reason, from the first order asked."""

    judge_trial_ids: tuple[str, str]
    """The judge's two recorded calls (A first, then B first)."""


class PairwiseJudge:
    """Prefers one of two outputs, asking twice with the order swapped."""

    def __init__(self, rubric: str, model: Model, label: str | None) -> None:
        self.name = "pairwise_judge"
        self.rubric = rubric
        self.model = model
        self.args = {"rubric": rubric, "model": model.to_dict()}
        self.label = label or f"pairwise:{rubric[:40]}"

    async def prefer(self, a: TrialView, b: TrialView, judges: JudgeCalls) -> Preference:
        """Which of ``a`` and ``b`` is better for their (shared) input."""
        base = {"rubric": self.rubric, "input": _input_text(a)}
        first = await judges.ask(PAIRWISE_PROMPT, self.model, {**base, "a": a.output or "", "b": b.output or ""})
        second = await judges.ask(PAIRWISE_PROMPT, self.model, {**base, "a": b.output or "", "b": a.output or ""})
        if first.output is None or second.output is None:
            raise EvaluatorError(f"the judge's call failed: {first.error or second.error}")
        one, two = parse_winner(first.output), parse_winner(second.output)
        swapped = {"A": "B", "B": "A", "tie": "tie"}[two]  # second asked B first
        winner = one.lower() if one == swapped and one != "tie" else "tie"
        found = _json_object(first.output) or {}
        return Preference(winner, found.get("explanation"), (first.trial_id, second.trial_id))


@register("pairwise_judge")
def pairwise_judge(
    rubric: str, model: Model | Mapping[str, Any] | None = None, *, label: str | None = None
) -> PairwiseJudge:
    """A judge that prefers one of two outputs (see ``Lab.compare_pairwise``)."""
    if model is None:
        raise ConfigError("pairwise_judge needs a model: pl.evals.pairwise_judge('...', model=pl.Model('gpt-4o'))")
    judge_model = model if isinstance(model, Model) else Model.from_dict(model)
    return PairwiseJudge(rubric, judge_model, label)
