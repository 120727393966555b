"""Does the results grid stay responsive at 10,000 trials?

Records two runs on the fake provider (100 and 10,000 trials: 2 prompt
variants x 50 or 5,000 inputs), then times, for each, what a person waits
for in the notebook app: opening the grid on the run, flipping to the next
page, jumping to the last page, typing a filter and clearing it, and
sorting by latency and back. Prints the median of several
repeats and the ratio of the 10,000-trial run to the 100-trial one, measured
in the same process: a ratio near 1 means the wait does not grow with the
run.

    python benchmarks/results_grid.py [--inputs 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import ResultsGrid, results

PROMPTS = [pl.Prompt("Say {{ text }}", name="say"), pl.Prompt("Shout {{ text }}", name="shout")]


def recorded(lab: pl.Lab, inputs: int) -> pl.Run:
    rows = [{"text": f"input {i} {'cat' if i % 7 else 'dog'}"} for i in range(inputs)]
    return lab.sweep(
        PROMPTS, fake_model("echo"), rows, experiment=f"grid{inputs}", concurrency=64, display=NullDisplay()
    )


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def steps(run: pl.Run) -> dict[str, Callable[[], object]]:
    grid: list[ResultsGrid] = [results(run)]

    def open_grid() -> None:
        grid[0] = results(run)

    def next_page() -> None:
        grid[0].first.click()
        grid[0].next.click()

    def last_page() -> None:
        grid[0].first.click()
        grid[0].last.click()

    def filter_text() -> None:
        grid[0].filter_text.value = "dog"
        grid[0].filter_text.value = ""

    def sort_by_latency() -> None:
        grid[0].sort_by.value = "latency"
        grid[0].sort_by.value = "input"

    return {
        "open the grid": open_grid,
        "next page": next_page,
        "last page": last_page,
        "filter and clear": filter_text,
        "sort by latency and back": sort_by_latency,
    }


def main() -> None:
    """Measure and print one line per step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--inputs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lab = pl.Lab(Path(folder) / "bench.duckdb")
        small, large = recorded(lab, 50), recorded(lab, args.inputs)
        print(f"trials: {len(small.df)} and {len(large.df)}; median of {args.repeat}")
        print(f"{'step':<26} {'small ms':>9} {'large ms':>9} {'large/small':>12}")
        small_steps, large_steps = steps(small), steps(large)
        for name in small_steps:
            small_ms = median_ms(small_steps[name], args.repeat)
            large_ms = median_ms(large_steps[name], args.repeat)
            print(f"{name:<26} {small_ms:>9.1f} {large_ms:>9.1f} {large_ms / small_ms:>11.2f}x")


if __name__ == "__main__":
    main()
