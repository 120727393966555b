"""The Registry view: labels, versions, diffs, promote with approvers, export."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.team_history import TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import RegistryPanel, playground, registry

ROWS = [{"text": f"item {i} {'cat' if i % 2 else 'dog'}", "expected": "cat"} for i in range(6)]
OLD = pl.Prompt("{{ text }}", name="summ")
NEW = pl.Prompt("{{ text }} cat", name="summ")


@pytest.fixture
def scored(lab: pl.Lab) -> pl.Lab:
    for prompt in (OLD, NEW):
        lab.sweep(prompt, fake_model("echo"), ROWS, evaluators=[pl.evals.contains("expected")], display=NullDisplay())
    return lab


def test_lists_names_versions_and_labels(scored: pl.Lab) -> None:
    panel = registry(scored)
    assert panel.name.value == "summ"
    assert [v for _, v in panel.version.options] == [NEW.version, OLD.version]
    assert OLD.version[:12] in panel.versions.value and "contains:expected" in panel.versions.value
    assert "no label has moved yet" in panel.history.value


def test_opens_on_the_newest_version_diffed_against_the_one_before(scored: pl.Lab) -> None:
    panel = registry(scored)
    assert (panel.version.value, panel.compare_to.value) == (NEW.version, OLD.version)
    assert panel.export_path.placeholder == "summ.prompt.json"
    panel.diff_button.click()  # nothing to choose first
    assert "diff_add" in panel.diff.value


def test_refresh_keeps_the_versions_chosen(scored: pl.Lab) -> None:
    panel = registry(scored)
    panel.version.value, panel.compare_to.value = OLD.version, NEW.version
    newest = pl.Prompt("{{ text }} cat!", name="summ")
    scored.sweep(newest, fake_model("echo"), ROWS, display=NullDisplay())
    panel.refresh_button.click()
    assert [v for _, v in panel.version.options] == [newest.version, NEW.version, OLD.version]
    assert (panel.version.value, panel.compare_to.value) == (OLD.version, NEW.version)


def test_diff_shows_text_and_score_deltas(scored: pl.Lab) -> None:
    panel = registry(scored)
    panel.version.value, panel.compare_to.value = NEW.version, OLD.version
    panel.diff_button.click()
    assert "cat" in panel.diff.value and "diff_add" in panel.diff.value
    assert "contains:expected" in panel.diff.value


def test_promote_asks_for_an_approver_when_the_label_is_protected(
    scored: pl.Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    (scored.path.parent / "promptlab.toml").write_text('[labels]\nprotected = ["production"]\napprovers = ["lee"]\n')
    panel = registry(scored)
    panel.version.value = NEW.version
    panel.promote_button.click()
    assert "protected" in panel.message.value and "lee" in panel.message.value
    assert scored.labels().empty
    panel.approver.value = "lee"
    panel.note.value = "better on cats"
    panel.promote_button.click()
    assert "production → " + NEW.version[:8] in panel.message.value
    assert pl.load_prompt("summ", db=scored.path).version == NEW.version
    assert "approved by lee" in panel.history.value and "better on cats" in panel.history.value
    assert panel.version.options[0][0].endswith("(production)")


def test_staging_moves_freely_and_rolls_back(scored: pl.Lab) -> None:
    panel = registry(scored)
    panel.label.value = "staging"
    panel.version.value = OLD.version
    panel.promote_button.click()
    panel.version.value = NEW.version
    panel.promote_button.click()
    panel.rollback_button.click()
    assert "rolled staging back to " + OLD.version[:8] in panel.message.value
    assert list(scored.label_history("summ")["action"]) == ["promote", "promote", "rollback"]


def test_export_writes_a_loadable_file(scored: pl.Lab, tmp_path: Path) -> None:
    panel = registry(scored)
    panel.version.value = OLD.version
    panel.export_path.value = str(tmp_path / "summ.yaml")
    panel.export_button.click()
    assert "wrote" in panel.message.value
    assert pl.load_prompt(path=tmp_path / "summ.yaml").version == OLD.version
    panel.export_path.value = str(tmp_path / "summ.txt")
    panel.export_button.click()
    assert ".json, .yaml, .py" in panel.message.value


def test_the_playground_has_a_registry_tab(scored: pl.Lab) -> None:
    app = playground(scored)
    assert app.titles[-1] == "Registry"
    assert app.registry.name.value == "summ"


# -- on the history a team has (tests/support/team_history.py) -----------------------------------------------


def test_the_app_opens_once_a_prompt_ran_on_two_models(lab: pl.Lab) -> None:
    # issue 11, item 1: the versions table joined a version's models with `or []` over an array
    lab.sweep(
        pl.Prompt("Hi {{ n }}", name="greet"),
        [fake_model("echo"), fake_model("upper")],
        [{"n": "a"}],
        display=NullDisplay(),
    )
    for app in (playground(lab), lab.ui(), registry(lab)):
        panel = app if isinstance(app, RegistryPanel) else app.registry
        assert '<td style="padding:1px 8px">echo, upper</td>' in panel.versions.value


def test_registry_of_a_team_lists_versions_models_labels_and_their_history(team: TeamHistory) -> None:
    panel = registry(team.lab())
    assert sorted(panel.name.options) == ["classify", "greet", "summarize"]
    panel.name.value = "summarize"
    v1, v2, v3 = team.versions["summarize"]
    assert [v for _, v in panel.version.options] == [v3, v2, v1]
    assert panel.version.options[1][0] == f"{v2} (production, staging)"
    assert (panel.version.value, panel.compare_to.value) == (v3, v2)
    rows = text_of(panel.versions.value)
    assert "echo, flaky, upper" in rows and "echo, upper" in rows  # a version's models, every one of them
    assert "judge:Is it one clear sentence? 0.300" in rows  # upper's mean judge score
    assert f"production → {v2[:8]} (on " in rows and f"staging → {v2[:8]}" in rows
    history = text_of(panel.history.value).splitlines()
    assert history[0] == "label history"
    assert f"production: {v3[:8]} → {v2[:8]} (rollback by ana, approved by lee)" in history[1]  # newest first
    assert "— v3 is too long for the app" in history[1]
    assert f"staging: — → {v1[:8]} (promote by ben)" in history[-1]  # the first move came from nowhere
    panel.name.value = "greet"
    assert "no label has moved yet" in panel.history.value and "echo" in panel.versions.value


def test_diff_of_two_versions_run_on_three_models_shows_every_evaluator(team: TeamHistory) -> None:
    panel = registry(team.lab())
    panel.name.value = "summarize"
    panel.diff_button.click()
    shown = text_of(panel.diff.value).replace("\xa0", " ")
    assert "diff_sub" in panel.diff.value and "naming the product" in shown
    for label in ("contains:expected", "judge:Is it one clear sentence?", "short_enough"):
        assert label in shown
    assert "contains:expected 44 0.455 0.455 +0.000 no clear difference" in shown  # means rounded, not 0.4545…


def test_promote_and_roll_back_a_protected_label_on_a_teams_history(team: TeamHistory) -> None:
    lab = team.lab()
    panel = registry(lab)
    panel.name.value = "summarize"
    _, v2, v3 = team.versions["summarize"]
    panel.version.value = v3
    panel.promote_button.click()
    assert "protected" in panel.message.value and pl.load_prompt("summarize", db=team.path).version == v2
    panel.approver.value = "Lee "  # the approver, however it is typed
    panel.promote_button.click()
    assert f"production → {v3[:8]}" in panel.message.value
    assert pl.load_prompt("summarize", db=team.path).version == v3
    assert panel.version.options[0][0] == f"{v3} (production)"
    panel.rollback_button.click()
    assert f"rolled production back to {v2[:8]}" in panel.message.value
    assert pl.load_prompt("summarize", db=team.path).version == v2
    assert list(lab.label_history("summarize", "production")["action"])[-2:] == ["promote", "rollback"]
    assert lab.verify().ok  # the moves made from the app keep the audit chain whole


def test_export_a_version_of_a_teams_prompt(team: TeamHistory, tmp_path: Path) -> None:
    panel = registry(team.lab())
    panel.name.value = "classify"
    panel.version.value = team.versions["classify"][1]
    panel.export_path.value = str(tmp_path / "classify.py")
    panel.export_button.click()
    assert "wrote" in panel.message.value, panel.message.value
    exported = pl.load_prompt(path=tmp_path / "classify.py")
    assert exported.version == team.versions["classify"][1]
