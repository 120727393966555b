"""The Lab's retrieval methods: search without a model, score retrievers on
their own, and the corpora the history holds.

A sweep with ``retrievers=`` scores retrieval beside the answers; these are
for the step before, when a team tunes the search itself: every question
searched by every retriever in a second, with no model called, from the same
index and search cache beside the history as the sweeps use.
"""

from __future__ import annotations

import os  # noqa: F401  (``Data`` names "os.PathLike": its hints are resolved in this module)
from collections.abc import Sequence
from typing import Any

import pandas as pd

from promptlab.core.rows import Data, load_rows
from promptlab.errors import DataError
from promptlab.evals.retrieval import RELEVANT_COLUMN, relevant_ids
from promptlab.lab_privacy import cleared_search, data_name
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.metrics import score_queries
from promptlab.retrieval.retrievers import RetrieverSpec
from promptlab.runner.retrieve import retrieve
from promptlab.store import Store, corpus_reads
from promptlab.store.location import retrieval_folder

SEARCH_COLUMNS = ("retriever", "row_index", "query", "doc_ids", "chunk_ids", "scores", "hits")
"""The columns of ``lab.search()``."""

RETRIEVER_SCORES = ("retriever", "k", "queries", "scored", "recall", "precision", "hit_rate", "mrr", "ndcg")
"""The columns of ``lab.score_retrievers()``."""


class RetrievalMethods:
    """Retrieval without generation; mixed into ``Lab``."""

    store: Store

    def search(self, retrievers: RetrieverSpec | Sequence[RetrieverSpec], data: Data) -> pd.DataFrame:
        """What each retriever finds for each row of ``data``, with no model called:
        one row per (retriever, row) with the query, the documents, passages and
        scores found, best first, and the hits as a sweep records them."""
        rows = load_rows(data)
        searching = cleared_search(self.store, data_name(data), None, "search", clear=True)
        contexts = retrieve(_specs(retrievers), rows, retrieval_folder(self.store.path), searching)
        records = [
            {
                "retriever": found.retriever,
                "row_index": index,
                "query": found.record["query"],
                "doc_ids": [hit["doc_id"] for hit in found.record["hits"]],
                "chunk_ids": [hit["chunk_id"] for hit in found.record["hits"]],
                "scores": [hit["score"] for hit in found.record["hits"]],
                "hits": list(found.record["hits"]),
            }
            for per_retriever in contexts
            for index, found in enumerate(per_retriever)
        ]
        return pd.DataFrame(records, columns=list(SEARCH_COLUMNS))

    def score_retrievers(
        self, retrievers: RetrieverSpec | Sequence[RetrieverSpec], data: Data, k: int | None = None
    ) -> pd.DataFrame:
        """Each retriever's recall, precision, hit rate, MRR and nDCG at ``k`` (each
        retriever's own ``k`` when None) over the rows of ``data``, judged by their
        ``relevant_ids`` column; rows without relevant ids are counted in ``queries``
        and left out of the means (``scored``). The same metrics, with the same
        convention, as the ``pl.evals.retrieval_*`` evaluators give a sweep's trials."""
        rows = load_rows(data)
        if not any(RELEVANT_COLUMN in row for row in rows):
            raise DataError(
                f"score_retrievers judges searches by the {RELEVANT_COLUMN!r} column, which these rows don't have; "
                "add the ids of the documents that answer each row, e.g. relevant_ids: ['doc-7']"
            )
        relevant = [relevant_ids(row.get(RELEVANT_COLUMN)) or [] for row in rows]
        specs = _specs(retrievers)
        found = self.search(specs, rows)
        scored = []
        for spec in specs:
            searched = found[found["retriever"] == spec.label]
            summary = score_queries(list(searched["doc_ids"]), relevant, k or spec.k)
            scored.append({"retriever": spec.label} | {name: getattr(summary, name) for name in RETRIEVER_SCORES[1:]})
        return pd.DataFrame(scored, columns=list(RETRIEVER_SCORES))

    def corpora(self) -> pd.DataFrame:
        """Every corpus a sweep searched, newest first: ``corpus_version``, ``name``,
        ``documents``, ``characters``, ``created_at``, ``created_by``."""
        return corpus_reads.corpora(self.store)

    def corpus(self, version: str, name: str | None = None) -> Corpus:
        """A corpus as the history holds it, by its version (what a trial's
        ``retrieval["corpus_version"]`` names): the documents a past sweep searched."""
        documents = corpus_reads.corpus_documents(self.store, version)
        if documents.empty:
            raise DataError(f"the history holds no corpus of version {version!r}; lab.corpora() lists those it does")
        listed = self.corpora()
        known = listed.loc[listed["corpus_version"] == version, "name"]
        return Corpus(name or str(known.iloc[0]), _documents(documents))


def _specs(retrievers: RetrieverSpec | Sequence[RetrieverSpec]) -> list[RetrieverSpec]:
    return [retrievers] if isinstance(retrievers, RetrieverSpec) else list(retrievers)


def _documents(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from promptlab.analysis.columns import decode_json

    return [
        {"id": row["id"], "text": row["text"], "metadata": decode_json(row["metadata"]) or {}}
        for row in frame.to_dict("records")
    ]
