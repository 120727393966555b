"""``pl.logger``: an application's calls and its users' feedback, in the history.

What ``record`` acknowledged is in the history after a normal exit, with
everything it was given; it never raises and never waits; a full queue
drops and counts; feedback may name a call by the app's own id.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import promptlab as pl
from promptlab.core.redaction import REDACTED
from promptlab.production.logger import Logger

pytestmark = pytest.mark.both_stores

PROMPT = pl.Prompt(
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{ question }}"}], name="support"
)


def db_of(lab: pl.Lab) -> str:
    """What an application passes to ``pl.logger`` for this history."""
    url = getattr(lab.store, "url", None)
    return url if url is not None else str(lab.path)


class Usage:
    """Like the ``openai`` client's usage object."""

    prompt_tokens = 21
    completion_tokens = 9


def production(lab: pl.Lab) -> Any:
    lab.fold()
    return lab.trials(kind="production")


def test_record_keeps_everything_the_app_gave_and_never_waits(lab: pl.Lab) -> None:
    log = pl.logger(db_of(lab), source="support-app")
    labelled = PROMPT.labelled("production")
    started = time.perf_counter()
    first = log.record(
        labelled,
        {"question": "Where is my order?"},
        "It ships tomorrow.",
        model="gpt-4o-mini",
        latency_ms=812.5,
        usage=Usage(),
        end_user="u42",
        session="s-1",
        external_id="req-1",
        metadata={"route": "/chat", "token": "sk-abcdefghijklmnopqrstuv"},
    )
    failed = log.record(labelled, {"question": "Refund?"}, None, model="gpt-4o-mini", error=TimeoutError("too slow"))
    unrenderable = log.record(PROMPT, {"other": 1}, "answered anyway")
    assert time.perf_counter() - started < 0.05  # nothing waited on the store
    assert len({first, failed, unrenderable}) == 3 and all(len(i) == 32 for i in (first, failed, unrenderable))
    log.close()

    trials = production(lab).set_index("trial_id")
    assert set(trials.index) == {first, failed, unrenderable}
    ok = trials.loc[first]
    assert ok["kind"] == "production" and ok["label"] == "production" and ok["source"] == "support-app"
    assert ok["experiment"] == "support-app" and ok["prompt_name"] == "support"
    assert ok["prompt_version"] == PROMPT.version
    assert ok["vars"] == {"question": "Where is my order?"} and ok["output"] == "It ships tomorrow."
    assert ok["messages"][1] == {"role": "user", "content": "Where is my order?"}
    assert (ok["prompt_tokens"], ok["completion_tokens"], ok["latency_ms"]) == (21, 9, 812.5)
    assert ok["cost_usd"] == pytest.approx(pl.Model("gpt-4o-mini").price.cost(21, 9))  # type: ignore[union-attr]
    assert (ok["end_user"], ok["session_id"], ok["external_id"]) == ("u42", "s-1", "req-1")
    assert ok["metadata"] == {"route": "/chat", "token": REDACTED}  # a key never reaches the history
    assert trials.loc[failed, "error_type"] == "TimeoutError" and "too slow" in trials.loc[failed, "error"]
    assert trials.loc[unrenderable, "output"] == "answered anyway"
    assert "question" in trials.loc[unrenderable, "metadata"]["promptlab_render_error"]
    assert trials.loc[unrenderable, "label"] is None or trials.loc[unrenderable, "label"] != "production"
    runs = lab.runs(experiment="support-app")
    assert list(runs["status"]) == ["done"]
    assert "support-app" in set(lab.experiments()["experiment"])
    assert lab.trials().empty  # production calls stay out of sweep analyses unless asked for


def test_load_prompt_says_which_label_served_the_call(lab: pl.Lab, scripted: Any, quiet: Any) -> None:
    lab.sweep(PROMPT, scripted().model("m"), [{"question": "hi"}], display=quiet)
    lab.promote("support", PROMPT.version, label="staging")
    served = pl.load_prompt("support", label="staging", db=db_of(lab))
    assert served.label == "staging" and served == PROMPT
    with pl.logger(db_of(lab), source="app") as log:
        log.record(served, {"question": "hi"}, "hello")
    assert list(production(lab)["label"]) == ["staging"]


def test_feedback_by_the_apps_own_id_from_another_process(lab: pl.Lab) -> None:
    with pl.logger(db_of(lab), source="app") as log:
        first = log.record(PROMPT, {"question": "a"}, "A", external_id="req-a")
        second = log.record(PROMPT, {"question": "b"}, "B", external_id="req-b")
        log.feedback(first, vote=1, action="copied", end_user="u1")  # this process knows the trial
    # the feedback endpoint is another worker: it knows only the app's request id
    with pl.logger(db_of(lab), source="app") as other:
        other.feedback("req-b", vote=-1, correction="B, but better", action="edited", end_user="u2")
        other.feedback("req-unknown", vote=1)
    lab.fold()
    about_second = lab.feedback_for(second)
    assert list(about_second["vote"]) == [-1] and list(about_second["action"]) == ["edited"]
    assert list(about_second["end_user"]) == ["u2"] and list(about_second["source"]) == ["app"]
    trials = lab.trials(kind="production").set_index("trial_id")
    assert trials.loc[first, "votes_up"] == 1 and trials.loc[second, "votes_down"] == 1
    assert trials.loc[second, "correction"] == "B, but better"
    # a reviewer's vote in the notebook sits beside the app's, each with its source
    lab.feedback(second, vote=1)
    assert lab.feedback_for(second)["source"].tolist() == ["app", "reviewer"]


def test_a_full_queue_drops_and_counts_without_blocking(lab: pl.Lab) -> None:
    log = pl.logger(db_of(lab), source="stalled", queue_size=50, flush_every=0.05)
    stalled, release = threading.Event(), threading.Event()
    append = log.sink.append

    def stalling(rows: Any) -> None:
        stalled.set()
        release.wait(30)
        append(rows)

    log.sink.append = stalling  # type: ignore[method-assign]
    log.record(PROMPT, {"question": "first"}, "x")
    assert stalled.wait(5)  # the logger's thread is stuck in the store
    started = time.perf_counter()
    ids = [log.record(PROMPT, {"question": str(i)}, "x") for i in range(500)]
    took = time.perf_counter() - started
    assert took < 0.5, f"record waited on a stalled store ({took:.2f} s for 500)"
    assert len(set(ids)) == 500
    assert log.dropped == 450 and log.pending == 50
    release.set()
    log.close()
    assert log.written == 51 and log.dropped == 450
    assert len(production(lab)) == 51
    run = lab.run_info(lab.runs(experiment="stalled").iloc[0]["run_id"])
    assert "dropped 450" in run["error"] and run["config"]["dropped"] == 450


def test_record_never_raises_into_the_app(lab: pl.Lab) -> None:
    log = pl.logger(db_of(lab), source="careless")
    log.record("not a prompt", {"question": object()}, 42)  # type: ignore[arg-type]
    log.record(PROMPT, {"question": {1, 2}}, b"bytes", usage="nonsense", latency_ms="slow")  # type: ignore[arg-type]
    log.feedback("whatever", vote=7)
    log.close()
    log.record(PROMPT, {"question": "after close"}, "late")  # counted, not raised
    assert log.dropped >= 1


def test_app_processes_log_while_a_sweep_runs_and_a_notebook_reads(
    lab: pl.Lab, tmp_path: Path, scripted: Any, quiet: Any
) -> None:
    apps = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parents[1] / "support" / "app_worker.py"),
                db_of(lab),
                f"app{i}",
                "1500",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    provider = scripted()
    run = lab.sweep(
        pl.Prompt("Say {{ x }}", name="sweep"), provider.model("m"), [{"x": i} for i in range(40)], display=quiet
    )
    while any(app.poll() is None for app in apps):
        lab.trials(kind="production", limit=5, newest_first=True)  # the notebook reads meanwhile
        time.sleep(0.2)
    acknowledged = set()
    for app in apps:
        out, _ = app.communicate()
        assert app.returncode == 0
        for line in out.splitlines():
            acknowledged.update(line.split()[1:])
    assert len(acknowledged) == 6000
    trials = production(lab)
    assert set(trials["external_id"]) == acknowledged
    assert len(trials) == 6000  # each once
    assert len(run.df) == 40
    assert set(lab.runs(experiment="app0")["status"]) == {"done"}


@pytest.mark.file_only
def test_kill_9_loses_at_most_the_documented_window(lab: pl.Lab) -> None:
    app = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parents[1] / "support" / "app_worker.py"),
            db_of(lab),
            "doomed",
            "0",
            "--hold",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[tuple[float, list[str]]] = []
    assert app.stdout is not None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        line = app.stdout.readline()
        stamp, *ids = line.split()
        acknowledged.append((float(stamp), ids))
    killed_at = time.time()
    app.kill()
    app.wait()
    found = set(production(lab)["external_id"])
    window = Logger.__init__.__kwdefaults__["flush_every"] + 0.5  # the documented window, and slack for a busy CI
    old_enough = {i for stamp, ids in acknowledged if stamp < killed_at - window for i in ids}
    assert old_enough and old_enough <= found
    lost = {i for _, ids in acknowledged for i in ids} - found
    assert len(lost) < len({i for _, ids in acknowledged for i in ids})
