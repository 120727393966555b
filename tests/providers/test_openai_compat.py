"""Through the real ``openai`` client to a real local server (``StubServer``):
what a trial records, streaming, scripted faults, and keys kept out of history."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from support.history import settle
from support.providers import cancel_pending

import promptlab as pl
from promptlab.errors import ConfigError
from promptlab.runner.progress import NullDisplay
from promptlab.testing import StubServer

pytestmark = pytest.mark.integration

PROMPT = pl.Prompt("{{ text }}", name="say")


def by_text(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index(df["vars"].map(lambda v: v["text"]))


def test_a_sweep_records_what_the_endpoint_said(lab: pl.Lab, stub_server: StubServer) -> None:
    plain = pl.Model("stub-model", base_url=stub_server.url)
    short = pl.Model("stub-model", base_url=stub_server.url, max_tokens=2)
    data = [{"text": "the quick brown fox"}, {"text": "hello there"}]
    run = lab.sweep(PROMPT, [plain, short], data, display=NullDisplay())
    df = run.df
    assert len(df) == 4
    assert df["error"].isna().all()
    full = by_text(df[df["params"] == {}])
    assert full.loc["the quick brown fox", "output"] == "the quick brown fox"
    assert full.loc["the quick brown fox", "prompt_tokens"] == 4
    assert full.loc["the quick brown fox", "completion_tokens"] == 4
    assert full.loc["the quick brown fox", "finish_reason"] == "stop"
    cut = by_text(df[df["params"] == {"max_tokens": 2}])
    assert cut.loc["the quick brown fox", "output"] == "the quick"
    assert cut.loc["the quick brown fox", "finish_reason"] == "length"
    assert (df["latency_ms"] > 0).all()
    assert df["ttft_ms"].isna().all()  # not streamed
    assert (df["attempts"] == 1).all()
    assert df["cost_usd"].isna().all()  # "stub-model" has no known price
    for trial_id in df["trial_id"]:
        trial = lab.trial(trial_id)
        assert trial["provider"] == "openai"
        assert trial["request_id"].startswith("req-")  # the x-request-id header
        assert trial["response"]["object"] == "chat.completion"
    assert stub_server.requests == 4


def test_a_known_model_behind_a_compatible_endpoint_is_priced(lab: pl.Lab, stub_server: StubServer) -> None:
    model = pl.Model("gpt-4o-mini", base_url=stub_server.url)
    trial = lab.sweep(PROMPT, model, [{"text": "one two three"}], display=NullDisplay()).df.iloc[0]
    assert math.isclose(trial["cost_usd"], (3 * 0.15 + 3 * 0.60) / 1_000_000)


def test_streaming_records_time_to_first_token(lab: pl.Lab, stub_server: StubServer) -> None:
    model = pl.Model("stub-model", base_url=stub_server.url, stream=True)
    run = lab.sweep(PROMPT, model, [{"text": "streamed words arrive"}], display=NullDisplay())
    trial = run.df.iloc[0]
    assert trial["output"] == "streamed words arrive"
    assert trial["ttft_ms"] >= 0
    assert trial["latency_ms"] >= trial["ttft_ms"]
    assert (trial["prompt_tokens"], trial["completion_tokens"]) == (3, 3)
    assert trial["finish_reason"] == "stop"
    assert lab.trial(trial["trial_id"])["request_id"].startswith("chatcmpl-stub-")


def test_the_stub_answers_made_up_text_of_the_size_asked(lab: pl.Lab, stub_server: StubServer) -> None:
    model = pl.Model("stub-model", base_url=stub_server.url)
    rows = [{"text": "first [words:150]"}, {"text": "second [words:150]"}, {"text": "first [words:150]"}]
    trials = lab.sweep(pl.Prompt("{{ text }}"), model, rows, display=NullDisplay(), cache=False).df
    outputs = list(trials.sort_values("row_index")["output"])
    assert [len(output.split()) for output in outputs] == [150, 150, 150]
    assert outputs[0] == outputs[2] != outputs[1]  # the same message, the same answer
    assert 600 < len(outputs[0]) < 1600 and "[words" not in outputs[0]
    assert list(trials["completion_tokens"]) == [150, 150, 150]


def test_faults_each_end_as_exactly_one_trial(lab: pl.Lab, stub_server: StubServer) -> None:
    texts = [
        "[429:2] rate limited twice",
        "[429:1:200] asked to wait too long",
        "[500:1] one server error",
        "[500:9] server down",
        "[hang] never answers",
        "[badjson] garbled",
        "[badjson:1] garbled once",
        "[400] bad request",
        "all fine",
    ]
    model = pl.Model("stub-model", base_url=stub_server.url)
    run = lab.sweep(
        PROMPT, model, [{"text": t} for t in texts], timeout=0.5, max_retries=2, max_wait=5, display=NullDisplay()
    )
    df = by_text(run.df)
    assert sorted(df.index) == sorted(texts)  # one trial per cell, none missing, none doubled
    assert len({lab.trial(t)["cell_key"] for t in df["trial_id"]}) == len(texts)

    def outcome(text: str) -> tuple[object, int]:
        error_type = df.loc[text, "error_type"]
        return (None if pd.isna(error_type) else error_type, int(df.loc[text, "attempts"]))

    assert outcome("[429:2] rate limited twice") == (None, 3)
    assert stub_server.attempts["[429:2] rate limited twice"] == 3
    assert outcome("[429:1:200] asked to wait too long") == ("PermanentError", 1)
    assert "max_wait" in df.loc["[429:1:200] asked to wait too long", "error"]
    assert outcome("[500:1] one server error") == (None, 2)
    assert outcome("[500:9] server down") == ("TransientError", 3)  # the call and max_retries=2 retries
    assert "500" in df.loc["[500:9] server down", "error"]
    assert stub_server.attempts["[500:9] server down"] == 3
    assert outcome("[hang] never answers") == ("CallTimeoutError", 3)
    assert outcome("[badjson] garbled") == ("TransientError", 3)  # a 200 that isn't JSON is worth retrying
    assert "malformed" in df.loc["[badjson] garbled", "error"]
    assert outcome("[badjson:1] garbled once") == (None, 2)
    assert outcome("[400] bad request") == ("PermanentError", 1)
    assert stub_server.attempts["[400] bad request"] == 1  # not worth retrying
    assert outcome("all fine") == (None, 1)
    assert df.loc["all fine", "output"] == "all fine"
    assert df.loc["[429:2] rate limited twice", "output"] == "[429:2] rate limited twice"
    assert run.status == "done"


def secret_bytes_in(paths: list[Path], secret: bytes) -> list[Path]:
    return [p for p in paths if p.is_file() and secret in p.read_bytes()]


def test_the_key_never_reaches_the_history(
    lab: pl.Lab, stub_server: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"plk-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    marker = f"marker-{uuid.uuid4().hex}"  # stored on purpose: proves the scan can see stored text
    model = pl.Model("stub-model", base_url=stub_server.url)
    data = [{"text": f"[leak] {marker}"}, {"text": "[leak] again"}, {"text": "normal call"}]
    run = lab.sweep(PROMPT, model, data, display=NullDisplay())
    assert f"Bearer {key}" in stub_server.authorization  # the server did get the key
    leaks = run.df.dropna(subset=["error"])
    assert len(leaks) == 2
    assert all("[redacted]" in e and key not in e for e in leaks["error"])

    def every_file() -> list[Path]:  # the database, its WAL, the journal's segments, the lock file
        return sorted(p for p in lab.path.parent.rglob("*") if p.is_file())

    assert secret_bytes_in(every_file(), marker.encode())  # the trials are on disk (journal or file) ...
    assert secret_bytes_in(every_file(), key.encode()) == []  # ... without the key
    settle()
    lab.fold()
    assert secret_bytes_in([lab.path], marker.encode())  # folded, and still readable as bytes
    assert secret_bytes_in(every_file(), key.encode()) == []
    for name in ("trials", "runs", "models", "prompts", "experiments"):
        text = lab.store.query(f"SELECT string_agg(CAST(t AS VARCHAR), ' ') AS all_text FROM {name} t")
        assert key not in str(text.iloc[0]["all_text"]), name


def test_a_missing_key_fails_before_any_trial(lab: pl.Lab) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        lab.sweep(PROMPT, pl.Model("gpt-4o-mini"), [{"text": "hi"}], display=NullDisplay())
    assert lab.trials().empty
    assert lab.runs().empty


def test_a_key_from_a_named_variable(lab: pl.Lab, stub_server: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_GATEWAY_KEY", "team-key-0123456789")
    model = pl.Model("stub-model", base_url=stub_server.url, api_key_env="TEAM_GATEWAY_KEY")
    lab.sweep(PROMPT, model, [{"text": "hi"}], display=NullDisplay())
    assert stub_server.authorization == ["Bearer team-key-0123456789"]


class TrickleServer:
    """An OpenAI-compatible endpoint that streams its answer slowly: one
    chunk every ``gap`` seconds, so no single read ever waits long."""

    def __init__(self, chunks: int = 10, gap: float = 0.2) -> None:
        self.chunks, self.gap = chunks, gap
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):  # a client that gives up hangs up
            await self._trickle(reader, writer)
        writer.close()

    async def _trickle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers = {}
        await reader.readline()
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        await reader.readexactly(int(headers.get("content-length", 0)))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
        base = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": 0, "model": "slow"}
        for i in range(self.chunks):
            delta = {"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}
            writer.write(b"data: " + json.dumps(base | {"choices": [delta]}).encode() + b"\n\n")
            await writer.drain()
            await asyncio.sleep(self.gap)
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()

    def __enter__(self) -> TrickleServer:
        def run() -> None:
            asyncio.set_event_loop(self._loop)
            server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        cancel_pending(self._loop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    with TrickleServer() as server:
        yield server


def test_a_slow_trickling_stream_is_cut_off_at_the_timeout(lab: pl.Lab, trickle: TrickleServer) -> None:
    model = pl.Model("slow", base_url=trickle.url, stream=True)
    # The whole answer takes ~2 s, four times timeout=0.5, though no chunk is ever 0.5 s late.
    run = lab.sweep(PROMPT, model, [{"text": "go"}], timeout=0.5, max_retries=0, display=NullDisplay())
    assert run.df.iloc[0]["error_type"] == "CallTimeoutError"
