"""``pl.instrument``: an ``openai`` client (sync or async) that logs each chat
completion made with a promptlab prompt, and otherwise is the client.

A call is logged when its ``messages`` are what ``Prompt.render`` returned
(a list that knows its prompt and values: ``core.prompt.RenderedMessages``);
any other call passes through untouched. What the app receives is what the
client returned: the same response object, or, for ``stream=True``, a
stream that yields the client's own chunks, unchanged, while it adds up the
text; the call is logged when the stream ends (or is closed early). A call
that raises is logged with its error and the app gets the same exception.
Who the call was for, and the app's own id for it, come from
``Logger.context`` (a context variable, so each request of an async server
keeps its own).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from promptlab.core.prompt import RenderedMessages
from promptlab.production.logger import Logger

_NOT_PARAMS = frozenset({"messages", "model", "stream", "stream_options", "extra_headers", "extra_query", "extra_body"})
"""Arguments of ``create`` that are not the model's parameters (headers are never recorded)."""


def instrument(client: Any, log: Logger) -> Any:
    """``client`` (``openai.OpenAI`` or ``openai.AsyncOpenAI``, or any client with
    its ``chat.completions.create``), logging into ``log`` each chat completion
    whose messages a promptlab prompt rendered; see the module docstring."""
    return _Delegate(client, chat=_Delegate(client.chat, completions=_Completions(client, log)))


class _Delegate:
    """An object that is ``target``, except for the attributes given."""

    def __init__(self, target: Any, **overrides: Any) -> None:
        self._target = target
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def __repr__(self) -> str:
        return f"instrumented {self._target!r}"


class _Completions(_Delegate):
    def __init__(self, client: Any, log: Logger) -> None:
        super().__init__(client.chat.completions)
        self._log = log
        base_url = getattr(client, "base_url", None)
        self._base_url = str(base_url).rstrip("/") if base_url is not None else None

    def create(self, *args: Any, **kwargs: Any) -> Any:
        messages = kwargs.get("messages")
        if not isinstance(messages, RenderedMessages):
            return self._target.create(*args, **kwargs)
        call = _Call(self._log, messages, kwargs, self._base_url)
        try:
            result = self._target.create(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        if inspect.isawaitable(result):
            return self._awaited(result, call)
        return call.answered(result)

    async def _awaited(self, result: Any, call: _Call) -> Any:
        try:
            response = await result
        except BaseException as exc:
            call.failed(exc)
            raise
        return call.answered(response)


class _Call:
    """One instrumented call, from its start to the log."""

    def __init__(self, log: Logger, messages: RenderedMessages, kwargs: dict[str, Any], base_url: str | None) -> None:
        self.log = log
        self.messages = messages
        self.kwargs = kwargs
        self.base_url = base_url
        self.context = log.current_context()
        self.started = time.perf_counter()
        self.first_chunk: float | None = None
        self.logged = False

    def _elapsed_ms(self, since: float | None = None) -> float:
        return ((since or time.perf_counter()) - self.started) * 1000

    def _record(self, **outcome: Any) -> None:
        if self.logged:
            return
        self.logged = True
        params = {k: v for k, v in self.kwargs.items() if k not in _NOT_PARAMS}
        trial_id = self.log.record(
            self.messages.prompt,
            self.messages.variables,
            model=self.kwargs.get("model"),
            messages=list(self.messages),
            params=params,
            base_url=self.base_url,
            **self.context,
            **outcome,
        )
        self.log.last_trial.set(trial_id)

    def failed(self, exc: BaseException) -> None:
        self._record(error=exc, latency_ms=self._elapsed_ms())

    def answered(self, response: Any) -> Any:
        if self.kwargs.get("stream"):
            if hasattr(response, "__aiter__"):
                return _AsyncStream(response, self)
            if hasattr(response, "__iter__"):
                return _Stream(response, self)
        choice = (getattr(response, "choices", None) or [None])[0]
        message = getattr(choice, "message", None)
        self._record(
            output=getattr(message, "content", None),
            usage=getattr(response, "usage", None),
            finish_reason=getattr(choice, "finish_reason", None),
            latency_ms=self._elapsed_ms(),
        )
        return response

    # -- streams ----------------------------------------------------------------

    def chunk(self, chunk: Any, parts: list[str], state: dict[str, Any]) -> None:
        """Add up a stream's chunk: its text, finish reason and usage (the last chunk's)."""
        if self.first_chunk is None:
            self.first_chunk = time.perf_counter()
        for choice in getattr(chunk, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            text = getattr(delta, "content", None)
            if text:
                parts.append(text)
            if getattr(choice, "finish_reason", None):
                state["finish_reason"] = choice.finish_reason
        if getattr(chunk, "usage", None) is not None:
            state["usage"] = chunk.usage

    def streamed(self, parts: list[str], state: dict[str, Any], error: BaseException | None = None) -> None:
        ttft = self._elapsed_ms(self.first_chunk) if self.first_chunk is not None else None
        self._record(
            output="".join(parts) if parts or error is None else None,
            error=error,
            latency_ms=self._elapsed_ms(),
            ttft_ms=ttft,
            **state,
        )


class _Stream(_Delegate):
    """The client's stream, yielding its own chunks; the call is logged at its end."""

    def __init__(self, stream: Any, call: _Call) -> None:
        super().__init__(stream)
        self._call = call
        self._parts: list[str] = []
        self._state: dict[str, Any] = {}

    def __iter__(self) -> Iterator[Any]:
        try:
            for chunk in self._target:
                self._call.chunk(chunk, self._parts, self._state)
                yield chunk
        except GeneratorExit:  # the app stopped reading early: logged with what came
            raise
        except BaseException as exc:
            self._call.streamed(self._parts, self._state, exc)
            raise
        finally:
            self._call.streamed(self._parts, self._state)

    def __next__(self) -> Any:
        try:
            chunk = next(self._target)
        except StopIteration:
            self._call.streamed(self._parts, self._state)
            raise
        except BaseException as exc:
            self._call.streamed(self._parts, self._state, exc)
            raise
        self._call.chunk(chunk, self._parts, self._state)
        return chunk

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._target.close()
        finally:
            self._call.streamed(self._parts, self._state)


class _AsyncStream(_Delegate):
    """The async client's stream, yielding its own chunks; the call is logged at its end."""

    def __init__(self, stream: Any, call: _Call) -> None:
        super().__init__(stream)
        self._call = call
        self._parts: list[str] = []
        self._state: dict[str, Any] = {}

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self._target:
                self._call.chunk(chunk, self._parts, self._state)
                yield chunk
        except GeneratorExit:  # the app stopped reading early: logged with what came
            raise
        except BaseException as exc:
            self._call.streamed(self._parts, self._state, exc)
            raise
        finally:
            self._call.streamed(self._parts, self._state)

    async def __anext__(self) -> Any:
        try:
            chunk = await self._target.__anext__()
        except StopAsyncIteration:
            self._call.streamed(self._parts, self._state)
            raise
        except BaseException as exc:
            self._call.streamed(self._parts, self._state, exc)
            raise
        self._call.chunk(chunk, self._parts, self._state)
        return chunk

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self._target.close()
        finally:
            self._call.streamed(self._parts, self._state)
