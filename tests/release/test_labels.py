"""The prompt registry: the label audit log, the policy file, rollback,
version prefixes, the version table and prompt diffs.

Most tests start from a copy of one seeded history (``SEED`` below), built
once per module, so each test pays only for the moves it makes.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.history import settle
from support.team_history import TeamHistory

import promptlab as pl
from promptlab.core.lineage import utcnow
from promptlab.errors import ConfigError, NotFoundError, PolicyError
from promptlab.release import labels as pl_labels
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

NAME = "greet"
METRIC = "contains:expected"
DATA = [
    {"text": "alpha", "expected": "alpha"},
    {"text": "beta", "expected": "beta"},
    {"text": "gamma", "expected": "gamma"},
]
BAD_DATA = [*DATA[1:], {"text": "delta", "expected": "delta"}]  # shares beta and gamma with DATA
GOOD = pl.Prompt("Repeat: {{ text }}", name=NAME)
ALSO_GOOD = pl.Prompt("Say it back: {{ text }}", name=NAME)
BAD = pl.Prompt("Shout: {{ text | upper }}", name=NAME)  # never contains the lower-case expected text
EVENT_FIELDS = {
    "event_id",
    "name",
    "label",
    "action",
    "from_version",
    "to_version",
    "model",
    "user",
    "approved_by",
    "note",
    "evidence",
    "created_at",
    "seq",
    "policy",
    "prev_hash",
    "hash",
}
POLICY = '[labels]\nprotected = ["production"]\napprovers = ["lee", "kim", "ana", "ben"]\n'
UNKNOWN_VERSION = "0" * 12 if not GOOD.version.startswith("0") else "f" * 12


def run_scored(lab: pl.Lab, prompt: pl.Prompt, model: pl.Model | None = None, data: Any = DATA) -> pl.Run:
    """Sweep one prompt and score it with ``contains``."""
    run = lab.sweep([prompt], model or fake_model("echo"), data, display=NullDisplay())
    lab.evaluate(run, [pl.evals.contains("expected")])
    return run


@dataclass(frozen=True)
class Seed:
    """A folded history file and the runs recorded in it."""

    path: Path
    good_runs: tuple[str, ...]
    """GOOD's runs, oldest first: ana on echo, ana on upper, ben on echo (all cached)."""
    bad_run: str


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    """ana writes GOOD and runs it on echo and upper; ben runs GOOD again,
    then writes ALSO_GOOD and BAD. Every run is scored with ``contains``."""
    path = tmp_path_factory.mktemp("seed") / "h.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROMPTLAB_USER", "ana")
        lab = pl.Lab(path)
        good_runs = [run_scored(lab, GOOD).run_id, run_scored(lab, GOOD, fake_model("upper")).run_id]
        patch.setenv("PROMPTLAB_USER", "ben")
        good_runs.append(run_scored(lab, GOOD).run_id)
        run_scored(lab, ALSO_GOOD)
        bad_run = run_scored(lab, BAD, data=BAD_DATA).run_id
        lab.fold()
        settle()
    return Seed(path, tuple(good_runs), bad_run)


@pytest.fixture
def lab(seed: Seed, tmp_path: Path) -> pl.Lab:
    """A copy of the seeded history in the test's own folder (policy files don't leak)."""
    shutil.copy(seed.path, tmp_path / "h.duckdb")
    return pl.Lab(tmp_path / "h.duckdb")


@pytest.fixture
def blank(tmp_path: Path) -> pl.Lab:
    """An empty history of the test's own."""
    return pl.Lab(tmp_path / "blank" / "h.duckdb", mkdir=True)


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """``as_user("ana")``: what follows runs as ana (``PROMPTLAB_USER``)."""
    yield lambda name: monkeypatch.setenv("PROMPTLAB_USER", name)


def plain(value: Any) -> Any:
    """A missing value as None, whether the frame spelled it None or NaN."""
    return None if isinstance(value, float) and math.isnan(value) else value


def history(lab: pl.Lab, label: str | None = None) -> list[dict[str, Any]]:
    """The audit log of NAME as plain dicts, oldest first."""
    return [{k: plain(v) for k, v in row.items()} for row in lab.label_history(NAME, label).to_dict("records")]


def write_policy(lab: pl.Lab, text: str = POLICY) -> Path:
    path = lab.path.parent / "promptlab.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- the audit log -------------------------------------------------------------------


def test_every_promotion_and_rollback_appends_one_complete_event(
    lab: pl.Lab, seed: Seed, as_user: Callable[[str], None]
) -> None:
    as_user("lee")
    before = utcnow()
    first = lab.promote(NAME, GOOD.version, label="staging", note="clean sweep")
    after = utcnow()

    assert set(first) == EVENT_FIELDS
    assert (first["name"], first["label"], first["action"]) == (NAME, "staging", "promote")
    assert (first["from_version"], first["to_version"]) == (None, GOOD.version)
    assert first["model"] == fake_model("echo").to_dict(), "the model it ran with most is recommended"
    assert first["user"] == "lee", "who moved it is PROMPTLAB_USER"
    assert first["approved_by"] is None
    assert first["note"] == "clean sweep"
    assert first["evidence"]["runs"] == list(reversed(seed.good_runs)), "its runs, newest first"
    assert first["evidence"]["scores"] == {METRIC: round(6 / 9, 4)}, "echo passes 6 trials, upper fails 3"
    assert first["evidence"]["n_trials"] == 9
    assert before <= datetime.fromisoformat(first["created_at"]) <= after
    [stored] = history(lab)
    assert {k: stored[k] for k in EVENT_FIELDS - {"created_at"}} == {k: first[k] for k in EVENT_FIELDS - {"created_at"}}
    assert pd.Timestamp(stored["created_at"]) == pd.Timestamp(first["created_at"])

    as_user("kim")
    second = lab.promote(NAME, BAD.version, label="staging", approved_by="lee")
    assert (second["from_version"], second["to_version"]) == (GOOD.version, BAD.version)
    assert second["evidence"]["runs"] == [seed.bad_run]
    assert second["evidence"]["scores"] == {METRIC: 0.0}
    assert (second["user"], second["approved_by"]) == ("kim", "lee")

    back = lab.rollback(NAME, "staging", note="regressed")
    assert back["action"] == "rollback"
    assert (back["from_version"], back["to_version"]) == (BAD.version, GOOD.version)
    assert (back["user"], back["approved_by"], back["note"]) == ("kim", None, "regressed")
    assert back["model"] == first["model"], "a rollback restores the model recommended with that version"
    assert back["evidence"]["runs"] == first["evidence"]["runs"], "a rollback cites the restored version's runs"

    events = history(lab)
    assert [e["event_id"] for e in events] == [first["event_id"], second["event_id"], back["event_id"]]
    assert [e["action"] for e in events] == ["promote", "promote", "rollback"]
    assert [e["seq"] for e in events] == [1, 2, 3], "numbered in the order they were made"
    assert [e["prev_hash"] for e in events] == [None, first["hash"], second["hash"]], "each chained to the one before"
    assert [e["policy"] for e in events] == [None, None, None], "no policy file: none recorded"
    assert lab.verify().ok
    assert events[0] == stored, "an earlier event is never rewritten by later moves"
    [now] = lab.labels(NAME).to_dict("records")
    assert (now["label"], now["version"], now["moved_by"], now["note"]) == ("staging", GOOD.version, "kim", "regressed")


def test_an_explicit_model_and_evidence_are_recorded_as_given(lab: pl.Lab) -> None:
    chosen = fake_model("upper", temperature=0.2)

    event = lab.promote(NAME, GOOD.version, label="staging", model=chosen, evidence={"ticket": "PL-6"})

    assert event["model"] == chosen.to_dict()
    assert event["evidence"] == {"ticket": "PL-6"}
    assert lab.labels(NAME).iloc[0]["model"] == chosen.to_dict()
    assert lab.prompt(NAME, label="staging").model == chosen


def test_labels_show_the_newest_event_per_label(lab: pl.Lab) -> None:
    lab.promote(NAME, GOOD.version, label="production")
    lab.promote(NAME, ALSO_GOOD.version, label="staging")
    lab.promote(NAME, BAD.version, label="staging")
    lab.promote(NAME, ALSO_GOOD.version, label="production")

    current = lab.labels(NAME).set_index("label")["version"].to_dict()

    assert current == {"production": ALSO_GOOD.version, "staging": BAD.version}
    assert len(history(lab)) == 4
    assert lab.prompt(NAME, label="staging").version == BAD.version
    assert lab.labels("another-prompt").empty


def test_the_labels_view_is_in_the_file_for_plain_sql_readers(
    lab: pl.Lab, as_user: Callable[[str], None], plain_query: Callable[..., list[tuple[Any, ...]]]
) -> None:
    as_user("lee")
    lab.promote(NAME, GOOD.version, label="production", approved_by="kim", note="first")
    lab.promote(NAME, BAD.version, label="production", approved_by="kim")
    last = lab.rollback(NAME, "production", approved_by="kim")
    lab.promote(NAME, BAD.version, label="staging")
    lab.fold()

    rows = plain_query(lab.path, "SELECT name, label, version, moved_by, approved_by, moved_at FROM labels ORDER BY 2")
    events = plain_query(lab.path, "SELECT action, from_version, to_version FROM label_events ORDER BY created_at")

    moved_at = pd.Timestamp(last["created_at"]).to_pydatetime()
    assert rows[0] == (NAME, "production", GOOD.version, "lee", "kim", moved_at)
    assert rows[1][:5] == (NAME, "staging", BAD.version, "lee", None)
    assert events == [
        ("promote", None, GOOD.version),
        ("promote", GOOD.version, BAD.version),
        ("rollback", BAD.version, GOOD.version),
        ("promote", None, BAD.version),
    ]


def test_the_audit_log_is_unchanged_by_a_fold(lab: pl.Lab) -> None:
    lab.promote(NAME, GOOD.version, label="staging", note="a")
    lab.promote(NAME, BAD.version, label="staging", note="b")
    journaled = history(lab)  # read while the moves may still be in the journal

    lab.fold()

    assert not any((lab.path.parent / "h.duckdb.journal" / "label_events").iterdir()), "now folded"
    assert history(lab) == journaled


# -- the policy file ---------------------------------------------------------------


@pytest.fixture
def protected(lab: pl.Lab, as_user: Callable[[str], None]) -> pl.Lab:
    """Production is protected; ana wrote GOOD (ben only re-ran it); ben is moving labels."""
    write_policy(lab)
    as_user("ben")
    return lab


def refused(lab: pl.Lab, **kwargs: Any) -> str:
    """Try to promote GOOD to production; it must be refused with nothing appended."""
    with pytest.raises(PolicyError) as caught:
        lab.promote(NAME, GOOD.version, label="production", **kwargs)
    assert lab.label_history().empty, "a refused move appends nothing"
    assert lab.labels().empty
    assert not any((lab.path.parent / "h.duckdb.journal" / "label_events").iterdir())
    return str(caught.value)


def test_a_protected_label_needs_an_approver(protected: pl.Lab) -> None:
    message = refused(protected)
    assert "'production' is protected" in message
    assert "approved_by" in message
    assert str(protected.path.parent / "promptlab.toml") in message, "the message names the policy file"


def test_the_author_cannot_approve_their_own_version(protected: pl.Lab) -> None:
    assert "ana wrote this version" in refused(protected, approved_by="ana")


def test_the_mover_cannot_approve_their_own_move(protected: pl.Lab) -> None:
    assert "ben can't approve their own move" in refused(protected, approved_by="ben")


def test_only_a_listed_approver_may_approve(protected: pl.Lab) -> None:
    message = refused(protected, approved_by="zed")
    assert "zed is not an approver" in message
    assert "['ana', 'ben', 'kim', 'lee']" in message


def test_an_approver_who_is_not_the_author_moves_a_protected_label(protected: pl.Lab) -> None:
    refused(protected, approved_by="ana")

    event = protected.promote(NAME, GOOD.version, label="production", approved_by="lee")

    assert (event["user"], event["approved_by"]) == ("ben", "lee")
    assert [e["event_id"] for e in history(protected)] == [event["event_id"]]
    assert protected.labels(NAME).iloc[0]["version"] == GOOD.version


def test_unprotected_labels_move_freely(protected: pl.Lab) -> None:
    event = protected.promote(NAME, GOOD.version, label="staging")

    assert event["approved_by"] is None
    assert list(protected.labels(NAME)["label"]) == ["staging"]


def test_a_protected_rollback_needs_an_approver_too(protected: pl.Lab) -> None:
    protected.promote(NAME, GOOD.version, label="production", approved_by="lee")
    protected.promote(NAME, BAD.version, label="production", approved_by="lee")

    with pytest.raises(PolicyError, match="protected"):
        protected.rollback(NAME, "production")
    assert len(history(protected)) == 2

    back = protected.rollback(NAME, "production", approved_by="kim")
    assert (back["action"], back["to_version"], back["approved_by"]) == ("rollback", GOOD.version, "kim")


def test_the_author_is_who_ran_it_first_before_and_after_a_fold(blank: pl.Lab, as_user: Callable[[str], None]) -> None:
    write_policy(blank)
    as_user("ana")
    blank.sweep([GOOD], fake_model("echo"), DATA, display=NullDisplay())
    as_user("ben")
    blank.sweep([GOOD], fake_model("echo"), DATA, display=NullDisplay())  # cached: still ana's version

    assert "ana wrote this version" in refused(blank, approved_by="ana")
    blank.fold()
    assert "ana wrote this version" in refused(blank, approved_by="ana")
    assert blank.prompt_versions(NAME).iloc[0]["created_by"] == "ana"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[labels\nprotected = [", "is not valid TOML"),
        ('[labels]\nprotected = ["production"]\napprover = ["lee"]\n', "unknown key 'approver'"),
        ('[label]\nprotected = ["production"]\n', "unknown key 'label'"),
        ("[labels]\nprotected = [1, 2]\n", "must be lists of names"),
    ],
    ids=["not-toml", "unknown-key", "unknown-section", "not-names"],
)
def test_a_malformed_policy_file_is_a_config_error_naming_it(lab: pl.Lab, text: str, expected: str) -> None:
    policy = write_policy(lab, text)

    with pytest.raises(ConfigError) as caught:
        lab.promote(NAME, GOOD.version, label="staging")

    assert str(policy) in str(caught.value)
    assert expected in str(caught.value)
    assert lab.label_history().empty


@pytest.mark.parametrize(
    "text",
    ['[labels]\nprotected = "production"\napprovers = ["lee"]\n', "labels = 3\n"],
    ids=["protected-a-string", "labels-a-number"],
)
def test_a_policy_of_the_wrong_shape_is_a_config_error(lab: pl.Lab, as_user: Callable[[str], None], text: str) -> None:
    # A string where a list belongs must not quietly protect the labels 'p', 'r', 'o', ... instead.
    policy = write_policy(lab, text)
    as_user("ben")

    with pytest.raises(ConfigError) as caught:
        lab.promote(NAME, GOOD.version, label="production")

    assert str(policy) in str(caught.value)
    assert lab.label_history().empty


# -- rollback ------------------------------------------------------------------------


def test_rollback_moves_back_to_the_previous_version(lab: pl.Lab) -> None:
    for prompt in (GOOD, ALSO_GOOD, BAD):
        lab.promote(NAME, prompt.version, label="production")

    event = lab.rollback(NAME)

    assert (event["action"], event["from_version"], event["to_version"]) == ("rollback", BAD.version, ALSO_GOOD.version)
    assert lab.labels(NAME).iloc[0]["version"] == ALSO_GOOD.version
    assert lab.prompt(NAME, label="production").version == ALSO_GOOD.version
    assert [e["action"] for e in history(lab)] == ["promote", "promote", "promote", "rollback"]


def test_rollback_with_no_history_is_not_found(lab: pl.Lab) -> None:
    with pytest.raises(NotFoundError, match="no label 'production'"):
        lab.rollback(NAME)
    lab.promote(NAME, GOOD.version, label="production")
    with pytest.raises(NotFoundError, match="nothing to roll back to"):
        lab.rollback(NAME)
    lab.promote(NAME, GOOD.version, label="production", note="again")  # the same version twice
    with pytest.raises(NotFoundError, match="nothing to roll back to"):
        lab.rollback(NAME)

    assert len(history(lab)) == 2


# -- versions ------------------------------------------------------------------------


def test_version_prefixes_resolve(lab: pl.Lab) -> None:
    event = lab.promote(NAME, GOOD.version[:5], label="staging")

    assert event["to_version"] == GOOD.version
    assert lab.prompt(NAME, BAD.version[:4]).version == BAD.version
    assert lab.prompt(NAME, BAD.version[:4]).template == BAD.template
    assert lab.prompt(NAME).version == BAD.version, "no version: the newest"


def test_an_unknown_version_or_name_is_not_found(lab: pl.Lab) -> None:
    with pytest.raises(NotFoundError):
        lab.promote(NAME, UNKNOWN_VERSION, label="staging")
    with pytest.raises(NotFoundError):
        lab.promote("no-such-prompt", GOOD.version, label="staging")
    with pytest.raises(NotFoundError):
        lab.prompt(NAME, UNKNOWN_VERSION)
    with pytest.raises(NotFoundError):
        lab.prompt(NAME, label="production")
    assert lab.label_history().empty


def test_an_ambiguous_prefix_is_not_found(blank: pl.Lab) -> None:
    # Of seventeen templates, two versions must share a first hex digit.
    by_digit: dict[str, pl.Prompt] = {}
    for i in range(17):
        prompt = pl.Prompt(f"Variant {i}: {{{{ text }}}}", name=NAME)
        if prompt.version[0] in by_digit:
            pair = [by_digit[prompt.version[0]], prompt]
            break
        by_digit[prompt.version[0]] = prompt
    blank.sweep(pair, fake_model("echo"), DATA[:1], display=NullDisplay())

    with pytest.raises(NotFoundError, match="give more characters"):
        blank.promote(NAME, pair[0].version[0], label="staging")
    assert blank.label_history().empty
    assert blank.promote(NAME, pair[0].version, label="staging")["to_version"] == pair[0].version


def test_prompt_versions_lists_every_version(lab: pl.Lab) -> None:
    lab.promote(NAME, GOOD.version, label="production")
    lab.promote(NAME, GOOD.version, label="staging")
    lab.promote(NAME, ALSO_GOOD.version, label="canary")

    versions = lab.prompt_versions(NAME)

    assert list(versions["version"]) == [GOOD.version, ALSO_GOOD.version, BAD.version], "oldest first"
    assert list(versions["number"]) == [1, 2, 3], "v1, v2, v3 in the order they first ran"
    good, also, bad = versions.to_dict("records")
    assert [v["created_by"] for v in (good, also, bad)] == ["ana", "ben", "ben"]
    assert [v["n_trials"] for v in (good, also, bad)] == [9, 3, 3], "cached re-runs are trials too"
    assert good["first_seen"] <= also["first_seen"] <= bad["first_seen"] <= utcnow()
    assert [v["labels"] for v in (good, also, bad)] == [["production", "staging"], ["canary"], []]
    assert good["scores"] == {"echo": {METRIC: 1.0}, "upper": {METRIC: 0.0}}, "scores per model"
    assert also["scores"] == {"echo": {METRIC: 1.0}}
    assert bad["scores"] == {"echo": {METRIC: 0.0}}
    assert good["template"] == GOOD.template
    assert lab.prompt_versions("never-run").empty


def test_prompt_versions_count_each_trial_once(blank: pl.Lab) -> None:
    run_scored(blank, GOOD)
    run_scored(blank, GOOD)  # a second prompts row for GOOD waits in the journal
    journaled = blank.prompt_versions(NAME)

    blank.fold()

    assert journaled.iloc[0]["n_trials"] == 2 * len(DATA)
    pd.testing.assert_frame_equal(blank.prompt_versions(NAME), journaled)


# -- diffs ---------------------------------------------------------------------------


def test_prompt_diff_gives_the_text_diff_and_score_deltas_on_shared_inputs(lab: pl.Lab) -> None:
    diff = lab.prompt_diff(NAME, ALSO_GOOD.version[:6], BAD.version[:6])

    assert (diff.a.version, diff.b.version) == (ALSO_GOOD.version, BAD.version)
    lines = diff.unified.splitlines()
    assert f"--- {NAME}@{ALSO_GOOD.version}" in lines
    assert f"+++ {NAME}@{BAD.version}" in lines
    assert "-Say it back: {{ text }}" in lines
    assert "+Shout: {{ text | upper }}" in lines
    assert "<table" in diff.html() and "Shout" in diff.html()
    [row] = diff.scores.to_dict("records")
    assert row["evaluator"] == METRIC
    assert row["n_shared"] == 2, "only beta and gamma were run with both"
    assert (row["a"], row["b"], row["delta"]) == (1.0, 0.0, -1.0), "delta is B - A"
    assert "-Say it back" in str(diff) and METRIC in str(diff)


def test_prompt_diff_takes_labels_and_reverses_the_delta(lab: pl.Lab) -> None:
    lab.promote(NAME, BAD.version, label="production")

    diff = lab.prompt_diff(NAME, "production", ALSO_GOOD.version)

    assert (diff.a.version, diff.b.version) == (BAD.version, ALSO_GOOD.version)
    assert diff.scores.iloc[0]["delta"] == 1.0
    assert "+Say it back: {{ text }}" in diff.unified.splitlines()


def test_prompt_diff_compares_each_input_on_the_same_model(lab: pl.Lab) -> None:
    # GOOD ran on echo (passes) and upper (fails); BAD only on echo. On the
    # inputs and the model both ran with, GOOD scored 1.0 and BAD 0.0.
    diff = lab.prompt_diff(NAME, GOOD.version, BAD.version)

    [row] = diff.scores.to_dict("records")
    assert (row["a"], row["b"], row["delta"]) == (1.0, 0.0, -1.0)


def test_prompt_diff_of_identical_or_unknown_versions(lab: pl.Lab) -> None:
    same = lab.prompt_diff(NAME, BAD.version, BAD.version)
    assert same.unified == ""
    assert same.scores.iloc[0]["delta"] == 0.0
    assert "identical" in str(same)
    with pytest.raises(NotFoundError):
        lab.prompt_diff(NAME, GOOD.version, UNKNOWN_VERSION)


def test_a_versions_scores_cover_every_parameter_setting_of_a_model(tmp_path: Path, scripted) -> None:  # type: ignore[no-untyped-def]
    """Per model, the mean over all its trials (computed in SQL), not one
    parameter setting's: here it passes at temperature 0 and fails at 0.7."""

    async def by_temperature(request, text, attempt):  # type: ignore[no-untyped-def]
        hot = request.model.params.get("temperature") == 0.7
        return pl.Completion(output="nothing" if hot else text)

    provider = scripted(by_temperature)
    lab = pl.Lab(tmp_path / "grid.duckdb")
    prompt = pl.Prompt("{{ text }}", name="grid")
    lab.sweep(
        prompt,
        [provider.model("warm"), provider.model("other")],
        DATA,
        params={"temperature": [0.0, 0.7]},
        evaluators=[pl.evals.contains("expected")],
        display=NullDisplay(),
    )
    (version,) = lab.prompt_versions("grid").to_dict("records")
    assert version["scores"] == {"other": {METRIC: 0.5}, "warm": {METRIC: 0.5}}
    assert version["by_model"]["warm"]["configs"] == [{"temperature": 0.0}, {"temperature": 0.7}]
    assert version["by_model"]["warm"]["scores"] == {METRIC: {"mean": 0.5, "n": 6}}
    evidence = lab.promote("grid", prompt.version, label="staging")["evidence"]
    assert evidence["scores"] == {METRIC: 0.5}
    assert (evidence["n_trials"], evidence["errors"]) == (12, 0)


# -- on the history a team has (tests/support/team_history.py) -----------------------------------------------


def test_a_teams_versions_are_numbered_in_the_order_they_first_ran(team: TeamHistory) -> None:
    lab = team.lab()
    for name, versions in team.versions.items():
        table = lab.prompt_versions(name)
        assert list(table["version"]) == versions
        assert list(table["number"]) == list(range(1, len(versions) + 1))


def test_each_models_scores_cover_all_its_configs_as_the_trials_say(team: TeamHistory) -> None:
    # issue 1: per model, every config's trials together, each mean with its n
    lab = team.lab()
    trials = lab.trials(prompt="summarize")
    for version in lab.prompt_versions("summarize").to_dict("records"):
        mine = trials[trials["prompt_version"] == version["version"]]
        assert sorted(version["by_model"]) == sorted(set(mine["model"]))
        for model, seen in version["by_model"].items():
            theirs = mine[mine["model"] == model]
            assert (seen["n_trials"], seen["n_errors"]) == (len(theirs), theirs["error_type"].notna().sum())
            assert sorted(map(str, seen["configs"])) == sorted({str(p) for p in theirs["params"]})
            expected = {}
            for column in (c for c in theirs.columns if c.startswith("score_")):
                values = theirs[column].dropna()
                if len(values):
                    expected[column.removeprefix("score_")] = {"mean": pytest.approx(values.mean()), "n": len(values)}
            assert seen["scores"] == expected
    production = lab.prompt_versions("summarize").iloc[1]
    assert "judge:Is it one clear sentence?" in production["by_model"]["echo"]["scores"]


def test_approvers_are_the_policys_but_the_mover_and_the_author(
    team: TeamHistory, as_user: Callable[[str], None]
) -> None:
    lab = team.lab()
    v1, v2, _ = team.versions["summarize"]  # v1 by ana, v2 by ben
    assert lab.protected_labels() == ["production"]
    as_user("kim")
    assert lab.approvers("summarize", v2) == ["lee"]
    as_user("Lee")
    assert lab.approvers("summarize", v2) == []
    (team.path.parent / "promptlab.toml").write_text(
        '[labels]\nprotected = ["production"]\napprovers = ["lee", "kim", "ana", "ben"]\n'
    )
    as_user("ana")
    assert lab.approvers("summarize", v2) == ["kim", "lee"]
    assert lab.approvers("summarize", v1[:6]) == ["ben", "kim", "lee"]


def test_previous_version_is_where_a_rollback_goes(team: TeamHistory) -> None:
    lab = team.lab()
    _, v2, v3 = team.versions["summarize"]
    assert lab.previous_version("summarize") == v3  # production: v2, v3, then back to v2
    assert lab.rollback("summarize", approved_by="lee")["to_version"] == v3
    assert lab.previous_version("summarize", "production") == v2


def test_shared_input_deltas_weigh_each_evaluator_as_its_meaning_says() -> None:
    def trials(version: str, counts: list[int]) -> pd.DataFrame:
        rows = [
            {"trial_id": f"{version}{i}", "model": "m", "params": {}, "vars": {"q": i}, "repeat": 0}
            | {"score_word_count:5": float(n), "passed_word_count:5": n <= 5}
            for i, n in enumerate(counts)
        ]
        return pd.DataFrame(rows)

    short, long = trials("a", [3] * 10), trials("b", [10] * 10)
    as_scores = pl_labels.shared_input_deltas(short, long)
    assert as_scores["verdict"][0].startswith("B is better than A on word_count:5: B wins on 10"), "meaning unknown"
    meanings = {"word_count:5": pl.evals.Meaning(higher_is_better=False, is_check=True)}
    as_check = pl_labels.shared_input_deltas(short, long, meanings)
    assert (as_check["a"][0], as_check["b"][0]) == (1.0, 0.0), "a check's a and b are its pass rates"
    assert as_check["verdict"][0].startswith("B is worse than A on word_count:5 (pass/fail): B passes 0 of 10")
