"""What recording costs: lab.sweep against a bare AsyncOpenAI loop, same cells.

Starts a local OpenAI-compatible stub server in its own process (zero
latency, then 200 ms), runs the same cells (2 prompts × 2 models × 500 rows
at concurrency 32) once through a bare ``AsyncOpenAI`` loop and once through
``lab.sweep`` with full recording, then the fully cached re-run, and prints
ratios against the bare loop measured in the same run.

At zero latency each round also records the same sweep (other inputs) on a
team server, a fresh PostgreSQL database (``pl.Lab("postgresql://…")``): the
trials go to the local spool and are sent (COPY) before ``lab.sweep``
returns, so that send is inside its time, unlike the file's background fold.
By default the server is the tests' private cluster (``tests/support/
postgres.py``: fsync off; ``--durable`` turns fsync, synchronous commit and
full-page writes on); ``--server URL`` uses a team server of yours instead
(one experiment per round), ``--no-server`` skips it.

    python benchmarks/sweep_overhead.py [--rows 500] [--concurrency 32] [--repeat 3]
        [--server URL | --no-server] [--durable]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import openai

import promptlab as pl
from promptlab.runner.progress import NullDisplay

PROMPTS = [
    pl.Prompt("Summarize in one sentence: {{ text }}", name="summarize"),
    pl.Prompt(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Summarize: {{ text }}"}],
        name="summarize",
    ),
]


@contextmanager
def stub_server(latency: float) -> Iterator[str]:
    """A stub server in a child process, so it doesn't share our interpreter."""
    process = subprocess.Popen(
        [sys.executable, "-m", "promptlab.testing", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()


def rows(n: int, salt: str) -> list[dict[str, str]]:
    """Distinct inputs, so no run is answered by another's cache."""
    return [{"text": f"{salt} item {i}: the quick brown fox jumps over the lazy dog"} for i in range(n)]


def models(url: str) -> list[pl.Model]:
    """Two models on the stub."""
    return [pl.Model("stub-a", base_url=url, max_tokens=16), pl.Model("stub-b", base_url=url, max_tokens=16)]


async def bare_loop(url: str, data: list[dict[str, str]], concurrency: int) -> float:
    """The floor: the same requests through AsyncOpenAI alone, nothing recorded."""
    client = openai.AsyncOpenAI(base_url=url, api_key="not-needed", max_retries=0)
    requests = [
        (model.name, prompt.render(row), dict(model.params))
        for row in data
        for prompt in PROMPTS
        for model in models(url)
    ]
    queue = iter(requests)
    started = time.perf_counter()

    async def worker() -> None:
        for name, messages, params in queue:
            await client.chat.completions.create(model=name, messages=messages, **params)  # type: ignore[arg-type]

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


def recorded(lab: pl.Lab, url: str, data: list[dict[str, str]], concurrency: int, experiment: str = "bench") -> float:
    """The same cells through lab.sweep, with recording."""
    started = time.perf_counter()
    lab.sweep(PROMPTS, models(url), data, concurrency=concurrency, display=NullDisplay(), experiment=experiment)
    return time.perf_counter() - started


@contextmanager
def team_servers(url: str | None, durable: bool) -> Iterator[Callable[[int], tuple[str, str]]]:
    """``(database URL, experiment)`` for round N: a fresh database on the tests'
    private cluster, or ``url`` with an experiment per round."""
    if url is not None:
        stamp = time.strftime("%Y%m%d%H%M%S")
        yield lambda round_: (url, f"bench-{stamp}-{round_}")
        return
    from server_history import new_server, postgres, private_cluster  # the same folder: benchmarks/

    cluster = private_cluster(durable)
    try:
        yield lambda round_: (new_server(cluster, f"sweep{round_}"), "bench")
    finally:
        postgres.remove_cluster(cluster)


def on_server(
    server: Callable[[int], tuple[str, str]], round_: int, url: str, n_rows: int, concurrency: int
) -> dict[str, float]:
    """One round on a team server: the recorded sweep (sent before it returns), then its cached re-run."""
    database, experiment = server(round_)
    if round_ == 0:
        from server_history import server_settings

        print(f"team server: {server_settings(database)}")
    lab = pl.Lab(database)
    data = rows(n_rows, f"server-r{round_}-{experiment}")
    seconds = {
        "server": recorded(lab, url, data, concurrency, experiment),
        "server_cached": recorded(lab, url, data, concurrency, experiment),
    }
    n = len(lab.trials(experiment=experiment))
    assert n == 2 * n_rows * 4, f"expected {2 * n_rows * 4} trials on the server, found {n}"
    return seconds


def measure(
    latency: float,
    n_rows: int,
    concurrency: int,
    repeat: int,
    folder: Path,
    *,
    server: Callable[[int], tuple[str, str]] | None = None,
) -> dict[str, float]:
    """Median seconds for bare, recorded and cached over ``repeat`` rounds (and,
    with ``server``, the recorded sweep and its cached re-run on a team server)."""
    times: dict[str, list[float]] = {"bare": [], "recorded": [], "fold": [], "cached": []}
    with stub_server(latency) as url:
        for round_ in range(repeat):
            lab = pl.Lab(folder / f"bench-{latency}-{round_}.duckdb")
            data = rows(n_rows, f"l{latency}r{round_}")
            asyncio.run(bare_loop(url, rows(n_rows, f"bare{latency}r{round_}"), concurrency))  # warm-up
            times["bare"].append(asyncio.run(bare_loop(url, data, concurrency)))
            times["recorded"].append(recorded(lab, url, data, concurrency))
            started = time.perf_counter()
            lab.fold()  # the fold the sweep left to the background, timed on its own
            times["fold"].append(time.perf_counter() - started)
            times["cached"].append(recorded(lab, url, data, concurrency))
            n = len(lab.trials(experiment="bench"))
            assert n == 2 * n_rows * 4, f"expected {2 * n_rows * 4} trials, found {n}"
            if server is not None:
                for name, seconds in on_server(server, round_, url, n_rows, concurrency).items():
                    times.setdefault(name, []).append(seconds)
                times.setdefault("bare_after", []).append(asyncio.run(bare_loop(url, data, concurrency)))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    """Run both latencies and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", help="a team server (postgresql://…) to record on at 0 ms (default: a private one)")
    parser.add_argument("--no-server", action="store_true", help="measure the file store only")
    parser.add_argument("--durable", action="store_true", help="the private server with fsync on")
    args = parser.parse_args()
    cells = args.rows * 4
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        os.environ.setdefault("PROMPTLAB_SPOOL", str(Path(folder) / "spool"))
        server = None
        if not args.no_server and (args.server or postgres_installed()):
            server = stack.enter_context(team_servers(args.server, args.durable))
        for latency in (0.0, 0.2):
            on = server if latency == 0 else None
            result = measure(latency, args.rows, args.concurrency, args.repeat, Path(folder), server=on)
            bound = args.concurrency / latency if latency else None
            print(f"\nlatency {latency * 1000:.0f} ms, {cells} cells, concurrency {args.concurrency}")
            for name in ("bare", "recorded", "cached"):
                print(f"  {name:9s} {result[name]:7.2f} s  {cells / result[name]:8.0f} calls/s")
            print(f"  recorded / bare throughput: {result['bare'] / result['recorded']:.3f}x")
            if bound:
                print(f"  recorded / latency bound ({bound:.0f}/s): {cells / result['recorded'] / bound:.3f}x")
                print(f"  bare / latency bound: {cells / result['bare'] / bound:.3f}x")
            print(f"  background fold after the sweep: {result['fold']:.2f} s (not in 'recorded')")
            print(f"  cached re-run speed-up over bare: {result['bare'] / result['cached']:.1f}x")
            if "server" in result:
                print_server(result, cells)
        if server is None:
            print("\n(no team server measured: PostgreSQL isn't installed, or --no-server)")


def print_server(result: dict[str, float], cells: int) -> None:
    """The team server's figures at 0 ms, against the same round's bare loops."""
    print(f"  server    {result['server']:7.2f} s  {cells / result['server']:8.0f} calls/s (the send included)")
    print(
        f"  server / bare throughput: {result['bare'] / result['server']:.3f}x "
        f"(against a bare loop run right after it: {result['bare_after'] / result['server']:.3f}x)"
    )
    print(f"  server cached re-run speed-up over bare: {result['bare'] / result['server_cached']:.1f}x")


def postgres_installed() -> bool:
    from server_history import postgres

    return postgres.bin_dir() is not None


if __name__ == "__main__":
    main()
