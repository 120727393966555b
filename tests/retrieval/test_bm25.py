"""BM25 over bm25s: ranking, the same results as bm25s used directly, and the index
cache shared by processes (built once per corpus version and settings)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from promptlab.errors import ConfigError, DataError, ExportError
from promptlab.retrieval.bm25 import BM25Params, BM25Retriever, index_name, open_bm25
from promptlab.retrieval.chunking import Chunking
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.protocol import Retriever

bm25s = pytest.importorskip("bm25s")

PETS = Corpus(
    "pets",
    [
        {"id": "cats", "text": "Cats sleep all day. A cat purrs when a cat is happy."},
        {"id": "dogs", "text": "Dogs bark at the mail carrier and chase the cat next door."},
        {"id": "fish", "text": "Goldfish swim in circles in their bowl."},
        {"id": "care", "text": "Feed your cat twice a day and brush its fur.\n\nWalk your dog every morning."},
    ],
)


def test_the_best_passages_come_first_and_only_matching_ones() -> None:
    retriever = BM25Retriever.build(PETS, Chunking(by="paragraph"))
    hits = retriever.search("cat purrs", k=10)
    assert [h.chunk_id for h in hits] == ["cats#0", "care#0", "dogs#0"]  # purrs and cat twice beat cat once
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score > hits[1].score == hits[2].score > 0  # cat once in as many terms: a tie, in corpus order
    assert (hits[1].doc_id, hits[1].text) == ("care", "Feed your cat twice a day and brush its fur.")
    assert [h.chunk_id for h in retriever.search("morning walk", k=10)] == ["care#1"]
    assert len(retriever.search("cat", k=2)) == 2
    assert retriever.search("zebra", k=5) == []  # no passage has the word: no hits rather than random ones
    assert retriever.search("the and of", k=5) == []  # stopwords only
    assert retriever.search("", k=5) == []


def test_equal_scores_rank_in_corpus_order() -> None:
    twins = Corpus("twins", [{"id": i, "text": "the same words here"} for i in ("b", "c", "a")])
    for method in ("lucene", "bm25+"):
        hits = BM25Retriever.build(twins, params=BM25Params(method=method)).search("same words", k=2)
        assert [h.doc_id for h in hits] == ["a", "b"], method
        assert hits[0].score == hits[1].score


def test_settings_name_everything_that_decides_the_results() -> None:
    retriever = BM25Retriever.build(PETS, Chunking(size=50, overlap=5), BM25Params(k1=1.2))
    assert isinstance(retriever, Retriever)
    assert retriever.settings() == {
        "retriever": "bm25",
        "corpus": "pets",
        "corpus_version": PETS.version,
        "chunking": {"by": "words", "size": 50, "overlap": 5},
        "bm25": {"k1": 1.2, "b": 0.75, "method": "lucene", "delta": 0.5, "stopwords": "en"},
    }
    json.dumps(retriever.settings())  # plain values, ready to record


def test_mistakes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="k must be a whole number"):
        BM25Retriever.build(PETS).search("cat", k=0)
    with pytest.raises(ConfigError, match="a query must be text, not NoneType"):
        BM25Retriever.build(PETS).search(None, k=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="BM25 method 'bm26' isn't known"):
        BM25Params(method="bm26")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="stopwords 'klingon'"):
        BM25Retriever.build(PETS, params=BM25Params(stopwords="klingon"))
    with pytest.raises(DataError, match="no words to index"):
        BM25Retriever.build(Corpus("blank", [" ", ""]))


def random_corpus(passages: int, seed: int) -> tuple[Corpus, list[str]]:
    """Passages of 10-60 words from a 400-word vocabulary, and 60 queries of 1-4 words."""
    rng = random.Random(seed)
    words = [f"term{i}" for i in range(400)]
    weights = [1 / (i + 1) for i in range(400)]  # Zipf-like: common and rare terms
    docs = [
        {"id": f"p{i:04d}", "text": " ".join(rng.choices(words, weights, k=rng.randint(10, 60)))}
        for i in range(passages)
    ]
    queries = [" ".join(rng.choices(words, k=rng.randint(1, 4))) for _ in range(60)]
    return Corpus("random", docs), queries


@pytest.mark.parametrize("method", ["lucene", "robertson", "bm25+"])
def test_the_same_hits_and_scores_as_bm25s_used_directly(method: str) -> None:
    corpus, queries = random_corpus(400, seed=18)
    ours = BM25Retriever.build(corpus, Chunking(by="document"), BM25Params(method=method))  # type: ignore[arg-type]
    direct = bm25s.BM25(method=method)  # over the same passages: one per document, in id order
    direct.index(bm25s.tokenize([d.text for d in corpus], stopwords="en", show_progress=False), show_progress=False)
    terms = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
    _, top_scores = direct.retrieve(terms, k=10, show_progress=False)
    for q, query in enumerate(queries):
        hits = ours.search(query, k=10)
        every = direct.get_scores(terms[q])
        ids = direct.get_tokens_ids(terms[q])
        floor = direct.nonoccurrence_array[ids].sum() if direct.nonoccurrence_array is not None else 0.0
        best = sorted((p for p in range(len(every)) if every[p] > floor), key=lambda p: (-every[p], p))[:10]
        assert [(h.doc_id, h.score) for h in hits] == [(corpus.documents[p].id, float(every[p])) for p in best], query
        assert [h.score for h in hits] == [float(s) for s in top_scores[q] if s > floor], query


def test_an_index_folder_round_trip(tmp_path: Path) -> None:
    built = BM25Retriever.build(PETS, Chunking(by="paragraph"))
    built.save(tmp_path / "index")
    loaded = BM25Retriever.load(tmp_path / "index", PETS)
    assert (loaded.reused, built.reused) == (True, False)
    assert loaded.chunks == built.chunks and loaded.settings() == built.settings()
    assert loaded.search("cat purrs", k=3) == built.search("cat purrs", k=3)
    with pytest.raises(ExportError, match="already exists"):
        built.save(tmp_path / "index")
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no temporary folder left
    other = Corpus("pets", [{"id": "cats", "text": "Cats sleep all night."}])
    with pytest.raises(DataError, match=f"built from corpus version '{PETS.version}', not 'pets' version"):
        BM25Retriever.load(tmp_path / "index", other)
    with pytest.raises(DataError, match="no readable BM25 index"):
        BM25Retriever.load(tmp_path / "nothing", PETS)


OPEN_IN_A_CHILD = """
import json, sys
from pathlib import Path
from promptlab.retrieval import Chunking, Corpus, open_bm25
retriever = open_bm25(Corpus("notes", Path(sys.argv[1])), Path(sys.argv[2]), Chunking(by="paragraph"))
print(json.dumps({"reused": retriever.reused, "hits": [h.chunk_id for h in retriever.search("cat", 5)]}))
"""


def test_the_index_is_built_once_and_shared_by_processes(tmp_path: Path) -> None:
    notes, cache = tmp_path / "notes", tmp_path / "indexes"
    notes.mkdir()
    for doc in PETS:
        (notes / f"{doc.id}.md").write_text(doc.text, encoding="utf-8")
    children = [
        subprocess.Popen([sys.executable, "-c", OPEN_IN_A_CHILD, str(notes), str(cache)], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    reports = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert sorted(r["reused"] for r in reports) == [False, True]  # started together: one built, one waited
    assert reports[0]["hits"] == reports[1]["hits"] == ["cats.md#0", "care.md#0", "dogs.md#0"]

    corpus = Corpus("notes", notes)
    folder = cache / index_name(corpus, Chunking(by="paragraph"), BM25Params())
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    here = open_bm25(corpus, cache, Chunking(by="paragraph"))
    assert here.reused
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == written  # read, not written again
    assert [h.chunk_id for h in here.search("cat", 5)] == reports[0]["hits"]

    (notes / "fish.md").write_text("Goldfish swim in circles; the cat watches.", encoding="utf-8")  # a changed document
    changed = open_bm25(Corpus("notes", notes), cache, Chunking(by="paragraph"))
    assert not changed.reused and changed.corpus.version != corpus.version
    assert "fish.md#0" in [h.chunk_id for h in changed.search("cat", 5)]
    assert not open_bm25(corpus, cache, Chunking(by="document")).reused  # other settings: another index
    assert open_bm25(Corpus("notes", notes), cache, Chunking(by="paragraph")).reused
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3


def test_a_temporary_folder_left_by_a_dead_process_is_cleared(tmp_path: Path) -> None:
    leftover = tmp_path / f".{index_name(PETS, Chunking(), BM25Params())}.0123456789ab.tmp"
    leftover.mkdir()
    (leftover / "data.csc.index.npy").write_bytes(b"half")
    assert not open_bm25(PETS, tmp_path).reused
    assert not leftover.exists()


def test_importing_retrieval_does_not_import_bm25s() -> None:
    code = "import sys, promptlab.retrieval; print('bm25s' in sys.modules, 'scipy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
