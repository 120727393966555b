"""Every ``promptlab`` command on a team server (``--db postgresql://…``): what
the file's CLI tests check on a file, here once end to end on the server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import promptlab as pl
from promptlab.cli import main

EXPERIMENT = """\
experiment: moods
prompts:
  - name: plain
    template: "Mood of: {{ text }}"
models:
  - {name: echo, provider: fake, fail_if: bad}
data: rows.jsonl
"""

ROWS = '{"text": "a lovely cake"}\n{"text": "a bad day"}\n{"text": "a late train"}\n'


def test_every_command_works_on_a_server(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rows.jsonl").write_text(ROWS, encoding="utf-8")
    (tmp_path / "moods.yaml").write_text(EXPERIMENT, encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "120")
    db = ["--db", server_url]

    assert main([*db, "run", str(tmp_path / "moods.yaml")]) == 0
    out = capsys.readouterr().out
    assert "3 trials: 2 ok, 1 failed, 0 from cache" in out
    assert f"recorded in {server_url}" in out and f"promptlab --db {server_url} history" in out
    trials = pl.Lab(server_url).trials()
    failed = str(trials.loc[trials["error_type"].notna(), "trial_id"].iloc[0])

    assert main([*db, "history", "--experiment", "moods", "--errors"]) == 0
    assert failed[:8] in capsys.readouterr().out
    assert main([*db, "show", failed[:8]]) == 0
    shown = capsys.readouterr().out
    assert "a bad day" in shown and "tester" in shown  # the login recorded it
    assert main([*db, "experiments"]) == 0
    assert re.search(r"moods\s+1\s+3", capsys.readouterr().out)
    assert main([*db, "runs"]) == 0
    assert trials["run_id"].iloc[0][:8] in capsys.readouterr().out
    assert main([*db, "report", str(tmp_path / "report.html"), "--experiment", "moods"]) == 0
    assert "a lovely cake" in (tmp_path / "report.html").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main([*db, "export", "trials", str(tmp_path / "t.csv"), "--experiment", "moods"]) == 0
    assert len((tmp_path / "t.csv").read_text(encoding="utf-8").splitlines()) == 4  # a header, 3 trials
    assert main([*db, "db", "verify"]) == 0
    capsys.readouterr()
    for upkeep in ("doctor", "stats", "compact"):  # a file's; a server has PostgreSQL's own tools
        assert main([*db, "db", upkeep]) == 2
        assert "PostgreSQL" in capsys.readouterr().err
    assert main([*db, "run", str(tmp_path / "moods.yaml")]) == 0  # again: the shared cache answers what succeeded
    assert "2 from cache" in capsys.readouterr().out
