"""Online evaluation (``promptlab/runner/online.py``): ``lab.evaluate(source="production")``
scores a stable sample of the calls apps logged, filtered by time, prompt,
label and app, and a rerun scores none of them twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.providers import ScriptedProvider

import promptlab as pl
from promptlab import evals
from promptlab.errors import ConfigError
from promptlab.providers import Completion, Request
from promptlab.runner.online import in_sample, select_production

SUPPORT = pl.Prompt([{"role": "user", "content": "{{ question }}"}], name="support")
OTHER = pl.Prompt([{"role": "user", "content": "Summarise: {{ question }}"}], name="summary")
CHECK = evals.icontains("expected")


def log_calls(
    lab: pl.Lab, n: int, *, app: str = "app", label: str = "production", prompt: pl.Prompt = SUPPORT
) -> list[str]:
    """Log ``n`` answered calls the way an application does; their trial ids."""
    log = pl.logger(str(lab.path), source=app)
    served = prompt.labelled(label)
    ids = [
        log.record(served, {"question": f"q{i}", "expected": "yes"}, f"yes, {i}", model="gpt-4o-mini") for i in range(n)
    ]
    log.close()
    lab.fold()
    return ids


@pytest.fixture
def lab(tmp_path: Path) -> pl.Lab:
    return pl.Lab(tmp_path / "h.duckdb")


def test_the_sample_is_a_stable_fraction_picked_by_seed(lab: pl.Lab) -> None:
    logged = log_calls(lab, 400)
    first = select_production(lab.store, [CHECK], sample=0.25, seed=3)
    again = select_production(lab.store, [CHECK], sample=0.25, seed=3)
    other = select_production(lab.store, [CHECK], sample=0.25, seed=4)
    chosen = set(first.trials["trial_id"])
    assert 60 <= len(chosen) <= 140  # binomial(400, 0.25): 100 ± 4.6 sd
    assert first.matched == 400 and first.sampled == len(chosen)
    assert chosen == set(again.trials["trial_id"]) and chosen <= set(logged)
    assert chosen != set(other.trials["trial_id"])
    assert chosen == {t for t in logged if in_sample(t, 0.25, 3)}
    assert len(select_production(lab.store, [CHECK], sample=1).trials) == 400

    scored = lab.evaluate(source="production", evaluators=[CHECK], sample=0.25, seed=3)
    assert set(scored["trial_id"]) == chosen
    assert (scored["kind"] == "production").all() and (scored["score_icontains:expected"] == 1.0).all()


def test_filters_by_time_prompt_label_and_app(lab: pl.Lab) -> None:
    early = log_calls(lab, 4, app="web", label="production")
    time.sleep(0.05)
    cut = datetime.now(UTC)
    time.sleep(0.05)
    staging = log_calls(lab, 3, app="web", label="staging")
    mobile = log_calls(lab, 2, app="mobile", label="production")
    summaries = log_calls(lab, 5, app="web", prompt=OTHER)

    def chosen(**selection: object) -> set[str]:
        found = select_production(lab.store, [CHECK], unscored_only=False, **selection)  # type: ignore[arg-type]
        return set(found.trials["trial_id"])

    assert chosen() == {*early, *staging, *mobile, *summaries}
    assert chosen(since=cut) == {*staging, *mobile, *summaries}
    assert chosen(until=cut) == set(early)
    assert chosen(since=cut.isoformat(), label="production") == {*mobile, *summaries}
    assert chosen(app="mobile") == set(mobile)
    assert chosen(prompt="support", app="web") == {*early, *staging}
    assert chosen(prompt="support", label="staging", app="mobile") == set()
    scored = lab.evaluate(source="production", evaluators=[CHECK], since=timedelta(hours=1), app="mobile")
    assert set(scored["trial_id"]) == set(mobile)


def test_a_second_run_scores_none_of_the_same_calls(lab: pl.Lab) -> None:
    logged = log_calls(lab, 40)
    first = lab.evaluate(source="production", evaluators=[CHECK], sample=0.5)
    assert 0 < len(first) < 40
    again = lab.evaluate(source="production", evaluators=[CHECK], sample=0.5)
    assert again.empty
    rest = lab.evaluate(source="production", evaluators=[CHECK])  # the whole window now: only the others
    assert set(rest["trial_id"]) == set(logged) - set(first["trial_id"])
    assert lab.trials(kind="production")["score_icontains:expected"].notna().all()

    # another evaluator hasn't scored them: each is new to it
    longer = evals.max_length(3)
    assert len(lab.evaluate(source="production", evaluators=[CHECK, longer])) == 40
    assert lab.evaluate(source="production", evaluators=[longer]).empty  # an evaluator's failed checks count
    assert len(lab.evaluate(source="production", evaluators=[CHECK], unscored_only=False)) == 40


def test_a_calls_evaluator_error_counts_as_its_verdict(lab: pl.Lab) -> None:
    log_calls(lab, 3)
    needs = evals.contains("missing_column")
    scored = lab.evaluate(source="production", evaluators=[evals.code(lambda trial: 1 / 0, label="broken")])
    assert scored["eval_error_broken"].notna().all() and len(scored) == 3
    assert lab.evaluate(source="production", evaluators=[evals.code(lambda trial: 1 / 0, label="broken")]).empty
    with pytest.raises(ConfigError, match="missing_column"):  # as for any target: before any call
        lab.evaluate(source="production", evaluators=[needs])


def grading(score: int) -> Callable[[Request, str, int], object]:
    async def behave(request: Request, text: str, attempt: int) -> Completion:
        return Completion(output=f'{{"score": {score}, "explanation": "fine"}}', finish_reason="stop")

    return behave


def test_a_judges_calls_are_recorded_as_judge_trials(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> None:
    logged = log_calls(lab, 6)
    provider = scripted(grading(8))
    judge = evals.judge("Does it answer the question?", model=provider.model(), label="answers")
    scored = lab.evaluate(source="production", evaluators=[judge], sample=1.0)
    assert set(scored["trial_id"]) == set(logged) and (scored["score_answers"] == 0.8).all()
    assert provider.calls == 6
    lab.fold()
    judged = lab.trials(kind="judge")
    assert len(judged) == 6 and set(judged["trial_id"]) == set(scored["judge_trial_answers"])
    assert set(judged["run_id"]) == set(lab.trials(kind="production")["run_id"])  # in the logger's run

    assert lab.evaluate(source="production", evaluators=[judge]).empty
    assert provider.calls == 6  # nothing asked twice


@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        (None, {"source": "production", "sample": 0}, "above 0 and at most 1"),
        (None, {"source": "production", "sample": 1.5}, "above 0 and at most 1"),
        (None, {"source": "production", "sample": "10%"}, "above 0 and at most 1"),
        (None, {"source": "logs"}, "give source='production'"),
        (None, {}, "Give a target"),
        (None, {"since": "1d"}, "Give a target"),
        ("run-id", {"source": "production"}, "leave out the target"),
        ("run-id", {"since": timedelta(days=1)}, "since= would be ignored"),
    ],
)
def test_bad_input_says_what_to_do(lab: pl.Lab, target: str | None, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        lab.evaluate(target, [CHECK], **options)  # type: ignore[arg-type]


def test_production_needs_evaluators(lab: pl.Lab) -> None:
    with pytest.raises(ConfigError, match="evaluators"):
        lab.evaluate(source="production")


def test_a_target_is_scored_as_before(lab: pl.Lab, scripted: Callable[..., ScriptedProvider], quiet: object) -> None:
    provider = scripted()
    run = lab.sweep(SUPPORT, provider.model(), [{"question": "expected?", "expected": "expected"}], display=quiet)
    scored = lab.evaluate(run, [CHECK], source="sweep", concurrency=2, cache=False)
    assert list(scored["score_icontains:expected"]) == [1.0]
