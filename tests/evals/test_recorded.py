"""What evaluators' scores mean (``promptlab/evals/protocol.py``'s ``Meaning``,
``promptlab/evals/recorded.py``): declared by each built-in, said by the user
for ``code``, read back from a stored history, and used by the comparisons."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from support.team_history import JUDGE_LABEL, TeamHistory

import promptlab as pl
from promptlab import evals
from promptlab.evals import Meaning
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider

pytestmark = pytest.mark.both_stores

CHECK, SCORE = Meaning(higher_is_better=True, is_check=True), Meaning()


def length(output: str, row: Mapping[str, Any]) -> float:
    """A lower-is-better measure: the output's characters."""
    return float(len(output))


def model_answering(respond: Any) -> pl.Model:
    """A model on a FakeProvider registered under a fresh name."""
    name = f"fake-{uuid.uuid4().hex[:10]}"
    pl.register_provider(name, FakeProvider(respond))
    return pl.Model("m", provider=name)


def last_user(messages: Sequence[Mapping[str, str]], model: pl.Model) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def wordy(messages: Sequence[Mapping[str, str]], model: pl.Model) -> str:
    """Short answers to the terse prompt; answers twice as long as allowed (10 words) to the wordy one."""
    text = last_user(messages, model)
    return " ".join(["word"] * (20 if text.startswith("Ramble") else 6))


TERSE = pl.Prompt("Briefly: {{ q }}", name="answer")
WORDY = pl.Prompt("Ramble on: {{ q }}", name="answer")
ROWS = [{"q": f"question {i}"} for i in range(12)]


def test_builtins_declare_what_their_scores_mean() -> None:
    for check in (evals.contains(), evals.exact(), evals.one_of(["a", "b"]), evals.max_length(10), evals.json_valid()):
        assert evals.meaning_of(check) == CHECK, check
    assert evals.meaning_of(evals.word_count(30)) == Meaning(higher_is_better=False, is_check=True)
    assert evals.meaning_of(evals.similarity(threshold=0.5)) == SCORE, "a threshold gives a pass, not a check"
    assert evals.meaning_of(evals.judge("Is it kind?", model=pl.Model("grader"), threshold=0.5)) == SCORE
    assert evals.meaning_of(evals.code(length)) == SCORE


def test_code_records_what_the_user_says_it_means() -> None:
    plain, lower = evals.code(length), evals.code(length, higher_is_better=False, is_check=True)
    assert plain.args == {"function": f"{__name__}:length"}, "defaults leave the recorded arguments as they were"
    assert lower.args == {"function": f"{__name__}:length", "higher_is_better": False, "is_check": True}
    assert evals.meaning("code", lower.args) == Meaning(higher_is_better=False, is_check=True)
    assert evals.meaning_of(lower) == evals.meaning("code", lower.args)


def test_an_unknown_evaluator_counts_as_a_score_higher_better() -> None:
    assert evals.meaning("someone_elses", {"x": 1}) == SCORE
    assert evals.meaning(None) == SCORE
    assert Meaning(is_check=True).compared() == (True, "passed")
    assert Meaning(is_check=True).compared(higher_is_better=False) == (False, "score"), "the caller means the values"
    assert Meaning(higher_is_better=False).compared(on="passed") == (False, "passed")


def test_a_word_count_check_twice_too_long_compares_worse(lab: pl.Lab) -> None:
    model = model_answering(wordy)
    checks = [evals.word_count(10)]
    terse = lab.sweep(TERSE, model, ROWS, evaluators=checks, display=NullDisplay())
    rambling = lab.sweep(WORDY, model, ROWS, evaluators=checks, display=NullDisplay())

    assert lab.meanings(rambling) == {"word_count:10": Meaning(higher_is_better=False, is_check=True)}
    result = lab.compare(terse, rambling, "word_count:10")
    assert result.on == "passed" and result.clearly_worse and not result.clearly_better
    assert result.verdict.startswith("B is worse than A on word_count:10 (pass/fail): B passes 0 of 12 inputs, A 12")
    explicit = lab.compare(terse, rambling, "word_count:10", higher_is_better=True)
    assert explicit.on == "score" and explicit.clearly_better, "an explicit direction wins (here, a wrong one)"
    changes = lab.diff_runs(terse, rambling, metric="word_count:10")
    assert set(changes["change"]) == {"regression"} and len(changes) == 12


def test_a_lower_is_better_code_evaluator_calls_the_shorter_side_better(lab: pl.Lab) -> None:
    model = model_answering(wordy)
    shortest = [evals.code(length, higher_is_better=False)]
    both = lab.sweep([WORDY, TERSE], model, ROWS, evaluators=shortest, display=NullDisplay())

    assert both.meanings() == {"length": Meaning(higher_is_better=False)}
    result = both.compare("length")  # B (terse) against A (wordy), in the order they ran
    assert result.on == "score" and not result.higher_is_better and result.clearly_better
    assert result.verdict.startswith("B is better than A on length (lower is better): B wins on 12 of 12 inputs")
    assert both.compare("length", higher_is_better=True).clearly_worse
    trials = both.df
    wordy_trials, terse_trials = (trials[trials["prompt_version"] == p.version] for p in (WORDY, TERSE))
    assert set(lab.diff_runs(wordy_trials, terse_trials, "length")["change"]) == {"fix"}, "shorter is a fix"


def test_meanings_read_back_from_a_teams_history(team: TeamHistory) -> None:
    lab = team.lab()
    grid = lab.meanings(team.runs["grid"])
    assert grid == {"contains:expected": CHECK, JUDGE_LABEL: SCORE, "short_enough": SCORE}
    assert lab.meanings(team.runs["sentiment"]) == {"one_of": CHECK}
    trial_ids = list(lab.run(team.runs["grid"]).df["trial_id"])
    assert evals.recorded_meanings(lab.store, trial_ids) == grid
    assert evals.recorded_meanings(lab.store, []) == {}


def test_a_teams_version_diff_weighs_a_check_on_its_passes(team: TeamHistory) -> None:
    lab = team.lab()
    versions = lab.prompt_versions("summarize")["version"].tolist()
    scores = lab.prompt_diff("summarize", versions[0], versions[-1]).scores
    verdict = scores.loc[scores["evaluator"] == "contains:expected", "verdict"].iloc[0]
    # the team ran these versions on different models: no shared input, but compared on passes all the same
    assert verdict == "no inputs in common where both passed or failed to compare on contains:expected"
