"""Model-graded evaluators (``promptlab/evals/judges.py``): grading and its parsing,
the judge's call recorded as a ``kind="judge"`` trial linked from the score,
and pairwise preferences asked in both orders so position bias cancels."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support.history import settle

import promptlab as pl
from promptlab import evals
from promptlab.errors import ConfigError, EvaluatorError
from promptlab.evals import Score, TrialView
from promptlab.evals.judges import JUDGE_PROMPT, PAIRWISE_PROMPT, parse_grade, parse_winner
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider

pytestmark = pytest.mark.both_stores

Messages = Sequence[Mapping[str, str]]


def fake_endpoint(
    respond: Callable[[Messages, pl.Model], str] | None = None, name: str = "m", **params: Any
) -> tuple[FakeProvider, pl.Model]:
    """A FakeProvider registered under a fresh name, and a Model that runs on it."""
    provider = FakeProvider(respond)
    endpoint = f"fake-{uuid.uuid4().hex[:10]}"
    pl.register_provider(endpoint, provider)
    return provider, pl.Model(name, provider=endpoint, **params)


def last_user(messages: Messages) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def answering(text: str) -> Callable[[Messages, pl.Model], str]:
    return lambda messages, model: text


# -- parsing a grade ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "value", "explanation"),
    [
        ('{"score": 8, "explanation": "fine"}', 0.8, "fine"),
        ('Sure! ```json\n{"score": 10, "explanation": "all there"}\n```', 1.0, "all there"),
        ('{"score": 7.5}', 0.75, None),
        ('{"score": 0, "explanation": "off topic"}', 0.0, "off topic"),
        ('{"score": 14, "explanation": "generous"}', 1.0, "generous"),  # clamped to 0–1
        ("7/10", 0.7, "7/10"),
        ("Score: 9", 0.9, "Score: 9"),
        ("I'd give it 8.5 / 10 overall", 0.85, "I'd give it 8.5 / 10 overall"),
        ("10/10, flawless", 1.0, "10/10, flawless"),
    ],
)
def test_parse_grade(answer: str, value: float, explanation: str | None) -> None:
    got_value, got_explanation = parse_grade(answer)
    assert got_value == pytest.approx(value)
    assert got_explanation == explanation


@pytest.mark.parametrize(("answer", "value"), [("Score: 9.", 0.9), ("I rate it 6.", 0.6), ("Overall 7.5.", 0.75)])
def test_parse_grade_reads_a_number_that_ends_a_sentence(answer: str, value: float) -> None:
    assert parse_grade(answer)[0] == pytest.approx(value)


@pytest.mark.parametrize("answer", ["I can't grade this.", "Score: 85", "", '{"verdict": "good"}'])
def test_parse_grade_refuses_answers_without_a_score(answer: str) -> None:
    with pytest.raises(EvaluatorError, match="holds no score"):
        parse_grade(answer)


@pytest.mark.parametrize(
    ("answer", "winner"),
    [
        ('{"winner": "A", "explanation": "clearer"}', "A"),
        ('{"winner": "b"}', "B"),
        ('{"winner": "tie", "explanation": "both fine"}', "tie"),
        ("B", "B"),
        ("Response A.", "A"),
        ("Both are equally good: tie", "tie"),
        ("I can't decide", "tie"),
    ],
)
def test_parse_winner(answer: str, winner: str) -> None:
    assert parse_winner(answer) == winner


# -- a judge on its own, with scripted judge calls ---------------------------------------------


@dataclass
class Answered:
    output: str | None
    trial_id: str
    error: str | None = None


class ScriptedJudges:
    """JudgeCalls that answer with ``respond(variables)`` and keep what was asked."""

    def __init__(self, respond: Callable[[Mapping[str, Any]], str | None]) -> None:
        self.respond = respond
        self.asked: list[tuple[Any, Any, dict[str, Any]]] = []

    async def ask(self, prompt: Any, model: Any, variables: Mapping[str, Any]) -> Answered:
        self.asked.append((prompt, model, dict(variables)))
        output = self.respond(variables)
        return Answered(output, f"judge-{len(self.asked)}", None if output is not None else "boom")


JUDGE_MODEL = pl.Model("grader", provider="fake")


def trial(output: str | None, text: str = "What is 2+2?", trial_id: str = "t1") -> TrialView:
    return TrialView(trial_id, output, {"text": text}, messages=[{"role": "user", "content": text}])


def test_a_judge_scores_zero_to_one_with_its_explanation_and_call() -> None:
    judges = ScriptedJudges(lambda v: '{"score": 8, "explanation": "fine"}')
    graded = asyncio.run(evals.judge("Is it correct?", model=JUDGE_MODEL).score(trial("4"), judges))
    assert graded == Score(0.8, passed=None, explanation="fine", judge_trial_id="judge-1")
    ((prompt, model, variables),) = judges.asked
    assert prompt is JUDGE_PROMPT and model == JUDGE_MODEL
    assert variables == {"rubric": "Is it correct?", "input": "What is 2+2?", "output": "4"}


def test_a_judge_threshold_decides_pass() -> None:
    ev = evals.judge("Is it correct?", model=JUDGE_MODEL, threshold=0.7)
    assert asyncio.run(ev.score(trial("4"), ScriptedJudges(lambda v: "7/10"))).passed is True
    assert asyncio.run(ev.score(trial("5"), ScriptedJudges(lambda v: "6/10"))).passed is False


def test_a_judge_raises_on_unparseable_answers_and_failed_calls() -> None:
    ev = evals.judge("Is it correct?", model=JUDGE_MODEL)
    with pytest.raises(EvaluatorError, match="holds no score"):
        asyncio.run(ev.score(trial("4"), ScriptedJudges(lambda v: "Looks great to me!")))
    with pytest.raises(EvaluatorError, match="call failed"):
        asyncio.run(ev.score(trial("4"), ScriptedJudges(lambda v: None)))


def test_a_judge_does_not_ask_about_a_failed_trial() -> None:
    judges = ScriptedJudges(lambda v: "10/10")
    graded = asyncio.run(evals.judge("ok?", model=JUDGE_MODEL).score(trial(None), judges))
    assert graded.value is None and judges.asked == []


def test_judge_needs_a_model_and_a_rubric() -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        evals.judge("Is it one sentence?")
    with pytest.raises(ConfigError, match="needs a rubric"):
        evals.judge("  ", model=JUDGE_MODEL)
    with pytest.raises(ConfigError, match="needs a model"):
        evals.pairwise_judge("Which is better?")


# -- pairwise, both orders ---------------------------------------------------------------------------

_RESPONSES = re.compile(r"Response A:\n(.*?)\n\nResponse B:\n(.*?)\n\nWhich", re.S)


def prefers_good(text: str) -> str:
    """A fair judge: prefers whichever response says "good", in either position."""
    match = _RESPONSES.search(text)
    assert match, text
    a, b = match.groups()
    if ("good" in a) == ("good" in b):
        return '{"winner": "tie", "explanation": "same"}'
    return '{"winner": "A", "explanation": "A says good"}' if "good" in a else '{"winner": "B"}'


def test_pairwise_swaps_positions_so_a_position_bias_cancels() -> None:
    judges = ScriptedJudges(lambda v: '{"winner": "A", "explanation": "first is best"}')
    ev = evals.pairwise_judge("Which is better?", model=JUDGE_MODEL)
    preference = asyncio.run(ev.prefer(trial("one", trial_id="a"), trial("two", trial_id="b"), judges))
    assert preference.winner == "tie"
    first, second = (variables for _, _, variables in judges.asked)
    assert (first["a"], first["b"]) == ("one", "two")
    assert (second["a"], second["b"]) == ("two", "one")
    assert all(prompt is PAIRWISE_PROMPT for prompt, _, _ in judges.asked)
    assert preference.judge_trial_ids == ("judge-1", "judge-2")


@pytest.mark.parametrize(("a", "b", "winner"), [("good", "meh", "a"), ("meh", "good", "b"), ("meh", "meh", "tie")])
def test_pairwise_finds_the_better_output_in_either_position(a: str, b: str, winner: str) -> None:
    def respond(variables: Mapping[str, Any]) -> str:
        return prefers_good(f"Response A:\n{variables['a']}\n\nResponse B:\n{variables['b']}\n\nWhich")

    preference = asyncio.run(
        evals.pairwise_judge("Which is better?", model=JUDGE_MODEL).prefer(trial(a), trial(b), ScriptedJudges(respond))
    )
    assert preference.winner == winner


# -- judges in a lab: recorded, linked, cached ---------------------------------------------------------

PROMPT = pl.Prompt("Answer briefly: {{ text }}", name="answer")
ROWS = [{"text": "first"}, {"text": "second"}]


def test_a_judges_call_is_a_recorded_trial_linked_from_its_score(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    provider, model = fake_endpoint(answering("an answer"))
    judge_provider, judge_model = fake_endpoint(
        answering('{"score": 8, "explanation": "fine"}'), name="grader", price=(1.0, 2.0)
    )
    ev = evals.judge("Is it brief?", model=judge_model, threshold=0.5)
    run = lab.sweep(PROMPT, model, ROWS, evaluators=[ev], display=NullDisplay())

    df = run.df
    assert list(df["score_judge:Is it brief?"]) == [0.8, 0.8]
    assert list(df["passed_judge:Is it brief?"]) == [True, True]
    assert judge_provider.calls == 2 and provider.calls == 2

    judged = lab.trials(kind="judge")
    assert len(judged) == 2
    assert set(judged["prompt_name"]) == {"promptlab/judge"}
    assert set(judged["model"]) == {"grader"}
    assert set(judged["run_id"]) == {run.run_id}
    assert (judged["prompt_tokens"] > 0).all() and (judged["completion_tokens"] == 4).all()
    expected_cost = (judged["prompt_tokens"] * 1.0 + judged["completion_tokens"] * 2.0) / 1_000_000
    assert list(judged["cost_usd"]) == pytest.approx(list(expected_cost))
    judged_outputs = {last_user(m).split("Response:\n")[1].split("\n\n")[0] for m in judged["messages"]}
    assert judged_outputs == {"an answer"}
    assert set(lab.trials()["trial_id"]).isdisjoint(judged["trial_id"])  # sweeps list only their cells

    scores = lab.store.query("SELECT * FROM scores WHERE evaluator = 'judge:Is it brief?'")
    assert len(scores) == 2
    assert set(scores["trial_id"]) == set(df["trial_id"])
    assert set(scores["judge_trial_id"]) == set(judged["trial_id"])
    assert set(scores["explanation"]) == {"fine"} and set(scores["evaluator_name"]) == {"judge"}


def test_an_unparseable_judge_answer_is_a_score_error_not_a_failed_sweep(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    _, model = fake_endpoint(answering("an answer"))
    _, judge_model = fake_endpoint(answering("It reads well, I suppose."))
    run = lab.sweep(
        PROMPT,
        model,
        ROWS,
        evaluators=[evals.judge("Good?", model=judge_model), evals.word_count()],
        display=NullDisplay(),
    )
    assert run.status == "done"
    df = run.df
    assert df["score_judge:Good?"].isna().all()
    assert list(df["score_word_count"]) == [2.0, 2.0]
    errors = lab.store.query("SELECT error, value FROM scores WHERE evaluator = 'judge:Good?'")
    assert len(errors) == 2 and errors["value"].isna().all()
    assert all(e.startswith("EvaluatorError") and "holds no score" in e for e in errors["error"])
    assert len(lab.trials(kind="judge")) == 2  # the judge's calls are still on record


def test_a_failed_judge_call_is_recorded_and_scored_as_an_error(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    _, model = fake_endpoint(answering("an answer"))
    _, judge_model = fake_endpoint(answering("10/10"), fail_if="Rubric")
    run = lab.sweep(PROMPT, model, ROWS, evaluators=[evals.judge("Good?", model=judge_model)], display=NullDisplay())
    assert run.status == "done" and run.df["score_judge:Good?"].isna().all()
    errors = lab.store.query("SELECT error FROM scores")["error"]
    assert all("judge's call failed" in e for e in errors)
    assert lab.trials(kind="judge")["error_type"].eq("PermanentError").all()


def test_compare_pairwise_records_wins_losses_and_ties_on_both_trials(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    _, model = fake_endpoint(lambda messages, m: "good reply" if "kindly" in last_user(messages) else "meh reply")
    run_a = lab.sweep(pl.Prompt("Reply kindly: {{ text }}", name="kind"), model, ROWS, display=NullDisplay())
    run_b = lab.sweep(pl.Prompt("Reply: {{ text }}", name="plain"), model, ROWS, display=NullDisplay())
    judge_provider, judge_model = fake_endpoint(lambda messages, m: prefers_good(last_user(messages)))
    ev = evals.pairwise_judge("Which is friendlier?", model=judge_model)

    verdicts = lab.compare_pairwise(run_a, run_b, ev)
    assert list(verdicts["winner"]) == ["a", "a"]
    assert set(verdicts["output_a"]) == {"good reply"} and set(verdicts["output_b"]) == {"meh reply"}
    assert judge_provider.calls == 4  # two orders per input

    column = "score_pairwise:Which is friendlier?"
    assert list(run_a.df[column]) == [1.0, 1.0]
    assert list(run_b.df[column]) == [0.0, 0.0]
    scores = lab.store.query("SELECT trial_id, label, args, judge_trial_id FROM scores")
    labels = dict(zip(scores["trial_id"], scores["label"], strict=True))
    assert {labels[t] for t in run_a.df["trial_id"]} == {"win"}
    assert {labels[t] for t in run_b.df["trial_id"]} == {"loss"}
    judged = lab.trials(kind="judge")
    assert len(judged) == 4 and set(judged["prompt_name"]) == {"promptlab/pairwise-judge"}
    assert set(scores["judge_trial_id"]) <= set(judged["trial_id"])
    opponents = {t: json.loads(a)["opponent"] for t, a in zip(scores["trial_id"], scores["args"], strict=True)}
    for trial_a, trial_b in zip(verdicts["trial_a"], verdicts["trial_b"], strict=True):
        assert (opponents[trial_a], opponents[trial_b]) == (trial_b, trial_a)


def test_compare_pairwise_with_a_position_biased_judge_gives_ties(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    _, model = fake_endpoint(lambda messages, m: "good reply" if "kindly" in last_user(messages) else "meh reply")
    run_a = lab.sweep(pl.Prompt("Reply kindly: {{ text }}", name="kind"), model, ROWS, display=NullDisplay())
    run_b = lab.sweep(pl.Prompt("Reply: {{ text }}", name="plain"), model, ROWS, display=NullDisplay())
    _, judge_model = fake_endpoint(answering('{"winner": "A", "explanation": "the first"}'))
    verdicts = lab.compare_pairwise(run_a, run_b, evals.pairwise_judge("Which?", model=judge_model))
    assert list(verdicts["winner"]) == ["tie", "tie"]
    assert list(run_a.df["score_pairwise:Which?"]) == [0.5, 0.5]
    assert list(run_b.df["score_pairwise:Which?"]) == [0.5, 0.5]
    assert set(lab.store.query("SELECT label FROM scores")["label"]) == {"tie"}


def test_judge_calls_are_not_counted_as_trials_and_their_spend_is_shown_apart(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    _, model = fake_endpoint(answering("an answer"), price=(1.0, 2.0))
    _, judge_model = fake_endpoint(answering('{"score": 8, "explanation": "fine"}'), name="grader", price=(10.0, 20.0))
    rows = [{"text": f"item {i}"} for i in range(5)]
    run = lab.sweep(
        PROMPT,
        model,
        rows,
        evaluators=[evals.judge("Good?", model=judge_model)],
        experiment="judged",
        display=NullDisplay(),
    )
    [experiment] = lab.experiments().to_dict("records")
    assert experiment["n_trials"] == 5 and experiment["n_judge_calls"] == 5
    [listed] = lab.runs().to_dict("records")
    assert listed["n_trials"] == 5 and listed["n_judge_calls"] == 5
    judge_spend = lab.trials(kind="judge")["cost_usd"].sum()
    assert judge_spend > 0 and listed["judge_spent_usd"] == pytest.approx(judge_spend)
    assert listed["total_spent_usd"] == pytest.approx(listed["spent_usd"] + judge_spend)
    assert experiment["judge_spent_usd"] == pytest.approx(judge_spend)
    lab.fold()
    settle()
    con = duckdb.connect(str(lab.path), read_only=True)
    try:
        kinds = dict(con.execute("SELECT kind, count(*) FROM trials_view GROUP BY kind").fetchall())
    finally:
        con.close()
    assert kinds == {"sweep": 5, "judge": 5}  # SQL users can tell them apart
    assert len(run.df) == 5
