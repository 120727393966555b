"""The retriever protocol: one main method, ``search``, and the settings to record.

BM25 (``promptlab.retrieval.bm25``) is one implementation; embeddings and
hybrid retrievers are to follow. A sweep records, for each trial, the hits a
retriever returned and its ``settings()``, and caches retrievals by
(settings, query), so the settings must name everything that changes the
result (the corpus version, the chunking, the scoring parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Hit:
    """One passage a search returned."""

    chunk_id: str
    """The passage's id, ``DOCID#N``."""

    doc_id: str
    """The id of the document it comes from (what ``relevant_ids`` name)."""

    score: float
    """The retriever's score; higher is better, comparable only within one search."""

    rank: int
    """Its place in the results, from 1."""

    text: str
    """The passage's text, as it goes into a prompt."""


@runtime_checkable
class Retriever(Protocol):
    """Finds the passages of a corpus that best answer a query."""

    def search(self, query: str, k: int) -> list[Hit]:
        """At most ``k`` hits, best first (fewer when fewer passages match)."""
        ...

    def settings(self) -> dict[str, Any]:
        """Plain JSON values naming everything that decides the results: recorded
        with each trial and hashed into retrieval cache keys."""
        ...
