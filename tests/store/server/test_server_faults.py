"""The team server store under load and faults, with real processes: eight
writers and two readers at once, writers killed with kill -9 mid-sweep, and
the server stopped for 30 s mid-sweep. Every writer and reader is a process
of its own (``support/server_workers.py``), as on a teammate's machine, with a
spool of its own unless it is one of several processes of one user on one
machine, which share theirs."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.postgres import Cluster, prepared_cluster, wait_until_up
from support.server_workers import (
    EXPERIMENT,
    call_text,
    calls_in,
    report,
    served_trials,
    spawn,
    spooled_trials,
    sweep_parts,
)

import promptlab as pl
from promptlab.errors import HistoryWarning, StoreError
from promptlab.runner.progress import NullDisplay

pytestmark = pytest.mark.slow

WAITING_HERE = "wait in the local spool and are not on the team server"
"""What a read says of trials this machine's spool holds (another process's, when shared)."""


def user_visible(said: list[str], *, allowed: tuple[str, ...] = ()) -> list[str]:
    """The warnings a worker printed that a user would see, less ``allowed`` ones.
    ResourceWarnings are hidden by Python's default filters."""
    return [w for w in said if not w.startswith("ResourceWarning") and not any(a in w for a in allowed)]


def stop_all(processes: list[subprocess.Popen[str]]) -> None:
    """Kill the workers still running (a test that failed midway) and close their pipes."""
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


# -- 8 writers and 2 readers at once -------------------------------------------------

WRITERS = 8
ROWS_EACH = 1000
SHARING = 4
"""Writers w0..w3 share one spool (four processes of one user on one machine); the others have one each."""


def test_eight_writers_and_two_readers_at_once_record_every_trial_exactly_once(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "spool-shared"
    spools = [shared if k < SHARING else tmp_path / f"spool-w{k}" for k in range(WRITERS)]
    started = time.monotonic()
    readers = [
        spawn("reader", server_url, "--latency", "0.2", env={"PROMPTLAB_SPOOL": str(tmp_path / f"spool-r{k}")})
        for k in range(2)
    ]
    writers = [
        spawn("writer", server_url, "--prefix", f"w{k}", "--rows", str(ROWS_EACH), env={"PROMPTLAB_SPOOL": str(spool)})
        for k, spool in enumerate(spools)
    ]
    try:
        wrote = [report(writer) for writer in writers]
        read = [report(reader) for reader in readers]  # closing their stdin stops them
    finally:
        stop_all([*writers, *readers])
    elapsed = time.monotonic() - started

    for spool, seen in zip(spools, wrote, strict=True):
        # a sweep's own reads (resume, cache) see what the others on its machine have spooled
        allowed = (WAITING_HERE,) if spool == shared else ()
        assert user_visible(seen["warnings"], allowed=allowed) == [], seen
    for seen in read:
        assert seen["errors"] == [] and user_visible(seen["warnings"]) == [], seen
        assert len(seen["counts"]) >= 5  # it read the whole time
        assert seen["counts"] == sorted(seen["counts"]), "a reader saw trials vanish"
    # A sweep's last send waits BUSY_TIMEOUT for another process sending the shared
    # spool, then leaves what is left to the next one: this open.
    left = len(spooled_trials(shared))
    monkeypatch.setenv("PROMPTLAB_SPOOL", str(shared))
    lab = pl.Lab(server_url)
    lab.flush()
    assert all(spooled_trials(spool) == {} for spool in set(spools))

    rows = served_trials(server_url)
    assert len(rows) == WRITERS * ROWS_EACH
    assert len({trial_id for trial_id, *_ in rows}) == len(rows)
    assert len({(run_id, cell_key) for _, _, run_id, cell_key, _ in rows}) == len(rows)  # one trial per cell
    assert [error for *_, error in rows if error] == []
    run_ids = {seen["run_id"]: f"w{k}" for k, seen in enumerate(wrote)}
    texts: dict[str, set[str]] = {}
    for _, text, run_id, _, _ in rows:
        texts.setdefault(run_ids[run_id], set()).add(text)
    assert texts == {f"w{k}": {f"w{k} {i}" for i in range(ROWS_EACH)} for k in range(WRITERS)}
    trials = lab.trials(experiment=EXPERIMENT)
    assert len(trials) == WRITERS * ROWS_EACH and trials["trial_id"].is_unique
    runs = lab.runs(EXPERIMENT)
    assert sorted(runs["run_id"]) == sorted(run_ids) and set(runs["status"]) == {"done"}
    reads = [len(seen["counts"]) for seen in read]
    print(f"{WRITERS} writers x {ROWS_EACH} trials, 2 readers ({reads} reads): {elapsed:.1f} s, {left} left to send")


# -- kill -9 mid-sweep ---------------------------------------------------------------

KILL_ROWS = 200
KILL_CONCURRENCY = 4
KILL_LATENCY = 0.15
"""A sweep of 7.5 s (at KILL_CONCURRENCY): the kills, at 20-60% of it, come mid-sweep."""


def wait_for_calls(log: Path, writer: str, calls: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while sum(calls_in(log, writer).values()) < calls:
        assert process.poll() is None, f"{writer} ended before it could be killed: {process.communicate()}"
        assert time.monotonic() < deadline, f"{writer} made fewer than {calls} calls in 60 s"
        time.sleep(0.01)


def acknowledged_by(url: str, spool: Path, writer: str) -> dict[str, str]:
    """Trial id → text of what ``writer`` recorded: in its spool, or already sent.
    The spool first: rows only move from it to the server, so none slips between."""
    spooled = spooled_trials(spool)
    return {**spooled, **{trial_id: text for trial_id, text, *_ in served_trials(url, writer)}}


@dataclass
class Killed:
    """A writer killed with kill -9, and what it had done by then."""

    name: str
    spool: Path
    acknowledged: dict[str, str]
    """Trial id → text of every trial on disk in its spool (or sent) when it died."""
    called: Counter[str]
    """Its calls by then (each logged as it started)."""


def kill_mid_sweep(
    name: str, process: subprocess.Popen[str], *, log: Path, calls: int, url: str, spool: Path
) -> Killed:
    """kill -9 the writer once it has made ``calls`` calls; what it left."""
    wait_for_calls(log, name, calls, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed = Killed(name, spool, acknowledged_by(url, spool, name), calls_in(log, name))
    assert spooled_trials(spool), "nothing was left in the spool: the kill came too late"
    return killed


def resume_killed(killed: Killed, url: str, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the killed writer's sweep again on its machine: it resumes the run and
    calls only the cells with no acknowledged trial."""
    [run_id] = {run_id for _, _, run_id, _, _ in served_trials(url, killed.name)}
    monkeypatch.setenv("PROMPTLAB_SPOOL", str(killed.spool))
    lab = pl.Lab(url)
    assert lab.run_info(run_id)["status"] == "interrupted"  # its process is gone
    before = calls_in(log, killed.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = lab.sweep(
            *sweep_parts(killed.name, KILL_ROWS, latency=KILL_LATENCY, calls_log=log),
            experiment=EXPERIMENT,
            concurrency=4 * KILL_CONCURRENCY,  # how fast it goes is no part of the sweep's identity
            resume="auto",
            display=NullDisplay(),
        )
    assert user_visible([f"{w.category.__name__}: {w.message}" for w in caught]) == []
    called_again = calls_in(log, killed.name) - before

    assert run.run_id == run_id and run.status == "done"  # resumed, not started afresh
    df = run.df
    assert len(df) == KILL_ROWS and df["error"].isna().all()
    assert set(killed.acknowledged) <= set(df["trial_id"])  # every acknowledged trial counts
    everything = {call_text(killed.name, i) for i in range(KILL_ROWS)}
    done_before = {f"Repeat: {text}" for text in killed.acknowledged.values()}
    assert set(called_again) == everything - done_before  # only what was missing
    assert set(called_again.values()) == {1}
    # Called twice: only cells in flight at the kill. A worker's next call starts while
    # its last trial is written, so each of the KILL_CONCURRENCY workers has at most
    # two calls without an acknowledged trial (CellRunner._work).
    in_flight = set(killed.called) - done_before
    assert len(in_flight) <= 2 * KILL_CONCURRENCY
    total = killed.called + called_again
    assert total == Counter({text: 2 if text in in_flight else 1 for text in everything})
    print(f"{killed.name}: {len(done_before)} trials acknowledged before the kill, {len(in_flight)} in flight")


def test_kill_9_of_writers_loses_no_acknowledged_trial_and_resume_calls_only_what_is_missing(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = random.randrange(1 << 32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    names = [f"w{k}" for k in range(4)]
    victims = rng.sample(names, 2)
    spools = {name: tmp_path / f"spool-{name}" for name in names}
    log = tmp_path / "calls.log"
    # The second victim's machine has a Lab open from before the kill: its flush() sends the leftovers.
    monkeypatch.setenv("PROMPTLAB_SPOOL", str(spools[victims[1]]))
    open_before = pl.Lab(server_url)
    writers = {
        name: spawn(
            "writer",
            server_url,
            *("--prefix", name, "--rows", str(KILL_ROWS), "--calls-log", str(log)),
            *("--latency", str(KILL_LATENCY), "--concurrency", str(KILL_CONCURRENCY)),
            env={"PROMPTLAB_SPOOL": str(spools[name])},
        )
        for name in names
    }
    killed = []
    try:
        for victim in victims:
            calls = rng.randint(KILL_ROWS // 5, KILL_ROWS * 3 // 5)
            killed.append(
                kill_mid_sweep(victim, writers[victim], log=log, calls=calls, url=server_url, spool=spools[victim])
            )
        for each, send in zip(killed, ["next open", "flush"], strict=True):
            if send == "next open":
                monkeypatch.setenv("PROMPTLAB_SPOOL", str(each.spool))
                pl.Lab(server_url)
            else:
                assert open_before.flush() > 0
            assert spooled_trials(each.spool) == {}
            assert set(each.acknowledged) <= {trial_id for trial_id, *_ in served_trials(server_url, each.name)}
        survivors = {name: report(writers[name]) for name in names if name not in victims}
    finally:
        stop_all(list(writers.values()))

    for name, seen in survivors.items():
        assert user_visible(seen["warnings"]) == [], seen
        assert open_before.run_info(seen["run_id"])["status"] == "done"
        assert calls_in(log, name) == Counter({call_text(name, i): 1 for i in range(KILL_ROWS)})
        assert len(served_trials(server_url, name)) == KILL_ROWS
    for each in killed:
        resume_killed(each, server_url, log, monkeypatch)
    assert len(served_trials(server_url)) == len(names) * KILL_ROWS


# -- the server away for 30 s ----------------------------------------------------------

OUTAGE = 30.0
"""Seconds the server is stopped (what the issue says)."""

AWAY_ROWS = 320
AWAY_LATENCY = 0.25
"""With concurrency 2, a sweep of 40 s: under way before the outage, and after it."""

WAITING = re.compile(r"(\d+) trial\(s\) wait in the local spool and are sent when it is back")


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Cluster]:
    """A cluster this module may stop and start."""
    with prepared_cluster() as cluster:
        yield cluster


def server_away(cluster: Cluster, seconds: float, url: str, lab: pl.Lab) -> list[str]:
    """Stop the server for ``seconds``, reading meanwhile: each read fails with a
    clear StoreError, and a Lab opens with a warning. The HistoryWarnings said."""
    cluster.stop()
    back_at = time.monotonic() + seconds
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            while time.monotonic() < back_at:
                with pytest.raises(StoreError, match="can't be reached"):
                    lab.trials()
                with pytest.raises(StoreError, match="can't be reached"):
                    lab.runs()
                pl.Lab(url)
                time.sleep(min(2.0, max(0.0, back_at - time.monotonic())))
    finally:
        cluster.start()
        wait_until_up(cluster)
    return [str(w.message) for w in caught if issubclass(w.category, HistoryWarning)]


def test_a_sweep_rides_out_30_s_without_the_server_and_every_trial_arrives_once(own_cluster: Cluster) -> None:
    url = own_cluster.url(own_cluster.new_database(), user="tester")
    spool = Path(os.environ["PROMPTLAB_SPOOL"])  # the writer's too: one user, one machine
    lab = pl.Lab(url)
    options = ("--rows", str(AWAY_ROWS), "--latency", str(AWAY_LATENCY), "--concurrency", "2")
    writer = spawn("writer", url, "--prefix", "away", *options)
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged_by(url, spool, "away")) < 20:
            assert writer.poll() is None and time.monotonic() < deadline, writer.communicate()
            time.sleep(0.05)
        said_in_outage = server_away(own_cluster, OUTAGE, url, lab)
        assert writer.poll() is None, "the sweep ended before the server was back"
        seen = report(writer)
    finally:
        stop_all([writer])
    left_at_its_end = len(spooled_trials(spool))

    assert any("can't be reached" in said for said in said_in_outage)
    waiting = [int(n) for said in seen["warnings"] for n in WAITING.findall(said)]
    assert waiting and max(waiting) > 20, seen["warnings"]  # the sweep said how many wait
    assert user_visible(seen["warnings"], allowed=("can't be reached",)) == [], seen["warnings"]
    lab.flush()
    assert spooled_trials(spool) == {}
    rows = served_trials(url)
    assert len(rows) == AWAY_ROWS
    assert len({trial_id for trial_id, *_ in rows}) == len({cell for *_, cell, _ in rows}) == AWAY_ROWS
    assert {text for _, text, *_ in rows} == {f"away {i}" for i in range(AWAY_ROWS)}
    assert [error for *_, error in rows if error] == []
    trials = lab.trials(experiment=EXPERIMENT)
    assert len(trials) == AWAY_ROWS and trials["trial_id"].is_unique
    assert list(lab.runs(EXPERIMENT)["status"]) == ["done"]
    print(f"the sweep said {waiting} trial(s) wait; {left_at_its_end} were left when it ended")
    # It ended with the server up, so its end sent what waited (fold_soon: reads come
    # from the server). A connection gone stale in the outage must not fail that send.
    assert left_at_its_end == 0, seen["warnings"][-2:]


def test_labs_idle_while_the_server_restarted_read_and_send_when_it_is_back(own_cluster: Cluster) -> None:
    url = own_cluster.url(own_cluster.new_database(), user="tester")
    reader, writer = pl.Lab(url), pl.Lab(url)  # each holds a connection, idle through the restart
    own_cluster.stop()
    own_cluster.start()
    wait_until_up(own_cluster)
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = writer.sweep(*sweep_parts("idle", 10), experiment=EXPERIMENT, display=NullDisplay())
    said = user_visible([f"{w.category.__name__}: {w.message}" for w in caught])
    left = len(spooled_trials(Path(os.environ["PROMPTLAB_SPOOL"])))
    if said or left:
        problems.append(f"the sweep's end left {left} trial(s) in the spool: {said}")
    try:
        reader.trials()
    except StoreError as exc:
        problems.append(f"the first read after the restart failed: {exc}")
    assert problems == []
    assert len(run.df) == 10
