"""The Lab: one shared history file, and the sweeps recorded into it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from promptlab import columns
from promptlab.data import Data, load_rows
from promptlab.display import Display, Progress, default_display
from promptlab.errors import ConfigError
from promptlab.keys import new_id
from promptlab.lineage import Lineage, current_lineage, utcnow
from promptlab.loops import run_sync
from promptlab.model import Model
from promptlab.prompt import Prompt
from promptlab.run import Run
from promptlab.runner import CellRunner, RunContext, RunSettings
from promptlab.store import Store, reads
from promptlab.sweep import Cell, Sweep, expand, fingerprint, make_sweep, model_variants

DEFAULT_DB = "promptlab.duckdb"


def default_db_path() -> str:
    """``$PROMPTLAB_DB``, else ``./promptlab.duckdb``."""
    return os.environ.get("PROMPTLAB_DB") or DEFAULT_DB


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _as_utc(since: datetime | str | timedelta | None) -> datetime | None:
    if since is None:
        return None
    if isinstance(since, timedelta):
        return utcnow() - since
    stamp = pd.Timestamp(since)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(UTC).tz_localize(None)
    return stamp.to_pydatetime()


def _describe_data(data: Data, n_rows: int) -> str:
    if isinstance(data, (str, os.PathLike)):
        return str(data)
    return f"{type(data).__name__} of {n_rows} rows"


class Lab:
    """A history file and everything recorded in it.

    ``Lab()`` opens ``$PROMPTLAB_DB`` or ``./promptlab.duckdb``; any path is
    created and migrated on open. Many processes may use one file at once.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0) -> None:
        self.store = Store(Path(path if path is not None else default_db_path()), busy_timeout=busy_timeout)

    @property
    def path(self) -> Path:
        """The DuckDB file."""
        return self.store.path

    def __repr__(self) -> str:
        return f"Lab({str(self.path)!r})"

    # -- sweeping ----------------------------------------------------------------

    def sweep(
        self,
        prompts: Prompt | Sequence[Prompt],
        models: Model | Sequence[Model],
        data: Data,
        *,
        params: Mapping[str, Any] | None = None,
        repeats: int = 1,
        experiment: str = "default",
        description: str | None = None,
        tags: Sequence[str] | None = None,
        concurrency: int = 8,
        timeout: float | None = 60.0,
        max_retries: int = 4,
        max_wait: float = 600.0,
        cache: bool = True,
        resume: bool | str | Literal["auto"] = "auto",
        display: Display | None = None,
    ) -> Run:
        """Run prompts × models × params × rows × repeats and record every trial.

        Works the same in a script and in a notebook cell. Cells whose exact
        request already succeeded (for anyone using this file) are answered
        from history (``cached``) with no call, unless ``cache=False``.
        ``resume="auto"`` continues this user's unfinished run of the same
        sweep (cancelled, failed, or whose process died); pass a run id to
        continue that run, or False to always start a new one. Interrupting
        keeps every finished trial. Returns the ``Run``.
        """
        return run_sync(
            lambda: self.asweep(
                prompts, models, data, params=params, repeats=repeats, experiment=experiment,
                description=description, tags=tags, concurrency=concurrency, timeout=timeout,
                max_retries=max_retries, max_wait=max_wait, cache=cache, resume=resume, display=display,
            )
        )  # fmt: skip

    async def asweep(
        self,
        prompts: Prompt | Sequence[Prompt],
        models: Model | Sequence[Model],
        data: Data,
        *,
        params: Mapping[str, Any] | None = None,
        repeats: int = 1,
        experiment: str = "default",
        description: str | None = None,
        tags: Sequence[str] | None = None,
        concurrency: int = 8,
        timeout: float | None = 60.0,
        max_retries: int = 4,
        max_wait: float = 600.0,
        cache: bool = True,
        resume: bool | str | Literal["auto"] = "auto",
        display: Display | None = None,
    ) -> Run:
        """``sweep`` for async code: ``run = await lab.asweep(...)``."""
        settings = _settings(concurrency, timeout, max_retries, max_wait, cache)
        if not experiment or not isinstance(experiment, str):
            raise ConfigError("experiment must be a non-empty name, e.g. experiment='summaries'")
        rows = load_rows(data)
        sweep = make_sweep(prompts, models, rows, params, repeats)
        cells = expand(sweep)
        lineage = current_lineage()
        run_id, skip, known_experiment = await asyncio.to_thread(
            self._look_up, experiment, fingerprint(cells), resume, lineage
        )
        context = RunContext(run_id, experiment, lineage)
        display = display or default_display()
        runner = CellRunner(self.store, context, settings, display)
        runner.prepare(cells)  # unknown providers, missing keys: fail before writing anything
        run_row = self._run_row(context, sweep, cells, settings, _describe_data(data, len(rows)))
        opening = self._opening_rows(
            sweep, run_row, existing=known_experiment, description=description, tags=tags, lineage=lineage
        )
        await asyncio.to_thread(self.store.append, opening)

        progress = Progress(total=len(cells))
        progress.resumed = progress.done = sum(cell.cell_key in skip for cell in cells)
        display.start(f"{experiment} · run {run_id[:8]}", progress)
        status, error = "failed", None
        try:
            await runner.run(cells, progress, skip)
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
            ended = {**run_row, "status": status, "ended_at": utcnow().isoformat(), "error": error}
            self.store.append({"runs": [ended]})
            self.store.fold_soon()
            display.finish(progress, status)
        return Run(self, run_id, experiment)

    def _look_up(
        self, experiment: str, sweep_fingerprint: str, resume: bool | str, lineage: Lineage
    ) -> tuple[str, set[str], dict[str, Any] | None]:
        """Where the sweep resumes from, and the experiment's row if it exists."""
        with self.store.reading() as reader:
            run_id, skip = self._resume_point(reader, experiment, sweep_fingerprint, resume, lineage)
            return run_id, skip, reads.experiment(reader, experiment)

    @staticmethod
    def _resume_point(
        reader: reads.Source, experiment: str, sweep_fingerprint: str, resume: bool | str, lineage: Lineage
    ) -> tuple[str, set[str]]:
        if resume is False:
            return new_id(), set()
        if isinstance(resume, str) and resume != "auto":
            info = reads.run(reader, resume)
            if info["fingerprint"] != sweep_fingerprint:
                raise ConfigError(
                    f"run {info['run_id'][:8]} recorded a different sweep; resume it with the same "
                    "prompts, models, params, data and repeats, or pass resume=False"
                )
            return str(info["run_id"]), reads.done_cells(reader, str(info["run_id"]))
        for info in reads.unfinished_runs(reader, experiment, sweep_fingerprint, lineage.user):
            orphaned = info["status"] == "running" and info["host"] == lineage.host and not _pid_alive(int(info["pid"]))
            if info["status"] in ("cancelled", "failed") or orphaned:
                return str(info["run_id"]), reads.done_cells(reader, str(info["run_id"]))
        return new_id(), set()

    @staticmethod
    def _run_row(
        context: RunContext, sweep: Sweep, cells: list[Cell], settings: RunSettings, data: str
    ) -> dict[str, Any]:
        config = {
            "prompts": [prompt.to_dict() for prompt in sweep.prompts],
            "models": [model.to_dict() for model in sweep.models],
            "params": {key: list(values) for key, values in sweep.params.items()},
            "repeats": sweep.repeats,
            "data": data,
            "n_rows": len(sweep.rows),
            "settings": {
                "concurrency": settings.concurrency,
                "timeout": settings.timeout,
                "max_retries": settings.max_retries,
                "max_wait": settings.max_wait,
                "cache": settings.cache,
            },
        }
        return {
            "run_id": context.run_id,
            "experiment": context.experiment,
            "fingerprint": fingerprint(cells),
            "status": "running",
            "n_cells": len(cells),
            "config": config,
            "started_at": utcnow().isoformat(),
            "ended_at": None,
            "error": None,
            **context.lineage.to_row(),
        }

    @staticmethod
    def _opening_rows(
        sweep: Sweep,
        run_row: dict[str, Any],
        *,
        existing: dict[str, Any] | None,
        description: str | None,
        tags: Sequence[str] | None,
        lineage: Lineage,
    ) -> dict[str, list[dict[str, Any]]]:
        """The rows a run writes before its first call: run, experiment, prompts, models."""
        now = utcnow().isoformat()
        rows: dict[str, list[dict[str, Any]]] = {"runs": [run_row]}
        wanted_tags = list(tags) if tags is not None else None
        if existing is None or description is not None or wanted_tags is not None:
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

    # -- reading -------------------------------------------------------------------

    def trials(
        self,
        *,
        experiment: str | None = None,
        prompt: str | None = None,
        prompt_version: str | None = None,
        model: str | None = None,
        run: str | Run | None = None,
        user: str | None = None,
        since: datetime | str | timedelta | None = None,
        search: str | None = None,
        errors: bool | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> pd.DataFrame:
        """Trials matching every filter given, oldest first (columns: ``promptlab.columns``).

        ``since`` takes a datetime (UTC when naive), an ISO string or a
        timedelta (that long ago); ``search`` finds text in inputs or
        outputs, case-insensitively; ``errors=True`` keeps failed trials only;
        ``newest_first=True`` with ``limit=N`` gives the latest N.
        """
        where = reads.TrialFilter(
            experiment=experiment, prompt=prompt, prompt_version=prompt_version, model=model,
            run=run.run_id if isinstance(run, Run) else run, user=user, since=_as_utc(since),
            search=search, errors=errors,
        )  # fmt: skip
        stored = reads.trials(self.store, columns.TRIAL_COLUMN_NAMES, where, limit, newest_first=newest_first)
        return columns.trial_frame(stored)

    def trial(self, trial_id: str) -> dict[str, Any]:
        """Every stored field of one trial (a unique id prefix is enough)."""
        return columns.decode_row(reads.trial(self.store, trial_id))

    def experiments(self) -> pd.DataFrame:
        """Experiments with run and trial counts, most recently active first."""
        frame = reads.experiments(self.store)
        frame["tags"] = frame["tags"].map(columns.decode_json)
        return frame

    def runs(self, experiment: str | None = None) -> pd.DataFrame:
        """Runs, newest first, with trial, error and cache counts and spend."""
        frame = reads.runs(self.store, experiment=experiment)
        frame["config"] = frame["config"].map(columns.decode_json)
        return frame

    def run_info(self, run_id: str) -> dict[str, Any]:
        """One run's stored row (a unique id prefix is enough)."""
        return columns.decode_row(reads.run(self.store, run_id))

    def run(self, run_id: str) -> Run:
        """A handle on a recorded run (a unique id prefix is enough)."""
        info = reads.run(self.store, run_id)
        return Run(self, str(info["run_id"]), str(info["experiment"]))

    def fold(self) -> int:
        """Move journaled rows into the database file now (promptlab does this on
        its own; call it before handing the file to a plain DuckDB client)."""
        return self.store.fold(wait=self.store.busy_timeout)


def _settings(concurrency: int, timeout: float | None, max_retries: int, max_wait: float, cache: bool) -> RunSettings:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number ≥ 1, got {concurrency!r}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be a number of seconds > 0 (or None), got {timeout!r}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"max_retries must be a whole number ≥ 0, got {max_retries!r}")
    if not max_wait >= 0:
        raise ConfigError(f"max_wait must be ≥ 0 seconds, got {max_wait!r}")
    return RunSettings(concurrency, timeout, max_retries, max_wait, bool(cache))
