"""The runner on offline providers: recording, failures, concurrency, cache,
resume, cancellation, rate limits, retries, timeouts, lineage and cost."""

from __future__ import annotations

import asyncio
import faulthandler
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from support.history import settle
from support.providers import RecordingDisplay, ScriptedProvider
from support.stores import as_user

import promptlab as pl
from promptlab.core.grid import expand, make_sweep
from promptlab.errors import ConfigError, PermanentError, RateLimitError, TransientError, UnknownProviderError
from promptlab.providers import Completion, Request
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model

pytestmark = pytest.mark.both_stores

Make = Callable[..., ScriptedProvider]

PROMPT = pl.Prompt("Answer: {{ text }}", name="answer")


def rows(n: int, prefix: str = "item") -> list[dict[str, str]]:
    return [{"text": f"{prefix} {i}"} for i in range(n)]


def text_of(trial_vars: dict[str, str]) -> str:
    return f"Answer: {trial_vars['text']}"


def block_after(provider_calls: Callable[[], int], limit: int):  # type: ignore[no-untyped-def]
    """A behaviour: answer the first ``limit`` calls, then never answer."""

    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if provider_calls() > limit:
            await asyncio.sleep(3600)
        return None

    return behave


# -- recording ---------------------------------------------------------------------


def test_every_cell_is_recorded(lab: pl.Lab, quiet: NullDisplay) -> None:
    prompts = [PROMPT, pl.Prompt([{"role": "system", "content": "Shout."}, {"role": "user", "content": "{{ text }}"}])]
    models = [fake_model("echo"), fake_model("upper")]
    data = rows(3)
    run = lab.sweep(prompts, models, data, repeats=2, experiment="all", display=quiet)
    df = run.df
    expected = expand(make_sweep(prompts, models, data, None, 2))
    assert len(df) == len(expected) == 24
    assert sorted(lab.trials(run=run)["trial_id"]) == sorted(df["trial_id"])
    stored_keys = {lab.trial(t)["cell_key"] for t in df["trial_id"]}
    assert stored_keys == {c.cell_key for c in expected}
    assert df["error"].isna().all()
    assert (df["run_id"] == run.run_id).all()
    assert (df["experiment"] == "all").all()
    assert run.status == "done"
    upper = df[(df["model"] == "upper") & (df["prompt_name"] == "answer")]
    assert sorted(upper["output"].unique()) == ["ANSWER: ITEM 0", "ANSWER: ITEM 1", "ANSWER: ITEM 2"]
    info = lab.run_info(run.run_id)
    assert info["n_cells"] == 24
    assert info["ended_at"] is not None


def test_progress_reaches_the_total(lab: pl.Lab, recording_display: RecordingDisplay) -> None:
    lab.sweep(PROMPT, fake_model("echo"), rows(5), display=recording_display)
    assert recording_display.status == "done"
    assert recording_display.progress is not None
    assert (recording_display.progress.done, recording_display.progress.total) == (5, 5)


def test_a_failing_cell_is_a_trial_and_the_sweep_carries_on(lab: pl.Lab, quiet: NullDisplay) -> None:
    data = [{"text": "fine"}, {"text": "bad input"}, {"text": "also fine"}]
    run = lab.sweep(PROMPT, fake_model("echo", fail_if="bad"), data, display=quiet)
    df = run.df.set_index(run.df["vars"].map(lambda v: v["text"]))
    assert len(df) == 3
    assert df.loc["bad input", "error_type"] == "PermanentError"
    assert "fake failure" in df.loc["bad input", "error"]
    assert df.loc["bad input", "output"] is None or pd.isna(df.loc["bad input", "output"])
    assert df.loc["fine", "output"] == "Answer: fine"
    assert df.loc[["fine", "also fine"], "error_type"].isna().all()
    assert run.status == "done"
    assert lab.runs().iloc[0]["n_errors"] == 1


def test_an_unexpected_exception_in_a_provider_is_recorded(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if "boom" in text:
            raise ValueError("provider bug")
        return None

    provider = scripted(behave)
    run = lab.sweep(PROMPT, provider.model(), [{"text": "boom"}, {"text": "ok"}], display=quiet)
    errors = run.df.dropna(subset=["error_type"])
    assert list(errors["error_type"]) == ["ValueError"]
    assert "provider bug" in errors.iloc[0]["error"]
    assert run.df["output"].notna().sum() == 1


def test_unknown_provider_fails_before_anything_is_written(lab: pl.Lab, quiet: NullDisplay) -> None:
    with pytest.raises(UnknownProviderError, match="register_provider"):
        lab.sweep(PROMPT, pl.Model("m", provider="nobody-registered-this"), rows(2), display=quiet)
    assert lab.runs().empty


@pytest.mark.parametrize(
    ("setting", "value"),
    [("concurrency", 0), ("timeout", 0), ("max_retries", -1), ("max_wait", -1), ("experiment", "")],
)
def test_bad_settings_are_config_errors(lab: pl.Lab, quiet: NullDisplay, setting: str, value: object) -> None:
    with pytest.raises(ConfigError, match=setting if setting != "experiment" else "experiment"):
        lab.sweep(PROMPT, fake_model(), rows(1), display=quiet, **{setting: value})  # type: ignore[arg-type]


# -- concurrency -------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_bound_is_respected(lab: pl.Lab, scripted: Make, quiet: NullDisplay, concurrency: int) -> None:
    provider = scripted(latency=0.01)
    lab.sweep(PROMPT, provider.model(), rows(24), concurrency=concurrency, display=quiet)
    assert provider.calls == 24
    assert provider.max_in_flight == concurrency  # reached, never exceeded


# -- cache -------------------------------------------------------------------------


def test_identical_sweep_is_answered_from_history(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    model = provider.model(price=(1.0, 2.0))
    first = lab.sweep(PROMPT, model, rows(4), repeats=2, display=quiet)
    assert provider.calls == 8
    second = lab.sweep(PROMPT, model, rows(4), repeats=2, display=quiet)
    assert provider.calls == 8  # nothing called again
    assert second.run_id != first.run_id  # a finished run is not resumed
    old = {lab.trial(t)["cell_key"]: t for t in first.df["trial_id"]}
    new = second.df
    assert new["cached"].all()
    assert (new["attempts"] == 0).all()
    for trial_id in new["trial_id"]:
        trial = lab.trial(trial_id)
        assert trial["cached_from"] == old[trial["cell_key"]]
        assert trial["output"] == lab.trial(old[trial["cell_key"]])["output"]
    assert first.df["cached"].eq(False).all()
    runs = lab.runs().set_index("run_id")
    assert runs.loc[second.run_id, "n_cached"] == 8
    assert runs.loc[second.run_id, "spent_usd"] == 0  # a cached answer costs nothing
    assert runs.loc[first.run_id, "spent_usd"] > 0


def test_cache_is_shared_between_users(lab: pl.Lab, scripted: Make, quiet: NullDisplay, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    provider = scripted()
    lab.sweep(PROMPT, provider.model(), rows(3), display=quiet)
    run = as_user(lab, "teammate", monkeypatch).sweep(PROMPT, provider.model(), rows(3), display=quiet)
    assert provider.calls == 3
    assert run.df["cached"].all()
    assert set(run.df["user"]) == {"teammate"}


def test_cache_false_calls_again(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    lab.sweep(PROMPT, provider.model(), rows(3), display=quiet)
    run = lab.sweep(PROMPT, provider.model(), rows(3), cache=False, display=quiet)
    assert provider.calls == 6
    assert not run.df["cached"].any()
    assert (run.df["attempts"] == 1).all()


def test_changed_parameters_are_not_answered_from_cache(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    lab.sweep(PROMPT, provider.model(temperature=0), rows(2), display=quiet)
    lab.sweep(PROMPT, provider.model(temperature=0.5), rows(2), display=quiet)
    assert provider.calls == 4


def test_errors_are_not_cached(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if "flaky" in text and attempt == 1:
            raise PermanentError("refused the first time")
        return None

    provider = scripted(behave)
    data = [{"text": "flaky"}, {"text": "steady"}]
    first = lab.sweep(PROMPT, provider.model(), data, display=quiet)
    assert first.df["error_type"].notna().sum() == 1
    second = lab.sweep(PROMPT, provider.model(), data, display=quiet)
    assert provider.attempts == {"Answer: flaky": 2, "Answer: steady": 1}
    df = second.df.set_index(second.df["vars"].map(lambda v: v["text"]))
    assert not df.loc["flaky", "cached"]
    assert df.loc["flaky", "output"] == "scripted: Answer: flaky"
    assert df.loc["steady", "cached"]


# -- resume and cancellation -------------------------------------------------------


def cancel_after(lab: pl.Lab, provider: ScriptedProvider, data: list[dict[str, str]], done: int) -> None:
    """Run a sweep whose calls past ``done`` never answer, and cancel its task
    once ``done`` trials are recorded."""
    display = RecordingDisplay()
    reached = display.reached(done)

    async def main() -> None:
        task = asyncio.create_task(lab.asweep(PROMPT, provider.model(), data, concurrency=2, display=display))
        await asyncio.wait_for(asyncio.to_thread(reached.wait), 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert display.status == "cancelled"


def test_cancelled_run_is_resumed_by_running_the_same_sweep(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    provider.behave = block_after(lambda: provider.calls, 5)
    data = rows(12)
    cancel_after(lab, provider, data, done=5)

    [cancelled] = lab.runs().to_dict("records")
    assert cancelled["status"] == "cancelled"
    kept = lab.trials(run=cancelled["run_id"])
    assert len(kept) == 5  # every finished trial kept, nothing else
    finished = {text_of(v) for v in kept["vars"]}
    before = provider.attempts.copy()

    provider.behave = None
    run = lab.sweep(PROMPT, provider.model(), data, concurrency=2, display=quiet)
    assert run.run_id == cancelled["run_id"]
    assert run.status == "done"
    called_now = provider.attempts - before
    assert not finished & set(called_now)  # no finished cell was called again
    assert set(called_now) == {text_of(r) for r in data} - finished
    df = run.df
    assert len(df) == 12
    assert df["error_type"].isna().all()
    assert set(kept["trial_id"]) <= set(df["trial_id"])
    assert len(lab.runs()) == 1


def test_resume_false_starts_a_new_run(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    provider.behave = block_after(lambda: provider.calls, 3)
    data = rows(8)
    cancel_after(lab, provider, data, done=3)
    cancelled_id = lab.runs().iloc[0]["run_id"]
    provider.behave = None

    run = lab.sweep(PROMPT, provider.model(), data, resume=False, display=quiet)
    assert run.run_id != cancelled_id
    assert len(run.df) == 8
    assert run.df["cached"].sum() == 3  # the new run reuses the 3 answers already paid for
    statuses = lab.runs().set_index("run_id")["status"]
    assert statuses[cancelled_id] == "cancelled"
    assert statuses[run.run_id] == "done"


def test_resume_a_run_by_id_prefix(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    provider.behave = block_after(lambda: provider.calls, 2)
    cancel_after(lab, provider, rows(6), done=2)
    run_id = lab.runs().iloc[0]["run_id"]
    provider.behave = None
    run = lab.sweep(PROMPT, provider.model(), rows(6), resume=run_id[:10], display=quiet)
    assert run.run_id == run_id
    assert len(run.df) == 6
    with pytest.raises(ConfigError, match="different sweep"):
        lab.sweep(PROMPT, provider.model(), rows(7), resume=run_id, display=quiet)


def test_resumed_run_has_one_trial_per_cell(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if "bad" in text:
            raise PermanentError("always refused")
        if provider.calls > 4:
            await asyncio.sleep(3600)
        return None

    provider = scripted(behave)
    data = [{"text": "bad"}, *rows(6)]
    cancel_after(lab, provider, data, done=4)
    provider.behave = None
    run = lab.sweep(PROMPT, provider.model(), data, display=quiet)
    # The runner's promise: every cell ends as exactly one recorded trial.
    assert len(run.df) == len(data)
    assert run.summary()["n"].sum() == len(data)


def test_sweep_works_inside_a_running_event_loop(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()

    async def notebook_cell() -> pl.Run:
        return lab.sweep(PROMPT, provider.model(), rows(4), display=quiet)  # a plain call, as in Jupyter

    run = asyncio.run(notebook_cell())
    assert len(run.df) == 4
    assert threading.get_ident() not in provider.threads  # it ran on a worker thread of its own


def test_asweep_can_be_awaited(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()

    async def main() -> pl.Run:
        return await lab.asweep(PROMPT, provider.model(), rows(4), display=quiet)

    run = asyncio.run(main())
    assert run.status == "done"
    assert len(run.df) == 4
    assert provider.threads == {threading.get_ident()}


def wait_until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll ``condition`` (a guard against hanging, not a measurement)."""
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def interrupt_when(event: threading.Event, provider: ScriptedProvider, display: RecordingDisplay) -> None:
    """Press Ctrl+C once ``event`` is set: a real SIGINT to the main thread.

    A signal that lands just before the event loop blocks in its selector is
    only handled when the loop next wakes (CPython sets no wakeup fd for
    asyncio.run's handler), so the sweep's loop is nudged awake as well, and
    Ctrl+C is pressed again, as a person would, while the sweep hasn't stopped.
    """
    main = threading.main_thread().ident
    assert main is not None

    def press() -> None:
        if not event.wait(60):
            # Say what the sweep was doing, so a stall explains itself in CI's log.
            print(
                f"never reached: calls={provider.calls} done={display.done} messages={display.messages}",
                file=sys.stderr,
                flush=True,
            )
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            return
        for _ in range(10):
            signal.pthread_kill(main, signal.SIGINT)
            if provider.loop is not None:
                provider.loop.call_soon_threadsafe(lambda: None)
            deadline = time.monotonic() + 5
            while display.status is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if display.status is not None:
                return

    threading.Thread(target=press, daemon=True).start()


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Ctrl+C wired as a terminal or a kernel has it. A process that a
    non-interactive shell starts in the background (``nohup … &``, some CI
    runners) inherits SIGINT ignored, and Python then leaves it ignored: these
    tests would press Ctrl+C into nothing and wait for a sweep never stopped
    (what made them hang in earlier full-suite runs)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_in_a_notebook_keeps_finished_trials(lab: pl.Lab, scripted: Make) -> None:
    provider = scripted()
    gate = threading.Event()  # calls past the 4th wait here until the test opens it

    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if provider.calls > 4:
            while not gate.is_set():
                await asyncio.sleep(0.01)
        return None

    provider.behave = behave
    display = RecordingDisplay()
    interrupt_when(display.reached(4), provider, display)
    loop = asyncio.new_event_loop()  # a kernel's loop: no asyncio.run SIGINT handler

    async def notebook_cell() -> pl.Run:
        return lab.sweep(PROMPT, provider.model(), rows(10), concurrency=2, display=display)

    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(notebook_cell())
    finally:
        loop.close()
    # When the interrupt reaches the notebook the sweep must be stopped and its run
    # recorded as cancelled, so that running the same sweep again resumes it.
    status_when_interrupted = display.status
    runs_when_interrupted = list(lab.runs()["status"])
    gate.set()  # a sweep still running now would go on to call every remaining cell
    wait_until(lambda: display.status is not None)
    settle()
    assert status_when_interrupted == "cancelled"
    assert runs_when_interrupted == ["cancelled"]
    assert display.status == "cancelled"
    assert len(lab.trials()) == 4


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_in_a_script_keeps_finished_trials(lab: pl.Lab, scripted: Make) -> None:
    provider = scripted()
    provider.behave = block_after(lambda: provider.calls, 3)
    display = RecordingDisplay()
    interrupt_when(display.reached(3), provider, display)
    with pytest.raises(KeyboardInterrupt):
        lab.sweep(PROMPT, provider.model(), rows(10), concurrency=2, display=display)
    [run] = lab.runs().to_dict("records")
    assert run["status"] == "cancelled"
    assert len(lab.trials(run=run["run_id"])) == 3


# -- rate limits, retries, timeouts ------------------------------------------------


def test_rate_limits_are_retried_after_retry_after(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if "busy" in text and attempt <= 2:
            raise RateLimitError("HTTP 429: slow down", retry_after=0.2)
        return None

    provider = scripted(behave)
    run = lab.sweep(PROMPT, provider.model(), [{"text": "busy"}, {"text": "calm"}], display=quiet)
    df = run.df.set_index(run.df["vars"].map(lambda v: v["text"]))
    assert df["error_type"].isna().all()
    assert df.loc["busy", "attempts"] == 3
    assert df.loc["calm", "attempts"] == 1
    assert provider.attempts["Answer: busy"] == 3


def test_retry_after_beyond_max_wait_is_recorded(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        raise RateLimitError("HTTP 429: come back tomorrow", retry_after=3600)

    provider = scripted(behave)
    run = lab.sweep(PROMPT, provider.model(), rows(2), max_wait=5, display=quiet)
    assert len(run.df) == 2
    assert run.df["error"].str.contains("max_wait").all()
    assert (run.df["attempts"] == 1).all()
    assert provider.calls == 2
    assert run.status == "done"


def test_transient_errors_are_retried_up_to_max_retries(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if "down" in text:
            raise TransientError("HTTP 503: service unavailable", status=503)
        if "wobbly" in text and attempt == 1:
            raise TransientError("HTTP 502: bad gateway", status=502)
        return None

    provider = scripted(behave)
    data = [{"text": "down"}, {"text": "wobbly"}, {"text": "fine"}]
    run = lab.sweep(PROMPT, provider.model(), data, max_retries=2, display=quiet)
    df = run.df.set_index(run.df["vars"].map(lambda v: v["text"]))
    assert df.loc["down", "error_type"] == "TransientError"
    assert "503" in df.loc["down", "error"]
    assert df.loc["down", "attempts"] == 3  # the first call and 2 retries
    assert provider.attempts["Answer: down"] == 3
    assert pd.isna(df.loc["wobbly", "error_type"])
    assert df.loc["wobbly", "attempts"] == 2
    assert df.loc["fine", "attempts"] == 1


def test_no_retries_when_max_retries_is_zero(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        raise TransientError("HTTP 500", status=500)

    provider = scripted(behave)
    run = lab.sweep(PROMPT, provider.model(), rows(2), max_retries=0, display=quiet)
    assert (run.df["attempts"] == 1).all()
    assert provider.calls == 2


def test_permanent_errors_are_not_retried(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        raise PermanentError("HTTP 400: bad request", status=400)

    provider = scripted(behave)
    run = lab.sweep(PROMPT, provider.model(), rows(2), max_retries=4, display=quiet)
    assert (run.df["attempts"] == 1).all()
    assert (run.df["error_type"] == "PermanentError").all()
    assert provider.calls == 2


def test_a_hung_call_ends_as_a_timeout_trial(
    lab: pl.Lab, scripted: Make, quiet: NullDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner allows a provider that keeps no time of its own TIMEOUT_GRACE
    # extra seconds; none here, so the test takes ~timeout per attempt.
    monkeypatch.setattr("promptlab.runner.cells.TIMEOUT_GRACE", 0.0)

    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        if "hang" in text:
            await asyncio.sleep(3600)
        return None

    provider = scripted(behave)
    run = lab.sweep(
        PROMPT, provider.model(), [{"text": "hang"}, {"text": "quick"}], timeout=0.2, max_retries=1, display=quiet
    )
    df = run.df.set_index(run.df["vars"].map(lambda v: v["text"]))
    assert df.loc["hang", "error_type"] == "CallTimeoutError"
    assert df.loc["hang", "attempts"] == 2  # a timeout is transient: retried
    assert df.loc["quick", "output"] == "scripted: Answer: quick"


def test_a_provider_slower_than_timeout_is_cut_off(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    async def behave(request: Request, text: str, attempt: int) -> Completion | None:
        await asyncio.sleep(1.0)  # well past timeout=0.25, well inside the 5 s grace
        return None

    provider = scripted(behave)
    run = lab.sweep(PROMPT, provider.model(), rows(1), timeout=0.25, max_retries=0, display=quiet)
    assert run.df.iloc[0]["error_type"] == "CallTimeoutError"


# -- what a trial carries ----------------------------------------------------------


def git(folder: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository of the test's own, as the working directory."""
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / "prompts.txt").write_text("v1")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "v1")
    monkeypatch.chdir(folder)
    return folder


def test_lineage_columns(lab: pl.Lab, quiet: NullDisplay, repository: Path) -> None:
    run = lab.sweep(PROMPT, fake_model(), rows(1), display=quiet)
    trial = lab.trial(run.df.iloc[0]["trial_id"])
    assert trial["user"] == "tester"
    assert trial["host"] == socket.gethostname()
    assert trial["pid"] == os.getpid()
    assert trial["promptlab_version"] == pl.__version__
    assert isinstance(trial["source"], str) and trial["source"]  # the script (pytest) that ran it
    assert trial["git_commit"] == git(repository, "rev-parse", "HEAD")
    assert trial["kind"] == "sweep"
    assert trial["started_at"] <= trial["created_at"]
    info = lab.run_info(run.run_id)
    assert (info["user"], info["host"], info["pid"]) == ("tester", socket.gethostname(), os.getpid())
    assert info["git_commit"] == trial["git_commit"]


def test_source_can_be_named(lab: pl.Lab, quiet: NullDisplay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTLAB_SOURCE", "experiments/summaries.yaml")
    run = lab.sweep(PROMPT, fake_model(), rows(1), display=quiet)
    assert lab.trial(run.df.iloc[0]["trial_id"])["source"] == "experiments/summaries.yaml"


def test_git_commit_follows_new_commits(lab: pl.Lab, quiet: NullDisplay, repository: Path) -> None:
    first = lab.sweep(PROMPT, fake_model(), rows(1), display=quiet)
    (repository / "prompts.txt").write_text("v2")
    git(repository, "commit", "-q", "-am", "v2")
    second = lab.sweep(PROMPT, fake_model(), rows(1, prefix="other"), display=quiet)
    assert lab.run_info(first.run_id)["git_commit"] != lab.run_info(second.run_id)["git_commit"]
    assert lab.run_info(second.run_id)["git_commit"] == git(repository, "rev-parse", "HEAD")


def test_trial_records_request_and_response(lab: pl.Lab, quiet: NullDisplay) -> None:
    run = lab.sweep(PROMPT, fake_model("echo", max_tokens=2), [{"text": "one two three"}], display=quiet)
    trial = lab.trial(run.df.iloc[0]["trial_id"])
    assert trial["messages"] == [{"role": "user", "content": "Answer: one two three"}]
    assert trial["vars"] == {"text": "one two three"}
    assert trial["params"] == {"max_tokens": 2}
    assert trial["output"] == "Answer: one"
    assert trial["finish_reason"] == "length"
    assert (trial["prompt_tokens"], trial["completion_tokens"]) == (4, 2)
    assert trial["response"] == {"model": "echo", "output": "Answer: one"}
    assert trial["latency_ms"] >= 0
    assert trial["provider"] == "fake"
    assert trial["prompt_version"] == PROMPT.version


def test_cost_is_null_for_an_unknown_price(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    run = lab.sweep(PROMPT, provider.model("no-price-known"), rows(2), display=quiet)
    assert run.df["cost_usd"].isna().all()
    assert lab.trial(run.df.iloc[0]["trial_id"])["cost_usd"] is None
    assert pd.isna(lab.runs().iloc[0]["spent_usd"])  # unknown, not a fake 0


def test_cost_is_computed_for_a_priced_model(lab: pl.Lab, scripted: Make, quiet: NullDisplay) -> None:
    provider = scripted()
    run = lab.sweep(PROMPT, provider.model("x", price=(1.0, 2.0)), [{"text": "three word input"}], display=quiet)
    trial = run.df.iloc[0]
    # The scripted provider counts 4 prompt words and answers with 5 tokens.
    assert (trial["prompt_tokens"], trial["completion_tokens"]) == (4, 5)
    assert math.isclose(trial["cost_usd"], (4 * 1.0 + 5 * 2.0) / 1_000_000)
    assert math.isclose(lab.runs().iloc[0]["spent_usd"], trial["cost_usd"])


def test_a_slow_starting_provider_starts_before_any_call_is_timed(lab: pl.Lab, recording_display) -> None:  # type: ignore[no-untyped-def]
    class SlowToStart:
        starting_message = "starting the local model…"

        def __init__(self) -> None:
            self.ready = False

        async def start(self) -> None:
            await asyncio.sleep(0.6)  # loading a model
            self.ready = True

        async def complete(self, request: Request) -> Completion:
            assert self.ready, "called before it started"
            return Completion(output="ok")

        async def aclose(self) -> None:
            pass

    name = f"slow-{uuid.uuid4().hex[:8]}"
    pl.register_provider(name, lambda model: SlowToStart())
    run = lab.sweep(
        pl.Prompt("Hi {{ n }}"),
        pl.Model("m", provider=name),
        [{"n": "a"}, {"n": "b"}],
        timeout=0.3,
        display=recording_display,
    )
    assert run.df["error_type"].isna().all()  # the start-up did not count against the calls' timeout
    assert (run.df["latency_ms"] < 300).all()
    assert "starting the local model…" in recording_display.messages
