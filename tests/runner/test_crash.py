"""kill -9 in the middle of a sweep: every recorded trial survives, and running
the same sweep again resumes the run without paying for a finished cell twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from support.providers import running_stub_server

import promptlab as pl
from promptlab.runner.progress import NullDisplay

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CELLS = 200
SEEN_BEFORE_KILL = 40

# The same sweep, in the child and in the test.
SWEEP = f"""
import promptlab as pl
prompt = pl.Prompt("Repeat: {{{{ text }}}}", name="crash")
rows = [{{"text": f"item {{i}}"}} for i in range({CELLS})]
def model(url):
    return pl.Model("stub", base_url=url)
"""

CHILD = (
    SWEEP
    + """
import sys
from promptlab.runner.progress import NullDisplay
lab = pl.Lab(sys.argv[1])
print("started", flush=True)
lab.sweep(prompt, model(sys.argv[2]), rows, experiment="crash", concurrency=4, display=NullDisplay())
print("finished", flush=True)
"""
)


def visible_trials(lab: pl.Lab) -> set[str]:
    """Trial ids a reader sees now. Another process sealing a segment mid-read
    can fail a read (see test_store's reader-vs-seal race); try again."""
    for _ in range(20):
        try:
            return set(lab.trials(experiment="crash")["trial_id"])
        except (duckdb.IOException, pl.StoreError):
            time.sleep(0.05)
    return set(lab.trials(experiment="crash")["trial_id"])


def test_kill_9_mid_sweep_then_resume(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    lab = pl.Lab(path)
    namespace: dict[str, object] = {}
    exec(SWEEP, namespace)
    with running_stub_server(latency=0.1) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), server.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PROMPTLAB_USER": "tester"},
        )
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while len(seen) < SEEN_BEFORE_KILL and child.poll() is None and time.monotonic() < deadline:
            seen = visible_trials(lab)
            time.sleep(0.05)
        assert child.poll() is None, f"the sweep ended before it could be killed: {child.communicate()}"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()  # reaped: its pid is no longer alive, so its run is an orphan
        assert child.returncode == -signal.SIGKILL
        assert len(seen) >= SEEN_BEFORE_KILL

        [killed] = lab.runs(experiment="crash").to_dict("records")
        assert killed["status"] == "interrupted"  # it never got to say otherwise, and its process is gone
        before = lab.trials(experiment="crash")
        assert seen <= set(before["trial_id"])  # nothing a reader saw was lost
        finished = {f"Repeat: {v['text']}" for v in before[before["error"].isna()]["vars"]}
        attempts_before = Counter(server.attempts)

        run = lab.sweep(
            namespace["prompt"],  # type: ignore[arg-type]
            namespace["model"](server.url),  # type: ignore[operator]
            namespace["rows"],  # type: ignore[arg-type]
            experiment="crash",
            concurrency=4,
            display=NullDisplay(),
        )
        called_again = Counter(server.attempts) - attempts_before

    assert run.run_id == killed["run_id"]  # resumed, not started afresh
    assert run.status == "done"
    df = run.df
    assert set(before["trial_id"]) <= set(df["trial_id"])  # every trial from before the kill survived
    successes = df[df["error"].isna()]
    assert len(successes) == CELLS
    assert successes["vars"].map(lambda v: v["text"]).nunique() == CELLS
    assert not finished & set(called_again)  # no finished cell was paid for twice
    assert set(called_again) | finished == {f"Repeat: item {i}" for i in range(CELLS)}
    assert len(lab.runs(experiment="crash")) == 1
    lab.fold()
    assert lab.path.with_name(lab.path.name + ".journal").exists()
    assert not list(lab.path.with_name(lab.path.name + ".journal").rglob("*.jsonl*"))  # orphan adopted
