"""Lexical retrieval with BM25, over the ``bm25s`` library (``pip install 'promptlab[retrieval]'``).

``bm25s`` precomputes every (term, passage) score into a sparse matrix, so a
search is a sum of a few columns and a top-k; it is imported when an index is
first built or loaded, never with ``promptlab``. On top of it this module adds
chunking, passage ids, stable ranks, and an on-disk cache shared by processes.

- **What a hit is.** A passage is returned only if it scores above one that
  shares no term with the query (0, or BM25L/BM25+'s floor): it contains a
  query term that tells passages apart (Robertson's idf is 0 for a term in
  more than half the passages, ATIRE's for one in all). A search returns fewer
  than ``k`` hits when fewer passages match, rather than padding with
  passages that have nothing to do with the query. Equal scores are ranked
  in corpus order (document id, then chunk), so the same search gives the
  same ranks in every process.
- **The cache.** ``open_bm25`` keeps one index per (corpus version, chunking,
  BM25 parameters) in a folder named by them under ``cache_dir``. The first
  process builds it under a lock (the others wait, then load it), saves it to
  a temporary folder and renames that into place: a folder is all there or
  not there. Loading memory-maps the score arrays, so processes on one machine
  share them. The folder records the chunk spans, not their texts: those come
  from the corpus, whose version the folder must match.

``benchmarks/retrieval_bm25.py`` measures the wrapper against ``bm25s`` used directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from promptlab.core.hashing import content_hash
from promptlab.errors import ConfigError, DataError
from promptlab.retrieval.chunking import Chunk, Chunking, chunk_documents
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.index_folder import chunks_of, open_index, read_index, write_index
from promptlab.retrieval.protocol import Hit

FORMAT = 1
"""Layout of an index folder; part of its name, so a change makes new folders."""

METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")


def _bm25s() -> Any:
    try:
        return importlib.import_module("bm25s")
    except ImportError as exc:
        raise ConfigError("BM25 retrieval needs the bm25s library: pip install 'promptlab[retrieval]'") from exc


@dataclass(frozen=True)
class BM25Params:
    """BM25's scoring parameters and how text is split into terms."""

    k1: float = 1.5
    """Term-frequency saturation: higher lets repeated terms count for longer."""

    b: float = 0.75
    """Length normalisation, from 0 (none) to 1 (full)."""

    method: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = "lucene"
    """The BM25 variant (``bm25s``'s names); Lucene's is Elasticsearch's default."""

    delta: float = 0.5
    """The floor added per term by ``bm25l`` and ``bm25+``; ignored by the others."""

    stopwords: str | None = "en"
    """Words left out of passages and queries: a language ``bm25s`` knows (``en``, ``de``, ...) or None."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"BM25 method {self.method!r} isn't known; use one of {', '.join(METHODS)}")

    def settings(self) -> dict[str, Any]:
        """The parameters as plain values, for recording."""
        return asdict(self)

    def key(self) -> str:
        """A stable hash of the parameters (12 hex characters)."""
        return content_hash(self.settings(), 12)


def index_name(corpus: Corpus, chunking: Chunking, params: BM25Params) -> str:
    """The cache folder's name for this corpus version, chunking and parameters."""
    return f"bm25-v{FORMAT}-{corpus.version}-{chunking.key()}-{params.key()}"


class BM25Retriever:
    """A BM25 index over a corpus's chunks; a ``Retriever``."""

    def __init__(
        self, corpus: Corpus, chunking: Chunking, params: BM25Params, chunks: list[Chunk], model: Any, *, reused: bool
    ) -> None:
        """Use ``build``, ``load`` or ``open_bm25``."""
        self.corpus = corpus
        self.chunking = chunking
        self.params = params
        self.chunks = chunks
        """The indexed passages, in corpus order; an index into the score matrix is an index here."""
        self.reused = reused
        """True when the index was loaded from a folder rather than built here."""
        self._model = model

    @classmethod
    def build(cls, corpus: Corpus, chunking: Chunking | None = None, params: BM25Params | None = None) -> BM25Retriever:
        """Chunk the corpus and index its chunks (in memory; ``save`` or ``open_bm25`` to keep it)."""
        chunking, params = chunking or Chunking(), params or BM25Params()
        bm25s = _bm25s()
        chunks = chunk_documents(corpus, chunking)
        if not chunks:
            raise DataError(f"corpus {corpus.name!r} has no words to index: every document is empty")
        try:
            terms = bm25s.tokenize([c.text for c in chunks], stopwords=params.stopwords or [], show_progress=False)
        except ValueError as exc:  # an unknown stopwords language
            raise ConfigError(f"BM25 stopwords {params.stopwords!r}: {exc}") from exc
        model = bm25s.BM25(k1=params.k1, b=params.b, delta=params.delta, method=params.method)
        model.index(terms, show_progress=False)
        return cls(corpus, chunking, params, chunks, model, reused=False)

    def manifest(self) -> dict[str, Any]:
        """What the index was built from (written beside it, checked on load)."""
        return {
            "format": FORMAT,
            "corpus_version": self.corpus.version,
            "chunking": self.chunking.settings(),
            "bm25": self.params.settings(),
            "chunks": len(self.chunks),
            "bm25s": _bm25s().__version__,
        }

    def save(self, folder: Path) -> None:
        """Write the index to ``folder``, which must not exist yet: into a temporary
        folder beside it first, renamed into place once complete."""
        write_index(folder, lambda into: self._model.save(str(into), show_progress=False), self.chunks, self.manifest())

    @classmethod
    def load(cls, folder: Path, corpus: Corpus) -> BM25Retriever:
        """The index saved in ``folder``, which must have been built from ``corpus``'s version."""
        folder = Path(folder)
        manifest, spans = read_index(folder, "BM25")
        if manifest.get("format") != FORMAT or manifest.get("corpus_version") != corpus.version:
            raise DataError(
                f"the index in {folder} was built from corpus version {manifest.get('corpus_version')!r}, "
                f"not {corpus.name!r} version {corpus.version!r}; open it with that corpus, or build a new index"
            )
        chunks = chunks_of(spans, corpus)
        model = _bm25s().BM25.load(str(folder), mmap=True, show_progress=False)
        chunking, params = Chunking(**manifest["chunking"]), BM25Params(**manifest["bm25"])
        return cls(corpus, chunking, params, chunks, model, reused=True)

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` best passages that match ``query`` (fewer if fewer do; see the module's docstring)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a whole number of at least 1, not {k!r}")
        if not isinstance(query, str):
            raise ConfigError(f"a query must be text, not {type(query).__name__}: {query!r}")
        terms = _bm25s().tokenize(query, stopwords=self.params.stopwords or [], return_ids=False, show_progress=False)
        ids = self._model.get_tokens_ids(terms[0])
        if not ids:
            return []
        scores = self._model.get_scores_from_ids(ids)
        floor = self._model.nonoccurrence_array[ids].sum() if self._model.nonoccurrence_array is not None else 0
        return [
            Hit(self.chunks[i].id, self.chunks[i].doc_id, float(scores[i]), rank, self.chunks[i].text)
            for rank, i in enumerate(top_positions(scores, floor, k), start=1)
        ]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """``search`` for each query, in order."""
        return [self.search(query, k) for query in queries]

    def settings(self) -> dict[str, Any]:
        """Everything that decides this retriever's results, for recording and cache keys."""
        return {
            "retriever": "bm25",
            "corpus": self.corpus.name,
            "corpus_version": self.corpus.version,
            "chunking": self.chunking.settings(),
            "bm25": self.params.settings(),
        }

    def __repr__(self) -> str:
        return f"BM25Retriever({self.corpus!r}, {len(self.chunks)} chunks, {self.chunking}, {self.params})"


def top_positions(scores: Any, floor: Any, k: int) -> list[int]:
    """Positions of the ``k`` highest scores above ``floor``, best first, ties in position order.

    The passages above the floor are picked out first: a query's terms are in
    few of them, and partitioning the whole array, mostly equal floor scores,
    is what made ``bm25s.retrieve`` spend ~95% of its time on the top k."""
    import numpy as np  # bm25s's own dependency; imported with it

    candidates = np.flatnonzero(scores > floor)
    if len(candidates) > k:
        values = scores[candidates]
        kth = np.partition(values, len(values) - k)[len(values) - k]  # the k-th highest score
        candidates = candidates[values >= kth]
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [int(i) for i in candidates[order]]


def open_bm25(
    corpus: Corpus, cache_dir: Path, chunking: Chunking | None = None, params: BM25Params | None = None
) -> BM25Retriever:
    """The BM25 index of ``corpus`` from ``cache_dir``, built and saved there first
    if no process has yet (one builds it while the others wait for it)."""
    chunking, params = chunking or Chunking(), params or BM25Params()
    return open_index(
        cache_dir,
        index_name(corpus, chunking, params),
        lambda folder: BM25Retriever.load(folder, corpus),
        lambda: BM25Retriever.build(corpus, chunking, params),
        BM25Retriever.save,
    )
