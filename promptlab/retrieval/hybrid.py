"""Hybrid retrieval: several retrievers' rankings fused by reciprocal rank fusion.

Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009) scores a
passage by the sum, over the rankings it is in, of ``1 / (rrf_k + rank)``.
Only ranks meet, never scores, so BM25's unbounded scores and cosine
similarities need no calibration against each other. ``rrf_k = 60`` is the
paper's value and the usual default (Elasticsearch, OpenSearch, Azure AI
Search): the larger it is, the less the very top ranks outweigh the rest.

- **Depth.** Each retriever is searched for ``max(k, depth)`` passages,
  ``depth`` 4k unless given. The fused top k must reach below each list's
  top k: with ``rrf_k = 60``, a passage 7th by BM25 and 2nd by embeddings
  (1/67 + 1/62 ≈ 0.031) beats one 1st by BM25 alone (1/61 ≈ 0.016), and is
  found only if the lists go past 5. A passage below a list's depth counts as
  absent from it, which costs it less than ``1 / (rrf_k + depth)``; going
  deeper costs BM25 and embeddings little (they score every passage anyway
  and pick the top with a partition), so 4k errs on the side of depth.
- **Identity.** Hits are matched by ``chunk_id``, so every retriever must
  search the same corpus version cut the same way; their ``settings()`` say
  which, and a ``ConfigError`` says when they differ.
- **Ties.** A passage's terms are summed with ``math.fsum``, exactly rounded,
  so its score doesn't depend on the order of the retrievers and equal sums
  are equal floats. Equal scores are ranked in corpus order (document id,
  then chunk number), as every retriever here ranks them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from promptlab.errors import ConfigError
from promptlab.retrieval.protocol import Hit, Retriever

RRF_K = 60
"""Reciprocal rank fusion's constant, from the paper."""

DEPTH_PER_K = 4
"""Each retriever is searched this many times ``k`` deep unless ``depth`` is given."""


def _whole(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _searched(retriever: Retriever) -> tuple[Any, Any]:
    """The corpus version and chunking a retriever searches, from its settings."""
    settings = retriever.settings()
    if "corpus_version" not in settings or "chunking" not in settings:
        raise ConfigError(
            f"{retriever!r} doesn't say which corpus version and chunking it searches; a retriever "
            "fused by HybridRetriever must name them in settings() ('corpus_version', 'chunking')"
        )
    return settings["corpus_version"], settings["chunking"]


def _corpus_order(hit: Hit) -> tuple[str, int, str]:
    """Where a passage comes in its corpus: document id, then chunk number (``DOCID#N``)."""
    number = hit.chunk_id.rpartition("#")[2]
    return hit.doc_id, int(number) if number.isdigit() else -1, hit.chunk_id


class HybridRetriever:
    """Several retrievers of one corpus, their rankings fused by reciprocal rank fusion; a ``Retriever``."""

    def __init__(self, retrievers: Sequence[Retriever], rrf_k: int = RRF_K, depth: int | None = None) -> None:
        parts = tuple(retrievers)
        if len(parts) < 2 or not all(isinstance(part, Retriever) for part in parts):
            raise ConfigError(
                "HybridRetriever fuses two or more retrievers: HybridRetriever([open_bm25(...), open_embeddings(...)])"
            )
        if not _whole(rrf_k, 0):
            raise ConfigError(f"rrf_k must be a whole number ≥ 0 (60 is usual), not {rrf_k!r}")
        if depth is not None and not _whole(depth, 1):
            raise ConfigError(
                f"depth is how deep each retriever is searched: a whole number ≥ 1 or None, not {depth!r}"
            )
        searched = [_searched(part) for part in parts]
        if any(s != searched[0] for s in searched[1:]):
            described = "; ".join(f"version {version!r}, chunking {chunking}" for version, chunking in searched)
            raise ConfigError(
                f"a hybrid's retrievers must search the same corpus version cut the same way, since their "
                f"passages are matched by id, but these search: {described}. Open them all on the same "
                "pl.Corpus with the same pl.Chunking"
            )
        self.retrievers = parts
        """The retrievers fused, in the order given."""
        self.rrf_k = rrf_k
        """Reciprocal rank fusion's constant: a passage at rank r in a list scores 1 / (rrf_k + r)."""
        self.depth = depth
        """How deep each retriever is searched (at least ``k``); None for ``4 * k``."""

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` passages with the highest fused scores, best first (fewer if the lists hold fewer)."""
        if not _whole(k, 1):
            raise ConfigError(f"k must be a whole number of at least 1, not {k!r}")
        depth = max(k, self.depth or DEPTH_PER_K * k)
        terms: dict[str, list[float]] = {}
        hits: dict[str, Hit] = {}
        for retriever in self.retrievers:
            listed = set()
            for hit in retriever.search(query, depth):
                if hit.chunk_id in listed:  # a list names a passage once; its best rank counts
                    continue
                listed.add(hit.chunk_id)
                terms.setdefault(hit.chunk_id, []).append(1 / (self.rrf_k + hit.rank))
                hits.setdefault(hit.chunk_id, hit)
        scores = {chunk_id: math.fsum(found) for chunk_id, found in terms.items()}
        best = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], _corpus_order(hits[chunk_id])))[:k]
        return [
            Hit(chunk_id, hits[chunk_id].doc_id, scores[chunk_id], rank, hits[chunk_id].text)
            for rank, chunk_id in enumerate(best, start=1)
        ]

    def settings(self) -> dict[str, Any]:
        """Everything that decides the fused results: the retrievers' own settings, ``rrf_k`` and ``depth``."""
        parts = [retriever.settings() for retriever in self.retrievers]
        return {
            "retriever": "hybrid",
            "corpus": parts[0].get("corpus"),
            "corpus_version": parts[0]["corpus_version"],
            "chunking": parts[0]["chunking"],
            "rrf_k": self.rrf_k,
            "depth": self.depth,
            "retrievers": parts,
        }

    def __repr__(self) -> str:
        return f"HybridRetriever({list(self.retrievers)!r}, rrf_k={self.rrf_k}, depth={self.depth})"
