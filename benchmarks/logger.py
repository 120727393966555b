"""What ``pl.logger`` costs an application, and how much it can take.

    .venv/bin/python benchmarks/logger.py [--calls 20000] [--rate 5000] [--seconds 10] [--server]

1. **On the app's path**: each of ``--calls`` ``log.record(...)`` calls timed
   alone (``perf_counter_ns``), against a bare Python function taking the
   same arguments, measured in the same run; p50 and p99 of each, and the
   ratio. Goal: p50 ≤ 20 µs, p99 ≤ 1 ms.
2. **Sustained**: ``--rate`` records a second for ``--seconds``, paced, into
   a file history (and, with ``--server``, a private PostgreSQL cluster from
   ``tests/support/postgres.py``); the goal is ≥ 5,000 records/s with nothing
   dropped. Reported: records, dropped, and how long after the last record the
   journal held them all. Then the same unpaced (as fast as one thread can
   call ``record``): the rate the app made, the rate the journal took, drops.
3. **The kill -9 window**: an app process (``tests/support/app_worker.py``)
   logging a steady stream is killed; reported: how many acknowledged records
   were lost, and how old the oldest lost one was.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # support.postgres: the tests' private cluster

import promptlab as pl  # noqa: E402

PROMPT = pl.Prompt("Answer briefly: {{ question }}", name="support")


def bare(prompt: Any, vars: Any = None, output: Any = None, **kwargs: Any) -> str:
    """The baseline: a function taking what ``record`` takes, doing nothing."""
    return "0" * 32


def percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] / 1000, ordered[int(len(ordered) * 0.99)] / 1000


def app_path(db: str, calls: int) -> None:
    log = pl.logger(db, source="bench-path", queue_size=calls + 10)
    timings: dict[str, list[int]] = {"bare": [], "record": []}
    for i in range(calls):
        for name, function in (("bare", bare), ("record", log.record)):
            started = time.perf_counter_ns()
            function(PROMPT, {"question": f"q{i}"}, f"a{i}", model="gpt-4o-mini", latency_ms=12.0, end_user="u1")
            timings[name].append(time.perf_counter_ns() - started)
    log.close()
    bare_p50, bare_p99 = percentiles(timings["bare"])
    p50, p99 = percentiles(timings["record"])
    print(f"app's path, {calls:,} calls: bare function p50 {bare_p50:.2f} µs, p99 {bare_p99:.2f} µs")
    print(f"  log.record p50 {p50:.2f} µs ({p50 / bare_p50:.1f}× bare), p99 {p99:.2f} µs ({p99 / bare_p99:.1f}× bare)")
    print(
        f"  goals p50 ≤ 20 µs: {'met' if p50 <= 20 else 'NOT met'}; p99 ≤ 1 ms: {'met' if p99 <= 1000 else 'NOT met'}"
    )


def sustained(db: str, rate: int, seconds: float, label: str) -> None:
    log = pl.logger(db, source=f"bench-{label}", queue_size=10_000)
    total = int(rate * seconds)
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        while time.perf_counter() < due:
            time.sleep(max(0.0, min(0.001, due - time.perf_counter())))
        log.record(PROMPT, {"question": f"q{i}"}, f"a{i}", model="gpt-4o-mini", latency_ms=12.0, external_id=str(i))
    made = time.perf_counter() - started
    while log.pending:
        time.sleep(0.01)
    drained = time.perf_counter() - started - made
    dropped = log.dropped
    log.close()
    print(
        f"{label}, paced {rate:,}/s for {seconds:g} s: {total:,} recorded in {made:.2f} s "
        f"({total / made:,.0f}/s), dropped {dropped}, journal caught up {drained * 1000:.0f} ms after the last"
    )
    log = pl.logger(db, source=f"bench-{label}-unpaced", queue_size=1_000_000)
    started = time.perf_counter()
    n = 50_000
    for i in range(n):
        log.record(PROMPT, {"question": f"q{i}"}, f"a{i}", model="gpt-4o-mini", latency_ms=12.0)
    made = time.perf_counter() - started
    while log.pending:
        time.sleep(0.01)
    written = time.perf_counter() - started
    print(
        f"{label}, unpaced: the app made {n / made:,.0f} records/s; the journal took all {n:,} "
        f"in {written:.2f} s ({n / written:,.0f}/s), dropped {log.dropped}"
    )
    log.close()


def kill_window(db: str) -> None:
    worker = REPO / "tests" / "support" / "app_worker.py"
    app = subprocess.Popen(
        [sys.executable, str(worker), db, "doomed", "0", "--hold"], stdout=subprocess.PIPE, text=True
    )
    assert app.stdout is not None
    acknowledged: list[tuple[float, list[str]]] = []
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        stamp, *ids = app.stdout.readline().split()
        acknowledged.append((float(stamp), ids))
    killed = time.time()
    app.kill()
    app.wait()
    lab = pl.Lab(db)
    lab.fold()
    found = set(lab.trials(kind="production", experiment="doomed")["external_id"])
    lost = [(stamp, i) for stamp, ids in acknowledged for i in ids if i not in found]
    total = sum(len(ids) for _, ids in acknowledged)
    oldest = killed - min(stamp for stamp, _ in lost) if lost else 0.0
    print(
        f"kill -9 after {total:,} acknowledged records: {len(lost)} lost, "
        f"the oldest acknowledged {oldest * 1000:.0f} ms before"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--server", action="store_true", help="also into a private PostgreSQL cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "history.duckdb")
        pl.Lab(db)
        app_path(db, args.calls)
        sustained(db, args.rate, args.seconds, "file")
        kill_window(db)
        if args.server:
            from support.postgres import remove_cluster, start_cluster

            cluster = start_cluster()
            try:
                url = cluster.url(cluster.new_database(template="template1"))
                pl.Lab(url)
                sustained(url, args.rate, args.seconds, "server")
            finally:
                remove_cluster(cluster)


if __name__ == "__main__":
    main()
