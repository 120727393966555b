"""``pl.instrument``: the real ``openai`` client, sync and async, streaming or
not, against the stub server and the embedded llama.cpp server. The app gets
exactly what the client returned (the same objects); each call made with a
promptlab prompt is logged, with its usage, its error, and no key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pandas as pd
import pytest

import promptlab as pl
from promptlab.providers import embedded, model_files
from promptlab.testing import StubServer

KEY = "sk-instrumented-test-key-0123456789"
PROMPT = pl.Prompt(
    [{"role": "system", "content": "Answer in a few words."}, {"role": "user", "content": "{{ q }}"}], name="qa"
)


@pytest.fixture(params=["stub", pytest.param("llamacpp", marks=pytest.mark.integration)])
def endpoint(request: pytest.FixtureRequest, stub_server: StubServer) -> tuple[str, str]:
    """(base URL, model name) of a real OpenAI-compatible server."""
    if request.param == "stub":
        return stub_server.url, "stub"
    server = embedded.server_for(model_files.pull("smollm2", quiet=True))
    return server.url, "smollm2"


class Spy:
    """Wraps a client's ``create`` to keep what it returned (and, for streams, each chunk it yielded)."""

    def __init__(self, completions: Any) -> None:
        self.create = completions.create
        self.returned: list[Any] = []
        self.chunks: list[Any] = []
        completions.create = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.create(*args, **kwargs)
        if asyncio.iscoroutine(result):
            return self._awaited(result, kwargs)
        return self._keep(result, kwargs)

    async def _awaited(self, result: Any, kwargs: dict[str, Any]) -> Any:
        return self._keep(await result, kwargs)

    def _keep(self, result: Any, kwargs: dict[str, Any]) -> Any:
        if kwargs.get("stream"):
            result = (
                AsyncRecording(result, self.chunks) if hasattr(result, "__aiter__") else Recording(result, self.chunks)
            )
        self.returned.append(result)
        return result


class Recording:
    def __init__(self, stream: Any, chunks: list[Any]) -> None:
        self.stream, self.chunks = stream, chunks

    def __iter__(self) -> Iterator[Any]:
        for chunk in self.stream:
            self.chunks.append(chunk)
            yield chunk

    def close(self) -> None:
        self.stream.close()


class AsyncRecording:
    def __init__(self, stream: Any, chunks: list[Any]) -> None:
        self.stream, self.chunks = stream, chunks

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for chunk in self.stream:
            self.chunks.append(chunk)
            yield chunk

    async def close(self) -> None:
        await self.stream.close()


def logged(db: Path) -> Any:
    lab = pl.Lab(db)
    lab.fold()
    trials = lab.trials(kind="production")
    raw = lab.store.query("SELECT * FROM trials").to_json(date_format="iso")
    assert KEY not in raw and KEY[3:] not in raw  # no key, at any depth
    return trials


def test_sync_calls_are_logged_and_returned_untouched(endpoint: tuple[str, str], tmp_path: Path) -> None:
    url, model = endpoint
    db = tmp_path / "h.duckdb"
    client = openai.OpenAI(base_url=url, api_key=KEY)
    spy = Spy(client.chat.completions)
    log = pl.logger(db, source="qa-app")
    app = pl.instrument(client, log)
    with log.context(end_user="u1", external_id="req-1", session="s9"):
        answer = app.chat.completions.create(
            model=model, messages=PROMPT.render({"q": "Name a color."}), max_tokens=12, temperature=0
        )
    assert answer is spy.returned[0]  # the very object the client returned
    last = log.last_trial.get()  # the app may keep the trial id, to give feedback by
    plain = app.chat.completions.create(model=model, messages=[{"role": "user", "content": "not a promptlab prompt"}])
    assert plain is spy.returned[1]
    assert app.models is client.models and app.api_key == KEY  # the rest is the client
    log.close()

    trials = logged(db)
    assert len(trials) == 1  # the plain call passed through, unlogged
    trial = trials.iloc[0]
    assert trial["output"] == answer.choices[0].message.content and trial["trial_id"] == last
    assert (trial["prompt_tokens"], trial["completion_tokens"]) == (
        answer.usage.prompt_tokens,
        answer.usage.completion_tokens,
    )
    assert trial["model"] == model and trial["params"] == {"max_tokens": 12, "temperature": 0}
    assert (trial["end_user"], trial["external_id"], trial["session_id"]) == ("u1", "req-1", "s9")
    assert trial["prompt_name"] == "qa" and trial["vars"] == {"q": "Name a color."}
    assert trial["latency_ms"] > 0 and trial["finish_reason"] in {"stop", "length"}


def test_streams_yield_the_clients_own_chunks(endpoint: tuple[str, str], tmp_path: Path) -> None:
    url, model = endpoint
    db = tmp_path / "h.duckdb"
    client = openai.OpenAI(base_url=url, api_key=KEY)
    spy = Spy(client.chat.completions)
    log = pl.logger(db, source="qa-app")
    app = pl.instrument(client, log)
    stream = app.chat.completions.create(
        model=model,
        messages=PROMPT.render({"q": "Count to five."}),
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    received = list(stream)
    assert [id(c) for c in received] == [id(c) for c in spy.chunks] and received  # the same objects, in order
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    # a stream left early is logged with what came
    early = app.chat.completions.create(
        model=model, messages=PROMPT.render({"q": "Again."}), max_tokens=16, stream=True
    )
    with early:
        next(iter(early))
    log.close()

    trials = logged(db).sort_values("created_at")
    assert len(trials) == 2
    full = trials.iloc[0]
    assert full["output"] == text and full["ttft_ms"] > 0 and full["latency_ms"] >= full["ttft_ms"]
    usage = next(c.usage for c in received if c.usage is not None)
    assert full["completion_tokens"] == usage.completion_tokens
    assert pd.isna(trials.iloc[1]["error"])


def test_async_calls_and_streams(endpoint: tuple[str, str], tmp_path: Path) -> None:
    url, model = endpoint
    db = tmp_path / "h.duckdb"

    async def main() -> tuple[Any, list[Any], Spy]:
        client = openai.AsyncOpenAI(base_url=url, api_key=KEY)
        spy = Spy(client.chat.completions)
        app = pl.instrument(client, log)
        with log.context(end_user="u2"):
            answer = await app.chat.completions.create(
                model=model, messages=PROMPT.render({"q": "Name a fruit."}), max_tokens=12, temperature=0
            )
        stream = await app.chat.completions.create(
            model=model, messages=PROMPT.render({"q": "Name a city."}), max_tokens=12, stream=True
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
        return answer, chunks, spy

    log = pl.logger(db, source="qa-app")
    answer, chunks, spy = asyncio.run(main())
    log.close()
    assert answer is spy.returned[0]
    assert [id(c) for c in chunks] == [id(c) for c in spy.chunks]
    trials = logged(db).sort_values("created_at")
    first, second = list(trials["output"])
    assert first == answer.choices[0].message.content
    assert list(trials["end_user"].fillna("-")) == ["u2", "-"]
    assert second == "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_failed_call_is_logged_and_the_app_gets_the_same_error(stub_server: StubServer, tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    client = openai.OpenAI(base_url=stub_server.url, api_key=KEY, max_retries=0)
    log = pl.logger(db, source="qa-app")
    app = pl.instrument(client, log)
    with pytest.raises(openai.BadRequestError):
        app.chat.completions.create(model="stub", messages=PROMPT.render({"q": "[400]"}))
    with pytest.raises(openai.AuthenticationError):  # the server quotes the key back: it is masked
        app.chat.completions.create(model="stub", messages=PROMPT.render({"q": "[leak]"}))
    log.close()
    trials = logged(db).sort_values("created_at")
    assert list(trials["error_type"]) == ["BadRequestError", "AuthenticationError"]
    assert trials["output"].isna().all()
    assert json.dumps(list(trials["error"])).count("[redacted]") >= 1
