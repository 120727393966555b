"""Embedders: texts in, unit-length vectors out, from a model's embeddings endpoint.

Any OpenAI-compatible ``/v1/embeddings`` (OpenAI, vLLM, Ollama, a llama.cpp
server started with ``--embeddings``), called through the real ``openai``
client with the key the running user configured for that endpoint and no
other (``promptlab.providers.endpoints``; the client alone holds it), or the
embedded model, whose file gets an embeddings server of its own
(``embedded.server_for(path, embeddings=True)``). What the endpoint answers is
checked (one vector per text, all of one length, finite numbers) and turned
into the ``PromptlabError`` that says what to do: ``TransientError`` when it
can't be reached, ``ConfigError`` when it has no embeddings for the model or a
text is too long for it. A request to the embedded model's server that fails
is tried once more after finding (or starting) the server again: the process
that ran it may have exited. ``numpy`` and ``openai`` are imported on the first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptlab.core.model import Model
from promptlab.errors import CallTimeoutError, ConfigError, PermanentError, TransientError

PROVIDERS = ("openai", "llamacpp")
"""Providers whose models can embed: an OpenAI-compatible endpoint, or the embedded model."""

TIMEOUT = 600.0
"""Seconds a request may take: generous, as a busy machine slows the embedded model several
times over. It is also how long a request waits when the process serving the embedded
model exits under it: the server neither answers nor closes (xllamacpp 2026.10)."""

_NO_EMBEDDINGS = (404, 405, 501)
"""Statuses of an endpoint (or a model) that has no embeddings API."""


class Embedder:
    """Turns texts into unit-length float32 vectors through one model's endpoint."""

    def __init__(self, model: Model) -> None:
        if model.provider not in PROVIDERS:
            raise ConfigError(
                f"{model.name!r} runs on provider {model.provider!r}, which has no embeddings; use an "
                "OpenAI-compatible embeddings model, pl.Model('text-embedding-3-small') or one at your "
                "server's base_url=, or the embedded pl.Model('smollm2')"
            )
        self.model = model
        self._client: Any = None
        self._url = ""

    def _connect(self) -> tuple[Any, str]:
        if self._client is None:
            import httpx2
            import openai

            from promptlab.providers.endpoints import OPENAI_URL
            from promptlab.providers.openai_compat import NO_KEY, api_key_for

            retries = openai.DEFAULT_MAX_RETRIES
            if self.model.provider == "llamacpp":
                from promptlab.providers import embedded, model_files

                url, key = embedded.server_for(model_files.resolve(self.model.name), embeddings=True).url, NO_KEY
                retries = 0  # ``embed`` finds (or starts) the server again and retries once
            else:  # the key for this endpoint only, read now and kept by the client alone
                url, key = self.model.base_url or OPENAI_URL, api_key_for(self.model)
            timeout = httpx2.Timeout(TIMEOUT, connect=5.0)
            client = openai.OpenAI(base_url=url, api_key=key, timeout=timeout, max_retries=retries)
            self._client, self._url = client, url
        return self._client, self._url

    def embed(self, texts: Sequence[str]) -> Any:
        """The texts' vectors (a float32 array, one row each), each of length 1."""
        import numpy as np

        try:
            rows = self._request(texts)
        except TransientError:
            if self.model.provider != "llamacpp":
                raise
            self._client = None  # the process serving the model may have exited: find or start it again
            rows = self._request(texts)
        lengths = {len(row) for row in rows}
        if len(rows) != len(texts) or len(lengths) != 1 or 0 in lengths:
            raise PermanentError(
                f"the embeddings endpoint {self._url} sent {len(rows)} vectors of lengths {sorted(lengths)} for "
                f"{len(texts)} texts; it isn't answering as an OpenAI-compatible embeddings API"
            )
        vectors = np.asarray(rows, dtype=np.float32)
        wanted = self.model.params.get("dimensions")
        if wanted is not None and vectors.shape[1] != wanted:
            raise ConfigError(
                f"{self.model.name!r} was asked for dimensions={wanted} but sent {vectors.shape[1]}: this "
                "endpoint or model can't shorten its vectors; leave dimensions= out"
            )
        if not np.isfinite(vectors).all():
            raise PermanentError(f"the embeddings endpoint {self._url} sent vectors that aren't finite numbers")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1)

    def _request(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        from promptlab.providers.openai_compat import translate_error

        client, url = self._connect()
        params = dict(self.model.params)
        named = {name: params.pop(name) for name in ("dimensions", "user") if name in params}
        try:
            response = client.embeddings.create(
                model=self.model.name, input=list(texts), encoding_format="float", extra_body=params or None, **named
            )
        except openai.APITimeoutError as exc:
            raise CallTimeoutError(f"the embeddings endpoint {url} didn't answer within {TIMEOUT:.0f} s") from exc
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise TransientError(
                f"can't reach the embeddings endpoint {url} ({type(cause).__name__}: {cause}); start the "
                "server, or check the model's base_url"
            ) from exc
        except openai.APIStatusError as exc:
            raise _status_error(exc, self.model, url) or translate_error(exc) from exc
        except openai.OpenAIError as exc:
            raise translate_error(exc) from exc
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]


def _status_error(exc: Any, model: Model, url: str) -> ConfigError | None:
    """A ConfigError for an answer that says the model can't embed these texts, else None."""
    said = f"HTTP {exc.status_code}: {exc.message}"
    lowered = str(exc.message).lower()
    if exc.status_code in _NO_EMBEDDINGS or ("embedding" in lowered and "support" in lowered):
        return ConfigError(
            f"{url} doesn't serve embeddings for {model.name!r} ({said}); use an embeddings model: "
            "pl.Model('text-embedding-3-small') on OpenAI, one your server loads for embeddings "
            "(llama.cpp started with --embeddings, Ollama's nomic-embed-text), or pl.Model('smollm2')"
        )
    if any(word in lowered for word in ("too large", "too long", "context length", "exceeds")):
        return ConfigError(
            f"a text is longer than {model.name!r} can embed ({said}); cut the corpus into smaller "
            "passages, pl.Chunking(by='words', size=200), or shorten the query"
        )
    return None
