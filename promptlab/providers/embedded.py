"""The embedded local model: llama.cpp, through the prebuilt ``xllamacpp`` wheel.

Each process starts one llama.cpp server per model file, lazily on the first
call, with threads set to the machine's cores and several parallel slots,
listening on loopback only. Calls go to it through the same OpenAI-compatible
provider as any hosted model, over HTTP, so tokens, latency, finish reason and
errors are recorded exactly as for OpenAI. The server is reused by every
sweep in the process and stopped when the process exits. Two processes each
run their own server; both work, each on its own port.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptlab import local_models
from promptlab.errors import ModelFileError
from promptlab.model import Model
from promptlab.providers import Completion, Request
from promptlab.providers.openai_compat import OpenAICompatProvider

SLOTS = int(os.environ.get("PROMPTLAB_LOCAL_SLOTS", "4"))
"""Parallel sequences per server (``PROMPTLAB_LOCAL_SLOTS``); calls beyond it queue."""

CONTEXT_PER_SLOT = 2048
"""Tokens of context each slot gets."""

MAX_NEW_TOKENS = 512
"""Cap on generated tokens when a call doesn't set ``max_tokens``: small models
can otherwise ramble until the context is full."""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class LlamaServer:
    """A running llama.cpp server for one model file."""

    path: Path
    """The GGUF file it serves."""

    url: str
    """OpenAI-compatible base URL on loopback."""

    slots: int
    """Parallel slots."""

    handle: Any
    """The ``xllamacpp.Server``; the server stops when it is released."""


_SERVERS: dict[tuple[Path, int], LlamaServer] = {}
_SERVERS_LOCK = threading.Lock()


def server_for(path: Path, slots: int | None = None) -> LlamaServer:
    """This process's server for ``path`` (with ``slots``, default ``SLOTS``), started on first use."""
    slots = slots or SLOTS
    with _SERVERS_LOCK:
        server = _SERVERS.get((path, slots))
        if server is None:
            server = _SERVERS[path, slots] = _start(path, slots)
        return server


def _start(path: Path, slots: int) -> LlamaServer:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.cpuparams.n_threads = _cores()  # left at -1, generation crawls (FIELD_NOTES)
    params.cpuparams_batch.n_threads = _cores()
    params.n_parallel = slots
    params.n_ctx = CONTEXT_PER_SLOT * slots
    params.n_predict = MAX_NEW_TOKENS
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port
    params.verbosity = -1  # llama.cpp's own logging would flood the notebook
    try:
        handle = xllamacpp.Server(params)
    except Exception as exc:  # xllamacpp raises plain RuntimeErrors for unloadable files
        raise ModelFileError(f"llama.cpp couldn't load {path}: {exc}; is it a complete GGUF model file?") from exc
    address = str(handle.listening_address).rstrip("/")
    return LlamaServer(path=path, url=f"{address}/v1", slots=slots, handle=handle)


def stop_servers() -> None:
    """Stop every server this process started (also done at exit)."""
    with _SERVERS_LOCK:
        _SERVERS.clear()  # releasing the handles stops the servers


atexit.register(stop_servers)


class EmbeddedProvider:
    """Runs ``smollm2`` and ``local:PATH.gguf`` models on this machine."""

    enforces_timeout = True
    """The inner openai client applies the timeout to each call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._inner: OpenAICompatProvider | None = None
        self._slots: asyncio.Semaphore | None = None
        self._starting = asyncio.Lock()

    @classmethod
    def for_model(cls, model: Model) -> EmbeddedProvider:
        """The provider for ``model``'s file; pulls a known model on first use."""
        return cls(local_models.resolve(model.name))

    async def _ready(self) -> tuple[OpenAICompatProvider, asyncio.Semaphore]:
        async with self._starting:
            if self._inner is None or self._slots is None:
                server = await asyncio.to_thread(server_for, self.path)
                self._inner = OpenAICompatProvider(server.url, "not-needed")
                self._slots = asyncio.Semaphore(server.slots)
            return self._inner, self._slots

    async def complete(self, request: Request) -> Completion:
        """One chat completion on the local server, once a slot is free."""
        inner, slots = await self._ready()
        async with slots:
            started = time.perf_counter()
            completion = await inner.complete(request)
        # Time spent waiting for a slot is queueing, not the model's latency.
        latency_ms = (time.perf_counter() - started) * 1000
        return dataclasses.replace(completion, latency_ms=latency_ms)

    async def aclose(self) -> None:
        """Close this sweep's connections; the server stays up for the next sweep."""
        if self._inner is not None:
            await self._inner.aclose()
