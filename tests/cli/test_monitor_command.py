"""``promptlab monitor NAME``: the production metrics table, its filters and ``--compare``."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.production import PROMPT, V1, V2, fill_production_history

import promptlab as pl
from promptlab import cli


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.duckdb"
    fill_production_history(pl.Lab(path))
    return path


def test_monitor_prints_a_row_per_day_label_and_version(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--db", str(db), "monitor", PROMPT)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{PROMPT} in production, per day: 92 calls"
    header = lines[2].split()
    assert header[:5] == ["period", "label", "version", "calls", "errors"] and header[-1] == "helpful"
    rows = lines[3:]
    assert len(rows) == 8
    assert rows[0].startswith("2026-03-02  production  a1a1a1")
    assert sum(int(line.split()[3]) for line in rows) == 92
    assert any(line.startswith("2026-03-05  production  b2b2b2") for line in rows)


def test_monitor_filters_and_compares(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "--db",
        str(db),
        "monitor",
        PROMPT,
        "--label",
        "production",
        "--every",
        "week",
        "--compare",
        V1[:6],
        V2[:6],
    )
    assert code == 0
    assert "2026-03-02  production  a1a1a1" in out and "staging" not in out.split("A = ")[0]
    assert f"A = {PROMPT}@a1a1a1" in out and f"B = {PROMPT}@b2b2b2" in out
    assert "on error_rate (lower is better): A " in out and "Welch's t test p=" in out
    code, out, _ = run_cli(capsys, "--db", str(db), "monitor", PROMPT, "--since", "2026-04-01")
    assert code == 0 and out.startswith(f"no production calls of '{PROMPT}' match")
    code, _, err = run_cli(capsys, "--db", str(db), "monitor", PROMPT, "--compare", "nope", V2)
    assert code == 2 and "error: 'nope' names no label or version" in err
    code, _, err = run_cli(capsys, "--db", str(db), "monitor", PROMPT, "--every", "month")
    assert code == 2 and "invalid choice" in err
