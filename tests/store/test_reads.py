"""Reading the history: trial filters, experiments, runs, trial lookup by
prefix, the run's DataFrame and its per-variant summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest
from support.history import trial_row
from support.providers import ScriptedProvider
from support.stores import as_user
from support.team_history import TeamHistory

import promptlab as pl
from promptlab.errors import NotFoundError
from promptlab.providers import Completion, Request
from promptlab.runner.progress import NullDisplay
from promptlab.store import reads
from promptlab.testing import fake_model

pytestmark = pytest.mark.both_stores

DESIGN_COLUMNS = [
    "trial_id",
    "run_id",
    "experiment",
    "prompt_name",
    "prompt_version",
    "model",
    "params",
    "vars",
    "messages",
    "output",
    "error",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "cached",
    "repeat",
    "created_at",
    "user",
]
"""The columns DESIGN.md §4 promises on run.df and lab.trials()."""

GREET = pl.Prompt("Hello {{ name }}", name="greet")
SHOUT = pl.Prompt("Shout {{ words }}", name="shout")


@dataclass
class History:
    lab: pl.Lab
    alpha: pl.Run
    beta: pl.Run
    between: datetime
    """UTC, after alpha's trials and before beta's."""


@pytest.fixture
def history(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> History:
    """Two experiments by two people: alpha (ana, 3 trials, 1 error) then beta (lee, 2 trials)."""
    quiet = NullDisplay()
    first = lab
    lab = as_user(first, "ana", monkeypatch)
    alpha = lab.sweep(
        GREET,
        fake_model("echo", fail_if="Mallory"),
        [{"name": "Ana"}, {"name": "Warm Bob"}, {"name": "Mallory"}],
        experiment="alpha",
        description="greetings",
        tags=["smoke"],
        display=quiet,
    )
    between = datetime.now(UTC).replace(tzinfo=None)
    lab = as_user(first, "lee", monkeypatch)
    beta = lab.sweep(
        SHOUT, fake_model("upper"), [{"words": "quiet words"}, {"words": "50% off"}], experiment="beta", display=quiet
    )
    return History(lab, alpha, beta, between)


def outputs(frame: pd.DataFrame) -> list[str]:
    return sorted(str(o) for o in frame["output"])


def test_trials_filters(history: History) -> None:
    lab = history.lab
    assert len(lab.trials()) == 5
    assert len(lab.trials(experiment="alpha")) == 3
    assert outputs(lab.trials(prompt="shout")) == ["SHOUT 50% OFF", "SHOUT QUIET WORDS"]
    assert len(lab.trials(prompt_version=SHOUT.version[:6])) == 2
    assert len(lab.trials(model="upper")) == 2
    assert len(lab.trials(model="echo")) == 3
    assert len(lab.trials(run=history.alpha.run_id)) == 3
    assert len(lab.trials(run=history.beta)) == 2  # a Run works as well as its id
    assert len(lab.trials(user="lee")) == 2
    assert lab.trials(user="nobody").empty
    assert len(lab.trials(experiment="alpha", user="ana", errors=False)) == 2


def test_trials_since(history: History) -> None:
    lab, between = history.lab, history.between
    assert len(lab.trials(since=between)) == 2
    assert len(lab.trials(since=between.isoformat())) == 2
    aware = between.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=5)))
    assert len(lab.trials(since=aware)) == 2  # a zoned time is converted to UTC
    assert len(lab.trials(since=aware.isoformat())) == 2
    assert len(lab.trials(since=timedelta(hours=1))) == 5
    assert len(lab.trials(since=between - timedelta(days=1))) == 5
    assert lab.trials(since=datetime.now(UTC) + timedelta(minutes=1)).empty


def test_trials_search_inputs_and_outputs_in_any_case(history: History) -> None:
    lab = history.lab
    assert outputs(lab.trials(search="warm")) == ["Hello Warm Bob"]  # in the input, different case
    assert outputs(lab.trials(search="WARM BOB")) == ["Hello Warm Bob"]
    assert outputs(lab.trials(search="shout quiet")) == ["SHOUT QUIET WORDS"]  # only in the output
    assert outputs(lab.trials(search="50%")) == ["SHOUT 50% OFF"]  # % is literal
    assert lab.trials(search="50_").empty  # so is _
    assert lab.trials(search="no such text").empty


def test_search_looks_at_input_values_not_json(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> None:
    async def answer_ok(request: Request, text: str, attempt: int) -> Completion:
        return Completion(output="ok")

    provider = scripted(answer_ok)
    data = [{"text": 'say "hi"\nthen leave'}, {"text": "plain"}]
    lab.sweep(pl.Prompt("{{ text }}"), provider.model(), data, display=NullDisplay())
    assert len(lab.trials(search='say "hi"')) == 1  # quotes as typed, not as JSON escapes them
    assert len(lab.trials(search="then leave")) == 1
    assert lab.trials(search="text").empty  # a column name is not content


def test_trials_errors_and_limit(history: History) -> None:
    lab = history.lab
    failed = lab.trials(errors=True)
    assert list(failed["vars"]) == [{"name": "Mallory"}]
    assert failed.iloc[0]["error_type"] == "PermanentError"
    assert len(lab.trials(errors=False)) == 4
    oldest = lab.trials(limit=2)
    assert len(oldest) == 2
    assert set(oldest["experiment"]) == {"alpha"}  # oldest first
    assert list(lab.trials()["trial_id"])[:2] == list(oldest["trial_id"])
    newest = lab.trials(limit=2, newest_first=True)
    assert set(newest["experiment"]) == {"beta"}


def test_trials_are_oldest_first(history: History) -> None:
    created = list(history.lab.trials()["created_at"])
    assert created == sorted(created)


def test_experiments(history: History) -> None:
    frame = history.lab.experiments().set_index("experiment")
    assert list(frame.index) == ["beta", "alpha"]  # most recently active first
    assert frame.loc["alpha", "n_runs"] == 1
    assert frame.loc["alpha", "n_trials"] == 3
    assert frame.loc["alpha", "n_errors"] == 1
    assert list(frame.loc["alpha", "users"]) == ["ana"]
    assert frame.loc["alpha", "description"] == "greetings"
    assert frame.loc["alpha", "tags"] == ["smoke"]
    assert frame.loc["alpha", "created_by"] == "ana"
    assert frame.loc["beta", "n_trials"] == 2
    assert frame.loc["beta", "n_errors"] == 0


def test_experiment_description_and_tags_are_kept_by_later_runs(history: History) -> None:
    history.lab.sweep(GREET, fake_model("echo"), [{"name": "Zed"}], experiment="alpha", display=NullDisplay())
    frame = history.lab.experiments().set_index("experiment")
    assert frame.loc["alpha", "n_runs"] == 2
    assert frame.loc["alpha", "description"] == "greetings"
    assert frame.loc["alpha", "tags"] == ["smoke"]


def test_runs(history: History) -> None:
    runs = history.lab.runs()
    assert list(runs["run_id"]) == [history.beta.run_id, history.alpha.run_id]  # newest first
    alpha = runs.set_index("run_id").loc[history.alpha.run_id]
    assert (alpha["status"], alpha["n_cells"], alpha["n_trials"], alpha["n_errors"]) == ("done", 3, 3, 1)
    assert alpha["n_cached"] == 0
    assert alpha["user"] == "ana"
    assert alpha["config"]["prompts"][0]["name"] == "greet"
    assert list(history.lab.runs("beta")["run_id"]) == [history.beta.run_id]
    assert list(history.lab.runs(user="ana")["run_id"]) == [history.alpha.run_id]


def test_a_page_of_runs_sums_up_only_its_own_trials_and_matches_the_whole_list(team: TeamHistory) -> None:
    lab = team.lab()
    everything = lab.runs()
    assert len(everything) == 8  # seven sweeps and an app's logged calls
    pages = [lab.runs(limit=4), lab.runs(limit=4, offset=4)]
    paged = pd.concat(pages, ignore_index=True)
    pd.testing.assert_frame_equal(paged, everything)  # the same totals, read a page at a time
    done = lab.runs(status="done", limit=2, offset=1)
    assert list(done["run_id"]) == list(everything[everything["status"] == "done"]["run_id"][1:3])
    crashed = lab.runs(status="interrupted")  # a status only Python can work out (its process is gone)
    assert list(crashed["run_id"]) == [team.runs["crashed"]]
    light = lab.runs(model="flaky", totals=False)
    assert list(light.columns) == ["run_id", "user", "status"]
    assert list(light["run_id"]) == [team.runs["rag"], team.runs["sentiment"], team.runs["grid"]]
    assert lab.model_names() == ["echo", "flaky", "upper"]  # sweeps' models, not the judge's


def test_trial_by_prefix(history: History) -> None:
    lab = history.lab
    trial_id = str(history.beta.df.iloc[0]["trial_id"])
    trial = lab.trial(trial_id[:10])
    assert trial["trial_id"] == trial_id
    assert trial["run_id"] == history.beta.run_id
    assert isinstance(trial["vars"], dict)
    assert isinstance(trial["messages"], list)
    assert lab.trial(trial_id)["trial_id"] == trial_id


def test_trial_prefix_that_is_ambiguous_or_missing(history: History) -> None:
    with pytest.raises(NotFoundError, match="give more characters"):
        history.lab.trial("")
    with pytest.raises(NotFoundError, match="no trial"):
        history.lab.trial("not-a-trial-id")
    with pytest.raises(LookupError):  # NotFoundError is a LookupError too
        history.lab.trial("zzzz")


def test_run_by_prefix(history: History) -> None:
    run = history.lab.run(history.alpha.run_id[:8])
    assert run.run_id == history.alpha.run_id
    assert run.experiment == "alpha"
    with pytest.raises(NotFoundError):
        history.lab.run("no-such-run")


def test_run_df_has_the_documented_columns(history: History) -> None:
    df = history.alpha.df
    assert set(DESIGN_COLUMNS) <= set(df.columns)
    assert len(df) == 3
    row = df[df["output"] == "Hello Ana"].iloc[0]
    assert row["params"] == {"fail_if": "Mallory"}
    assert row["vars"] == {"name": "Ana"}
    assert row["messages"] == [{"role": "user", "content": "Hello Ana"}]
    assert row["user"] == "ana"
    assert row["repeat"] == 0
    assert not row["cached"]
    assert isinstance(row["created_at"], (datetime, pd.Timestamp))
    assert list(df.columns) == list(history.lab.trials().columns)  # one declaration of the columns


def test_summary_per_variant(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if "bad" in text:
            raise pl.errors.PermanentError("refused")
        return None

    provider = scripted(behave)
    unknown, priced = provider.model("unpriced"), provider.model("priced", price=(1.0, 2.0))
    data = [{"name": "a"}, {"name": "b"}, {"name": "bad"}]
    run = lab.sweep([GREET, pl.Prompt("Bye {{ name }}", name="bye")], [unknown, priced], data, display=NullDisplay())
    summary = run.summary()
    assert len(summary) == 4  # 2 prompts × 2 models
    assert set(zip(summary["prompt_name"], summary["model"], strict=True)) == {
        ("greet", "unpriced"),
        ("greet", "priced"),
        ("bye", "unpriced"),
        ("bye", "priced"),
    }
    assert (summary["n"] == 3).all()
    assert (summary["errors"] == 1).all()
    assert summary["error_rate"].tolist() == pytest.approx([1 / 3] * 4)
    assert (summary["latency_p50_ms"] >= 0).all()
    assert (summary["latency_p95_ms"] >= summary["latency_p50_ms"]).all()
    by_model = summary.set_index(["prompt_name", "model"])
    assert pd.isna(by_model.loc[("greet", "unpriced"), "cost_usd"])  # unknown, not 0
    # Two successes of "Hello a"/"Hello b": 2 prompt tokens and 3 completion tokens each.
    assert by_model.loc[("greet", "priced"), "cost_usd"] == pytest.approx(2 * (2 * 1.0 + 3 * 2.0) / 1e6)


def test_summary_of_a_fake_model_costs_nothing(lab: pl.Lab) -> None:
    run = lab.sweep(GREET, fake_model("echo"), [{"name": "a"}], display=NullDisplay())
    assert run.summary().iloc[0]["cost_usd"] == 0.0


@pytest.mark.file_only  # writes journal segments by hand
def test_the_cache_answers_with_each_keys_first_usable_trial_folded_or_journaled(lab: pl.Lab) -> None:
    """The lookup picks rows in two steps (the folded ones by rowid): its answer
    is still each key's oldest successful, paid-for trial, wherever it is."""

    def at(second: int, **values: object) -> dict[str, object]:
        return trial_row(created_at=f"2026-01-01T00:00:{second:02d}", **values)

    folded_first = at(10, cache_key="both", output="folded, older")
    lab.store.append(
        {
            "trials": [
                folded_first,
                at(20, cache_key="journal wins", output="folded, newer"),
                at(5, cache_key="failed", output=None, error="boom", error_type="TransientError"),
                at(6, cache_key="cached", output="a cached answer", cached=True),
                at(30, cache_key="failed", output="the answer after the failure"),
            ]
        }
    )
    lab.fold()
    lab.store.append(
        {
            "trials": [
                at(12, cache_key="both", output="journal, newer"),
                at(15, cache_key="journal wins", output="journal, older"),
                at(40, cache_key="journal only", output="only here"),
                folded_first,  # folded just now and not yet deleted from the journal
            ]
        }
    )
    keys = ["both", "journal wins", "failed", "cached", "journal only", "nowhere"]
    found = {key: row["output"] for key, row in reads.cached_responses(lab.store, keys).items()}
    assert found == {
        "both": "folded, older",
        "journal wins": "journal, older",
        "failed": "the answer after the failure",
        "journal only": "only here",
    }
    assert reads.cached_responses(lab.store, keys)["both"]["trial_id"] == folded_first["trial_id"]
