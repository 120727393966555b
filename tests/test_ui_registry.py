"""The Registry view: labels, versions, diffs, promote with approvers, export."""

from __future__ import annotations

from pathlib import Path

import pytest

import promptlab as pl
from promptlab.display import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import playground, registry

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
