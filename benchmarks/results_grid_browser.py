"""How fast does a wide run's results grid answer in a real browser?

Records a 10-variant run (5 prompt versions x 2 models on 100 inputs, two
evaluators) on the fake provider, then opens it in JupyterLab in Debian's
chromium, driven by Playwright, twice: with this checkout's grid and with
the grid of a baseline commit (default ``ee8cdeb``, before issue 14: a
widget per cell), both showing 100 cells a page (10 rows of 10 variants).
For each step it times what a person waits for, from the click until the
page shows the rows it should: next page, last page, first page, order
reversed and back, a text filter and clearing it. Prints the median of
``--repeat`` in ms for both grids and the baseline/current ratio (these
machines are noisy: compare ratios, not times).

    python benchmarks/results_grid_browser.py [--baseline ee8cdeb] [--inputs 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.browser import CHROMIUM, browsing, hide_file_browser, run_all_cells, serving, write_notebook  # noqa: E402

import promptlab as pl  # noqa: E402
from promptlab.runner.progress import NullDisplay  # noqa: E402
from promptlab.testing import fake_model  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page

OUTPUT = ".jp-Notebook .jp-CodeCell:last-child .jp-OutputArea-output"
SHOWS = """([selector, present, absent]) => {
    const text = document.querySelector(selector)?.innerText ?? '';
    return new RegExp(present).test(text) && !(absent && new RegExp(absent).test(text));
}"""


def record(path: Path, inputs: int) -> str:
    """The wide run: 5 prompt versions x 2 models x ``inputs`` rows; its id."""
    prompts = [pl.Prompt(f"Variant {i}: summarize {{{{ text }}}}", name="triage") for i in range(5)]
    rows = [{"text": f"input {i} about a kettle that boils fast", "expected": "kettle"} for i in range(inputs)]
    run = pl.Lab(path).sweep(
        prompts,
        [fake_model("echo", price=(0.1, 0.2)), fake_model("upper", price=(1.0, 2.0))],
        rows,
        evaluators=[pl.evals.contains("expected"), pl.evals.word_count(12)],
        experiment="wide",
        concurrency=32,
        display=NullDisplay(),
    )
    return run.run_id


def baseline_package(commit: str, folder: Path) -> Path:
    """The ``promptlab`` package as it was at ``commit``, unpacked into ``folder``."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit, "promptlab"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def wait_for(page: Page, present: str, absent: str = "", timeout: float = 300) -> None:
    """Until the grid's output shows text matching ``present`` and none matching ``absent``."""
    page.wait_for_function(SHOWS, arg=[OUTPUT, present, absent], timeout=timeout * 1000, polling=20)


def steps(page: Page, inputs: int) -> dict[str, Callable[[], None]]:
    """Each action with what shows it is done."""
    out = page.locator(OUTPUT)
    last_first = inputs - inputs % 10 if inputs % 10 else inputs - 10

    def click(title: str) -> None:
        out.locator(f"button[title='{title}']").first.click()

    def checkbox(label: str) -> None:
        out.locator(".widget-checkbox", has_text=label).locator("input").first.click()

    def filtered(text: str) -> None:
        box = out.get_by_placeholder("filter inputs and outputs")
        box.fill(text)
        box.press("Enter")

    return {
        "next page": lambda: (click("next page"), wait_for(page, r"#10\b", r"#0\b")),
        "last page": lambda: (click("last page"), wait_for(page, rf"#{last_first}\b", r"#1[0-9]\b")),
        "first page": lambda: (click("first page"), wait_for(page, r"#0\b", rf"#{last_first}\b")),
        "reverse order": lambda: (checkbox("descending"), wait_for(page, rf"#{inputs - 1}\b", r"#0\b")),
        "order back": lambda: (checkbox("descending"), wait_for(page, r"#0\b", rf"#{inputs - 1}\b")),
        "filter": lambda: (filtered("input 42"), wait_for(page, rf"\b1 of {inputs} inputs")),
        "clear filter": lambda: (filtered(""), wait_for(page, rf"\b{inputs} of {inputs} inputs")),
    }


def measure(page: Page, url: str, inputs: int, repeat: int) -> dict[str, float]:
    """Open the notebook at ``url``, wait for the grid, and time each step (median ms)."""
    page.goto(url)
    run_all_cells(page, 2, timeout=600)
    hide_file_browser(page)
    wait_for(page, r"#9\b", timeout=600)
    timings: dict[str, list[float]] = {}
    for _ in range(repeat):
        for name, action in steps(page, inputs).items():
            start = time.perf_counter()
            action()
            timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(times) for name, times in timings.items()}


def main() -> None:
    """Measure both grids and print a line per step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", default="ee8cdeb", help="the commit whose grid is the baseline")
    parser.add_argument("--inputs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, serving(Path(folder)) as lab:
        run_id = record(lab.root / "wide.duckdb", args.inputs)
        old = baseline_package(args.baseline, Path(folder) / "baseline")
        opening = "import promptlab as pl\nlab = pl.Lab('wide.duckdb')"
        write_notebook(lab.root / "current.ipynb", opening, f"pl.ui.results({run_id!r}, lab=lab, page_size=100)")
        write_notebook(
            lab.root / "baseline.ipynb",
            f"import sys\nsys.path.insert(0, {str(old)!r})\n{opening}\nassert pl.__file__.startswith({str(old)!r})",
            f"pl.ui.results({run_id!r}, lab=lab, page_size=10)",  # rows a page: 10 x 10 variants = 100 cells
        )
        with browsing(CHROMIUM, width=1920, height=1080) as page:
            current = measure(page, lab.page_url("current.ipynb"), args.inputs, args.repeat)
            baseline = measure(page, lab.page_url("baseline.ipynb"), args.inputs, args.repeat)
    print(f"10 variants x {args.inputs} inputs, 100 cells a page; median of {args.repeat}; chromium {CHROMIUM}")
    print(f"{'step':<16} {'baseline ms':>12} {'current ms':>11} {'baseline/current':>17}")
    for name in current:
        print(f"{name:<16} {baseline[name]:>12.0f} {current[name]:>11.0f} {baseline[name] / current[name]:>16.1f}x")


if __name__ == "__main__":
    main()
