"""Trials made with a retriever, as evaluators see them (``TrialView.retrieval``),
for the tests of the retrieval metrics and of the judges of retrieval-augmented answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptlab.evals import TrialView


def hit(chunk_id: str, rank: int, text: str = "") -> dict[str, Any]:
    """One hit as a sweep records it; the document id is the chunk id before ``#``."""
    return {
        "chunk_id": chunk_id,
        "doc_id": chunk_id.partition("#")[0],
        "score": 10.0 - rank,
        "rank": rank,
        "text": text,
    }


def retrieval(*chunk_ids: str, k: int | None = None, query: str = "Where is d1?") -> dict[str, Any]:
    """A trial's retrieval: these chunks, best first (``k`` defaults to how many there are)."""
    hits = [hit(c, rank, f"text of {c}") for rank, c in enumerate(chunk_ids, start=1)]
    return {
        "retriever": "bm25",
        "query": query,
        "corpus": "docs",
        "corpus_version": "v1",
        "settings": {"k1": 1.5},
        "k": k or len(hits),
        "hits": hits,
    }


EXAMPLE = retrieval("d3#0", "d1#0", "d1#2", "d7#0")
"""Four passages of three documents, d1's two chunks at ranks 2 and 3."""


def view(
    found: Mapping[str, Any] | str | None = EXAMPLE,
    output: str | None = "d1 is in the attic.",
    *,
    error: str | None = None,
    **row: Any,
) -> TrialView:
    """A trial with this retrieval and output; ``row`` is its input row."""
    return TrialView("t1", output, row, error=error, retrieval=found)
