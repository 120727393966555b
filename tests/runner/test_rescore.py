"""Scoring in a lab (``promptlab/runner/scoring.py``, ``promptlab/runner/rescore.py``): at
sweep time as trials finish (cached ones too), and afterwards with
``lab.evaluate`` without calling the scored model again; judges answered from
the cache; newest scores shown; errors kept per score; comparisons of runs."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.providers import RecordingDisplay

import promptlab as pl
from promptlab import evals
from promptlab.analysis import stats
from promptlab.evals import Score
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider

pytestmark = pytest.mark.both_stores

Messages = Sequence[Mapping[str, str]]
PROMPT = pl.Prompt("Capital of {{ country }}?", name="capital")
ROWS = [
    {"country": "France", "expected": "Paris"},
    {"country": "Italy", "expected": "Rome"},
    {"country": "Spain", "expected": "Madrid"},
]
CAPITALS = {"France": "Paris", "Italy": "Rome", "Spain": "Barcelona"}  # one wrong


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


def capital(messages: Messages, model: pl.Model) -> str:
    country = last_user(messages).removeprefix("Capital of ").removesuffix("?")
    return f"The capital is {CAPITALS[country]}."


def judge_endpoint(answer: str = '{"score": 7, "explanation": "ok"}') -> tuple[FakeProvider, pl.Model]:
    return fake_endpoint(lambda messages, model: answer, name="grader")


def by_country(df: Any, column: str) -> dict[str, Any]:
    return {v["country"]: value for v, value in zip(df["vars"], df[column], strict=True)}


def sweep(lab: pl.Lab, model: pl.Model, **options: Any) -> pl.Run:
    return lab.sweep(PROMPT, model, ROWS, display=NullDisplay(), **options)


def scores(lab: pl.Lab, where: str = "TRUE") -> Any:
    return lab.store.query(f"SELECT * FROM scores WHERE {where} ORDER BY created_at, score_id")


# -- at sweep time ------------------------------------------------------------------------------


def test_a_sweep_scores_every_trial_with_every_evaluator(lab: pl.Lab) -> None:
    seen: list[tuple[str, str]] = []

    def mentions_country(output: str, row: Mapping[str, Any]) -> bool:
        seen.append((row["country"], output))
        return row["country"] in output

    provider, model = fake_endpoint(capital)
    run = sweep(lab, model, evaluators=[evals.contains(), evals.word_count(4), mentions_country])
    df = run.df
    assert provider.calls == 3 and run.status == "done"
    assert by_country(df, "score_contains:expected") == {"France": 1.0, "Italy": 1.0, "Spain": 0.0}
    assert by_country(df, "passed_contains:expected") == {"France": True, "Italy": True, "Spain": False}
    assert list(df["score_word_count:4"]) == [4.0, 4.0, 4.0]
    assert df["passed_word_count:4"].all()
    assert list(df["score_mentions_country"]) == [0.0, 0.0, 0.0]
    assert sorted(seen) == sorted((c, f"The capital is {CAPITALS[c]}.") for c in CAPITALS)

    stored = scores(lab)
    assert len(stored) == 9 and set(stored["trial_id"]) == set(df["trial_id"])
    assert set(stored["run_id"]) == {run.run_id} and set(stored["user"]) == {"tester"}
    assert stored["error"].isna().all()
    recorded = lab.run_info(run.run_id)["config"]["evaluators"]
    assert [e["label"] for e in recorded] == ["contains:expected", "word_count:4", "mentions_country"]


def test_a_rerun_scores_the_trials_answered_from_the_cache(lab: pl.Lab) -> None:
    provider, model = fake_endpoint(capital)
    judge_provider, judge_model = judge_endpoint()
    evaluators = [evals.contains(), evals.judge("Is it right?", model=judge_model)]
    first = sweep(lab, model, evaluators=evaluators)
    assert (provider.calls, judge_provider.calls) == (3, 3)

    second = sweep(lab, model, evaluators=evaluators)
    df = second.df
    assert second.run_id != first.run_id
    assert df["cached"].all()
    assert (provider.calls, judge_provider.calls) == (3, 3)  # neither the model nor the judge is asked again
    assert by_country(df, "score_contains:expected") == {"France": 1.0, "Italy": 1.0, "Spain": 0.0}
    assert list(df["score_judge:Is it right?"]) == [0.7, 0.7, 0.7]
    assert set(scores(lab)["trial_id"]) == set(first.df["trial_id"]) | set(df["trial_id"])
    judged = lab.trials(kind="judge")
    assert dict(Counter(zip(judged["run_id"], judged["cached"], strict=True))) == {
        (first.run_id, False): 3,
        (second.run_id, True): 3,
    }


def test_an_evaluator_that_raises_records_an_error_for_that_score_only(lab: pl.Lab) -> None:
    def picky(output: str, row: Mapping[str, Any]) -> bool:
        if row["country"] == "Italy":
            raise ValueError("no opinion on Italy")
        return True

    _, model = fake_endpoint(capital)
    run = sweep(lab, model, evaluators=[picky, evals.contains()])
    assert run.status == "done"
    df = run.df
    assert len(df) == 3
    picky_scores = by_country(df, "score_picky")
    assert picky_scores["France"] == 1.0 and picky_scores["Spain"] == 1.0
    assert pd.isna(picky_scores["Italy"])
    assert by_country(df, "score_contains:expected")["Italy"] == 1.0  # the other evaluator still scored it
    italy = df.loc[[v["country"] == "Italy" for v in df["vars"]], "trial_id"].item()
    stored = scores(lab, f"trial_id = '{italy}'").set_index("evaluator")
    assert stored.loc["picky", "error"] == "ValueError: no opinion on Italy"
    assert pd.isna(stored.loc["picky", "value"])
    assert pd.isna(stored.loc["contains:expected", "error"]) and stored.loc["contains:expected", "value"] == 1.0
    assert scores(lab, "error IS NOT NULL")["trial_id"].tolist() == [italy]


def test_failed_trials_score_none_and_are_not_judged(lab: pl.Lab) -> None:
    provider, model = fake_endpoint(capital, fail_if="Italy")
    judge_provider, judge_model = judge_endpoint()
    run = sweep(lab, model, evaluators=[evals.contains(), evals.judge("Right?", model=judge_model)])
    df = run.df
    assert df["error_type"].notna().sum() == 1
    assert pd.isna(by_country(df, "score_contains:expected")["Italy"])
    assert (provider.calls, judge_provider.calls) == (3, 2)  # only the two answered trials are judged
    failed = df.loc[df["error_type"].notna(), "trial_id"].item()
    stored = scores(lab, f"trial_id = '{failed}'")
    assert len(stored) == 2 and stored["value"].isna().all() and stored["error"].isna().all()
    assert all(e.startswith("no output to") and "fake failure" in e for e in stored["explanation"])


def test_run_summary_reports_each_evaluator(lab: pl.Lab) -> None:
    _, model = fake_endpoint(capital)
    run = sweep(lab, model, evaluators=[evals.contains()])
    (row,) = run.summary().to_dict("records")
    assert row["n"] == 3 and row["contains:expected_n"] == 3
    assert row["contains:expected_mean"] == pytest.approx(2 / 3)
    assert row["contains:expected_pass_rate"] == pytest.approx(2 / 3)
    assert 0.0 <= row["contains:expected_ci_low"] <= 2 / 3 <= row["contains:expected_ci_high"] <= 1.0


# -- after the fact ---------------------------------------------------------------------------------


def test_evaluate_scores_stored_trials_without_calling_their_model(lab: pl.Lab) -> None:
    provider, model = fake_endpoint(capital)
    run = sweep(lab, model)
    assert provider.calls == 3 and not any(c.startswith("score_") for c in run.df.columns)

    result = lab.evaluate(run, [evals.contains(), evals.regex(r"capital is \w+\.$")])
    assert provider.calls == 3
    assert set(result["trial_id"]) == set(run.df["trial_id"])
    assert by_country(result, "score_contains:expected") == {"France": 1.0, "Italy": 1.0, "Spain": 0.0}
    assert result["passed_regex:capital is \\w+\\.$"].all()
    assert by_country(run.df, "score_contains:expected") == by_country(result, "score_contains:expected")
    assert len(lab.trials()) == 3  # no new trials


def test_evaluate_with_a_judge_is_answered_from_the_cache_unless_told_not_to(lab: pl.Lab) -> None:
    provider, model = fake_endpoint(capital)
    judge_provider, judge_model = judge_endpoint('{"score": 9, "explanation": "correct"}')
    run = sweep(lab, model)
    ev = evals.judge("Is it correct?", model=judge_model)

    first = lab.evaluate(run, [ev])
    assert (provider.calls, judge_provider.calls) == (3, 3)
    assert list(first["score_judge:Is it correct?"]) == [0.9, 0.9, 0.9]
    judged = lab.trials(kind="judge")
    assert len(judged) == 3 and set(judged["run_id"]) == {run.run_id}
    assert set(scores(lab)["judge_trial_id"]) == set(judged["trial_id"])

    lab.evaluate(run, [ev])
    assert (provider.calls, judge_provider.calls) == (3, 3)
    assert lab.trials(kind="judge")["cached"].sum() == 3

    lab.evaluate(run, [ev], cache=False)
    assert (provider.calls, judge_provider.calls) == (3, 6)
    assert len(scores(lab)) == 9


def test_rescoring_appends_and_the_newest_score_is_shown(lab: pl.Lab) -> None:
    _, model = fake_endpoint(capital)
    run = sweep(lab, model)
    strictness = {"value": 0.25}

    def graded(output: str, row: Mapping[str, Any]) -> Score:
        return Score(strictness["value"], explanation=f"at {strictness['value']}")

    lab.evaluate(run, [evals.code(graded, label="grade")])
    strictness["value"] = 0.75
    latest = lab.evaluate(run, [evals.code(graded, label="grade")])
    assert list(latest["score_grade"]) == [0.75] * 3
    assert list(run.df["score_grade"]) == [0.75] * 3
    assert list(lab.trials()["score_grade"]) == [0.75] * 3
    history = scores(lab)
    assert len(history) == 6
    assert Counter(history["value"]) == {0.25: 3, 0.75: 3}
    assert list(history["value"]) == [0.25] * 3 + [0.75] * 3  # oldest first: appended, never replaced


def test_evaluate_takes_a_run_id_or_a_trials_dataframe(lab: pl.Lab) -> None:
    provider, model = fake_endpoint(capital)
    run = sweep(lab, model)
    by_id = lab.evaluate(run.run_id[:8], [evals.contains()])
    assert len(by_id) == 3
    france = run.df[[v["country"] == "France" for v in run.df["vars"]]]
    only = lab.evaluate(france, [evals.max_length(5)])
    assert list(only["trial_id"]) == list(france["trial_id"])
    assert list(only["score_max_length:5"]) == [0.0]
    assert run.df["score_max_length:5"].notna().sum() == 1
    assert provider.calls == 3


def test_a_run_can_be_rescored_from_its_recorded_evaluators(lab: pl.Lab) -> None:
    _, model = fake_endpoint(capital)
    _, judge_model = judge_endpoint()
    run = sweep(
        lab,
        model,
        evaluators=[evals.contains(), evals.json_schema({"type": "string"}), evals.judge("Right?", model=judge_model)],
    )
    before = run.df
    recorded = json.loads(json.dumps(lab.run_info(run.run_id)["config"]["evaluators"]))
    after = lab.evaluate(run, [evals.from_spec(s) for s in recorded])
    for label in ("contains:expected", "json_schema", "judge:Right?"):
        assert list(after[f"score_{label}"]) == list(before[f"score_{label}"])


# -- comparing runs ----------------------------------------------------------------------------------


def test_lab_compare_and_diff_runs_on_two_prompt_versions(lab: pl.Lab) -> None:
    data = [{"country": f"C{i}", "expected": f"city{i}"} for i in range(12)]

    def respond(messages: Messages, model: pl.Model) -> str:
        text = last_user(messages)
        i = int(text.split("C")[-1].rstrip("?"))
        if text.startswith("Name the capital"):  # the new prompt: right except on C0
            return "unsure" if i == 0 else f"city{i}"
        return f"city{i}" if i in (0, 1) else "unsure"

    _, model = fake_endpoint(respond)
    old = pl.Prompt("Capital of {{ country }}?", name="capital")
    new = pl.Prompt("Name the capital of {{ country }}", name="capital")
    before = lab.sweep(old, model, data, evaluators=[evals.contains()], display=NullDisplay())
    after = lab.sweep(new, model, data, evaluators=[evals.contains()], display=NullDisplay())

    result = lab.compare(before, after, "contains:expected")
    assert (result.n, result.wins, result.losses, result.ties) == (12, 10, 1, 1)
    assert (result.mean_a, result.mean_b) == (pytest.approx(2 / 12), pytest.approx(11 / 12))
    assert result.difference == pytest.approx(9 / 12)
    assert result.p_value == pytest.approx(2 * 12 / 2**11)
    assert result.verdict.startswith("B is better than A")

    changes = lab.diff_runs(before, after, metric="contains:expected")
    assert list(changes["change"]) == ["regression"] + ["fix"] * 10
    assert changes["vars"][0]["country"] == "C0"
    assert {v["country"] for v in changes["vars"][1:]} == {f"C{i}" for i in range(2, 12)}


def test_stability_of_repeated_calls_in_a_run(lab: pl.Lab) -> None:
    calls: Counter[str] = Counter()

    def wobbly(messages: Messages, model: pl.Model) -> str:
        text = last_user(messages)
        calls[text] += 1
        return "b" if calls[text] == 3 else "a"

    _, model = fake_endpoint(wobbly)
    run = lab.sweep(PROMPT, model, ROWS[:2], repeats=3, cache=False, concurrency=1, display=NullDisplay())
    table = stats.stability(run.df)
    assert len(table) == 2
    assert list(table["repeats"]) == [3, 3] and list(table["distinct_outputs"]) == [2, 2]
    assert list(table["agreement"]) == pytest.approx([2 / 3, 2 / 3])


def test_evaluator_errors_and_judge_explanations_are_in_the_trials_and_the_summary(lab: pl.Lab) -> None:
    def picky(output: str, row: Mapping[str, Any]) -> Any:
        return "good" if row["country"] == "Spain" else True  # "good" is not a score

    _, model = fake_endpoint(capital)
    _, grader = judge_endpoint('{"score": 7, "explanation": "names a city"}')
    display = RecordingDisplay()
    run = lab.sweep(PROMPT, model, ROWS, evaluators=[picky, evals.judge("Right?", model=grader)], display=display)
    df = run.df
    assert display.progress is not None and display.progress.eval_errors == 1
    assert by_country(df, "eval_errors") == {"France": 0, "Italy": 0, "Spain": 1}
    assert "Score, a bool or a number, not str" in by_country(df, "eval_error_picky")["Spain"]
    assert set(df["explanation_judge:Right?"]) == {"names a city"}
    judge_ids = set(df["judge_trial_judge:Right?"])
    assert judge_ids == set(lab.trials(kind="judge")["trial_id"])  # each links the judge's own recorded call
    assert run.summary()["eval_errors"].tolist() == [1]
    assert lab.trials(experiment="default")["eval_errors"].sum() == 1


def test_run_compare_picks_two_variants_of_one_run(lab: pl.Lab) -> None:
    _, right = fake_endpoint(
        lambda m, _: f"The capital is {dict(CAPITALS, Spain='Madrid')[last_user(m)[11:-1]]}.", name="right"
    )
    _, wrong = fake_endpoint(capital, name="wrong")
    run = lab.sweep(PROMPT, [wrong, right], ROWS, evaluators=[evals.contains()], display=NullDisplay())
    default = run.compare("contains:expected")  # the run's two variants, in the order they ran
    assert (default.mean_a, default.mean_b) == (pytest.approx(2 / 3), 1.0)
    picked = run.compare("contains:expected", a="right", b="wrong")
    assert picked.difference == pytest.approx(-1 / 3) and picked.n == 3
    assert run.compare("contains:expected", a={"model": "wrong"}, b={"model": "right"}).difference > 0
    with pytest.raises(pl.ConfigError, match="picks 2 variants; this run's variants"):
        run.compare("contains:expected", a="capital", b="right")
    three = lab.sweep(
        [PROMPT, pl.Prompt("Capital city of {{ country }}?", name="city")],
        [wrong, right],
        ROWS,
        evaluators=[evals.contains()],
        display=NullDisplay(),
    )
    with pytest.raises(pl.ConfigError, match=r"has 4 variants.*pick two with a= and b="):
        three.compare("contains:expected")


def test_repeat_stability_is_on_the_run_the_lab_the_summary_and_the_report(lab: pl.Lab, tmp_path: Path) -> None:
    answers = iter(["A", "A", "B"] * 10)
    _, model = fake_endpoint(lambda messages, model: next(answers))
    run = lab.sweep(PROMPT, model, ROWS, repeats=3, cache=False, concurrency=1, display=NullDisplay())
    stable = run.stability()
    assert len(stable) == 3 and stable["agreement"].tolist() == [pytest.approx(2 / 3)] * 3
    assert lab.stability(run).equals(stable)
    assert run.summary()["repeat_agreement"].tolist() == [pytest.approx(2 / 3)]
    once = lab.sweep(PROMPT, model, ROWS, display=NullDisplay(), experiment="once")
    assert "repeat_agreement" not in once.summary()
    html = lab.report(tmp_path / "r.html", "default").read_text()
    assert "repeats agree" in html and "67%" in html
