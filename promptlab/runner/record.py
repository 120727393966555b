"""A planned sweep recorded as a run: its opening rows, a trial per cell, a
heartbeat while it runs, and its end, whatever happens.

``record_sweep`` is what ``Lab.sweep``, ``Lab.asweep`` and ``Lab.start`` come
down to: it starts (or resumes) the run (``resume.py``), writes the run's
opening rows, lets the cells runner record a trial per cell, and closes the
run with its status. Every write goes through one ``GroupCommit``. Each state
of the run row carries a revision one higher than the last, so the newest
state wins whatever the clocks of the machines that wrote them say.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from promptlab import evals
from promptlab.analysis import columns
from promptlab.core.lineage import HEARTBEAT_SECONDS, Lineage, current_lineage, utcnow
from promptlab.core.model import Model
from promptlab.errors import StoreError
from promptlab.runner.cells import CellRunner
from promptlab.runner.group_commit import GroupCommit
from promptlab.runner.plan import PlannedSweep, SweepOptions
from promptlab.runner.progress import Display, Progress, default_display
from promptlab.runner.resume import RunStart, start_run
from promptlab.runner.scoring import Scorer
from promptlab.runner.trial_rows import RunContext
from promptlab.store import Store, corpus_reads


async def record_sweep(
    store: Store, plan: PlannedSweep, options: SweepOptions, on_run: Callable[[str], None] | None = None
) -> str:
    """Run the planned sweep, recording a trial per cell; returns the run id
    (also given to ``on_run`` as soon as it is known)."""
    lineage = current_lineage(store.identity)
    display = options.get("display") or default_display()
    with contextlib.ExitStack() as claim:
        start = await asyncio.to_thread(
            lambda: start_run(
                store,
                plan.experiment,
                plan.fingerprint,
                options.get("resume", "auto"),
                lineage=lineage,
                claim=claim,
                display=display,
            )
        )
        if on_run is not None:
            on_run(start.run_id)
        return await _record(store, plan, options, lineage=lineage, start=start, display=display)


async def _record(
    store: Store, plan: PlannedSweep, options: SweepOptions, *, lineage: Lineage, start: RunStart, display: Display
) -> str:
    context = RunContext(start.run_id, plan.experiment, lineage, tiers=plan.tiers, tier=plan.tier, scrub=plan.scrub)
    if not start.readable:
        display.message("the history file is held by another program: starting a new run, recording to the journal")
    writer = GroupCommit(store)
    judges = CellRunner(writer, replace(context, kind="judge"), plan.settings, display)
    scorer = Scorer(plan.evaluators, judges, lineage.user) if plan.evaluators else None
    runner = CellRunner(writer, context, plan.settings, display, scorer)
    runner.prepare(plan.cells)  # unknown providers, missing keys: fail before writing anything
    for evaluator in plan.evaluators:
        if isinstance(model := getattr(evaluator, "model", None), Model):
            judges.prepare_model(model)
    states = RunStates(writer, _run_row(context, plan, start.revision))
    opening = _opening_rows(
        plan,
        states.row,
        existing=start.experiment,
        description=options.get("description"),
        tags=options.get("tags"),
        remove_tags=options.get("remove_tags"),
        lineage=lineage,
        known=start.readable,
    )
    opening.update(await asyncio.to_thread(_corpus_rows, store, plan, lineage.user, readable=start.readable))
    await asyncio.to_thread(writer.record_many, opening)
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
            await writer.close()
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

    def __init__(self, writer: GroupCommit, row: dict[str, Any]) -> None:
        self.writer = writer
        self.row = row
        """The run's opening row (and, after ``write``, its latest state)."""

    def write(self, **changes: Any) -> None:
        """Record the next state of the row: ``changes`` over the current one."""
        self.row = {**self.row, **changes, "revision": self.row["revision"] + 1}
        self.writer.record_many({"runs": [self.row]})

    async def beat(self) -> None:
        """Say the run's process is alive every ``HEARTBEAT_SECONDS`` until cancelled."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(OSError, StoreError):  # a missed beat is no reason to stop a sweep
                await asyncio.to_thread(self.write, heartbeat_at=utcnow().isoformat())


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
    if plan.retrievers:
        config["retrievers"] = [spec.to_dict() for spec in plan.retrievers]
    return {
        "run_id": context.run_id,
        "experiment": context.experiment,
        "fingerprint": plan.fingerprint,
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


def _corpus_rows(store: Store, plan: PlannedSweep, user: str, *, readable: bool) -> dict[str, list[dict[str, Any]]]:
    """The corpora the sweep's retrievers search that history doesn't hold yet, documents and all."""
    corpora = {spec.corpus.version: spec.corpus for spec in plan.retrievers}
    known: set[str] = set()
    if corpora and readable:
        with contextlib.suppress(StoreError):  # busy: write them again, the fold keeps one copy
            known = corpus_reads.known_corpora(store, list(corpora))
    new = [corpus for version, corpus in corpora.items() if version not in known]
    if not new:
        return {}
    now = utcnow().isoformat()
    return {
        "corpora": [
            {
                "corpus_version": corpus.version,
                "name": corpus.name,
                "documents": len(corpus),
                "characters": sum(len(d.text) for d in corpus.documents),
                "created_at": now,
                "created_by": user,
            }
            for corpus in new
        ],
        "corpus_documents": [
            {"corpus_version": corpus.version, "doc_id": d.id, "text": d.text, "metadata": dict(d.metadata)}
            for corpus in new
            for d in corpus.documents
        ],
    }


def merged_tags(
    old: Sequence[str], added: Sequence[str] | None = None, removed: Sequence[str] | None = None
) -> list[str]:
    """An experiment's tags after a run: ``old``, then ``added`` (each once, in
    order), less ``removed``. Adding never drops a tag; only removing does."""
    dropped = set(removed or ())
    return [tag for tag in dict.fromkeys([*old, *(added or ())]) if tag not in dropped]


def _opening_rows(
    plan: PlannedSweep,
    run_row: dict[str, Any],
    *,
    existing: dict[str, Any] | None,
    description: str | None,
    tags: Sequence[str] | None,
    remove_tags: Sequence[str] | None = None,
    lineage: Lineage,
    known: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """The rows a run writes before its first call: run, experiment, prompts, models.
    ``tags`` are added to the experiment's, ``remove_tags`` taken off. When history
    couldn't be read (``known=False``), the experiment row is left alone unless
    asked to change: it may exist already, and its tags are then unknown."""
    now = utcnow().isoformat()
    rows: dict[str, list[dict[str, Any]]] = {"runs": [run_row]}
    old = existing or {}
    old_tags = list(columns.decode_json(old.get("tags")) or [])
    new_tags = merged_tags(old_tags, tags, remove_tags)
    if (existing is None and known) or description is not None or new_tags != old_tags:
        rows["experiments"] = [
            {
                "name": run_row["experiment"],
                "description": description if description is not None else old.get("description"),
                "tags": new_tags,
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
        for p in plan.sweep.prompts
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
        for m in plan.variants
    ]
    return rows
