"""Reciprocal rank fusion, checked against sums worked out by hand over two (or
three) retrievers with fixed rankings, and (integration) BM25 fused with the
embedded model's embeddings."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

import promptlab as pl
from promptlab.errors import ConfigError
from promptlab.providers import model_files
from promptlab.retrieval.chunking import Chunking
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.hybrid import HybridRetriever
from promptlab.retrieval.protocol import Hit, Retriever

CUT = {"by": "words", "size": 200, "overlap": 0}


class Listed:
    """A retriever that ranks passages in a fixed order, whatever the query, and notes how deep it was asked."""

    def __init__(self, name: str, chunk_ids: list[str], version: str = "v1", chunking: dict[str, Any] = CUT) -> None:
        self.name, self.chunk_ids, self.version, self.chunking = name, chunk_ids, version, chunking
        self.asked: list[int] = []

    def search(self, query: str, k: int) -> list[Hit]:
        self.asked.append(k)
        return [
            Hit(chunk_id, chunk_id.partition("#")[0], 1.0 / rank, rank, f"text of {chunk_id}")
            for rank, chunk_id in enumerate(self.chunk_ids[:k], start=1)
        ]

    def settings(self) -> dict[str, Any]:
        return {"retriever": self.name, "corpus": "letters", "corpus_version": self.version, "chunking": self.chunking}


def ranked(hits: list[Hit]) -> list[str]:
    return [hit.chunk_id for hit in hits]


def test_scores_are_the_sums_of_reciprocal_ranks() -> None:
    lexical = Listed("lexical", ["a#0", "b#0", "c#0", "d#0"])
    semantic = Listed("semantic", ["c#0", "a#0", "e#0"])
    hits = HybridRetriever([lexical, semantic]).search("anything", k=10)
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, e: 1/63, d: 1/64
    assert ranked(hits) == ["a#0", "c#0", "b#0", "e#0", "d#0"]  # only five passages are in the lists
    assert [hit.score for hit in hits] == pytest.approx([1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62, 1 / 63, 1 / 64])
    assert [hit.rank for hit in hits] == [1, 2, 3, 4, 5]
    assert (hits[1].doc_id, hits[1].text) == ("c", "text of c#0")
    assert ranked(HybridRetriever([lexical, semantic], rrf_k=0).search("anything", k=2)) == ["a#0", "c#0"]
    # with rrf_k = 0, a: 1 + 1/2 and c: 1/3 + 1; rrf_k = 1 gives b (1/3) over e (1/4)
    assert [h.score for h in HybridRetriever([lexical, semantic], rrf_k=1).search("x", k=4)] == pytest.approx(
        [1 / 2 + 1 / 3, 1 / 4 + 1 / 2, 1 / 3, 1 / 4]
    )


def test_each_retriever_is_searched_four_times_k_deep_or_as_deep_as_asked() -> None:
    lexical, semantic = Listed("lexical", ["x#0", "y#0"]), Listed("semantic", ["y#0", "x#0"])
    assert ranked(HybridRetriever([lexical, semantic]).search("q", k=2)) == ["x#0", "y#0"]  # equal sums
    assert lexical.asked == semantic.asked == [8]
    HybridRetriever([lexical, semantic], depth=3).search("q", k=2)
    HybridRetriever([lexical, semantic], depth=1).search("q", k=2)  # never shallower than k
    assert lexical.asked == [8, 3, 2]
    # Depth decides: y is 2nd by one and 1st by the other, so it beats x (1st by one alone)...
    one, other = Listed("one", ["x#0", "y#0"]), Listed("other", ["y#0", "z#0"])
    assert ranked(HybridRetriever([one, other]).search("q", k=1)) == ["y#0"]
    # ...unless the lists stop at 1: then x and y both score 1/61, a tie, in corpus order
    assert ranked(HybridRetriever([one, other], depth=1).search("q", k=1)) == ["x#0"]


def test_ties_rank_in_corpus_order_whatever_the_order_of_the_retrievers() -> None:
    # each passage is 1st, 2nd and 3rd once: the sums are equal exactly, so corpus order decides
    rankings = [["b#0", "c#0", "a#0"], ["c#0", "a#0", "b#0"], ["a#0", "b#0", "c#0"]]
    for order in itertools.permutations(rankings):
        hits = HybridRetriever([Listed(str(i), ids) for i, ids in enumerate(order)]).search("q", k=3)
        assert ranked(hits) == ["a#0", "b#0", "c#0"]
        assert hits[0].score == hits[1].score == hits[2].score
    # corpus order is document id, then chunk number: doc#2 before doc#10
    assert ranked(HybridRetriever([Listed("a", ["doc#10"]), Listed("b", ["doc#2"])]).search("q", 2)) == [
        "doc#2",
        "doc#10",
    ]


def test_a_passage_listed_twice_by_one_retriever_counts_once() -> None:
    twice = Listed("twice", ["a#0", "a#0", "b#0"])
    hits = HybridRetriever([twice, Listed("once", ["b#0"])]).search("q", k=5)
    assert ranked(hits) == ["b#0", "a#0"]
    assert [hit.score for hit in hits] == pytest.approx([1 / 63 + 1 / 61, 1 / 61])


def test_settings_nest_the_retrievers_settings() -> None:
    lexical, semantic = Listed("lexical", []), Listed("semantic", [])
    hybrid = HybridRetriever([lexical, semantic], rrf_k=10, depth=20)
    assert isinstance(hybrid, Retriever)
    assert hybrid.settings() == {
        "retriever": "hybrid",
        "corpus": "letters",
        "corpus_version": "v1",
        "chunking": CUT,
        "rrf_k": 10,
        "depth": 20,
        "retrievers": [lexical.settings(), semantic.settings()],
    }
    json.dumps(hybrid.settings())
    assert HybridRetriever([lexical, semantic]).settings()["depth"] is None  # 4k, whatever k is
    assert hybrid.search("q", 3) == []
    nested = HybridRetriever([hybrid, Listed("third", ["a#0"])])  # a hybrid names its corpus too: it nests
    assert nested.settings()["retrievers"][0] == hybrid.settings()


def test_retrievers_of_different_passages_are_refused() -> None:
    first = Listed("first", ["a#0"])
    with pytest.raises(ConfigError, match=r"same corpus version cut the same way.*version 'v2'"):
        HybridRetriever([first, Listed("newer", ["a#0"], version="v2")])
    with pytest.raises(ConfigError, match="same corpus version cut the same way"):
        HybridRetriever([first, Listed("paragraphs", ["a#0"], chunking={"by": "paragraph"})])

    class Unnamed:
        def search(self, query: str, k: int) -> list[Hit]:
            return []

        def settings(self) -> dict[str, Any]:
            return {"retriever": "mine"}

    with pytest.raises(ConfigError, match="doesn't say which corpus version and chunking"):
        HybridRetriever([first, Unnamed()])


def test_mistakes_are_config_errors() -> None:
    pair = [Listed("a", ["a#0"]), Listed("b", ["a#0"])]
    with pytest.raises(ConfigError, match="two or more retrievers"):
        HybridRetriever(pair[:1])
    with pytest.raises(ConfigError, match="two or more retrievers"):
        HybridRetriever([pair[0], "bm25"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="rrf_k must be a whole number"):
        HybridRetriever(pair, rrf_k=-1)
    with pytest.raises(ConfigError, match="depth is how deep"):
        HybridRetriever(pair, depth=0)
    with pytest.raises(ConfigError, match="k must be a whole number"):
        HybridRetriever(pair).search("q", 0)


@pytest.mark.integration
def test_bm25_and_embeddings_of_the_embedded_model_fused(tmp_path: Path) -> None:
    pytest.importorskip("bm25s")
    from promptlab.retrieval.bm25 import open_bm25
    from promptlab.retrieval.embeddings import open_embeddings

    model_files.pull("smollm2", quiet=True)
    corpus = Corpus(
        "topics",
        [
            {"id": "cake", "text": "The recipe needs flour, eggs, sugar and butter for the cake."},
            {"id": "cats", "text": "Cats are small furry pets that purr and chase mice."},
            {"id": "rain", "text": "Heavy rain and thunderstorms are expected over the weekend."},
        ],
    )
    lexical = open_bm25(corpus, tmp_path)
    semantic = open_embeddings(corpus, tmp_path, model=pl.Model("smollm2"))
    hybrid = HybridRetriever([lexical, semantic])
    hits = hybrid.search("Tell me about cats", k=2)
    assert hits[0].chunk_id == "cats#0"  # first in both lists: 2/61
    assert hits[0].score == pytest.approx(2 / 61)
    assert hybrid.settings()["retrievers"] == [lexical.settings(), semantic.settings()]
    with pytest.raises(ConfigError, match="same corpus version cut the same way"):
        HybridRetriever([open_bm25(corpus, tmp_path, Chunking(by="paragraph")), semantic])
