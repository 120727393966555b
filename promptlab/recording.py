"""A sweep recorded as a run: where it resumes, the rows around it, its life.

``record_sweep`` is what ``Lab.sweep``, ``Lab.asweep`` and ``Lab.start``
all come down to: plan the cells, decide the run (new or resumed), write the
run's opening rows, let the runner record a trial per cell, and close the
run with its status whatever happens.

A run is claimed (an ``flock`` beside the journal) for as long as a process
records into it. Two processes resuming the same interrupted run would
otherwise both call its remaining cells: the second waits for the first,
then finds the cells done and calls nothing. Each state of a run row
carries a revision one higher than the last, so the newest state wins
whatever the clocks of the machines that wrote them say.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict

from promptlab import columns, evals
from promptlab.data import Data, load_rows
from promptlab.display import Display, Progress, default_display
from promptlab.errors import ConfigError, StoreBusyError, StoreError
from promptlab.evaluator import Evaluator
from promptlab.keys import new_id
from promptlab.lineage import HEARTBEAT_SECONDS, Lineage, current_lineage, run_status, utcnow
from promptlab.model import Model
from promptlab.prompt import Prompt
from promptlab.runner import BUSY_LOOKUP_WAIT, CellRunner, RunContext, RunSettings
from promptlab.scoring import Scorer, check_columns
from promptlab.store import Store, reads
from promptlab.store.lock import claimed
from promptlab.sweep import Cell, Sweep, expand, fingerprint, make_sweep, model_variants


class SweepOptions(TypedDict, total=False):
    """Keyword options of ``Lab.sweep`` (and ``asweep``, ``start``, ``estimate``)."""

    params: Mapping[str, Any] | None
    """Parameter grid crossed with every model, e.g. ``{"temperature": [0.0, 0.7]}``."""
    repeats: int
    """Calls per (prompt, model, row); default 1."""
    experiment: str
    """Experiment name; default ``"default"``."""
    description: str | None
    """Experiment description (kept from earlier runs when not given)."""
    tags: Sequence[str] | None
    """Experiment tags (kept from earlier runs when not given)."""
    concurrency: int
    """Calls in flight at most; default 8."""
    timeout: float | None
    """Seconds per call; default 60, None for no limit."""
    max_retries: int
    """Retries after transient errors and rate limits; default 4."""
    max_wait: float
    """Longest Retry-After honoured, in seconds; default 600."""
    cache: bool
    """Answer requests that already succeeded from history; default True."""
    resume: bool | str | Literal["auto"]
    """"auto" (default): continue this user's unfinished run of the same sweep;
    a run id: continue that run; False: always a new run."""
    display: Display | None
    """Where progress goes; default: tqdm in terminals and notebooks, lines in logs."""
    evaluators: Sequence[Evaluator | Callable[..., Any]] | None
    """Evaluators scoring each trial as it finishes (``pl.evals``, or plain functions)."""


@dataclass(frozen=True)
class PlannedSweep:
    """A sweep checked and expanded, ready to run (nothing written yet)."""

    sweep: Sweep
    """The grid."""

    cells: list[Cell]
    """Every cell of it."""

    settings: RunSettings
    """How calls are made."""

    experiment: str
    """Experiment name."""

    data: str
    """Where the rows came from, for the run's config."""

    evaluators: tuple[Evaluator, ...] = ()
    """Evaluators scoring each trial."""


MODEL_PARAMETERS = frozenset({
    "temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "min_p", "seed", "stop",
    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "response_format",
    "tools", "tool_choice", "reasoning_effort", "stream", "n",
})  # fmt: skip
"""Names that are model parameters, not sweep options (a common slip)."""


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse a keyword ``sweep`` doesn't take (a misspelt option would otherwise
    be ignored and the sweep run with the default), naming the nearest one."""
    known = list(SweepOptions.__annotations__)
    for name in options:
        if name in known:
            continue
        if name in MODEL_PARAMETERS:
            raise ConfigError(
                f"{name}= is a model parameter, not a sweep option: give it to the model, "
                f"pl.Model(..., {name}=...), or sweep it with params={{{name!r}: [...]}}"
            )
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}=? " if close else ""
        raise ConfigError(f"sweep got an unknown option {name}=; {hint}options: {', '.join(sorted(known))}")


def plan_sweep(
    prompts: Prompt | Sequence[Prompt], models: Model | Sequence[Model], data: Data, options: SweepOptions
) -> PlannedSweep:
    """Check every argument and expand the cells; raises before anything runs."""
    check_options(options)
    experiment = options.get("experiment", "default")
    if not experiment or not isinstance(experiment, str):
        raise ConfigError("experiment must be a non-empty name, e.g. experiment='summaries'")
    settings = _settings(options)
    rows = load_rows(data)
    sweep = make_sweep(prompts, models, rows, options.get("params"), options.get("repeats", 1))
    described = str(data) if isinstance(data, (str, os.PathLike)) else f"{type(data).__name__} of {len(rows)} rows"
    evaluators = evals.coerce(options.get("evaluators"))
    check_columns(evaluators, rows)  # a missing `expected` column fails now, not after the calls
    return PlannedSweep(sweep, expand(sweep), settings, experiment, described, tuple(evaluators))


def _settings(options: SweepOptions) -> RunSettings:
    concurrency = options.get("concurrency", 8)
    timeout = options.get("timeout", 60.0)
    max_retries = options.get("max_retries", 4)
    max_wait = options.get("max_wait", 600.0)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number ≥ 1, got {concurrency!r}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be a number of seconds > 0 (or None), got {timeout!r}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"max_retries must be a whole number ≥ 0, got {max_retries!r}")
    if not max_wait >= 0:
        raise ConfigError(f"max_wait must be ≥ 0 seconds, got {max_wait!r}")
    return RunSettings(concurrency, timeout, max_retries, max_wait, bool(options.get("cache", True)))


@dataclass(frozen=True)
class RunStart:
    """Where a sweep starts recording: a new run, or one it resumes."""

    run_id: str
    """The run recording the trials."""

    skip: set[str]
    """Cells that already have a successful trial in it."""

    revision: int
    """The revision of the run's opening row (one more than its last)."""

    experiment: dict[str, Any] | None
    """The experiment's row, when history has one."""

    readable: bool
    """False when a program outside promptlab held the file: history couldn't be read."""


async def record_sweep(
    store: Store, plan: PlannedSweep, options: SweepOptions, on_run: Callable[[str], None] | None = None
) -> str:
    """Run the planned sweep, recording a trial per cell; returns the run id
    (also given to ``on_run`` as soon as it is known)."""
    lineage = current_lineage()
    display = options.get("display") or default_display()
    with contextlib.ExitStack() as claim:
        start = await asyncio.to_thread(
            lambda: _start(store, plan.experiment, fingerprint(plan.cells), options.get("resume", "auto"),
                           lineage=lineage, claim=claim, display=display)
        )  # fmt: skip
        if on_run is not None:
            on_run(start.run_id)
        return await _record(store, plan, options, lineage=lineage, start=start, display=display)


async def _record(
    store: Store, plan: PlannedSweep, options: SweepOptions, *, lineage: Lineage, start: RunStart, display: Display
) -> str:
    context = RunContext(start.run_id, plan.experiment, lineage)
    if not start.readable:
        display.message("the history file is held by another program: starting a new run, recording to the journal")
    judges = CellRunner(store, replace(context, kind="judge"), plan.settings, display)
    scorer = Scorer(plan.evaluators, judges, lineage.user) if plan.evaluators else None
    runner = CellRunner(store, context, plan.settings, display, scorer)
    runner.prepare(plan.cells)  # unknown providers, missing keys: fail before writing anything
    for evaluator in plan.evaluators:
        if isinstance(model := getattr(evaluator, "model", None), Model):
            judges.prepare_model(model)
    states = RunStates(store, _run_row(context, plan, start.revision))
    opening = _opening_rows(
        plan.sweep, states.row, existing=start.experiment, description=options.get("description"),
        tags=options.get("tags"), lineage=lineage, known=start.readable,
    )  # fmt: skip
    await asyncio.to_thread(store.append, opening)
    heartbeat = asyncio.create_task(states.beat())

    progress = Progress(total=len(plan.cells))
    progress.resumed = progress.done = sum(cell.cell_key in start.skip for cell in plan.cells)
    display.start(f"{plan.experiment} · run {start.run_id[:8]}", progress)
    status, error = "failed", None
    try:
        try:
            await runner.run(plan.cells, progress, start.skip)
        finally:
            await judges.aclose()
        status = "done"
    except asyncio.CancelledError:
        status = "cancelled"
        display.message(
            f"cancelled: {progress.done} of {progress.total} cells recorded; run the same sweep again to finish it"
        )
        raise
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        heartbeat.cancel()
        try:
            states.write(status=status, ended_at=utcnow().isoformat(), error=error)
            store.fold_soon()
        except (OSError, StoreError) as exc:  # e.g. a full disk: never hide why the sweep stopped
            display.message(f"the run's end could not be recorded ({exc}); running the sweep again resumes it")
            if status == "done":
                raise
        display.finish(progress, status)
    return start.run_id


class RunStates:
    """The states of one run's row: each written with a revision one higher than
    the last, so the newest wins whatever the clocks say."""

    def __init__(self, store: Store, row: dict[str, Any]) -> None:
        self.store = store
        self.row = row
        """The run's opening row (and, after ``write``, its latest state)."""

    def write(self, **changes: Any) -> None:
        """Record the next state of the row: ``changes`` over the current one."""
        self.row = {**self.row, **changes, "revision": self.row["revision"] + 1}
        self.store.append({"runs": [self.row]})

    async def beat(self) -> None:
        """Say the run's process is alive every ``HEARTBEAT_SECONDS`` until cancelled."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(OSError, StoreError):  # a missed beat is no reason to stop a sweep
                await asyncio.to_thread(self.write, heartbeat_at=utcnow().isoformat())


def _start(
    store: Store,
    experiment: str,
    sweep_fingerprint: str,
    resume: bool | str,
    *,
    lineage: Lineage,
    claim: contextlib.ExitStack,
    display: Display,
) -> RunStart:
    """Decide the run and claim it (held until ``claim`` closes). A run being
    resumed by another process is waited for, then looked at again."""
    try:
        with store.reading(wait=BUSY_LOOKUP_WAIT) as reader:
            run_id = _resume_point(reader, experiment, sweep_fingerprint, resume, lineage)
            known_experiment = reads.experiment(reader, experiment)
    except StoreBusyError:
        if isinstance(resume, str) and resume != "auto":
            raise  # resuming a named run needs its history
        run_id = new_id()
        claim.enter_context(claimed(store.journal.claim_path(run_id)))
        return RunStart(run_id, set(), 1, None, False)
    if run_id is None:
        run_id = new_id()
        claim.enter_context(claimed(store.journal.claim_path(run_id)))
        return RunStart(run_id, set(), 1, known_experiment, True)

    def waiting() -> None:
        display.message(f"run {run_id[:8]} is being resumed by another process: waiting for it to finish")

    claim.enter_context(claimed(store.journal.claim_path(run_id), on_wait=waiting))
    # Under the claim: what is done now (another process may have resumed it meanwhile)
    with store.reading(wait=BUSY_LOOKUP_WAIT) as reader:
        info = reads.run(reader, run_id)
        return RunStart(
            run_id, reads.done_cells(reader, run_id), int(info.get("revision") or 0) + 1, known_experiment, True
        )


def _resume_point(
    reader: reads.Source, experiment: str, sweep_fingerprint: str, resume: bool | str, lineage: Lineage
) -> str | None:
    """The run to resume, or None for a new one."""
    if resume is False:
        return None
    if isinstance(resume, str) and resume != "auto":
        info = reads.run(reader, resume)
        if info["fingerprint"] != sweep_fingerprint:
            raise ConfigError(
                f"run {info['run_id'][:8]} recorded a different sweep; resume it with the same "
                "prompts, models, params, data and repeats, or pass resume=False"
            )
        return str(info["run_id"])
    for info in reads.unfinished_runs(reader, experiment, sweep_fingerprint, lineage.user):
        status = run_status(info["status"], info["host"], info["pid"], info.get("heartbeat_at"))
        if status in ("cancelled", "failed", "interrupted"):
            return str(info["run_id"])
    return None


def _run_row(context: RunContext, plan: PlannedSweep, revision: int) -> dict[str, Any]:
    sweep, settings = plan.sweep, plan.settings
    started = utcnow().isoformat()
    config = {
        "prompts": [prompt.to_dict() for prompt in sweep.prompts],
        "models": [model.to_dict() for model in sweep.models],
        "params": {key: list(values) for key, values in sweep.params.items()},
        "repeats": sweep.repeats,
        "data": plan.data,
        "n_rows": len(sweep.rows),
        "settings": {
            "concurrency": settings.concurrency,
            "timeout": settings.timeout,
            "max_retries": settings.max_retries,
            "max_wait": settings.max_wait,
            "cache": settings.cache,
        },
        "evaluators": [evals.spec(evaluator) for evaluator in plan.evaluators],
    }
    return {
        "run_id": context.run_id,
        "experiment": context.experiment,
        "fingerprint": fingerprint(plan.cells),
        "status": "running",
        "n_cells": len(plan.cells),
        "config": config,
        "started_at": started,
        "ended_at": None,
        "error": None,
        **context.lineage.to_row(),
        "revision": revision,
        "heartbeat_at": started,
    }


def _opening_rows(
    sweep: Sweep,
    run_row: dict[str, Any],
    *,
    existing: dict[str, Any] | None,
    description: str | None,
    tags: Sequence[str] | None,
    lineage: Lineage,
    known: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """The rows a run writes before its first call: run, experiment, prompts, models.
    When history couldn't be read (``known=False``), the experiment row is left
    alone unless asked to change: it may exist already."""
    now = utcnow().isoformat()
    rows: dict[str, list[dict[str, Any]]] = {"runs": [run_row]}
    wanted_tags = list(tags) if tags is not None else None
    if (existing is None and known) or description is not None or wanted_tags is not None:
        old = existing or {}
        rows["experiments"] = [
            {
                "name": run_row["experiment"],
                "description": description if description is not None else old.get("description"),
                "tags": wanted_tags if wanted_tags is not None else columns.decode_json(old.get("tags")) or [],
                "created_at": old["created_at"].isoformat() if old else now,
                "created_by": old.get("created_by") or lineage.user,
            }
        ]
    rows["prompts"] = [
        {
            "name": p.name,
            "version": p.version,
            "template": p.template,
            "variables": sorted(p.variables),
            "created_at": now,
            "created_by": lineage.user,
        }
        for p in sweep.prompts
    ]
    rows["models"] = [
        {
            "model_id": m.id,
            "provider": m.provider,
            "name": m.name,
            "base_url": m.base_url,
            "params": dict(m.params),
            "created_at": now,
        }
        for m in model_variants(sweep.models, sweep.params)
    ]
    return rows
