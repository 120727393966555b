"""Executes cells: concurrency, pacing, retries, timeouts, cache and recording.

Every cell ends as a recorded trial, a success or an error; the only cells
left without one are those still in flight when a sweep is cancelled.
Running the sweep again resumes the run and calls only the cells with no
successful trial: the missing ones and the failed ones (whose newest trial
then stands for the cell in ``run.df``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from promptlab.core.grid import Cell, expand, make_sweep
from promptlab.core.hashing import to_jsonable
from promptlab.core.lineage import utcnow
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.redaction import Redactor
from promptlab.core.scrub import scrubbed
from promptlab.core.trial import Trial
from promptlab.errors import (
    CallTimeoutError,
    PermanentError,
    RateLimitError,
    StoreBusyError,
    StoreError,
    TransientError,
)
from promptlab.evals.protocol import TrialView
from promptlab.providers import Completion, Provider, Request, provider_for
from promptlab.runner.group_commit import GroupCommit
from promptlab.runner.pacing import Pacer
from promptlab.runner.progress import Display, Progress
from promptlab.runner.scoring import Scorer
from promptlab.runner.trial_rows import RunContext, TrialMaker
from promptlab.store import reads
from promptlab.store.segments import fit_trial

TIMEOUT_GRACE = 5.0
"""Seconds past ``timeout`` before the runner's backstop stops a provider that keeps
time itself but let a call run on (a stream that keeps trickling, say)."""

BUSY_LOOKUP_WAIT = 2.0
"""Seconds a sweep waits to read history (cache, resume) while another program
holds the file, before going on without it."""


@dataclass(frozen=True)
class RunSettings:
    """How a sweep's calls are made."""

    concurrency: int = 8
    """Calls in flight at most."""

    timeout: float | None = 60.0
    """Seconds per call; None for no limit."""

    max_retries: int = 4
    """Retries per cell after transient errors and rate limits."""

    max_wait: float = 600.0
    """The longest Retry-After honoured; a longer one ends the cell with an error."""

    cache: bool = True
    """Answer cells whose exact request succeeded before from history."""


def _retry_wait(error: BaseException | None, attempt: int) -> float:
    """Seconds before retry number ``attempt``: jittered exponential back-off, or
    none after a rate limit (the pacer has already paused every call)."""
    if isinstance(error, RateLimitError):
        return 0.0
    return random.uniform(0, min(20.0, 0.5 * 2 ** (attempt - 1)))


def _endpoint(model: Model) -> tuple[str, str | None, str | None]:
    return (model.provider, model.base_url, model.api_key_env)


def _store_failure(group: BaseExceptionGroup[Any]) -> StoreError | None:
    """The first store error (a full disk, say) among a sweep's workers' failures."""
    for error in group.exceptions:
        if isinstance(error, StoreError):
            return error
        if isinstance(error, BaseExceptionGroup) and (inner := _store_failure(error)) is not None:
            return inner
    return None


class CellRunner:
    """Runs the cells of one sweep and records a trial for each."""

    def __init__(
        self,
        writer: GroupCommit,
        context: RunContext,
        settings: RunSettings,
        display: Display,
        scorer: Scorer | None = None,
    ) -> None:
        self.store = writer.store
        self.context = context
        self.scorer = scorer
        self.settings = settings
        self.display = display
        self.trials = TrialMaker(context)
        self._key_variables: set[str] = set()
        self._providers: dict[tuple[str, str | None, str | None], tuple[Provider, bool]] = {}
        self._recorder = writer
        self._pacer: Pacer | None = None

    # -- the sweep -------------------------------------------------------------

    def prepare(self, cells: Sequence[Cell]) -> None:
        """Make the providers now, so an unknown provider or a missing key fails
        before anything is called or written."""
        for model in {cell.model for cell in cells}:
            self.prepare_model(model)

    def prepare_model(self, model: Model) -> None:
        """Make ``model``'s provider now (see ``prepare``), and mask its key's value
        wherever a response might echo it."""
        self._provider(model)
        if model.api_key_env:
            self.trials.redactor = Redactor(variables={*self._key_variables, model.api_key_env})
            self._key_variables.add(model.api_key_env)

    async def run(self, cells: Sequence[Cell], progress: Progress, skip: set[str]) -> None:
        """Record a trial for every cell not in ``skip`` (cell keys already done)."""
        todo = [cell for cell in cells if cell.cell_key not in skip]
        try:
            if self.settings.cache and todo:
                todo = await self._answer_from_cache(todo, progress)
            await self._start_providers({cell.model for cell in todo})
            self._pacer = Pacer(self.settings.concurrency)
            cell_iter = iter(todo)
            workers = min(self.settings.concurrency, len(todo))
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(self._work(cell_iter, progress))
        except BaseExceptionGroup as group:
            failure = _store_failure(group)
            if failure is None:
                raise
            # one clear error, with its real cause, rather than every worker's copy of it
            stopped = type(failure)(f"{failure} ({progress.done} of {progress.total} cells are recorded)")
            raise stopped from failure.__cause__ or failure
        finally:
            await self.aclose()

    async def _start_providers(self, models: set[Model]) -> None:
        """Let providers with slow set-up (a local model) finish it before any
        call is timed; a failure here is left for the calls to record."""
        started: set[int] = set()
        for model in models:
            provider = self._provider(model)
            start = getattr(provider, "start", None)
            if start is None or id(provider) in started:
                continue
            started.add(id(provider))
            self.display.message(getattr(provider, "starting_message", f"starting {model.name}…"))
            with contextlib.suppress(Exception):  # each call will record the error, if it persists
                await start()

    async def aclose(self) -> None:
        """Wait for every write, then close the providers this runner made."""
        await self._recorder.close()
        for provider, owned in self._providers.values():
            if owned:
                await provider.aclose()
        self._providers.clear()

    async def _work(self, cells: Iterator[Cell], progress: Progress) -> None:
        # A worker's trial is written on the loop turn after its call returns,
        # while the worker's next call is already on its way; the worker waits
        # for that write before it records another, so at most one trial per
        # worker is ever unacknowledged. A trial counts as done only once durable.
        durable: asyncio.Future[Any] | None = None
        for cell in cells:
            trial = await self._execute(cell)
            row = self._fitted(trial)
            scores = await self.scorer.score(TrialView.from_row(row), trial.run_id) if self.scorer else []
            if durable is not None:
                await durable
            writes = [self._recorder.submit("trials", row), *(self._recorder.submit("scores", s) for s in scores)]
            durable = writes[0] if len(writes) == 1 else asyncio.gather(*writes)
            unscored = sum(1 for score in scores if score["error"])
            durable.add_done_callback(partial(self._acknowledge, progress, trial.error_type is not None, unscored))
        if durable is not None:
            await durable

    def _acknowledge(self, progress: Progress, failed: bool, unscored: int, durable: asyncio.Future[Any]) -> None:
        if durable.cancelled() or durable.exception() is not None:
            return
        progress.done += 1
        progress.errors += failed
        progress.eval_errors += unscored
        self.display.update(progress)

    async def _cached(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """History's answers for ``keys``; none when a program outside promptlab
        holds the file (the sweep goes on, recording to the journal)."""
        try:
            return await asyncio.to_thread(reads.cached_responses, self.store, keys, BUSY_LOOKUP_WAIT)
        except StoreBusyError as exc:
            self.display.message(f"the history can't be read now ({exc}): calling without the cache")
            return {}

    async def _answer_from_cache(self, cells: list[Cell], progress: Progress) -> list[Cell]:
        hits = await self._cached([c.cache_key for c in cells])
        if not hits:
            return cells
        now = utcnow()
        rows: list[Mapping[str, Any]] = [
            self.trials.cached(cell, hits[cell.cache_key], now).to_row() for cell in cells if cell.cache_key in hits
        ]
        scores = await self._score_all(rows) if self.scorer else []
        self._recorder.record_many({"trials": rows, "scores": scores})
        progress.done += len(rows)
        progress.cached += len(rows)
        progress.eval_errors += sum(1 for score in scores if score["error"])
        self.display.update(progress)
        return [cell for cell in cells if cell.cache_key not in hits]

    async def _score_all(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Scores for many trials, ``concurrency`` at a time (judges make calls)."""
        assert self.scorer is not None
        scorer = self.scorer
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def one(row: Mapping[str, Any]) -> list[dict[str, Any]]:
            async with limit:
                return await scorer.score(TrialView.from_row(row), str(row["run_id"]))

        per_trial = await asyncio.gather(*(one(row) for row in rows))
        return [score for scores in per_trial for score in scores]

    # -- a judge's calls ---------------------------------------------------------

    async def ask(self, prompt: Prompt, model: Model, variables: Mapping[str, Any]) -> Trial:
        """One call outside the grid (a judge's), recorded and answered from the
        cache when the same request succeeded before."""
        (cell,) = expand(make_sweep([prompt], [model], [to_jsonable(dict(variables))]))
        if self._pacer is None:
            self._pacer = Pacer(self.settings.concurrency)
        hit = (await self._cached([cell.cache_key])).get(cell.cache_key) if self.settings.cache else None
        trial = self.trials.cached(cell, hit, utcnow()) if hit else await self._execute(cell)
        await self._recorder.record("trials", self._fitted(trial))
        return trial

    def _fitted(self, trial: Trial) -> dict[str, Any]:
        """The trial's row, its output cut if the trial is larger than one may be."""
        row = trial.to_row()
        kinds = self.trials.context.scrub.get(trial.tier or "", ())
        row = fit_trial(scrubbed(row, kinds) if kinds else row)
        if row["truncated"]:
            self.display.message(
                f"trial {trial.trial_id[:8]}: the output ({len((trial.output or '').encode()):,} bytes) is larger "
                "than a trial may hold; it was recorded cut, marked truncated"
            )
        return row

    # -- one cell --------------------------------------------------------------

    def _provider(self, model: Model) -> Provider:
        key = _endpoint(model)
        if key not in self._providers:
            self._providers[key] = provider_for(model)
        return self._providers[key][0]

    async def _execute(self, cell: Cell) -> Trial:
        started_at = utcnow()
        attempts = 0
        latency_ms: float | None = None
        request = Request(cell.model, cell.messages, self.settings.timeout)
        provider = self._provider(cell.model)

        async def attempt() -> Completion:
            nonlocal attempts, latency_ms
            assert self._pacer is not None
            await self._pacer.acquire()
            attempts += 1
            began = time.perf_counter()
            succeeded = False
            try:
                completion = await self._call(provider, request)
                succeeded = True
                return completion
            except RateLimitError as exc:
                self._hold_off(exc, attempts)
                raise
            finally:
                latency_ms = (time.perf_counter() - began) * 1000
                self._pacer.release(succeeded=succeeded)

        try:
            try:
                completion = await attempt()
            except TransientError as first:
                # Most calls succeed first time; tenacity (and its per-attempt
                # bookkeeping) only comes in for the retries.
                if self.settings.max_retries == 0:
                    raise
                await asyncio.sleep(_retry_wait(first, 1))
                retrying = AsyncRetrying(
                    stop=stop_after_attempt(self.settings.max_retries),
                    wait=lambda state: _retry_wait(
                        state.outcome.exception() if state.outcome else None, state.attempt_number + 1
                    ),
                    retry=retry_if_exception_type(TransientError),
                    reraise=True,
                )
                completion = await retrying(attempt)
        except Exception as exc:  # a failed call is a trial with its error, never a crash
            return self.trials.failed(cell, started_at, attempts, latency_ms, exc)
        return self.trials.answered(cell, started_at, attempts, latency_ms, completion)

    async def _call(self, provider: Provider, request: Request) -> Completion:
        timeout = self.settings.timeout
        limit = timeout
        if timeout is not None and getattr(provider, "enforces_timeout", False):
            limit = timeout + TIMEOUT_GRACE  # the provider keeps time; this only backs it up
        try:
            async with asyncio.timeout(limit):
                return await provider.complete(request)
        except TimeoutError as exc:
            raise CallTimeoutError(f"no answer within {timeout}s") from exc

    def _hold_off(self, exc: RateLimitError, attempt: int) -> None:
        """Pause every call for as long as the endpoint asked (or a growing back-off)."""
        wait = exc.retry_after
        if wait is None:
            wait = random.uniform(0.5, 1.0) * min(60.0, 2.0 ** (attempt - 1))
        if wait > self.settings.max_wait:
            raise PermanentError(
                f"rate limited: the endpoint asked to wait {wait:.0f}s, more than max_wait="
                f"{self.settings.max_wait:.0f}s; run the sweep again later (finished cells are kept) "
                "or raise max_wait",
                status=429,
            ) from exc
        if wait >= 1:
            self.display.message(f"rate limited: pausing all calls for {wait:.1f}s")
        assert self._pacer is not None
        self._pacer.rate_limited(wait)
