"""The tutorial notebooks run top to bottom and still show what they were saved
showing (nbval, one notebook per test, each in its own pytest process).

nbval re-runs every cell in a fresh kernel and compares each output with the
one stored in the notebook, after ``notebooks/nbval_sanitize.cfg`` has masked
ids, times, durations and temporary folders. Cells marked
``# NBVAL_IGNORE_OUTPUT`` (progress bars, model text, latencies) are run but
not compared. The static checks below keep that comparison meaningful: nbval
silently compares nothing for a cell saved without outputs.

Refresh the stored outputs after a deliberate change as notebooks/README.md
says (``jupyter nbconvert --execute --inplace``, without timing metadata or
widget state).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
SANITIZE = NOTEBOOK_DIR / "nbval_sanitize.cfg"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
IGNORE = "# NBVAL_IGNORE_OUTPUT"
LIMIT_SECONDS = 120
"""Hard cap on one notebook's nbval run (pytest and kernel start included); the
tutorials take 10–20 s on 2 cores, and one that nears a minute is too slow to read along."""


def code_cells(notebook: Path) -> list[nbformat.NotebookNode]:
    return [cell for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code"]


def is_compared(cell: nbformat.NotebookNode) -> bool:
    lines = [line.strip() for line in cell.source.splitlines()]
    tags = set(cell.get("metadata", {}).get("tags", []))
    return IGNORE not in lines and not tags & {"nbval-ignore-output", "nbval-skip"}


def test_the_tutorials_exist() -> None:
    assert {
        "01_quickstart.ipynb",
        "02_compare_prompts_and_models.ipynb",
        "03_review_and_feedback.ipynb",
        "04_browse_history.ipynb",
        "05_evaluate_and_compare.ipynb",
        "06_promote_and_export.ipynb",
        "07_retrieval.ipynb",
    } <= {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_opens_by_saying_what_it_teaches(notebook: Path) -> None:
    first = nbformat.read(notebook, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    assert "This notebook teaches" in first.source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_saved_with_the_outputs_of_one_clean_run(notebook: Path) -> None:
    # Widget state would hold every trial's text and change on each run.
    assert "widgets" not in nbformat.read(notebook, as_version=4).metadata
    cells = code_cells(notebook)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), "run it top to bottom in a fresh kernel, then save"
    for cell in cells:
        errors = [output for output in cell.outputs if output.output_type == "error"]
        assert not errors, f"a stored error output in:\n{cell.source}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_outputs_that_matter_are_compared(notebook: Path) -> None:
    compared = [cell for cell in code_cells(notebook) if is_compared(cell) and cell.outputs]
    ignored = [cell for cell in code_cells(notebook) if not is_compared(cell)]
    assert len(compared) >= 4, "most outputs of a tutorial should be checked, not ignored"
    assert len(compared) > len(ignored)
    for cell in code_cells(notebook):
        assert "NBVAL_SKIP" not in cell.source and "NBVAL_CHECK_OUTPUT" not in cell.source


def test_sanitize_patterns_mask_only_what_varies() -> None:
    text = SANITIZE.read_text()
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)  # nbval's own parser
    assert len(pairs) >= 4

    def sanitize(value: str) -> str:
        for pattern, replacement in pairs:
            value = re.sub(pattern, replacement, value)
        return value

    assert sanitize("Lab('/tmp/promptlab-quickstart-q92ztzeb/history.duckdb')") == "Lab('<tmpdir>/history.duckdb')"
    assert sanitize("Run(run_id='fa8cb553272146e18b836f3b16bb455e', experiment='x')") == (
        "Run(run_id='<id>', experiment='x')"
    )
    assert sanitize("2026-11-22 02:03:02.689247 and 2026-11-22T02:03:02") == "<time> and <time>"
    assert sanitize("median latency 1262 ms, 7.0s") == "median latency <duration>, <duration>"
    kept = "28 trials, 0 errors, versions d34233629530 1b8dfb6692ac, columns latency_p50_ms"
    assert sanitize(kept) == kept


@pytest.mark.slow
@pytest.mark.timeout(LIMIT_SECONDS + 60)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_reproduces_its_stored_outputs(notebook: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(SANITIZE),
        str(notebook.relative_to(ROOT)),
        "-p",
        "no:cacheprovider",
        "-q",
        "--color=no",
    ]
    # Kernel connection files and the notebooks' temporary history files go
    # to the test's own folder.
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "TMPDIR": str(tmp_path / "tmp")}
    try:
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=LIMIT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{notebook.name} took over {LIMIT_SECONDS} s; a tutorial must run in well under a minute")
    assert result.returncode == 0, f"nbval failed on {notebook.name}:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    assert re.search(r"\b\d+ passed\b", result.stdout), result.stdout[-2000:]
