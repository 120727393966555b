"""Semantic retrieval: passages and queries embedded by a model, ranked by cosine similarity.

The model is any OpenAI-compatible embeddings endpoint (``pl.Model("text-embedding-3-small")``,
a vLLM, Ollama or llama.cpp server at its ``base_url``) or the embedded model
(``pl.Model("smollm2")``), called by ``promptlab.providers.embedder``, which sends
the key the running user configured for that endpoint and keeps it nowhere else.
``numpy`` and ``openai`` are imported when an index is built or loaded, never with ``promptlab``.

- **Scores.** Every vector is scaled to length 1 when it arrives, so a passage's
  cosine similarity to the query is one dot product, and a search is one
  matrix-vector product over all passages and a top k. Every passage has a
  score, so a search returns ``k`` hits whenever the corpus has ``k`` passages
  (a blank query returns none). Equal scores are ranked in corpus order.
- **The cache.** As for BM25 (``promptlab.retrieval.bm25``): ``open_embeddings``
  keeps one index per (corpus version, chunking, model id) in a folder named by
  them under ``cache_dir``, built by the first process under a lock and renamed
  into place whole, then memory-mapped by every process (``vectors.npy``, float32,
  one row per passage in corpus order). The model id hashes its provider, name,
  ``base_url`` and parameters, never its key; a model changed behind the same
  name and URL is caught when its vectors stop matching the index's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptlab.core.model import Model
from promptlab.errors import ConfigError, DataError, PermanentError
from promptlab.providers.embedder import Embedder
from promptlab.retrieval.bm25 import top_positions
from promptlab.retrieval.chunking import Chunk, Chunking, chunk_documents
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.index_folder import chunks_of, open_index, read_index, write_index
from promptlab.retrieval.protocol import Hit

FORMAT = 1
"""Layout of an index folder (and how the embedded model pools); part of its name."""

BATCH_SIZE = 64
"""Passages per embeddings request to an endpoint: well inside OpenAI's 2,048 inputs
and 300k tokens per request."""

EMBEDDED_BATCH_SIZE = 8
"""Passages per request to the embedded model. Its throughput was the same from 8 to 128
(SmolLM2 on 2 idle cores: 11.6 passages/s of 20 words, 1.4 of 200 words), and a request
of 8 passages of 200 words takes ~6 s where 64 take ~47, which a busy machine can stretch
several times: small requests stay far from the timeout."""


def batch_size_for(model: Model) -> int:
    """Passages per request when none is given: ``EMBEDDED_BATCH_SIZE`` for the embedded model, else ``BATCH_SIZE``."""
    return EMBEDDED_BATCH_SIZE if model.provider == "llamacpp" else BATCH_SIZE


def index_name(corpus: Corpus, chunking: Chunking, model: Model) -> str:
    """The cache folder's name for this corpus version, chunking and model."""
    return f"embeddings-v{FORMAT}-{corpus.version}-{chunking.key()}-{model.id}"


class EmbeddingsRetriever:
    """A corpus's chunks embedded by a model; a ``Retriever``."""

    def __init__(
        self, corpus: Corpus, chunking: Chunking, model: Model, chunks: list[Chunk], vectors: Any, *, reused: bool
    ) -> None:
        """Use ``build``, ``load`` or ``open_embeddings``."""
        self.corpus = corpus
        self.chunking = chunking
        self.model = model
        self.chunks = chunks
        """The embedded passages, in corpus order; row ``i`` of ``vectors`` is ``chunks[i]``."""
        self.vectors = vectors
        """Unit-length float32 vectors, one row per passage (memory-mapped when loaded)."""
        self.reused = reused
        """True when the index was loaded from a folder rather than built here."""
        self._embedder = Embedder(model)

    @classmethod
    def build(
        cls, corpus: Corpus, chunking: Chunking | None = None, *, model: Model, batch_size: int | None = None
    ) -> EmbeddingsRetriever:
        """Chunk the corpus and embed its chunks, ``batch_size`` per request (default:
        ``batch_size_for(model)``), in memory (``save`` or ``open_embeddings`` keeps them)."""
        import numpy as np

        chunking = chunking or Chunking()
        batch_size = batch_size_for(model) if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size is passages per request: a whole number ≥ 1, not {batch_size!r}")
        chunks = chunk_documents(corpus, chunking)
        if not chunks:
            raise DataError(f"corpus {corpus.name!r} has no words to embed: every document is empty")
        embedder = Embedder(model)
        parts = [
            embedder.embed([c.text for c in chunks[i : i + batch_size]]) for i in range(0, len(chunks), batch_size)
        ]
        if len({part.shape[1] for part in parts}) > 1:
            raise PermanentError(
                f"{model.name!r} changed the length of its vectors while the corpus was embedded "
                f"({sorted({part.shape[1] for part in parts})}); was another model loaded behind it? Try again"
            )
        return cls(corpus, chunking, model, chunks, np.concatenate(parts), reused=False)

    def manifest(self) -> dict[str, Any]:
        """What the index was built from (written beside it, checked on load)."""
        return {
            "format": FORMAT,
            "corpus_version": self.corpus.version,
            "chunking": self.chunking.settings(),
            "model": self.model.identity(),
            "model_id": self.model.id,
            "dimensions": int(self.vectors.shape[1]),
            "chunks": len(self.chunks),
        }

    def save(self, folder: Path) -> None:
        """Write the index to ``folder``, which must not exist yet: into a temporary
        folder beside it first, renamed into place once complete."""
        import numpy as np

        vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        write_index(folder, lambda into: np.save(into / "vectors.npy", vectors), self.chunks, self.manifest())

    @classmethod
    def load(cls, folder: Path, corpus: Corpus, model: Model) -> EmbeddingsRetriever:
        """The index saved in ``folder``, which must have been built from ``corpus``'s version by ``model``."""
        import numpy as np

        folder = Path(folder)
        manifest, spans = read_index(folder, "embeddings")
        try:
            vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DataError(f"{folder} holds no readable embeddings index ({exc}); delete it to rebuild") from exc
        built = (manifest.get("format"), manifest.get("corpus_version"), manifest.get("model_id"))
        if built != (FORMAT, corpus.version, model.id):
            raise DataError(
                f"the index in {folder} was built from corpus version {built[1]!r} by model {built[2]!r}, not "
                f"{corpus.name!r} version {corpus.version!r} by {model.id!r}; open it with those, or build a new index"
            )
        if vectors.ndim != 2 or vectors.shape != (len(spans), manifest.get("dimensions")):
            raise DataError(f"the vectors in {folder} don't match its manifest; delete the folder to rebuild")
        return cls(corpus, Chunking(**manifest["chunking"]), model, chunks_of(spans, corpus), vectors, reused=True)

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` passages closest in meaning to ``query``, best first (none for a blank query)."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """``search`` for each query, in order; the queries are embedded ``batch_size_for(model)`` per request."""
        import numpy as np

        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a whole number of at least 1, not {k!r}")
        for query in queries:
            if not isinstance(query, str):
                raise ConfigError(f"a query must be text, not {type(query).__name__}: {query!r}")
        asked, size = [q for q in dict.fromkeys(queries) if q.strip()], batch_size_for(self.model)
        embedded = [self._embedder.embed(asked[i : i + size]) for i in range(0, len(asked), size)]
        rows = np.concatenate(embedded) if embedded else np.zeros((0, self.vectors.shape[1]), np.float32)
        if rows.shape[1] != self.vectors.shape[1]:
            raise ConfigError(
                f"{self.model.name!r} now sends vectors of {rows.shape[1]} numbers, but this index holds "
                f"{self.vectors.shape[1]}: another model answers behind that name and URL; give it a name of its "
                "own (pl.Model('its-name', base_url=...)) so it gets its own index"
            )
        found = {query: self._ranked(self.vectors @ row, k) for query, row in zip(asked, rows, strict=True)}
        return [found.get(query, []) for query in queries]

    def _ranked(self, scores: Any, k: int) -> list[Hit]:
        return [
            Hit(self.chunks[i].id, self.chunks[i].doc_id, float(scores[i]), rank, self.chunks[i].text)
            for rank, i in enumerate(top_positions(scores, float("-inf"), k), start=1)
        ]

    def settings(self) -> dict[str, Any]:
        """Everything that decides this retriever's results, for recording and cache keys (no key, ever)."""
        return {
            "retriever": "embeddings",
            "corpus": self.corpus.name,
            "corpus_version": self.corpus.version,
            "chunking": self.chunking.settings(),
            "model": self.model.identity(),
        }

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.vectors.shape)
        return (
            f"EmbeddingsRetriever({self.corpus!r}, {len(self.chunks)} chunks, {self.chunking}, {self.model!r}, {shape})"
        )


def open_embeddings(
    corpus: Corpus, cache_dir: Path, chunking: Chunking | None = None, *, model: Model, batch_size: int | None = None
) -> EmbeddingsRetriever:
    """The embeddings index of ``corpus`` by ``model`` from ``cache_dir``, built and saved
    there first if no process has yet (one builds it, ``batch_size`` passages per request,
    while the others wait for it)."""
    if not isinstance(model, Model):
        raise ConfigError(f"model= takes a pl.Model, such as pl.Model('smollm2'), not {type(model).__name__}")
    chunking = chunking or Chunking()
    return open_index(
        cache_dir,
        index_name(corpus, chunking, model),
        lambda folder: EmbeddingsRetriever.load(folder, corpus, model),
        lambda: EmbeddingsRetriever.build(corpus, chunking, model=model, batch_size=batch_size),
        EmbeddingsRetriever.save,
    )
