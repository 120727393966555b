"""A trial: one executed cell, exactly as it is recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from promptlab.core.lineage import Lineage

MAX_TRIAL_BYTES = 16 * 1024 * 1024
"""The most a trial may take as a journal line. A longer output is cut (the
trial is marked ``truncated``); readers parse lines up to twice this."""

MAX_INPUT_BYTES = 6 * 1024 * 1024
"""The most a cell's input (its row and its rendered messages) may take, so its
trial always fits: a larger row is refused before any call."""


@dataclass(frozen=True)
class Trial:
    """One cell executed (or answered from the cache), with everything about it."""

    trial_id: str
    """Unique id of this trial."""

    run_id: str
    """The run that recorded it."""

    experiment: str
    """The experiment the run belongs to."""

    cell_key: str
    """Hash of prompt version, model config, input and repeat."""

    cache_key: str
    """Hash of the rendered request (messages, model config, repeat)."""

    prompt_name: str
    """Name of the prompt."""

    prompt_version: str
    """Content hash of the prompt template."""

    model: str
    """Model name."""

    model_id: str
    """Content hash of the model config."""

    provider: str
    """Provider that ran it."""

    params: Mapping[str, Any]
    """Model parameters sent."""

    row_index: int
    """Position of the input row in the data set."""

    vars: Mapping[str, Any]
    """The input row."""

    repeat: int
    """Repeat index."""

    messages: Sequence[Mapping[str, str]]
    """The rendered messages sent."""

    output: str | None
    """The model's text; None when the call failed."""

    finish_reason: str | None
    """Why generation stopped."""

    error_type: str | None
    """Class of the error when the call failed (``RateLimitError``, ...)."""

    error: str | None
    """What went wrong, secrets masked."""

    latency_ms: float | None
    """Duration of the successful (or last) attempt."""

    ttft_ms: float | None
    """Time to first token, when streamed."""

    prompt_tokens: int | None
    """Prompt tokens, as the endpoint counted."""

    completion_tokens: int | None
    """Completion tokens."""

    cost_usd: float | None
    """Cost of the response at the model's price; None when unknown."""

    cached: bool
    """True when answered from history with no call (nothing was spent)."""

    cached_from: str | None
    """The trial whose response was reused."""

    attempts: int
    """Calls made for this trial (0 when cached)."""

    request_id: str | None
    """The endpoint's id for the call."""

    response: Mapping[str, Any] | None
    """The response body, secrets masked (None for cached trials: see cached_from)."""

    started_at: datetime
    """When the first attempt started (UTC)."""

    created_at: datetime
    """When the trial finished (UTC)."""

    lineage: Lineage
    """Who ran it, on which host and process, from which notebook or script, at
    which git commit, with which promptlab (stored as the lineage columns)."""

    kind: str = "sweep"
    """``sweep`` for a sweep's cells, ``judge`` for a judge's grading calls."""

    truncated: bool = False
    """True when the output was longer than a trial may hold and was cut (see
    ``MAX_TRIAL_BYTES``); the rest was never stored."""

    tier: str | None = None
    """The data tier of what went into it (``promptlab.privacy``); None: the policy's default."""

    retriever: str | None = None
    """The label of the retriever that found its context (``bm25 k=5``); None: no retrieval."""

    retrieval: Mapping[str, Any] | None = None
    """What that retriever found (``promptlab.core.grid.Context.record``): the query,
    the corpus and its version, the settings, ``k`` and the hits with their ids, scores and ranks."""

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error_type is None

    def to_row(self) -> dict[str, Any]:
        """The row as the journal writes it: the ``trials`` table's columns, the
        lineage flattened into its own, times as ISO text."""
        row = {name: getattr(self, name) for name in _ROW_FIELDS}
        row["started_at"] = self.started_at.isoformat()
        row["created_at"] = self.created_at.isoformat()
        return {**row, **self.lineage.to_row()}


_ROW_FIELDS = tuple(f.name for f in fields(Trial) if f.name != "lineage")
"""The fields ``Trial.to_row`` writes as they are (the lineage is flattened)."""
