"""Retrieval: the corpora a prompt's context is drawn from, how they are cut and
searched, and how good a search was, scored apart from the answer.

Below the runner and beside evals and analysis: it may use core and
providers, and nothing here calls the store. ``bm25`` imports ``bm25s`` (the
``retrieval`` extra), and ``embeddings`` numpy and openai (it calls an
embeddings model itself), only when an index is built or loaded.
"""

from __future__ import annotations

from promptlab.retrieval.bm25 import BM25Params, BM25Retriever, open_bm25
from promptlab.retrieval.chunking import Chunk, Chunking, chunk_document, chunk_documents
from promptlab.retrieval.corpus import Corpus, Document
from promptlab.retrieval.embeddings import EmbeddingsRetriever, open_embeddings
from promptlab.retrieval.hybrid import HybridRetriever
from promptlab.retrieval.metrics import (
    RetrievalScores,
    RetrievalSummary,
    hit_rate_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    score_queries,
    score_ranking,
)
from promptlab.retrieval.protocol import Hit, Retriever

__all__ = [
    "BM25Params",
    "BM25Retriever",
    "Chunk",
    "Chunking",
    "Corpus",
    "Document",
    "EmbeddingsRetriever",
    "Hit",
    "HybridRetriever",
    "RetrievalScores",
    "RetrievalSummary",
    "Retriever",
    "chunk_document",
    "chunk_documents",
    "hit_rate_at_k",
    "mrr",
    "ndcg_at_k",
    "open_bm25",
    "open_embeddings",
    "precision_at_k",
    "recall_at_k",
    "score_queries",
    "score_ranking",
]
