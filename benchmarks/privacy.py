"""What data tiers cost a sweep that doesn't need them, and what redaction costs one that does.

Same machine, same run, medians of ``--repeat`` rounds, each a fresh history:

1. planning: ``plan_sweep`` alone (the grid expanded) against ``Lab``'s
   plan with every row's tier and the guard's check under a policy file
   (what every sweep now pays), for ``--rows`` rows × 2 prompts × 2 fake models;
2. a whole sweep on the fake provider under a policy that redacts nothing, against
   one under a policy that redacts e-mails and phone numbers before the call
   and before storage for every row (each row holds one of each).

    python benchmarks/privacy.py [--rows 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import promptlab as pl
from promptlab.runner.plan import plan_sweep
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

PROMPTS = [pl.Prompt("Reply to: {{ text }}", name="reply"), pl.Prompt("Answer briefly: {{ text }}", name="brief")]
MODELS = [fake_model("echo"), fake_model("upper")]
POLICY = '[privacy.approvers]\nrestricted = ["pat"]\n\n[privacy.data]\n"*support*" = "restricted"\n'
REDACTING = '[privacy.redact]\ninternal = { before_call = ["email", "phone"], before_storage = ["email", "phone"] }\n'


def rows(n: int) -> list[dict[str, str]]:
    return [{"text": f"order {i}: write to user{i}@example.com or call +1 415 555 {i % 10000:04d}"} for i in range(n)]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def one_round(data: list[dict[str, str]]) -> tuple[float, float, float, float]:
    """(plan_sweep, the Lab's plan with tiers, a plain sweep, a redacting sweep), in seconds."""
    options: pl.SweepOptions = {"experiment": "x"}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        (Path(folder) / "promptlab.toml").write_text(POLICY, encoding="utf-8")
        lab = pl.Lab(Path(folder) / "plain.duckdb")
        bare = timed(lambda: plan_sweep(PROMPTS, MODELS, data, options))
        tiered = timed(lambda: lab._plan(PROMPTS, MODELS, data, options, clear=True))
        plain = timed(lambda: lab.sweep(PROMPTS, MODELS, data, display=NullDisplay()))
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        (Path(folder) / "promptlab.toml").write_text(REDACTING, encoding="utf-8")
        redacting = pl.Lab(Path(folder) / "redacting.duckdb")
        redacted = timed(lambda: redacting.sweep(PROMPTS, MODELS, data, display=NullDisplay()))
    return bare, tiered, plain, redacted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = rows(args.rows)
    rounds = [one_round(data) for _ in range(args.repeat)]
    b, t, p, r = (statistics.median(column) for column in zip(*rounds, strict=True))
    cells = args.rows * len(PROMPTS) * len(MODELS)
    print(f"{args.rows} rows, {cells} cells, median of {args.repeat}")
    print(f"planning: plan_sweep {b:.3f} s; with tiers and the guard {t:.3f} s ({t / b:.2f}x)")
    print(f"sweep on the fake provider: redacting nothing {p:.2f} s; e-mails and phones {r:.2f} s ({r / p:.2f}x)")


if __name__ == "__main__":
    main()
