"""A small OpenAI-compatible HTTP server for tests and benchmarks.

It answers ``POST /v1/chat/completions`` by echoing the last user message, on
real HTTP/1.1 with keep-alive, so the real ``openai`` client talks to it
unchanged. Markers in the last user message script faults, per distinct
message, so retries can be observed:

- ``[429:N]``: the first N attempts answer 429 with ``Retry-After: 1``
  (``[429:N:S]`` sets S seconds);
- ``[500:N]``: the first N attempts answer 500;
- ``[hang]``: never answers (the client's timeout must fire);
- ``[badjson]``: answers 200 with a body that is not JSON (``[badjson:N]``:
  only the first N attempts);
- ``[400]``: answers 400 (not worth retrying);
- ``[leak]``: answers 401 quoting the Authorization header it received,
  like a careless server would;
- ``[echo-auth]``: answers 200 with the Authorization header it received
  echoed in the ``x-request-id`` header, the completion's id and the output
  text (a server that mirrors request headers);
- ``[surrogate]``: answers with a lone surrogate in the text, sent as the
  JSON escape ``\ud800`` (valid JSON, but no valid Unicode), streamed or not;
- ``[words:N]``: answers N words instead of the echo, drawn from a
  vocabulary by a generator seeded with the message, so the same message
  always gets the same answer and different ones read like different text
  (for histories with outputs of a realistic size).

Run in a thread (``with StubServer() as server: server.url``) or as a
process: ``python -m promptlab.testing --port 8000 --latency 0.2``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import random
import re
import threading
import time
from collections import Counter
from typing import Any

_MARKER = re.compile(r"\[(429|500):(\d+)(?::(\d+(?:\.\d+)?))?\]")
_BADJSON = re.compile(r"\[badjson(?::(\d+))?\]")
_WORDS = re.compile(r"\[words:(\d+)\]")
_LETTERS = random.Random(0)
_VOCABULARY = ["".join(_LETTERS.choices("abcdefghijklmnopqrstuvwxyz", k=_LETTERS.randint(2, 10))) for _ in range(4096)]
_ZIPF = list(itertools.accumulate(1 / rank for rank in range(1, len(_VOCABULARY) + 1)))
"""Cumulative Zipf weights of the vocabulary, summed once rather than per answer."""


def made_up_text(seed: str, n_words: int) -> str:
    """``n_words`` made-up words, always the same for the same ``seed``: a fixed
    vocabulary used with the skew of a natural language (Zipf), so the text
    compresses about as well as real text would, not better."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    return " ".join(rng.choices(_VOCABULARY, cum_weights=_ZIPF, k=n_words))


class StubServer:
    """An OpenAI-compatible echo server with scripted faults."""

    def __init__(self, *, latency: float = 0.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.latency = latency
        self.host = host
        self.port = port
        self.requests = 0
        """Chat completion requests received, every attempt counted."""
        self.attempts: Counter[str] = Counter()
        """Attempts per last user message."""
        self.authorization: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """Base URL to give ``Model(base_url=...)`` or ``AsyncOpenAI(base_url=...)``."""
        return f"http://{self.host}:{self.port}/v1"

    # -- running -----------------------------------------------------------

    async def start(self) -> None:
        """Start listening on the current event loop."""
        self._server = await asyncio.start_server(self._serve_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        """Start and serve until cancelled."""
        await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    def __enter__(self) -> StubServer:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="promptlab-stub-server", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None and self._server is not None:

            async def shut_down() -> None:
                assert self._server is not None
                self._server.close()
                # Cancel the handlers still waiting ([hang]) here, on their own loop:
                # left to the garbage collector they would complain from any thread.
                pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                loop.stop()

            asyncio.run_coroutine_threadsafe(shut_down(), loop)
        if self._thread is not None:
            self._thread.join(5)
        if loop is not None and not loop.is_running() and not loop.is_closed():
            loop.close()

    # -- HTTP ----------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                await self._respond(method, path, headers, body, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            self._write(writer, 200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})
            return
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            self._write(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            return
        self.requests += 1
        payload = json.loads(body or b"{}")
        messages = payload.get("messages", [])
        text = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        self.attempts[text] += 1
        attempt = self.attempts[text]
        self.authorization.append(headers.get("authorization", ""))
        if self.latency:
            await asyncio.sleep(self.latency)
        if "[hang]" in text:
            await asyncio.sleep(3600)
        for code, times, wait in _MARKER.findall(text):
            if attempt <= int(times):
                extra = {"retry-after": wait or "1"} if code == "429" else {}
                self._write(writer, int(code), {"error": {"message": f"scripted {code}"}}, extra)
                return
        if "[400]" in text:
            self._write(writer, 400, {"error": {"message": "scripted bad request"}})
        elif "[leak]" in text:
            message = f"Incorrect API key: {headers.get('authorization', '')}"
            self._write(writer, 401, {"error": {"message": message}})
        elif "[echo-auth]" in text:
            authorization = headers.get("authorization", "")
            completion = self._completion(payload, f"{text} {authorization}")
            completion["id"] = authorization
            self._write(writer, 200, completion, {"x-request-id": authorization})
        elif (garbled := _BADJSON.search(text)) and (not garbled.group(1) or attempt <= int(garbled.group(1))):
            self._write_raw(writer, 200, b"{this is not json", {})
        else:
            sized = _WORDS.search(text)
            answer = text.replace("[surrogate]", "half \ud800 pair")
            if sized:
                answer = made_up_text(text, int(sized.group(1)))
            if payload.get("stream"):
                self._write_stream(writer, payload, answer)
            else:
                self._write(writer, 200, self._completion(payload, answer))

    def _completion(self, payload: dict[str, Any], text: str) -> dict[str, Any]:
        words = text.split()
        limit = payload.get("max_tokens")
        output_words = words[:limit] if limit else words
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in payload.get("messages", []))
        return {
            "id": f"chatcmpl-stub-{self.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": " ".join(output_words)},
                    "finish_reason": "length" if limit and len(words) > limit else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(output_words),
                "total_tokens": prompt_tokens + len(output_words),
            },
        }

    def _write_stream(self, writer: asyncio.StreamWriter, payload: dict[str, Any], text: str) -> None:
        completion = self._completion(payload, text)
        base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        events = []
        for i, word in enumerate(completion["choices"][0]["message"]["content"].split()):
            delta = {"content": (" " if i else "") + word}
            events.append(base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        finish = completion["choices"][0]["finish_reason"]
        events.append(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        events.append(base | {"choices": [], "usage": completion["usage"]})
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
        self._write_raw(writer, 200, body, {"content-type": "text/event-stream"})

    def _write(self, writer: asyncio.StreamWriter, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
        headers = {"content-type": "application/json", "x-request-id": f"req-{self.requests}"}
        self._write_raw(writer, status, json.dumps(body).encode(), headers | (extra or {}))

    @staticmethod
    def _write_raw(writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str]) -> None:
        head = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", "connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def main() -> None:
    """Serve until interrupted; prints the base URL on the first line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = StubServer(latency=args.latency, port=args.port)

    async def run() -> None:
        await server.start()
        print(server.url, flush=True)
        assert server._server is not None
        await server._server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
