"""Exporting a prompt for application code, and loading it back without the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import promptlab as pl
from promptlab.cli import main
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

pytestmark = pytest.mark.both_stores


@pytest.fixture
def promoted(tmp_path: Path) -> tuple[pl.Lab, pl.Prompt]:
    lab = pl.Lab(tmp_path / "h.duckdb")
    prompt = pl.Prompt(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{ text }}"}], name="brief"
    )
    run = lab.sweep(
        prompt, fake_model("echo", temperature=0), [{"text": "hello", "expected": "hello"}], display=NullDisplay()
    )
    lab.evaluate(run, [pl.evals.contains("expected")])
    lab.promote("brief", prompt.version, "production", note="the only one")
    return lab, prompt


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".py"])
def test_an_exported_prompt_loads_without_the_database(
    promoted: tuple[pl.Lab, pl.Prompt], tmp_path: Path, suffix: str
) -> None:
    lab, prompt = promoted
    path = lab.export_prompt("brief", tmp_path / f"brief{suffix}")
    lab.path.unlink()  # the export must stand alone
    loaded = pl.load_prompt(path=path)
    assert loaded == prompt
    assert loaded.version == prompt.version
    assert loaded.model is not None and loaded.model.name == "echo" and loaded.model.params == {"temperature": 0}


def test_the_export_carries_label_and_evidence(promoted: tuple[pl.Lab, pl.Prompt], tmp_path: Path) -> None:
    lab, prompt = promoted
    document = json.loads(lab.export_prompt("brief", tmp_path / "brief.json").read_text())
    assert document["label"] == "production"
    assert document["version"] == prompt.version
    assert document["variables"] == ["text"]
    assert document["evidence"]["scores"] == {"contains:expected": 1.0}
    assert document["exported_by"]


def test_export_prompt_on_the_command_line(promoted: tuple[pl.Lab, pl.Prompt], tmp_path: Path) -> None:
    lab, prompt = promoted
    out = tmp_path / "cli.yaml"
    assert main(["--db", str(lab.path), "export", "prompt", "brief", str(out)]) == 0
    assert pl.load_prompt(path=out).version == prompt.version
    assert (
        main(
            [
                "--db",
                str(lab.path),
                "export",
                "prompt",
                "brief",
                str(tmp_path / "v.json"),
                "--version",
                prompt.version[:6],
            ]
        )
        == 0
    )
    assert main(["--db", str(lab.path), "export", "prompt", "missing", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
    assert main(["--db", str(lab.path), "export", "prompt", "brief", str(tmp_path / "x.txt")]) == 2
    assert not (tmp_path / "x.txt").exists()
