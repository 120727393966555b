"""Moving a label from the Registry: approvers from the policy, a confirmation
before every move, and refusals said for a person (issue 12 and 13)."""

from __future__ import annotations

import pytest
from support.team_history import TeamHistory, as_user
from support.widgets import text_of

import promptlab as pl
from promptlab.errors import PolicyError
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import registry
from promptlab.ui.promotion import refusal_text
from promptlab.ui.registry import RegistryPanel

ROWS = [{"text": f"item {i} {'cat' if i % 2 else 'dog'}", "expected": "cat"} for i in range(6)]
OLD = pl.Prompt("{{ text }}", name="summ")
NEW = pl.Prompt("{{ text }} cat", name="summ")


@pytest.fixture
def scored(lab: pl.Lab) -> pl.Lab:
    for prompt in (OLD, NEW):
        lab.sweep(prompt, fake_model("echo"), ROWS, evaluators=[pl.evals.contains("expected")], display=NullDisplay())
    return lab


def summarize_panel(team: TeamHistory) -> RegistryPanel:
    panel = registry(team.lab())
    panel.name.value = "summarize"
    return panel


def test_a_protected_label_asks_for_an_approver_in_words_for_a_person(team: TeamHistory) -> None:
    panel = summarize_panel(team)
    panel.promote_button.click()
    assert text_of(panel.message.value) == "⚠ production is protected: choose an approver (lee)"
    assert "approved_by" not in panel.message.value and not panel.confirmation.value
    assert pl.load_prompt("summarize", db=team.path).version == team.versions["summarize"][1]


def test_approvers_come_from_the_policy_without_the_mover_or_the_author(
    team: TeamHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (team.path.parent / "promptlab.toml").write_text(
        '[labels]\nprotected = ["production"]\napprovers = ["lee", "kim", "Ana", "ben"]\n'
    )
    monkeypatch.setenv("PROMPTLAB_USER", "ana")
    panel = summarize_panel(team)  # v3, written by ben
    assert panel.approver.options == (("choose an approver", ""), ("kim", "kim"), ("lee", "lee"))
    panel.version.value = team.versions["summarize"][0]  # v1, written by ana: ben may approve it
    assert [value for _, value in panel.approver.options] == ["", "ben", "kim", "lee"]
    panel.label.value = "staging"
    assert panel.approver.options[0] == ("— (not needed)", "")


def test_promote_is_confirmed_before_anything_moves(team: TeamHistory) -> None:
    panel = summarize_panel(team)
    _, v2, v3 = team.versions["summarize"]
    assert panel.version.value == v3  # the version the diff compares with the one before
    panel.approver.value = "lee"
    panel.note.value = "names the product"
    panel.promote_button.click()
    assert f"move production: v2 · {v2[:8]} → v3 · {v3[:8]}, approved by lee?" in text_of(panel.confirmation.value)
    assert panel.confirm_row.layout.display == "flex"
    assert pl.load_prompt("summarize", db=team.path).version == v2, "nothing moves before Confirm"
    panel.confirm_button.click()
    assert text_of(panel.message.value) == f"✓ production → v3 · {v3[:8]}"
    assert pl.load_prompt("summarize", db=team.path).version == v3
    assert panel.version.options[0][0] == f"v3 · {v3[:8]} (production)"
    assert f"production: v2 · {v2[:8]} → v3 · {v3[:8]} (promote by tester, approved by lee) — names the product" in (
        text_of(panel.history.value)
    )
    assert (panel.approver.value, panel.note.value) == ("", ""), "an approval is for one move"
    assert panel.confirm_row.layout.display == "none"


def test_a_change_after_asking_drops_the_confirmation(team: TeamHistory) -> None:
    panel = summarize_panel(team)
    panel.approver.value = "lee"
    panel.promote_button.click()
    panel.version.value = team.versions["summarize"][0]
    assert not panel.confirmation.value and panel.confirm_row.layout.display == "none"
    panel.confirm_button.click()  # nothing waits: nothing moves
    panel.approver.value = "lee"
    panel.promote_button.click()
    panel.cancel_button.click()
    assert not panel.confirmation.value
    assert len(team.lab().label_history("summarize", "production")) == 3


def test_roll_back_a_protected_label_after_confirming(team: TeamHistory) -> None:
    lab = team.lab()
    panel = summarize_panel(team)
    _, v2, v3 = team.versions["summarize"]
    panel.approver.value = "lee"
    panel.rollback_button.click()
    assert f"roll back production: v2 · {v2[:8]} → v3 · {v3[:8]}, approved by lee?" in text_of(panel.confirmation.value)
    panel.confirm_button.click()
    assert text_of(panel.message.value) == f"✓ production rolled back to v3 · {v3[:8]}"
    assert pl.load_prompt("summarize", db=team.path).version == v3
    assert list(lab.label_history("summarize", "production")["action"])[-2:] == ["rollback", "rollback"]
    assert lab.verify().ok  # the moves made from the app keep the audit chain whole


def test_a_label_that_became_protected_before_confirming_is_refused_for_a_person(scored: pl.Lab) -> None:
    panel = registry(scored)
    panel.promote_button.click()
    assert "move production: new → v2" in text_of(panel.confirmation.value)
    (scored.path.parent / "promptlab.toml").write_text('[labels]\nprotected = ["production"]\napprovers = ["lee"]\n')
    panel.confirm_button.click()
    assert text_of(panel.message.value) == "⚠ production is protected: choose an approver (lee)"
    assert scored.labels().empty


def test_staging_moves_freely_and_rolls_back(scored: pl.Lab) -> None:
    panel = registry(scored)
    panel.label.value = "staging"
    for version in (OLD.version, NEW.version):
        panel.version.value = version
        panel.promote_button.click()
        panel.confirm_button.click()
    panel.rollback_button.click()
    assert f"roll back staging: v2 · {NEW.version[:8]} → v1 · {OLD.version[:8]}?" in text_of(panel.confirmation.value)
    panel.confirm_button.click()
    assert f"staging rolled back to v1 · {OLD.version[:8]}" in panel.message.value
    assert list(scored.label_history("summ")["action"]) == ["promote", "promote", "rollback"]


def test_rolling_back_a_label_never_moved_says_so(scored: pl.Lab) -> None:
    panel = registry(scored)
    panel.rollback_button.click()
    assert "has no label 'production'" in text_of(panel.message.value) and not panel.confirmation.value


def test_the_librarys_other_refusals_are_shown_as_written() -> None:
    error = PolicyError("lee can't approve their own move of 'production'; ask another approver")
    assert refusal_text(error, "production", "lee", ["lee"], protected=True) == str(error)
    coded = PolicyError("'production' is protected: pass approved_by= one of ['kim']")
    assert refusal_text(coded, "production", "", ["kim"], protected=True) == (
        "production is protected: choose an approver (kim)"
    )
    assert "add an approver to [labels] approvers in promptlab.toml" in refusal_text(coded, "production", "", [], True)


def test_the_author_sees_only_the_others_as_approvers(team: TeamHistory) -> None:
    with as_user("lee"):
        panel = summarize_panel(team)
        assert [value for _, value in panel.approver.options] == [""]
        panel.promote_button.click()
    assert "no approver who is neither you nor this version's author" in text_of(panel.message.value)
