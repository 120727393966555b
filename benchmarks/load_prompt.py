"""What ``pl.load_prompt`` costs application code, against reading an exported JSON file.

Builds a small history (two versions, one promoted, folded) and an exported
JSON file of the same prompt, then measures in the same run:

- cold: the first call in a fresh process (``load_prompt`` by label, and
  ``json.load`` of the export), median over several processes;
- warm: per-call latency of repeated calls (median and p99), the cached
  ``load_prompt`` against ``json.load`` of the export on every call;
- after a promotion: the first load once a label moved (cache invalidated),
  and the first load after the background fold that follows it;
- under a writer: warm calls while another process runs small sweeps into
  the same file (its folds invalidate the cache).

Prints figures and ratios; asserts nothing about time.

    python benchmarks/load_prompt.py [--calls 10000] [--cold 5] [--promotions 20] [--writer-seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import promptlab as pl
from promptlab.release.prompt_files import prompt_document
from promptlab.runner.progress import NullDisplay
from promptlab.store import database
from promptlab.testing import fake_model

NAME = "summarize"
PROMPTS = [
    pl.Prompt("Summarize in one sentence:\n{{ text }}", name=NAME),
    pl.Prompt(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Summarize:\n{{ text }}"}], name=NAME
    ),
]

COLD = """
import sys, time
started = time.perf_counter()
{imports}
imported = time.perf_counter()
{call}
done = time.perf_counter()
assert {check}
print(imported - started, done - imported)
"""

WRITER = """
import sys, time
import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
lab = pl.Lab(sys.argv[1])
prompt = pl.Prompt("Write down: {{ text }}", name="writer")
deadline = time.monotonic() + float(sys.argv[2])
runs = 0
print("ready", flush=True)
while time.monotonic() < deadline:
    lab.sweep([prompt], fake_model("echo"), [{"text": f"{runs} {i}"} for i in range(4)], display=NullDisplay())
    runs += 1
print(runs, flush=True)
"""


def settle() -> None:
    """Wait for this process's background folds."""
    database._FOLDER.submit(lambda: None).result()


def build(folder: Path) -> tuple[Path, Path]:
    """A history with the first prompt promoted, and its JSON export."""
    db = folder / "history.duckdb"
    lab = pl.Lab(db)
    lab.sweep(PROMPTS, fake_model("echo"), [{"text": f"item {i}"} for i in range(20)], display=NullDisplay())
    lab.promote(NAME, PROMPTS[0].version, label="production")
    lab.fold()
    settle()
    export = folder / "summarize.json"
    document = prompt_document(pl.load_prompt(NAME, db=db), label="production", exported_from=str(db))
    export.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return db, export


def per_call(call: Callable[[], Any], n: int) -> list[float]:
    """Seconds each of ``n`` calls took."""
    times = []
    clock = time.perf_counter_ns
    for _ in range(n):
        started = clock()
        call()
        times.append((clock() - started) / 1e9)
    return times


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} µs"


def cold(script: str, rounds: int, cwd: Path) -> tuple[float, float]:
    """Median (import seconds, first-call seconds) over fresh processes."""
    imports, calls = [], []
    for _ in range(rounds):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, check=True)
        imported, called = (float(x) for x in done.stdout.split())
        imports.append(imported)
        calls.append(called)
    return statistics.median(imports), statistics.median(calls)


def measure_cold(db: Path, export: Path, rounds: int) -> None:
    load = COLD.format(
        imports="import promptlab as pl",
        call=f"prompt = pl.load_prompt({NAME!r}, db={str(db)!r})",
        check=f"prompt.version == {PROMPTS[0].version!r}",
    )
    read = COLD.format(
        imports="import json",
        call=f"document = json.load(open({str(export)!r}, encoding='utf-8'))",
        check=f"document['template'] == {PROMPTS[0].template!r}",
    )
    load_import, load_call = cold(load, rounds, db.parent)
    read_import, read_call = cold(read, rounds, db.parent)
    print(f"\ncold: first call in a fresh process (median of {rounds} processes)")
    print(f"  load_prompt by label   {us(load_call)}   (import promptlab {load_import * 1000:.0f} ms)")
    print(f"  json.load of export    {us(read_call)}   (import json {read_import * 1000:.1f} ms)")
    print(f"  ratio                  {load_call / read_call:9.1f}x")


def measure_warm(db: Path, export: Path, calls: int) -> None:
    pl.load_prompt(NAME, db=db)  # fill the cache

    def read_export() -> Any:
        with open(export, encoding="utf-8") as handle:
            return json.load(handle)

    loaded = per_call(lambda: pl.load_prompt(NAME, db=db), calls)
    baseline = per_call(read_export, calls)
    from_file = per_call(lambda: pl.load_prompt(path=export), calls)
    print(f"\nwarm: {calls} calls each")
    print(f"  {'':26s} {'median':>12s} {'p99':>12s}")
    for name, times in (
        ("load_prompt (cached)", loaded),
        ("json.load of export", baseline),
        ("load_prompt(path=export)", from_file),
    ):
        print(f"  {name:26s} {us(statistics.median(times)):>12s} {us(p99(times)):>12s}")
    print(
        f"  cached load / json.load: median {statistics.median(loaded) / statistics.median(baseline):.2f}x, "
        f"p99 {p99(loaded) / p99(baseline):.2f}x"
    )


def measure_promotions(db: Path, rounds: int) -> None:
    lab = pl.Lab(db)
    after_promote, after_fold, promote = [], [], []
    for i in range(rounds):
        version = PROMPTS[(i + 1) % 2].version
        started = time.perf_counter()
        lab.promote(NAME, version, label="production", evidence={"bench": i})
        promote.append(time.perf_counter() - started)
        started = time.perf_counter()
        prompt = pl.load_prompt(NAME, db=db)
        after_promote.append(time.perf_counter() - started)
        assert prompt.version == version, "a load right after a promotion must see it"
        settle()
        started = time.perf_counter()
        pl.load_prompt(NAME, db=db)
        after_fold.append(time.perf_counter() - started)
    print(f"\nafter a promotion ({rounds} promotions)")
    print(f"  {'':34s} {'median':>12s} {'max':>12s}")
    for name, times in (
        ("lab.promote", promote),
        ("first load after the promotion", after_promote),
        ("first load after its fold", after_fold),
    ):
        print(f"  {name:34s} {us(statistics.median(times)):>12s} {us(max(times)):>12s}")


def measure_under_writer(db: Path, seconds: float, folder: Path) -> None:
    script = folder / "writer.py"
    script.write_text(textwrap.dedent(WRITER), encoding="utf-8")
    writer = subprocess.Popen([sys.executable, str(script), str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    times: list[float] = []
    errors: list[str] = []
    while writer.poll() is None:
        started = time.perf_counter()
        try:
            pl.load_prompt(NAME, db=db)
        except Exception as exc:  # what a web server would see: counted and shown, not hidden
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        times.append(time.perf_counter() - started)
    runs = writer.stdout.read().strip()
    slow = sum(1 for t in times if t > 1e-3)
    print(f"\nunder a writer: {len(times)} loads in {seconds:.0f} s while another process ran {runs} sweeps")
    print(f"  median {us(statistics.median(times))}, p99 {us(p99(times))}, max {us(max(times))}")
    print(f"  loads that re-read the file (> 1 ms): {slow} ({slow / len(times):.1%}); failed loads: {len(errors)}")
    if errors:
        print(f"  first failure: {errors[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=10_000, help="warm calls per method")
    parser.add_argument("--cold", type=int, default=5, help="fresh processes for the cold figures")
    parser.add_argument("--promotions", type=int, default=20)
    parser.add_argument("--writer-seconds", type=float, default=3.0, help="0 skips the concurrent-writer section")
    args = parser.parse_args()
    os.environ.setdefault("PROMPTLAB_USER", "bench")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db, export = build(folder)
        print(f"history {db.stat().st_size / 1e3:.0f} kB; export {export.stat().st_size} bytes")
        measure_cold(db, export, args.cold)
        measure_warm(db, export, args.calls)
        measure_promotions(db, args.promotions)
        if args.writer_seconds:
            measure_under_writer(db, args.writer_seconds, folder)
        settle()


if __name__ == "__main__":
    main()
