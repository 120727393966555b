"""A deterministic provider that needs no network, model or key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptlab.core.model import Model
from promptlab.core.pricing import Price
from promptlab.errors import PermanentError
from promptlab.providers.protocol import Completion, Request

Responder = Callable[[Sequence[Mapping[str, str]], Model], str]


def _last_user_message(messages: Sequence[Mapping[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def _default_response(messages: Sequence[Mapping[str, str]], model: Model) -> str:
    text = _last_user_message(messages)
    if model.name == "echo":
        return text
    if model.name == "upper":
        return text.upper()
    return f"{model.name}: {text}"


class FakeProvider:
    """Answers from the messages alone, the same way every time.

    Model names pick the answer: ``echo`` repeats the last user message,
    ``upper`` shouts it, any other name prefixes it with the name (its price
    comes from ``fake_model``, by name). Model
    parameters steer it from data, so subprocesses behave the same:
    ``latency`` (seconds to wait), ``fail_if`` (fail when the last user
    message contains this text), ``max_tokens`` (cut the answer to that many
    words, finish reason ``length``). ``calls`` counts every call made.
    """

    def __init__(self, respond: Responder | None = None, *, latency: float = 0.0) -> None:
        self.respond = respond or _default_response
        self.latency = latency
        self.calls = 0
        self.requests: list[Request] = []

    async def complete(self, request: Request) -> Completion:
        """Answer ``request`` after the configured latency."""
        self.calls += 1
        self.requests.append(request)
        params = request.model.params
        delay = float(params.get("latency", self.latency))
        if delay:
            await asyncio.sleep(delay)
        fail_if = params.get("fail_if")
        if fail_if and fail_if in _last_user_message(request.messages):
            raise PermanentError(f"fake failure: the input contains {fail_if!r}", status=400)
        words = self.respond(request.messages, request.model).split(" ")
        limit = params.get("max_tokens")
        finish_reason = "stop"
        if limit is not None and len(words) > int(limit):
            words, finish_reason = words[: int(limit)], "length"
        output = " ".join(words)
        prompt_tokens = sum(len(m["content"].split()) for m in request.messages)
        return Completion(
            output=output,
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(output.split()),
            request_id=f"fake-{self.calls}",
            raw={"model": request.model.name, "output": output},
        )

    async def aclose(self) -> None:
        """Nothing to release."""

    def reset(self) -> None:
        """Forget the calls counted so far."""
        self.calls = 0
        self.requests.clear()


def fake_model(name: str = "echo", *, price: Price | tuple[float, float] | None = None, **params: Any) -> Model:
    """A ``Model`` on the built-in fake provider. A name the pricing table knows
    costs what that model costs (``fake_model("gpt-4o-mini")``: $0.15 / $0.60 per
    million tokens, counting the fake's words as tokens), so tests and docs show
    real-looking costs; other names (``echo``, ``upper``) are free unless ``price`` says."""
    return Model(name, provider="fake", price=price, **params)
