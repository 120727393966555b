"""Evaluators (``promptlab/evals.py``): every built-in on good and bad outputs,
the registry (spec → from_spec, parse, coerce), and the config checks that
must fail before any model is called."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import promptlab as pl
from promptlab import evals
from promptlab.errors import ConfigError, EvaluatorError
from promptlab.evals import Score, TrialView
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider

BUILT_IN = {
    "exact",
    "contains",
    "icontains",
    "not_contains",
    "regex",
    "json_valid",
    "json_schema",
    "one_of",
    "max_length",
    "word_count",
    "latency_under",
    "cost_under",
    "similarity",
    "code",
    "judge",
    "pairwise_judge",
}

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["name"],
}


class NoJudges:
    """Deterministic evaluators must never ask a judge."""

    async def ask(self, prompt: Any, model: Any, variables: Mapping[str, Any]) -> Any:
        raise AssertionError("a deterministic evaluator asked a judge")


def view(
    output: str | None,
    *,
    error: str | None = None,
    latency_ms: float | None = None,
    cost_usd: float | None = None,
    **row: Any,
) -> TrialView:
    return TrialView("t1", output, row, latency_ms=latency_ms, cost_usd=cost_usd, error=error)


def score(evaluator: evals.Evaluator, output: str | None, **kwargs: Any) -> Score:
    return asyncio.run(evaluator.score(view(output, **kwargs), NoJudges()))


def fake_endpoint(respond: Any = None) -> tuple[FakeProvider, pl.Model]:
    """A FakeProvider registered under a fresh name, and a Model that runs on it."""
    provider = FakeProvider(respond)
    name = f"fake-{uuid.uuid4().hex[:10]}"
    pl.register_provider(name, provider)
    return provider, pl.Model("m", provider=name)


# Module-level so ``code`` records an importable path and ``from_spec`` can rebuild it.
def long_enough(output: str, row: Mapping[str, Any]) -> bool:
    return len(output) > 3


def half(output: str, row: Mapping[str, Any]) -> float:
    return 0.5


def graded(output: str, row: Mapping[str, Any]) -> Score:
    return Score(0.25, passed=False, label="meh", explanation="too short")


def wrong_type(output: str, row: Mapping[str, Any]) -> str:
    return "yes"


# -- string matching -------------------------------------------------------------------


def test_exact_compares_with_the_expected_column_ignoring_surrounding_space() -> None:
    ev = evals.exact()
    assert score(ev, "  Paris\n", expected="Paris") == Score(1.0, passed=True)
    assert score(ev, "paris", expected="Paris") == Score(0.0, passed=False)
    assert score(ev, "Paris!", expected="Paris").passed is False


def test_exact_without_strip_and_with_a_literal() -> None:
    assert score(evals.exact(strip=False), " Paris", expected="Paris").passed is False
    literal = evals.exact("OK", literal=True)
    assert literal.required_columns() == set()
    assert score(literal, "OK").passed is True
    assert score(literal, "expected").passed is False


def test_contains_is_case_sensitive_and_icontains_is_not() -> None:
    assert score(evals.contains(), "The capital is Paris.", expected="Paris").passed is True
    assert score(evals.contains(), "the capital is paris.", expected="Paris").passed is False
    assert score(evals.icontains(), "the capital is PARIS.", expected="Paris") == Score(1.0, passed=True)
    assert score(evals.contains(case_sensitive=False), "PARIS", expected="paris").passed is True
    assert score(evals.icontains(), "Lyon", expected="Paris").passed is False


def test_contains_reads_other_columns_and_literals() -> None:
    ev = evals.contains("city")
    assert ev.required_columns() == {"city"}
    assert score(ev, "in Rome", city="Rome", expected="Paris").passed is True
    assert score(evals.contains("Rome", literal=True), "in Rome").passed is True


def test_a_column_missing_at_score_time_is_an_evaluator_error() -> None:
    with pytest.raises(EvaluatorError, match="'expected'"):
        score(evals.contains(), "anything", text="no expected here")


def test_not_contains_fails_on_any_phrase_case_insensitively_by_default() -> None:
    ev = evals.not_contains(["sorry", "as an AI"])
    assert score(ev, "Here is the answer.") == Score(1.0, passed=True)
    refused = score(ev, "I'm SORRY, I can't.")
    assert (refused.value, refused.passed) == (0.0, False)
    assert "sorry" in (refused.explanation or "")
    assert score(evals.not_contains("Sorry", case_sensitive=True), "sorry").passed is True
    assert evals.not_contains("sorry").args["phrases"] == ["sorry"]


def test_regex_searches_the_output() -> None:
    ev = evals.regex(r"^\d+$")
    assert score(ev, "12345") == Score(1.0, passed=True)
    assert score(ev, "12a45").passed is False
    assert score(evals.regex(r"\bParis\b"), "It is Paris, France").passed is True


def test_a_regex_that_does_not_compile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="doesn't compile"):
        evals.regex("(unclosed")


# -- JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ['{"a": 1}', "[1, 2]", '```json\n{"a": 1}\n```', "```\n[1, 2]\n```", '  "text"  '])
def test_json_valid_accepts_json_and_fenced_json(output: str) -> None:
    assert score(evals.json_valid(), output) == Score(1.0, passed=True)


@pytest.mark.parametrize("output", ["not json", "{'a': 1}", '{"a": 1', "```json\nnope\n```", ""])
def test_json_valid_rejects_what_does_not_parse(output: str) -> None:
    result = score(evals.json_valid(), output)
    assert (result.value, result.passed) == (0.0, False)
    assert (result.explanation or "").startswith("not JSON")


def test_json_schema_passes_valid_documents_fenced_or_not() -> None:
    ev = evals.json_schema(SCHEMA)
    assert score(ev, '{"name": "x", "tags": ["a"]}') == Score(1.0, passed=True)
    assert score(ev, '```json\n{"name": "x"}\n```').passed is True


def test_json_schema_names_the_path_of_a_violation() -> None:
    ev = evals.json_schema(SCHEMA)
    nested = score(ev, '{"name": "x", "tags": ["a", 3]}')
    assert (nested.value, nested.passed) == (0.0, False)
    assert (nested.explanation or "").startswith("tags/1:")
    assert "is not of type 'string'" in (nested.explanation or "")
    missing = score(ev, '{"tags": []}')
    assert missing.passed is False
    assert (missing.explanation or "").startswith("(root):")
    assert "'name' is a required property" in (missing.explanation or "")


def test_json_schema_rejects_non_json() -> None:
    result = score(evals.json_schema(SCHEMA), "name: x")
    assert result.passed is False
    assert (result.explanation or "").startswith("not JSON")


def test_an_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="schema itself is invalid"):
        evals.json_schema({"type": "nonsense"})
    with pytest.raises(ConfigError):
        evals.json_schema({"type": "object", "required": "name"})


# -- labels, lengths, latency, cost ----------------------------------------------------------


def test_one_of_matches_a_label_ignoring_case_and_final_punctuation() -> None:
    ev = evals.one_of(["positive", "negative"])
    assert score(ev, " Positive.\n") == Score(1.0, passed=True, label="positive")
    assert score(ev, "NEGATIVE!").label == "negative"
    other = score(ev, "neutral")
    assert (other.value, other.passed, other.label) == (0.0, False, None)
    assert "neutral" in (other.explanation or "")
    assert score(evals.one_of(["Yes"], case_sensitive=True), "yes").passed is False


def test_one_of_needs_a_list() -> None:
    with pytest.raises(ConfigError, match="list"):
        evals.one_of("positive")  # type: ignore[arg-type]


def test_max_length_counts_characters() -> None:
    ev = evals.max_length(10)
    assert score(ev, "0123456789") == Score(1.0, passed=True)
    assert score(ev, "0123456789x") == Score(0.0, passed=False)


def test_word_count_is_the_value_and_bounds_decide_pass() -> None:
    ev = evals.word_count(5, minimum=2)
    assert score(ev, "one two three") == Score(3.0, passed=True)
    assert score(ev, "one two") == Score(2.0, passed=True)  # both bounds are inclusive
    assert score(ev, "a b c d e") == Score(5.0, passed=True)
    assert score(ev, "one") == Score(1.0, passed=False)
    assert score(ev, "a b c d e f") == Score(6.0, passed=False)
    assert score(evals.word_count(), " ".join(["w"] * 1000)) == Score(1000.0, passed=True)


def test_latency_under() -> None:
    ev = evals.latency_under(500)
    assert score(ev, "x", latency_ms=499.9).passed is True
    assert score(ev, "x", latency_ms=500.0).passed is False
    assert score(ev, "x", latency_ms=None).passed is False


def test_cost_under_fails_when_the_cost_is_unknown() -> None:
    ev = evals.cost_under(0.01)
    assert score(ev, "x", cost_usd=0.0099) == Score(1.0, passed=True)
    assert score(ev, "x", cost_usd=0.02).passed is False
    assert score(ev, "x", cost_usd=None).passed is False


# -- similarity ---------------------------------------------------------------------------------


def test_token_f1_known_values() -> None:
    # 5 tokens in common out of 6 on each side: P = R = 5/6
    assert evals.token_f1("The cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    # 2 common of 4 predicted and 2 reference: P = 1/2, R = 1, F1 = 2/3
    assert evals.token_f1("big red dog barks", "red dog") == pytest.approx(2 / 3)
    assert evals.token_f1("abc", "xyz") == 0.0
    assert evals.token_f1("", "") == 1.0
    assert evals.token_f1("", "x") == 0.0


def test_rouge_l_uses_order_where_f1_does_not() -> None:
    # same bag of words, shuffled: F1 = 1, but the longest common subsequence is 3 of 5
    candidate, reference = "mat the on cat the", "the cat on the mat"
    assert evals.token_f1(candidate, reference) == pytest.approx(1.0)
    assert evals.rouge_l(candidate, reference) == pytest.approx(0.6)
    assert evals.rouge_l("the cat on the mat", reference) == pytest.approx(1.0)
    # LCS 2 (a, c) of 3 predicted and 4 reference: P = 2/3, R = 1/2
    assert evals.rouge_l("a b c", "a x c y") == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))


def test_similarity_evaluator_f1_and_rouge_l_with_a_threshold() -> None:
    f1 = evals.similarity(threshold=0.8)
    rouge = evals.similarity(method="rouge_l", threshold=0.8)
    assert f1.label == "f1:expected" and rouge.label == "rouge_l:expected"
    assert f1.required_columns() == {"expected"}
    got_f1 = score(f1, "mat the on cat the", expected="the cat on the mat")
    got_rouge = score(rouge, "mat the on cat the", expected="the cat on the mat")
    assert (got_f1.value, got_f1.passed) == (pytest.approx(1.0), True)
    assert (got_rouge.value, got_rouge.passed) == (pytest.approx(0.6), False)
    assert score(evals.similarity(), "x", expected="x").passed is None  # no threshold, no verdict


def test_similarity_rejects_an_unknown_method() -> None:
    with pytest.raises(ConfigError, match="method"):
        evals.similarity(method="bleu")


# -- code ------------------------------------------------------------------------------------------


def test_code_accepts_bool_float_and_score_returns() -> None:
    assert score(evals.code(long_enough), "long output") == Score(1.0, passed=True)
    assert score(evals.code(long_enough), "no") == Score(0.0, passed=False)
    assert score(evals.code(half), "x") == Score(0.5)
    assert score(evals.code(graded), "x") == Score(0.25, passed=False, label="meh", explanation="too short")
    assert score(evals.code(lambda output, row: 3), "x") == Score(3.0)


def test_code_sees_the_output_and_the_row() -> None:
    ev = evals.code(lambda output, row: output == row["expected"].upper(), label="shouted")
    assert ev.label == "shouted"
    assert score(ev, "PARIS", expected="Paris").passed is True


def test_code_returning_something_else_is_an_evaluator_error() -> None:
    with pytest.raises(EvaluatorError, match="str"):
        score(evals.code(wrong_type), "x")


def test_code_from_an_import_path() -> None:
    ev = evals.code(f"{__name__}:long_enough")
    assert ev.label == "long_enough"
    assert score(ev, "long output").passed is True
    with pytest.raises(ConfigError, match="can't import"):
        evals.code(f"{__name__}:no_such_function")


def test_evaluators_score_none_on_a_failed_call() -> None:
    for ev in (
        evals.exact(),
        evals.contains(),
        evals.json_valid(),
        evals.word_count(),
        evals.code(half),
        evals.latency_under(1000),
        evals.similarity(),
    ):
        result = score(ev, None, error="RateLimitError: slow down", expected="x", latency_ms=1.0)
        assert result.value is None and result.passed is None, ev
        assert "slow down" in (result.explanation or "")


# -- the registry -----------------------------------------------------------------------------------

JUDGE_MODEL = pl.Model("gpt-4o-mini", temperature=0)


def every_built_in() -> list[Any]:
    return [
        evals.exact(),
        evals.exact("answer", literal=True, strip=False, label="exact_literal"),
        evals.contains(),
        evals.icontains("city"),
        evals.not_contains(["sorry", "cannot"]),
        evals.regex(r"^\d+$"),
        evals.json_valid(),
        evals.json_schema(SCHEMA),
        evals.one_of(["yes", "no"]),
        evals.max_length(200),
        evals.word_count(50, minimum=2),
        evals.latency_under(500),
        evals.cost_under(0.01),
        evals.similarity(method="rouge_l", threshold=0.5),
        evals.similarity(),
        evals.code(long_enough),
        evals.judge("Is it polite?", model=JUDGE_MODEL, threshold=0.7),
        evals.pairwise_judge("Which is clearer?", model=JUDGE_MODEL),
    ]


def test_the_registry_holds_every_built_in() -> None:
    assert set(evals.REGISTRY) >= BUILT_IN
    assert {e.name for e in every_built_in()} == BUILT_IN


@pytest.mark.parametrize("evaluator", every_built_in(), ids=lambda e: e.label)
def test_spec_round_trips_through_json_and_from_spec(evaluator: Any) -> None:
    recorded = json.loads(json.dumps(evals.spec(evaluator)))  # as a run's config stores it
    assert recorded["name"] == evaluator.name and recorded["label"] == evaluator.label
    rebuilt = evals.from_spec(recorded)
    assert type(rebuilt) is type(evaluator)
    assert evals.spec(rebuilt) == evals.spec(evaluator)
    if hasattr(evaluator, "model"):  # judges: the model comes back from its dict
        assert rebuilt.model == evaluator.model
        assert rebuilt.rubric == evaluator.rubric
        return
    trial = view('{"name": "x"}', expected="x", city="x", latency_ms=10.0, cost_usd=0.001)
    assert asyncio.run(rebuilt.score(trial, NoJudges())) == asyncio.run(evaluator.score(trial, NoJudges()))


def test_judge_takes_a_model_dict() -> None:
    made = evals.judge("Is it polite?", model=JUDGE_MODEL.to_dict())
    assert made.model == JUDGE_MODEL
    assert made.args["model"]["name"] == "gpt-4o-mini"
    assert made.args["model"]["params"] == {"temperature": 0}


def test_from_spec_of_an_unknown_name() -> None:
    with pytest.raises(ConfigError, match="no evaluator named 'nope'"):
        evals.from_spec({"name": "nope", "args": {}})


def test_parse_reads_a_short_spec() -> None:
    contains = evals.parse("contains:expected")
    assert contains.name == "contains" and contains.args["target"] == "expected"
    assert contains.label == "contains:expected"
    limit = evals.parse("max_length:200")
    assert limit.args["characters"] == 200 and type(limit.args["characters"]) is int
    assert score(limit, "x" * 200).passed is True and score(limit, "x" * 201).passed is False
    assert evals.parse("json_valid").name == "json_valid"
    digits = evals.parse(r"regex:^\d+:\d+$")  # only the first colon separates
    assert digits.args["pattern"] == r"^\d+:\d+$"
    assert score(digits, "12:30").passed is True
    fast = evals.parse("latency_under:1.5")
    assert fast.args["milliseconds"] == 1.5


@pytest.mark.parametrize("text", ["nonsense", "judge:Is it good?", "code:mod:fn", "pairwise_judge"])
def test_parse_refuses_unknown_and_model_graded_names(text: str) -> None:
    with pytest.raises(ConfigError, match="unknown evaluator"):
        evals.parse(text)


def test_coerce_wraps_functions_and_refuses_duplicate_labels() -> None:
    made = evals.coerce([evals.contains(), long_enough])
    assert [e.label for e in made] == ["contains:expected", "long_enough"]
    assert made[1].name == "code"
    with pytest.raises(ConfigError, match="contains:expected"):
        evals.coerce([evals.contains(), evals.contains()])
    assert len(evals.coerce([evals.contains(), evals.contains(label="contains_again")])) == 2
    with pytest.raises(ConfigError):
        evals.coerce(["contains"])  # type: ignore[list-item]


# -- checked before any call ---------------------------------------------------------------------------

PROMPT = pl.Prompt("Answer: {{ text }}", name="answer")


def test_sweep_refuses_a_missing_expected_column_before_any_call(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    provider, model = fake_endpoint()
    rows: Sequence[dict[str, str]] = [{"text": "a", "expected": "a"}, {"text": "b"}, {"text": "c"}]
    with pytest.raises(ConfigError) as raised:
        lab.sweep(PROMPT, model, rows, evaluators=[evals.contains("expected")], display=NullDisplay())
    message = str(raised.value)
    assert "'expected'" in message and "row 1" in message and "literal=True" in message
    assert provider.calls == 0
    assert lab.trials().empty and lab.runs().empty


def test_sweep_refuses_duplicate_labels_before_any_call(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    provider, model = fake_endpoint()
    with pytest.raises(ConfigError, match="share the label"):
        lab.sweep(
            PROMPT,
            model,
            [{"text": "a", "expected": "a"}],
            evaluators=[evals.contains(), evals.contains()],
            display=NullDisplay(),
        )
    assert provider.calls == 0 and lab.trials().empty


def test_evaluate_refuses_a_missing_column_before_scoring(tmp_path: Path) -> None:
    lab = pl.Lab(tmp_path / "h.duckdb")
    provider, model = fake_endpoint()
    judge_provider, judge_model = fake_endpoint(lambda messages, model: '{"score": 9}')
    run = lab.sweep(PROMPT, model, [{"text": "a"}, {"text": "b"}], display=NullDisplay())
    assert provider.calls == 2
    with pytest.raises(ConfigError, match="'expected'"):
        lab.evaluate(run, [evals.judge("Good?", model=judge_model), evals.contains("expected")])
    assert provider.calls == 2 and judge_provider.calls == 0
    assert lab.store.query("SELECT * FROM scores").empty
    assert not any(c.startswith("score_") for c in run.df.columns)
