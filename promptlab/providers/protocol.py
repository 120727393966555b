"""What every provider is: the ``Request`` it is given, the ``Completion`` it
returns, and the one-method ``Provider`` protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from promptlab.core.model import Model


@dataclass(frozen=True)
class Request:
    """One chat completion to make."""

    model: Model
    """The model config (name, params, endpoint)."""

    messages: Sequence[Mapping[str, str]]
    """The rendered chat messages."""

    timeout: float | None = None
    """Seconds the call may take; None for the provider's default."""


@dataclass(frozen=True)
class Completion:
    """What a model answered, in the fields every trial records."""

    output: str
    """The generated text."""

    finish_reason: str | None = None
    """Why generation stopped (stop, length, content_filter, ...)."""

    prompt_tokens: int | None = None
    """Tokens in the prompt, as the endpoint counted them."""

    completion_tokens: int | None = None
    """Tokens generated."""

    request_id: str | None = None
    """The endpoint's id for the call (``x-request-id`` or the completion id)."""

    ttft_ms: float | None = None
    """Time to first token in milliseconds, when streamed."""

    latency_ms: float | None = None
    """The call's own duration, when the provider measures it better than the
    runner can (e.g. without time spent queueing for a local slot)."""

    raw: Mapping[str, Any] | None = field(default=None, repr=False)
    """The response body as JSON, without headers."""


@runtime_checkable
class Provider(Protocol):
    """Runs chat completions for the models it is registered for.

    A provider that applies ``Request.timeout`` itself may say so with a class
    attribute ``enforces_timeout = True``; otherwise the runner keeps time. A
    provider with slow set-up (loading a local model) may have an
    ``async def start(self)`` that the runner awaits before the first call's
    clock starts, showing its ``starting_message`` meanwhile.
    """

    async def complete(self, request: Request) -> Completion:
        """Make one call; raise a ``ProviderError`` subclass when it fails."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once when a sweep ends."""
        ...


ProviderFactory = Callable[[Model], Provider]
"""Makes a provider for a model; called once per endpoint per sweep."""
