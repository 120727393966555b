"""The embedded local model: llama.cpp, through the prebuilt ``xllamacpp`` wheel.

One llama.cpp server per model file serves the whole machine: the first
process that needs it starts it (lazily, on its first call) with threads set
to the machine's cores and several parallel slots, listening on loopback
only, and announces it in the model cache (``servers/``) under an ``flock``
held for as long as it lives. Other processes (a second notebook kernel, the
CLI) find it there and send their calls to it: llama.cpp's threads spin
between steps, so two servers competing for two cores run ~8× slower than
one shared server (measured here: 94 tokens/s alone, 5.6 each side by side).
When the owner exits, the next call from another process fails to connect,
is retried, and that process starts the server itself.

A llama.cpp server either generates or embeds, so embeddings
(``promptlab.retrieval.embeddings``) get a second server per model file,
``server_for(path, embeddings=True)``, shared the same way, with fewer slots.

Calls go through the same OpenAI-compatible provider as any hosted model,
over HTTP, so tokens, latency, finish reason and errors are recorded exactly
as for OpenAI.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import fcntl
import json
import os
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptlab.core.hashing import content_hash
from promptlab.core.model import Model
from promptlab.errors import ModelFileError, TransientError
from promptlab.providers import gguf, model_files
from promptlab.providers.openai_compat import OpenAICompatProvider
from promptlab.providers.protocol import Completion, Request

SLOTS = int(os.environ.get("PROMPTLAB_LOCAL_SLOTS", "4"))
"""Parallel sequences per server (``PROMPTLAB_LOCAL_SLOTS``); calls beyond it queue."""

EMBEDDING_SLOTS = 2
"""Parallel sequences of an embeddings server, which spreads a request's passages over
them: more made nothing faster here (2 slots: ~10 passages/s; 8: 6 to 9, both measured busy)."""

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
    """The ``xllamacpp.Server`` when this process runs it (it stops when released), else None."""

    lock: int | None = None
    """The descriptor of the announcement's flock, held while this process serves."""

    @property
    def owned(self) -> bool:
        """True when this process runs the server."""
        return self.handle is not None


_SERVERS: dict[tuple[Path, int, bool], LlamaServer] = {}
_SERVERS_LOCK = threading.Lock()
SHARE_WAIT = 120.0
"""Seconds to wait for another process that is starting the server to announce it."""


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def server_for(path: Path, slots: int | None = None, *, embeddings: bool = False) -> LlamaServer:
    """The machine's server for ``path`` (with ``slots``, default ``SLOTS``, or
    ``EMBEDDING_SLOTS`` for the one that serves ``embeddings``): this process's,
    another process's, or one started now."""
    slots = slots or (EMBEDDING_SLOTS if embeddings else SLOTS)
    with _SERVERS_LOCK:
        server = _SERVERS.get((path, slots, embeddings))
        if server is None or not (server.owned or _reachable(server.url)):
            server = _SERVERS[path, slots, embeddings] = _share_or_start(path, slots, embeddings)
        return server


def _announcement(path: Path, slots: int, embeddings: bool = False) -> tuple[Path, Path]:
    folder = model_files.models_dir() / "servers"
    folder.mkdir(parents=True, exist_ok=True)
    key = content_hash([str(path), slots, "embeddings"] if embeddings else [str(path), slots], 16)
    return folder / f"{key}.lock", folder / f"{key}.json"


def _share_or_start(path: Path, slots: int, embeddings: bool = False) -> LlamaServer:
    """Use the server another process announced, or start and announce one."""
    lock_path, info_path = _announcement(path, slots, embeddings)
    deadline = time.monotonic() + SHARE_WAIT
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # someone serves it (or is starting to)
            try:
                url = json.loads(info_path.read_text())["url"]
            except (OSError, ValueError, KeyError):
                url = None
            if url and _reachable(url):
                return LlamaServer(path=path, url=url, slots=slots, handle=None)
            if time.monotonic() > deadline:
                raise ModelFileError(
                    f"another process holds the llama.cpp server for {path.name} but it doesn't answer; "
                    f"stop that process, or delete {lock_path.parent} if no promptlab process is running"
                ) from None
            time.sleep(0.2)
            continue
        try:
            server = _start(path, slots, embeddings)
        except BaseException:
            os.close(fd)
            raise
        temporary = info_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"url": server.url, "pid": os.getpid(), "model": str(path)}))
        os.replace(temporary, info_path)
        server.lock = fd
        return server


def _start(path: Path, slots: int, embeddings: bool = False) -> LlamaServer:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.cpuparams.n_threads = _cores()  # left at -1, generation crawls (FIELD_NOTES)
    params.cpuparams_batch.n_threads = _cores()
    # Sleep between steps rather than spin: with other work on the cores, spinning
    # threads starve each other (2.3× faster under contention, the same alone).
    params.cpuparams.poll = 0
    params.cpuparams_batch.poll = 0
    params.n_parallel = slots
    params.n_ctx = CONTEXT_PER_SLOT * slots
    params.n_predict = MAX_NEW_TOKENS
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port
    params.verbosity = -1  # llama.cpp's own logging would flood the notebook
    if embeddings:
        params.embedding = True
        params.n_batch = params.n_ubatch = CONTEXT_PER_SLOT  # a whole input in one batch, as BERT-like models need
        if gguf.declared_pooling(path) is None:
            # A generative model declares no pooling, and /v1/embeddings refuses 'none': pool its
            # last token's state, which has read the whole input (SmolLM2, 24 queries over 12
            # passages: MRR 0.59, against 0.41 for the mean). Embedding models keep their own.
            params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_LAST
    try:
        handle = xllamacpp.Server(params)
    except Exception as exc:  # xllamacpp raises plain RuntimeErrors for unloadable files
        raise ModelFileError(f"llama.cpp couldn't load {path}: {exc}; is it a complete GGUF model file?") from exc
    address = str(handle.listening_address).rstrip("/")
    return LlamaServer(path=path, url=f"{address}/v1", slots=slots, handle=handle)


def stop_servers() -> None:
    """Stop every server this process started (also done at exit)."""
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.handle = None  # releasing the handle stops the server
        if server.lock is not None:
            os.close(server.lock)  # the announcement's lock: the next process may serve
            server.lock = None


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
        return cls(model_files.resolve(model.name))

    starting_message = "starting the local model…"
    """What the runner shows while ``start`` runs (loading a model takes seconds)."""

    async def start(self) -> None:
        """Find or start the model's server now, before any call's clock starts
        (a cold start took ~17 s under load and was counted into the first trials)."""
        await self._ready()

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
            try:
                completion = await inner.complete(request)
            except TransientError:
                # The process serving the model may have exited: find (or start)
                # the server again on the retry.
                async with self._starting:
                    if self._inner is inner:
                        self._inner = None
                        await inner.aclose()
                raise
        # Time spent waiting for a slot is queueing, not the model's latency.
        latency_ms = (time.perf_counter() - started) * 1000
        return dataclasses.replace(completion, latency_ms=latency_ms)

    async def aclose(self) -> None:
        """Close this sweep's connections; the server stays up for the next sweep."""
        if self._inner is not None:
            await self._inner.aclose()
