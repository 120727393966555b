"""Teammates' processes on one team server, for the server fault tests
(``tests/store/server/test_server_faults.py``): writers that sweep rows of
their own, and readers that poll the history the whole time.

Each runs as ``python -m support.server_workers writer|reader ...``, a process
of its own as on a teammate's machine, and ends by printing one JSON line of
what it saw (its run, every warning, every read that failed). A traceback on
stderr and a non-zero exit code is the user-visible error the tests look for.
The test and its workers build a sweep from the same ``sweep_parts``, so a
sweep run again in the test is the same sweep (same fingerprint) and resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import promptlab as pl
from promptlab.providers import Completion, Request
from promptlab.runner.progress import NullDisplay
from promptlab.store.server.connection import connect
from promptlab.testing import FakeProvider, fake_model

TESTS = Path(__file__).resolve().parents[1]
"""The tests folder: on the workers' ``PYTHONPATH``, so ``support`` imports."""

EXPERIMENT = "faults"


CALLS_PROVIDER = "logged-calls"
"""The provider of writers whose calls are counted (``calls_log``)."""


class LoggedCalls:
    """The fake provider, appending each call's prompt text to a log file as the
    call starts: calls counted across processes, a killed one's included."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.fake = FakeProvider()

    async def complete(self, request: Request) -> Completion:
        text = next(m["content"] for m in reversed(request.messages) if m["role"] == "user")
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{text}\n".encode())  # one small O_APPEND write: whole lines, whoever writes
        finally:
            os.close(fd)
        return await self.fake.complete(request)

    async def aclose(self) -> None:
        """Nothing to release."""


def calls_in(log: Path, prefix: str) -> Counter[str]:
    """Calls logged by ``LoggedCalls`` for writer ``prefix``'s rows, by prompt text."""
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return Counter()
    return Counter(line for line in lines if line.startswith(f"Repeat: {prefix} "))


def sweep_parts(
    prefix: str, rows: int, *, latency: float = 0.0, calls_log: Path | None = None
) -> tuple[pl.Prompt, pl.Model, list[dict[str, str]]]:
    """The prompt, model and rows of writer ``prefix``'s sweep, on the fake
    provider (``latency`` seconds a call). With ``calls_log``, its calls are
    logged there (``LoggedCalls``, registered here). Each writer's rows are its
    own, so no cell is answered from another's cache."""
    if calls_log is None:
        model = fake_model("echo", latency=latency)
    else:
        pl.register_provider(CALLS_PROVIDER, LoggedCalls(calls_log))
        model = pl.Model("echo", provider=CALLS_PROVIDER, latency=latency)
    return pl.Prompt("Repeat: {{ text }}", name="faults"), model, [{"text": f"{prefix} {i}"} for i in range(rows)]


def call_text(prefix: str, index: int) -> str:
    """The prompt text of row ``index`` of writer ``prefix`` (what ``calls_in`` counts)."""
    return f"Repeat: {prefix} {index}"


def spawn(role: str, url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start a worker process (``role``: writer or reader) on the server at ``url``."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), environment.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "support.server_workers", role, url, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def report(process: subprocess.Popen[str], timeout: float = 120.0) -> dict[str, Any]:
    """Wait for a worker to end and return its report; raise with its stderr when it failed."""
    out, err = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise AssertionError(f"worker {process.args!r} exited {process.returncode}:\n{err}\n{out}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr"] = err
    return result


def spooled_trials(spool_root: Path) -> dict[str, str]:
    """Trial id → row text of every whole trial line in the spools under
    ``spool_root`` (a ``$PROMPTLAB_SPOOL``): what the journal acknowledged and
    the server may not have yet. A torn last line (never acknowledged) is skipped."""
    found: dict[str, str] = {}
    for path in spool_root.glob("*/trials/*.jsonl*"):
        try:
            lines = path.read_bytes().split(b"\n")[:-1]  # after the last newline: torn or empty
        except FileNotFoundError:
            continue  # sent and removed meanwhile: the server has it
        for line in lines:
            row = json.loads(line)
            variables = json.loads(row["vars"]) if isinstance(row["vars"], str) else row["vars"]
            found[row["trial_id"]] = variables["text"]
    return found


def served_trials(url: str, writer: str | None = None) -> list[tuple[str, str, str, str, str | None]]:
    """``(trial_id, text, run_id, cell_key, error)`` of the server's trials (of one writer's rows)."""
    with connect(url) as connection:
        return connection.execute(
            "SELECT trial_id, vars->>'text', run_id, cell_key, error FROM trials WHERE vars->>'text' LIKE %s",
            [f"{writer} %" if writer else "%"],
        ).fetchall()


def _said(caught: Sequence[warnings.WarningMessage]) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def write(
    url: str, prefix: str, rows: int, *, latency: float, concurrency: int, calls_log: Path | None
) -> dict[str, Any]:
    """Sweep this writer's rows into the server at ``url``; what it saw."""
    prompt, model, data = sweep_parts(prefix, rows, latency=latency, calls_log=calls_log)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lab = pl.Lab(url)
        print(json.dumps({"started": os.getpid()}), flush=True)
        run = lab.sweep(
            prompt, model, data, experiment=EXPERIMENT, concurrency=concurrency, resume="auto", display=NullDisplay()
        )
    return {"run_id": run.run_id, "warnings": _said(caught)}


def read(url: str, pause: float) -> dict[str, Any]:
    """Poll ``lab.trials()`` and ``lab.runs()``, ``pause`` seconds apart, until
    stdin closes; what it saw. The number of trials must never go down: the
    server's tables are append-only."""
    polls, counts, errors = 0, [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lab = pl.Lab(url)
        print(json.dumps({"started": os.getpid()}), flush=True)
        stop = _stdin_closed()
        while not stop():
            try:
                counts.append(len(lab.trials(experiment=EXPERIMENT)))
                lab.runs(EXPERIMENT)
            except Exception:
                errors.append(traceback.format_exc())
            polls += 1
            time.sleep(pause)
    return {"polls": polls, "counts": counts, "errors": errors, "warnings": _said(caught)}


def _stdin_closed() -> Any:
    """A check that is true once the test closes the worker's stdin."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ)

    def closed() -> bool:
        return bool(selector.select(timeout=0)) and not sys.stdin.readline()

    return closed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="support.server_workers")
    parser.add_argument("role", choices=["writer", "reader"])
    parser.add_argument("url")
    parser.add_argument("--prefix", default="w0")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--calls-log", type=Path)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="a writer's seconds per call; a reader's between reads"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.role == "writer":
        result = write(
            args.url,
            args.prefix,
            args.rows,
            latency=args.latency,
            concurrency=args.concurrency,
            calls_log=args.calls_log,
        )
    else:
        result = read(args.url, args.latency)
    result["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
