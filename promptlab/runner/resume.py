"""Where a sweep records: a new run, or the unfinished run of the same sweep
it resumes (cancelled, failed, or interrupted: its process died).

A run is claimed (an ``flock`` beside the journal) for as long as a process
records into it. Two processes resuming the same interrupted run would
otherwise both call its remaining cells: the second waits for the first,
then finds the cells done and calls nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from promptlab.core.files import claimed
from promptlab.core.hashing import new_id
from promptlab.core.lineage import Lineage, run_status
from promptlab.errors import ConfigError, StoreBusyError
from promptlab.runner.cells import BUSY_LOOKUP_WAIT
from promptlab.runner.progress import Display
from promptlab.store import Store, reads, run_reads


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


def start_run(
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
            run_id = resume_point(reader, experiment, sweep_fingerprint, resume, lineage)
            known_experiment = run_reads.experiment(reader, experiment)
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
        info = run_reads.run(reader, run_id)
        return RunStart(
            run_id, run_reads.done_cells(reader, run_id), int(info.get("revision") or 0) + 1, known_experiment, True
        )


def resume_point(
    reader: reads.Source, experiment: str, sweep_fingerprint: str, resume: bool | str, lineage: Lineage
) -> str | None:
    """The run to resume, or None for a new one."""
    if resume is False:
        return None
    if isinstance(resume, str) and resume != "auto":
        info = run_reads.run(reader, resume)
        if info["fingerprint"] != sweep_fingerprint:
            raise ConfigError(
                f"run {info['run_id'][:8]} recorded a different sweep; resume it with the same "
                "prompts, models, params, data and repeats, or pass resume=False"
            )
        return str(info["run_id"])
    for info in run_reads.unfinished_runs(reader, experiment, sweep_fingerprint, lineage.user):
        status = run_status(info["status"], info["host"], info["pid"], info.get("heartbeat_at"))
        if status in ("cancelled", "failed", "interrupted"):
            return str(info["run_id"])
    return None
