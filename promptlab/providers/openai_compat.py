"""The OpenAI-compatible provider: OpenAI itself, and any server speaking its API
(vLLM, Ollama, llama.cpp, LM Studio, ...), through the real ``openai`` client."""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import openai

from promptlab.core.model import OPENAI_PARAMETERS, Model
from promptlab.core.redaction import Redactor
from promptlab.errors import (
    CallTimeoutError,
    ConfigError,
    PermanentError,
    ProviderError,
    RateLimitError,
    TransientError,
)
from promptlab.providers.endpoints import key_variable
from promptlab.providers.protocol import Completion, Request

_TRANSIENT_STATUS = {408, 409, 425, 500, 502, 503, 504, 520, 521, 522, 524, 529}


NO_KEY = "not-needed"
"""Sent when no key may go to an endpoint: local servers accept any key, and the client insists on one."""


def api_key_for(model: Model) -> str:
    """The key for ``model``'s endpoint, read from the environment at call time:
    only from a variable that may go there (``promptlab.providers.endpoints``), so a
    model from a file can't send a key to a host of the file's choosing."""
    variable = key_variable(model)  # a ConfigError when the endpoint or the key is refused
    key = os.environ.get(variable) if variable else None
    if key:
        return key
    if model.base_url is None:
        raise ConfigError(
            f"{model.name!r} runs on api.openai.com and {variable} is not set: export "
            f"{variable}=sk-..., or pass base_url= for a local OpenAI-compatible server, "
            "or use the embedded model pl.Model('smollm2')"
        )
    return NO_KEY


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429/503 asked us to wait: ``retry-after-ms``, or ``retry-after`` as
    seconds or an HTTP date. Unlike the openai client, there is no upper bound."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    message = f"HTTP {status}: {exc.message}"
    if status == 429:
        return RateLimitError(message, retry_after=retry_after_seconds(exc.response.headers))
    if status in _TRANSIENT_STATUS:
        return TransientError(message, status=status)
    return PermanentError(message, status=status)


def translate_error(exc: Exception) -> ProviderError:
    """The promptlab error for an exception the openai client raised."""
    if isinstance(exc, openai.APITimeoutError):
        return CallTimeoutError("the call timed out")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return TransientError(f"connection failed: {type(cause).__name__}: {cause}")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc)
    if isinstance(exc, json.JSONDecodeError):  # a body (or a streamed chunk) cut short: worth another try
        return TransientError(f"malformed response from the endpoint (not JSON): {exc}")
    if isinstance(exc, openai.APIResponseValidationError):
        return PermanentError(f"malformed response from the endpoint: {exc}")
    return PermanentError(f"{type(exc).__name__}: {exc}")


def _json_body(content: bytes) -> dict[str, Any]:
    """The completion body as plain JSON. Read directly rather than through the
    client's pydantic models: the response is recorded as JSON anyway, and
    building the models cost more than everything else promptlab does per call."""
    try:
        body = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        # a proxy or a server under load cutting a body short: worth another try
        raise TransientError(f"malformed response from the endpoint (not JSON): {content[:200]!r}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
        raise PermanentError(f"malformed response from the endpoint (no choices): {content[:200]!r}")
    if not isinstance(body["choices"][0], dict):
        raise PermanentError(f"malformed response from the endpoint (bad choice): {content[:200]!r}")
    return body


class OpenAICompatProvider:
    """Chat completions on one OpenAI-compatible endpoint."""

    enforces_timeout = True
    """``Request.timeout`` bounds each call, streamed or not."""

    def __init__(self, base_url: str | None, api_key: str, *, max_connections: int = 1000) -> None:
        self._base_url = base_url
        self._api_key = api_key
        # What the server sends back is masked for this key too, whatever its variable's name.
        self._redactor = Redactor(values=[api_key] if api_key != NO_KEY else [])
        self._max_connections = max_connections
        self._client_instance: openai.AsyncOpenAI | None = None

    @property
    def _client(self) -> openai.AsyncOpenAI:
        # Made on the first call: a sweep answered from the cache never pays for it.
        if self._client_instance is None:
            import httpx2

            limits = httpx2.Limits(
                max_connections=self._max_connections, max_keepalive_connections=self._max_connections
            )
            self._client_instance = openai.AsyncOpenAI(
                base_url=self._base_url,
                api_key=self._api_key,
                max_retries=0,  # the runner retries, with a back-off shared by every call
                http_client=httpx2.AsyncClient(limits=limits, timeout=httpx2.Timeout(600, connect=5.0)),
            )
        return self._client_instance

    @classmethod
    def for_model(cls, model: Model) -> OpenAICompatProvider:
        """A provider for ``model``'s endpoint and key."""
        return cls(model.base_url, api_key_for(model))

    async def complete(self, request: Request) -> Completion:
        """One chat completion; streamed when the model has ``stream=True``."""
        params = dict(request.model.params)
        stream = bool(params.pop("stream", False))
        named = {k: v for k, v in params.items() if k in OPENAI_PARAMETERS}
        extra = {k: v for k, v in params.items() if k not in OPENAI_PARAMETERS}
        kwargs: dict[str, Any] = {
            "model": request.model.name,
            "messages": list(request.messages),
            **named,
        }
        if extra:
            kwargs["extra_body"] = extra
        if request.timeout is not None:
            kwargs["timeout"] = request.timeout
        try:
            # httpx's timeout bounds each read; this bounds the whole call (a stream
            # that keeps trickling, a body sent byte by byte)
            async with asyncio.timeout(request.timeout):
                if stream:
                    return await self._complete_streamed(kwargs)
                response = await self._client.chat.completions.with_raw_response.create(**kwargs)
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        except TimeoutError as exc:
            raise CallTimeoutError(f"no complete answer within {request.timeout}s") from exc
        body = _json_body(response.http_response.content)
        choice = body["choices"][0]
        message = choice.get("message") or {}
        usage = body.get("usage") or {}
        return Completion(
            output=message.get("content") or message.get("refusal") or "",
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            request_id=self._redactor.text(response.headers.get("x-request-id") or body.get("id")),
            raw=body,
        )

    async def _complete_streamed(self, kwargs: dict[str, Any]) -> Completion:
        started = time.perf_counter()
        ttft_ms = None
        parts: list[str] = []
        finish_reason = None
        usage = None
        completion_id = None
        stream = await self._client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        async for chunk in stream:
            completion_id = completion_id or chunk.id
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    if ttft_ms is None:
                        ttft_ms = (time.perf_counter() - started) * 1000
                    parts.append(choice.delta.content)
                finish_reason = choice.finish_reason or finish_reason
        return Completion(
            output="".join(parts),
            finish_reason=finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            request_id=self._redactor.text(completion_id),
            ttft_ms=ttft_ms,
            raw={"id": completion_id, "streamed": True},
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._client_instance is not None:
            await self._client_instance.close()
