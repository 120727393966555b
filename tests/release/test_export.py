"""Exports: trials as CSV / Parquet / JSONL, OpenAI chat fine-tuning sets, DPO
preference pairs, and the ``promptlab export`` commands; every file is read
back and checked, on the fake provider and a history file of the test's own."""

from __future__ import annotations

import json
import os
import re
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from support.stores import as_user

import promptlab as pl
from promptlab import cli
from promptlab.errors import ConfigError, ExportError
from promptlab.release import export, finetune, preferences
from promptlab.testing import FakeProvider, fake_model

pytestmark = pytest.mark.both_stores

CHAT = pl.Prompt(
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Say {{ text }}"}], name="say"
)
PLAIN = pl.Prompt("Repeat: {{ text }}", name="say")


def rows(n: int, *, hit: int = 4) -> list[dict[str, str]]:
    """``n`` inputs; every ``hit``-th one's expected text is absent from the echo."""
    return [{"text": f"item {i}", "expected": "nope" if i % hit == 0 else f"item {i}"} for i in range(n)]


def record(
    lab: pl.Lab,
    data: Sequence[Mapping[str, Any]],
    *,
    prompts: Sequence[pl.Prompt] = (CHAT,),
    models: Sequence[pl.Model] | None = None,
    experiment: str = "exp",
) -> pl.Run:
    run = lab.sweep(
        prompts=list(prompts),
        models=list(models or [fake_model("echo")]),
        data=list(data),
        experiment=experiment,
        display=None,
    )
    lab.evaluate(run, [pl.evals.contains("expected")])
    return run


def sql(query: str) -> duckdb.DuckDBPyRelation:
    """``duckdb.sql`` for a query that returns rows."""
    relation = duckdb.sql(query)
    assert relation is not None
    return relation


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def assert_openai_chat(example: Mapping[str, Any]) -> None:
    """One line of an OpenAI chat fine-tuning file, checked field by field."""
    assert set(example) == {"messages"}
    messages = example["messages"]
    assert isinstance(messages, list) and len(messages) >= 2
    for message in messages:
        assert set(message) == {"role", "content"}
        assert message["role"] in ("system", "user", "assistant")
        assert isinstance(message["content"], str) and message["content"].strip()
    assert messages[-1]["role"] == "assistant"
    assert any(m["role"] == "user" for m in messages)


def assert_openai_dpo(pair: Mapping[str, Any]) -> None:
    """One line of an OpenAI DPO file."""
    assert set(pair) == {"input", "preferred_output", "non_preferred_output"}
    assert set(pair["input"]) == {"messages"}
    for message in pair["input"]["messages"]:
        assert message["role"] in ("system", "user", "assistant") and message["content"].strip()
    for side in ("preferred_output", "non_preferred_output"):
        assert len(pair[side]) == 1 and pair[side][0]["role"] == "assistant" and pair[side][0]["content"].strip()
    assert pair["preferred_output"][0]["content"] != pair["non_preferred_output"][0]["content"]


def answers(examples: Sequence[Mapping[str, Any]]) -> list[str]:
    return [e["messages"][-1]["content"] for e in examples]


def by_row(lab: pl.Lab) -> pd.DataFrame:
    """The trials in input order (concurrent calls may finish in any order)."""
    return lab.trials().sort_values(["row_index", "model"], kind="stable").reset_index(drop=True)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def voter(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str, str], None]:
    """``vote(user, trial_id, vote)``: ``user`` votes, as that teammate (their own login on a server)."""
    labs: dict[str, pl.Lab] = {}

    def vote(user: str, trial_id: str, given: str) -> None:
        teammate = labs[user] if user in labs else labs.setdefault(user, as_user(lab, user, monkeypatch))
        monkeypatch.setenv("PROMPTLAB_USER", user)
        teammate.feedback(trial_id, vote=given)

    return vote


# -- trials as tables ------------------------------------------------------------------


def test_trials_csv_round_trips_through_pandas(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(6))
    trials = lab.trials()
    path = lab.export_trials(tmp_path / "out" / "trials.csv", experiment="exp", mkdir=True)
    back = pd.read_csv(path)
    assert list(back.columns) == list(trials.columns)
    assert len(back) == len(trials) == 6
    assert [json.loads(m) for m in back["messages"]] == list(trials["messages"])
    assert [json.loads(v) for v in back["vars"]] == list(trials["vars"])
    assert [json.loads(p) for p in back["params"]] == [{}] * 6
    assert list(back["output"]) == list(trials["output"])
    assert list(back["score_contains:expected"]) == list(trials["score_contains:expected"])
    assert leftovers(path.parent) == []


def test_trials_parquet_reads_back_in_duckdb_with_json_text(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(5))
    path = lab.export_trials(tmp_path / "trials.parquet")
    back = sql(f"SELECT * FROM read_parquet('{path}')").df()
    assert len(back) == 5
    assert set(lab.trials().columns) == set(back.columns)
    roles = sql(
        f"SELECT json_extract_string(messages, '$[0].role') AS first, vars->>'$.text' AS text "
        f"FROM read_parquet('{path}') ORDER BY row_index"
    ).fetchall()
    assert roles == [("system", f"item {i}") for i in range(5)]
    assert back["votes_up"].tolist() == [0] * 5


def test_trials_jsonl_keeps_nested_values(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(4))
    path = lab.export_trials(tmp_path / "trials.jsonl")
    lines = sorted(read_jsonl(path), key=lambda line: line["row_index"])
    assert len(lines) == 4
    first = lines[0]
    assert first["messages"][1] == {"role": "user", "content": "Say item 0"}
    assert first["vars"] == {"text": "item 0", "expected": "nope"}
    assert first["params"] == {}
    assert first["score_contains:expected"] == 0.0 and first["passed_contains:expected"] is False
    assert isinstance(first["created_at"], str) and first["error"] is None


def test_format_argument_beats_the_suffix_and_unknown_formats_are_refused(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(3))
    path = lab.export_trials(tmp_path / "trials.txt", format="jsonl")
    assert len(read_jsonl(path)) == 3
    with pytest.raises(ExportError, match=r"\.csv.*\.jsonl.*\.parquet"):
        lab.export_trials(tmp_path / "trials.xlsx")
    with pytest.raises(ExportError, match="unknown format 'xml'"):
        export.export_trials(lab.trials(), tmp_path / "t.csv", format="xml")
    assert not (tmp_path / "trials.xlsx").exists() and not (tmp_path / "t.csv").exists()


def test_export_error_is_a_config_error() -> None:
    assert issubclass(ExportError, ConfigError)


# -- fine-tuning sets --------------------------------------------------------------------


def test_finetune_file_is_openai_chat_format(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(60))
    written = lab.export_finetune(tmp_path / "train.jsonl", experiment="exp")
    lines = read_jsonl(tmp_path / "train.jsonl")
    assert written.n_train == len(lines) == 60 and written.validation_path is None
    for line in lines:
        assert_openai_chat(line)
    assert {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Say item 3"},
            {"role": "assistant", "content": "Say item 3"},
        ]
    } in lines


def test_min_score_keeps_trials_at_or_above_it(lab: pl.Lab) -> None:
    record(lab, rows(20))
    trials = by_row(lab)
    kept = finetune.finetune_examples(trials, evaluator="contains:expected", min_score=1.0)
    assert answers(kept) == [f"Say item {i}" for i in range(20) if i % 4]
    # one evaluator scored the trials: it is the one min_score reads
    assert finetune.finetune_examples(trials, min_score=1.0) == kept
    # the score_ prefix is accepted too
    assert finetune.finetune_examples(trials, evaluator="score_contains:expected", min_score=1.0) == kept


def test_min_score_names_the_evaluators_when_it_cannot_choose(lab: pl.Lab, tmp_path: Path) -> None:
    run = record(lab, rows(12))
    with pytest.raises(ExportError, match=r"no column 'score_judge'.*contains:expected"):
        finetune.finetune_examples(lab.trials(), evaluator="judge", min_score=0.5)
    lab.evaluate(run, [pl.evals.max_length(5)])
    with pytest.raises(ExportError, match=r"evaluator=.*contains:expected, max_length:5"):
        lab.export_finetune(tmp_path / "train.jsonl", min_score=0.5)
    assert not (tmp_path / "train.jsonl").exists()
    assert len(finetune.finetune_examples(lab.trials(), evaluator="max_length:5", min_score=0.5)) == 0


def test_vote_up_keeps_net_up_voted_and_any_keeps_any_up_vote(lab: pl.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    record(lab, rows(6))
    ids = list(by_row(lab)["trial_id"])
    lab.feedback(ids[0], vote="up")
    vote = voter(lab, monkeypatch)
    vote("ana", ids[1], "up")
    vote("bo", ids[1], "down")  # net 0
    vote("bo", ids[2], "down")
    vote("ana", ids[3], "up")
    vote("bo", ids[3], "up")
    trials = by_row(lab)
    assert answers(finetune.finetune_examples(trials, vote="up")) == ["Say item 0", "Say item 3"]
    assert answers(finetune.finetune_examples(trials, vote="any")) == ["Say item 0", "Say item 1", "Say item 3"]
    with pytest.raises(ExportError, match="vote must be"):
        finetune.finetune_examples(trials, vote="down")  # type: ignore[arg-type]


def test_one_reviewer_pressing_up_twice_then_down_is_a_down_vote_for_exports(
    lab: pl.Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(lab, rows(6))
    ids = list(by_row(lab)["trial_id"])
    vote = voter(lab, monkeypatch)
    for given in ("up", "up", "down"):  # u, u, d in Review
        vote("ana", ids[0], given)
    vote("ana", ids[1], "up")
    vote("ana", ids[1], "up")
    vote("bo", ids[2], "down")
    vote("ana", ids[2], "up")
    trials = by_row(lab)
    assert answers(finetune.finetune_examples(trials, vote="up")) == ["Say item 1"]
    assert answers(finetune.finetune_examples(trials, vote="any")) == ["Say item 1", "Say item 2"]
    pairs = preferences.preference_pairs(trials, feedback=lab.feedback_for())
    preferred = {pair["preferred_output"][0]["content"] for pair in pairs}
    assert "Say item 0" not in preferred  # ana's current vote on it is down


def test_corrections_replace_outputs_and_pass_the_filters_that_judged_the_original(lab: pl.Lab) -> None:
    record(lab, rows(8))
    ids = list(by_row(lab)["trial_id"])
    lab.feedback(ids[0], correction="item 0, corrected")  # scored 0 (expected "nope"), never voted
    lab.feedback(ids[1], vote="down", correction="item 1, corrected")
    lab.feedback(ids[2], vote="up")
    trials = by_row(lab)
    assert answers(finetune.finetune_examples(trials, min_score=1.0, vote="up")) == [
        "item 0, corrected",
        "item 1, corrected",
        "Say item 2",
    ]
    everything = answers(finetune.finetune_examples(trials))
    assert everything[:3] == ["item 0, corrected", "item 1, corrected", "Say item 2"]
    originals = answers(finetune.finetune_examples(trials, use_corrections=False))
    assert originals[:2] == ["Say item 0", "Say item 1"]
    assert "item 0, corrected" not in originals


def test_failed_calls_are_left_out(lab: pl.Lab) -> None:
    record(lab, rows(6), models=[fake_model("echo", fail_if="item 2")])
    trials = lab.trials()
    assert trials["error_type"].notna().sum() == 1
    assert "Say item 2" not in answers(finetune.finetune_examples(trials))
    assert len(finetune.finetune_examples(trials)) == 5
    # without the filter a failed call still has no answer to learn from
    assert len(finetune.finetune_examples(trials, exclude_errors=False)) == 5


def test_dedupe_keeps_one_example_per_input_the_best_one(lab: pl.Lab) -> None:
    record(lab, rows(4, hit=2), prompts=[CHAT, PLAIN], models=[fake_model("echo"), fake_model("upper")])
    trials = lab.trials()
    assert len(trials) == 16
    examples = finetune.finetune_examples(trials)
    assert len(examples) == 4

    def answer_for(examples: list[dict[str, Any]], item: str) -> str:
        (found,) = [a for a in answers(examples) if a.lower().endswith(item)]
        return found

    # on the odd inputs echo contains the expected text (score 1), upper doesn't (score 0): echo wins
    assert answer_for(examples, "item 1") in ("Say item 1", "Repeat: item 1")
    assert answer_for(examples, "item 3") in ("Say item 3", "Repeat: item 3")
    # where the scores are equal, or absent, up-votes decide
    loud = trials[(trials["model"] == "upper") & (trials["vars"].map(lambda v: v["text"]) == "item 1")].iloc[0]
    lab.feedback(loud["trial_id"], vote="up")
    unscored = lab.trials().drop(columns=["score_contains:expected", "passed_contains:expected"])
    assert answer_for(finetune.finetune_examples(unscored), "item 1") == loud["output"]
    assert answer_for(finetune.finetune_examples(lab.trials()), "item 1") in ("Say item 1", "Repeat: item 1")
    assert len(finetune.finetune_examples(trials, dedupe_inputs=False)) == 16


def test_validation_split_is_deterministic_and_complete(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(60))
    first = lab.export_finetune(tmp_path / "a" / "train.jsonl", validation_split=0.1, seed=7, mkdir=True)
    lab.export_finetune(tmp_path / "b" / "train.jsonl", validation_split=0.1, seed=7, mkdir=True)
    lab.export_finetune(tmp_path / "c" / "train.jsonl", validation_split=0.1, seed=8, mkdir=True)
    assert (first.n_train, first.n_validation) == (54, 6)
    assert first.validation_path == tmp_path / "a" / "train.val.jsonl"
    for name in ("train.jsonl", "train.val.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "train.val.jsonl").read_bytes() != (tmp_path / "c" / "train.val.jsonl").read_bytes()
    train, held_out = read_jsonl(first.path), read_jsonl(tmp_path / "a" / "train.val.jsonl")
    every = read_jsonl(lab.export_finetune(tmp_path / "all.jsonl").path)
    assert sorted(map(json.dumps, train + held_out)) == sorted(map(json.dumps, every))
    assert not {json.dumps(e) for e in train} & {json.dumps(e) for e in held_out}
    for line in held_out:
        assert_openai_chat(line)
    # the same examples in another order split the same way
    shuffled = lab.trials().sample(frac=1.0, random_state=3)
    reordered = finetune.export_finetune(
        shuffled, tmp_path / "d" / "train.jsonl", validation_split=0.1, seed=7, mkdir=True
    )
    assert sorted(map(json.dumps, read_jsonl(reordered.validation_path or Path()))) == sorted(map(json.dumps, held_out))


def test_fewer_than_ten_examples_is_an_error_and_nothing_is_written(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(12))
    target = tmp_path / "train.jsonl"
    target.write_text("the previous export\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"only 9 examples; fine-tuning needs at least 10.*min_score=1\.0.*: 3"):
        lab.export_finetune(target, min_score=1.0)
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    for trial_id in lab.trials()["trial_id"][:6]:
        lab.feedback(trial_id, vote="up")
    with pytest.raises(ExportError, match=r"only 6 examples.*vote='up': 6"):
        lab.export_finetune(tmp_path / "voted.jsonl", vote="up")
    with (
        pytest.warns(UserWarning, match="only 12 examples"),
        pytest.raises(
            ExportError, match=r"only 8 training examples after the validation split.*validation_split=0\.3: 4"
        ),
    ):
        lab.export_finetune(tmp_path / "split.jsonl", validation_split=0.3)
    with pytest.raises(ExportError, match="no trials to make examples from"):
        lab.export_finetune(tmp_path / "none.jsonl", experiment="no such experiment")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".jsonl", ".tmp")) == ["train.jsonl"]


def test_fewer_than_fifty_examples_warns(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(12))
    with pytest.warns(UserWarning, match="only 12 examples.*at least 50"):
        written = lab.export_finetune(tmp_path / "train.jsonl")
    assert written.n_train == 12
    record(lab, rows(60), experiment="big")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        lab.export_finetune(tmp_path / "big.jsonl", experiment="big")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({}, "no messages list"),
        ({"messages": []}, "no messages list"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "last message is 'user'"),
        ({"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]}, "role 'robot'"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]}, "no text"),
        ({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]}, "no text"),
        ({"messages": [{"role": "user", "content": "a", "tool": 1}, {"role": "assistant", "content": "x"}]}, "keys"),
        ({"messages": ["hi", {"role": "assistant", "content": "x"}]}, "message 0: a message is str"),
    ],
)
def test_validate_chat_examples_names_the_first_bad_one(bad: dict[str, Any], problem: str) -> None:
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    examples = [good] * 3 + [bad] + [good] * 60
    with pytest.raises(ExportError, match=rf"example 3 is malformed: .*{re.escape(problem)}"):
        finetune.validate_chat_examples(examples)
    finetune.validate_chat_examples([good] * 60)


# -- preference pairs ---------------------------------------------------------------------


def judge_prefers_capitals(messages: Sequence[Mapping[str, str]], model: pl.Model) -> str:
    """A pairwise judge that prefers the response with more capital letters, and calls
    it a tie when they have as many, or when the input is 'item 0'."""
    prompt = messages[-1]["content"]
    a, b = prompt.split("Response A:\n", 1)[1].split("\n\nWhich response", 1)[0].split("\n\nResponse B:\n", 1)
    louder = sum(c.isupper() for c in a) - sum(c.isupper() for c in b)
    if "item 0" in a.lower() or louder == 0:
        return '{"winner": "tie", "explanation": "as loud"}'
    return '{"winner": "A", "explanation": "louder"}' if louder > 0 else '{"winner": "B", "explanation": "louder"}'


@pytest.fixture
def loud_judge() -> Any:
    name = f"judge-{uuid.uuid4().hex[:8]}"
    pl.register_provider(name, FakeProvider(judge_prefers_capitals))
    return pl.evals.pairwise_judge("Which is louder?", model=pl.Model("loud", provider=name))


def test_pairs_from_pairwise_judge_verdicts_skip_ties(lab: pl.Lab, loud_judge: Any, tmp_path: Path) -> None:
    record(lab, rows(12), models=[fake_model("echo"), fake_model("upper")])
    trials = lab.trials()
    verdicts = lab.compare_pairwise(trials[trials["model"] == "echo"], trials[trials["model"] == "upper"], loud_judge)
    assert (verdicts["winner"] == "b").sum() == 11 and (verdicts["winner"] == "tie").sum() == 1
    with pytest.warns(UserWarning, match="only 11 preference pairs"):
        written = lab.export_preferences(tmp_path / "dpo.jsonl", experiment="exp")
    pairs = read_jsonl(written.path)
    assert written.n_train == len(pairs) == 11
    for pair in pairs:
        assert_openai_dpo(pair)
        assert pair["preferred_output"][0]["content"].isupper()
        assert pair["preferred_output"][0]["content"] == pair["non_preferred_output"][0]["content"].upper()
    (first,) = [p for p in pairs if p["preferred_output"][0]["content"] == "SAY ITEM 1"]
    assert first["input"]["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Say item 1"},
    ]
    assert not any("item 0" in json.dumps(p) for p in pairs)


def test_pairs_from_votes_and_corrections(lab: pl.Lab) -> None:
    record(lab, rows(3), models=[fake_model("echo"), fake_model("upper")])
    trials = lab.trials()
    echo, upper = (
        {int(row["row_index"]): str(row["trial_id"]) for _, row in trials[trials["model"] == m].iterrows()}
        for m in ("echo", "upper")
    )
    lab.feedback(echo[0], vote="up")
    lab.feedback(upper[0], vote="down")
    lab.feedback(echo[1], correction="Item one.")
    lab.feedback(upper[2], vote="down")  # nothing up-voted for item 2: no pair
    pairs = preferences.preference_pairs(lab.trials())
    as_tuples = [
        (
            p["input"]["messages"][-1]["content"],
            p["preferred_output"][0]["content"],
            p["non_preferred_output"][0]["content"],
        )
        for p in pairs
    ]
    assert as_tuples == [
        ("Say item 1", "Item one.", "Say item 1"),  # the correction over the output it corrects
        ("Say item 0", "Say item 0", "SAY ITEM 0"),  # up-voted over down-voted, same messages
    ]
    # the same verdicts from feedback rows
    assert preferences.preference_pairs(lab.trials(), feedback=lab.feedback_for()) == pairs


def test_pairs_never_contradict_a_stronger_verdict(lab: pl.Lab) -> None:
    record(lab, rows(2), models=[fake_model("echo"), fake_model("upper")])
    trials = lab.trials()
    first = trials[trials["row_index"] == 0]
    echo_id, upper_id = (first.loc[first["model"] == m, "trial_id"].iloc[0] for m in ("echo", "upper"))
    lab.feedback(echo_id, vote="up")
    lab.feedback(upper_id, vote="down")
    judge_says_upper = pd.DataFrame(
        [
            {
                "trial_id": upper_id,
                "label": "win",
                "args": json.dumps({"opponent": echo_id}),
                "evaluator_name": "pairwise_judge",
            }
        ]
    )
    pairs = preferences.preference_pairs(lab.trials(), scores=judge_says_upper)
    assert [p["preferred_output"][0]["content"] for p in pairs] == ["Say item 0"]


def test_preference_validation(tmp_path: Path) -> None:
    def pair(better: str, worse: str) -> dict[str, Any]:
        return {
            "input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": better}],
            "non_preferred_output": [{"role": "assistant", "content": worse}],
        }

    good = [pair(f"good {i}", f"bad {i}") for i in range(60)]
    preferences.validate_preference_pairs(good)
    with pytest.raises(ExportError, match="pair 2 is malformed: the preferred and non-preferred outputs are the same"):
        preferences.validate_preference_pairs([*good[:2], pair("same", "same"), *good])
    broken = {**good[0], "preferred_output": [{"role": "user", "content": "x"}]}
    with pytest.raises(ExportError, match="pair 0 is malformed: preferred_output is a 'user' message"):
        preferences.validate_preference_pairs([broken])
    with pytest.raises(ExportError, match=r"only 3 preference pairs.*lab\.compare_pairwise"):
        preferences.validate_preference_pairs(good[:3])


def test_too_few_preference_pairs_writes_nothing(lab: pl.Lab, tmp_path: Path) -> None:
    record(lab, rows(4), models=[fake_model("echo"), fake_model("upper")])
    lab.feedback(lab.trials()["trial_id"].iloc[0], correction="better")
    with pytest.raises(ExportError, match="only 1 preference pairs"):
        lab.export_preferences(tmp_path / "dpo.jsonl")
    assert not (tmp_path / "dpo.jsonl").exists() and leftovers(tmp_path) == []


def test_preference_split(lab: pl.Lab, loud_judge: Any, tmp_path: Path) -> None:
    record(lab, rows(25), models=[fake_model("echo"), fake_model("upper")])
    trials = lab.trials()
    lab.compare_pairwise(trials[trials["model"] == "echo"], trials[trials["model"] == "upper"], loud_judge)
    with pytest.warns(UserWarning, match="only 24 preference pairs"):
        written = lab.export_preferences(tmp_path / "dpo.jsonl", validation_split=0.25, seed=1)
    assert (written.n_train, written.n_validation) == (18, 6)
    for line in read_jsonl(tmp_path / "dpo.val.jsonl"):
        assert_openai_dpo(line)


# -- secrets --------------------------------------------------------------------------------


def test_no_export_holds_a_secret_from_the_environment(
    lab: pl.Lab, loud_judge: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"sk-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)

    def leaky(messages: Sequence[Mapping[str, str]], model: pl.Model) -> str:
        text = messages[-1]["content"]
        return f"{text.upper()} (sent with {os.environ['OPENAI_API_KEY']})" if model.name == "loud" else text

    name = f"leaky-{uuid.uuid4().hex[:8]}"
    pl.register_provider(name, FakeProvider(leaky))
    data = [*rows(59), {"text": f"a pasted key {secret}", "expected": "key"}]
    record(lab, data, models=[pl.Model("quiet", provider=name), pl.Model("loud", provider=name)])
    trials = lab.trials()
    lab.feedback(trials["trial_id"].iloc[0], correction=f"fixed, key {secret}")
    lab.compare_pairwise(trials[trials["model"] == "quiet"], trials[trials["model"] == "loud"], loud_judge)
    out = tmp_path / "out"
    out.mkdir()
    files = [lab.export_trials(out / f"trials.{suffix}") for suffix in ("csv", "parquet", "jsonl")]
    files += [lab.export_finetune(out / "train.jsonl", validation_split=0.2).path, out / "train.val.jsonl"]
    files += [lab.export_preferences(out / "dpo.jsonl").path, lab.report(out / "report.html", "exp")]
    for path in files:
        assert secret.encode() not in path.read_bytes(), path.name
    parquet = sql(f"SELECT * FROM read_parquet('{out / 'trials.parquet'}')").df()
    assert secret not in parquet.to_csv()
    assert "[redacted]" in (out / "trials.csv").read_text(encoding="utf-8")


# -- the command line -------------------------------------------------------------------------


def test_cli_exports_and_exit_codes(
    lab: pl.Lab, loud_judge: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record(lab, rows(60), models=[fake_model("echo"), fake_model("upper")])
    trials = lab.trials()
    lab.compare_pairwise(trials[trials["model"] == "echo"], trials[trials["model"] == "upper"], loud_judge)
    lab.fold()
    db = ["--db", lab.location]
    out = tmp_path / "cli"
    out.mkdir()

    assert cli.main(["export", "trials", str(out / "t.parquet"), *db, "--model", "upper"]) == 0
    assert "wrote 60 trials" in capsys.readouterr().out
    assert len(sql(f"SELECT * FROM read_parquet('{out / 't.parquet'}')").df()) == 60
    assert cli.main(["export", "trials", str(out / "t.data"), *db, "--format", "csv"]) == 0
    assert len(pd.read_csv(out / "t.data")) == 120

    args = [
        "export",
        "finetune",
        str(out / "ft.jsonl"),
        *db,
        "--experiment",
        "exp",
        "--min-score",
        "1",
        "--evaluator",
        "contains:expected",
        "--model",
        "echo",
        "--split",
        "0.1",
        "--seed",
        "3",
    ]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "wrote 40 examples to" in captured.out and "warning: only 45 examples" in captured.err
    assert len(read_jsonl(out / "ft.jsonl")) == 40 and len(read_jsonl(out / "ft.val.jsonl")) == 5

    assert cli.main(["export", "preferences", str(out / "dpo.jsonl"), *db]) == 0
    assert len(read_jsonl(out / "dpo.jsonl")) == 59
    assert cli.main(["export", "report", str(out / "r.html"), *db, "--experiment", "exp"]) == 0
    assert cli.main(["report", str(out / "r2.html"), *db, "--experiment", "exp", "--samples", "2"]) == 0
    assert (out / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    capsys.readouterr()

    # validation errors: exit 2, a message, no file
    assert cli.main(["export", "finetune", str(out / "few.jsonl"), *db, "--vote", "up"]) == 2
    assert "error: only 0 examples" in capsys.readouterr().err
    assert cli.main(["export", "report", str(out / "none.html"), *db, "--experiment", "nope"]) == 2
    assert "no experiment named 'nope'" in capsys.readouterr().err
    assert cli.main(["export", "trials", str(out / "t.xlsx"), *db]) == 2
    assert not (out / "few.jsonl").exists() and not (out / "none.html").exists() and not (out / "t.xlsx").exists()
    # usage errors: exit 2
    assert cli.main(["export", "finetune", str(out / "x.jsonl"), *db, "--split", "1.5"]) == 2
    assert cli.main(["export", "finetune", str(out / "x.jsonl"), *db, "--vote", "down"]) == 2
    assert cli.main(["export", "report", str(out / "x.html"), *db]) == 2  # --experiment is required
    assert cli.main(["export", *db]) == 2
    assert cli.main(["export", "trials", str(out / "x.csv"), "--db", str(tmp_path / "missing.duckdb")]) == 2
    assert not (out / "x.jsonl").exists() and not (tmp_path / "missing.duckdb").exists()
    assert leftovers(out) == []
