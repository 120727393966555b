"""A trial as it is recorded: the cell it ran, then its answer, its error,
or the earlier answer the cache reused; secrets masked in whatever a server
sent back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from promptlab.core.grid import Cell
from promptlab.core.hashing import new_id
from promptlab.core.lineage import Lineage, utcnow
from promptlab.core.redaction import Redactor
from promptlab.core.trial import Trial
from promptlab.errors import ProviderError
from promptlab.providers import Completion


def without_output(body: Mapping[str, Any]) -> dict[str, Any]:
    """The response body without the generated text, which the trial keeps as
    its output: a long answer is stored once, not twice."""
    choices = body.get("choices")
    if not isinstance(choices, list):
        return dict(body)
    trimmed = []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and message.get("content") is not None:
            trimmed.append({**choice, "message": {**message, "content": None}})
        else:
            trimmed.append(choice)
    return {**body, "choices": trimmed}


@dataclass(frozen=True)
class RunContext:
    """Which run the trials belong to, and who is recording them."""

    run_id: str
    """The run recording these trials."""

    experiment: str
    """The run's experiment."""

    lineage: Lineage
    """Who, where, from what."""

    kind: str = "sweep"
    """What the trials are: a sweep's cells, or a judge's grading calls."""

    tiers: tuple[str | None, ...] = ()
    """The data tier of each row of the sweep, by row number."""

    tier: str | None = None
    """The tier of a trial whose row has none in ``tiers`` (a judge's: the highest it grades)."""

    scrub: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per tier, the kinds of personal data taken out of a trial before it is stored."""

    def tier_of(self, row: int) -> str | None:
        """The tier of the trial of row number ``row``."""
        return self.tiers[row] if self.kind == "sweep" and 0 <= row < len(self.tiers) else self.tier


class TrialMaker:
    """Makes the trials of one run (and kind): ``failed``, ``answered``, ``cached``."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self._lineage = {"lineage": context.lineage, "kind": context.kind}
        self.redactor = Redactor()
        """Masks secrets in what servers send back (the runner adds each model's key)."""

    def _base(self, cell: Cell, started_at: datetime) -> dict[str, Any]:
        return {
            "trial_id": new_id(),
            "run_id": self.context.run_id,
            "experiment": self.context.experiment,
            "cell_key": cell.cell_key,
            "cache_key": cell.cache_key,
            "prompt_name": cell.prompt.name,
            "prompt_version": cell.prompt.version,
            "model": cell.model.name,
            "model_id": cell.model.id,
            "provider": cell.model.provider,
            "params": cell.model.params,
            "row_index": cell.row_index,
            "vars": cell.vars,
            "repeat": cell.repeat,
            "messages": cell.messages,
            "started_at": started_at,
            "tier": self.context.tier_of(cell.row_index),
            "retriever": cell.context.retriever if cell.context is not None else None,
            "retrieval": cell.context.record if cell.context is not None else None,
            **self._lineage,
        }

    def failed(
        self, cell: Cell, started_at: datetime, attempts: int, latency_ms: float | None, error: Exception
    ) -> Trial:
        message = str(error) if isinstance(error, ProviderError) else f"{type(error).__name__}: {error}"
        return Trial(
            **self._base(cell, started_at),
            output=None,
            finish_reason=None,
            error_type=type(error).__name__,
            error=self.redactor.text(message),
            latency_ms=latency_ms,
            ttft_ms=None,
            prompt_tokens=None,
            completion_tokens=None,
            cost_usd=None,
            cached=False,
            cached_from=None,
            attempts=attempts,
            request_id=None,
            response=None,
            created_at=utcnow(),
        )

    def answered(
        self, cell: Cell, started_at: datetime, attempts: int, latency_ms: float | None, completion: Completion
    ) -> Trial:
        price = cell.model.price
        raw = completion.raw
        return Trial(
            **self._base(cell, started_at),
            output=self.redactor.values(completion.output),
            finish_reason=completion.finish_reason,
            error_type=None,
            error=None,
            latency_ms=completion.latency_ms or latency_ms,
            ttft_ms=completion.ttft_ms,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=price.cost(completion.prompt_tokens, completion.completion_tokens) if price else None,
            cached=False,
            cached_from=None,
            attempts=attempts,
            request_id=self.redactor.text(completion.request_id),
            response=self.redactor.json_value(without_output(raw)) if raw is not None else None,
            created_at=utcnow(),
        )

    def cached(self, cell: Cell, hit: Mapping[str, Any], now: datetime) -> Trial:
        price = cell.model.price
        return Trial(
            **self._base(cell, now),
            output=hit["output"],
            finish_reason=hit["finish_reason"],
            error_type=None,
            error=None,
            latency_ms=hit["latency_ms"],
            ttft_ms=hit["ttft_ms"],
            prompt_tokens=hit["prompt_tokens"],
            completion_tokens=hit["completion_tokens"],
            cost_usd=price.cost(hit["prompt_tokens"], hit["completion_tokens"]) if price else None,
            cached=True,
            cached_from=hit["trial_id"],
            attempts=0,
            request_id=hit["request_id"],
            response=None,
            created_at=now,
        )
