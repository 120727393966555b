"""Embeddings retrieval: the mistakes it refuses before calling anything, the
endpoints it can't use, and (integration) the embedded model for real: ranking,
its own embeddings server, and the index cache shared by processes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import promptlab as pl
from promptlab.errors import ConfigError, DataError, TransientError
from promptlab.providers import embedded, model_files
from promptlab.retrieval.chunking import Chunking, chunk_documents
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.embeddings import EmbeddingsRetriever, index_name, open_embeddings
from promptlab.retrieval.protocol import Retriever
from promptlab.testing import StubServer

TOPICS = [
    {"id": "cake", "text": "The recipe needs flour, eggs, sugar and butter for the cake."},
    {"id": "cats", "text": "Cats are small furry pets that purr and chase mice."},
    {"id": "python", "text": "Python is a programming language used for data analysis."},
    {"id": "rain", "text": "Heavy rain and thunderstorms are expected over the weekend."},
    {"id": "stocks", "text": "The stock market fell sharply as investors sold bank shares."},
]
CORPUS = Corpus("topics", TOPICS)
SMOLLM2 = pl.Model("smollm2")


@pytest.fixture(scope="module")
def smollm2() -> Path:
    """The default local model, pulled once for the whole run."""
    return model_files.pull("smollm2", quiet=True)


def test_a_corpus_with_no_words_is_refused_before_any_call(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'blank' has no words to embed"):
        open_embeddings(Corpus("blank", [" ", "\n"]), tmp_path, model=SMOLLM2)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_mistakes_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="provider 'fake', which has no embeddings"):
        open_embeddings(CORPUS, tmp_path, model=pl.Model("gpt-4o-mini", provider="fake"))
    with pytest.raises(ConfigError, match=r"model= takes a pl\.Model"):
        open_embeddings(CORPUS, tmp_path, model="smollm2")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch_size is passages per request"):
        EmbeddingsRetriever.build(CORPUS, model=SMOLLM2, batch_size=0)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):  # the conftest clears it
        open_embeddings(CORPUS, tmp_path, model=pl.Model("text-embedding-3-small"))


def test_an_endpoint_without_embeddings_says_what_to_use(stub_server: StubServer, tmp_path: Path) -> None:
    chat_only = pl.Model("chat-only", base_url=stub_server.url)  # the stub answers chat completions alone: 404
    with pytest.raises(ConfigError, match=r"doesn't serve embeddings for 'chat-only' \(HTTP 404.*text-embedding-3"):
        open_embeddings(CORPUS, tmp_path, model=chat_only)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # nothing half-built left behind


def test_an_unreachable_endpoint_says_to_start_it(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = pl.Model("nomic-embed-text", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(TransientError, match=f"can't reach the embeddings endpoint http://127.0.0.1:{port}/v1"):
        open_embeddings(CORPUS, tmp_path, model=nowhere)


def test_importing_retrieval_imports_neither_openai_nor_llama_cpp() -> None:
    code = "import sys, promptlab.retrieval; print(*(m in sys.modules for m in ('openai', 'httpx2', 'xllamacpp')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "False"]


@pytest.mark.integration
def test_a_query_about_cats_ranks_the_cat_passage_first(smollm2: Path, tmp_path: Path) -> None:
    retriever = open_embeddings(CORPUS, tmp_path, model=SMOLLM2)
    assert isinstance(retriever, Retriever) and not retriever.reused
    hits = retriever.search("Tell me about cats", k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].chunk_id == "cats#0" and hits[0].doc_id == "cats" and hits[0].text == TOPICS[1]["text"]
    assert hits[0].score > hits[1].score >= hits[2].score
    assert retriever.search("What do I need to bake a cake?", k=1)[0].doc_id == "cake"
    everything = retriever.search("Tell me about cats", k=50)  # every passage has a score
    assert sorted(h.doc_id for h in everything) == sorted(d["id"] for d in TOPICS)
    assert all(-1 <= h.score <= 1 for h in everything)  # cosines
    assert retriever.search("   ", k=3) == []
    assert retriever.search_many(["Tell me about cats", "", "Tell me about cats"], 3) == [hits, [], hits]
    assert np.allclose(np.linalg.norm(retriever.vectors, axis=1), 1, atol=1e-5)
    assert retriever.settings() == {
        "retriever": "embeddings",
        "corpus": "topics",
        "corpus_version": CORPUS.version,
        "chunking": {"by": "words", "size": 200, "overlap": 0},
        "model": {"provider": "llamacpp", "name": "smollm2", "base_url": None, "params": {}},
    }
    # its own server: the generation server can't embed, and is a different one
    assert embedded.server_for(smollm2, embeddings=True).url != embedded.server_for(smollm2).url
    with pytest.raises(ConfigError, match=r"doesn't serve embeddings .*HTTP 501"):
        open_embeddings(CORPUS, tmp_path, model=pl.Model("smollm2-chat", base_url=embedded.server_for(smollm2).url))


@pytest.mark.integration
def test_a_key_goes_to_its_endpoint_and_is_kept_nowhere(
    smollm2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-embeddings-" + "x7" * 20
    monkeypatch.setenv("EMBED_KEY", secret)
    url = embedded.server_for(smollm2, embeddings=True).url  # as any OpenAI-compatible server
    model = pl.Model("smollm2", provider="openai", base_url=url, api_key_env="EMBED_KEY")
    retriever = open_embeddings(CORPUS, tmp_path, model=model)
    assert secret not in json.dumps(retriever.settings())
    assert retriever.settings()["model"] == {"provider": "openai", "name": "smollm2", "base_url": url, "params": {}}
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or secret.encode() not in path.read_bytes(), path
    embedded_path = open_embeddings(CORPUS, tmp_path / "other", model=SMOLLM2)
    assert np.allclose(retriever.vectors, embedded_path.vectors, atol=1e-4)  # the same server, either way


@pytest.mark.integration
def test_vectors_of_another_length_are_config_errors(smollm2: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="asked for dimensions=64 but sent 576"):
        open_embeddings(CORPUS, tmp_path, model=pl.Model("smollm2", dimensions=64))
    chunks = chunk_documents(CORPUS, Chunking())
    older = EmbeddingsRetriever(
        CORPUS, Chunking(), SMOLLM2, chunks, np.eye(len(chunks), 8, dtype=np.float32), reused=True
    )
    with pytest.raises(ConfigError, match="now sends vectors of 576 numbers, but this index holds 8"):
        older.search("cats", 3)


OPEN_IN_A_CHILD = """
import json, sys
from pathlib import Path
import promptlab as pl
from promptlab.retrieval import Chunking, Corpus, open_embeddings
retriever = open_embeddings(Corpus("notes", Path(sys.argv[1])), Path(sys.argv[2]), Chunking(by="paragraph"),
                            model=pl.Model("smollm2"))
print(json.dumps({"reused": retriever.reused, "hits": [h.chunk_id for h in retriever.search("Tell me about cats", 2)]}))
"""


@pytest.mark.integration
def test_the_index_is_built_once_and_shared_by_processes(smollm2: Path, tmp_path: Path) -> None:
    notes, cache = tmp_path / "notes", tmp_path / "indexes"
    notes.mkdir()
    for doc in TOPICS:
        (notes / f"{doc['id']}.md").write_text(doc["text"], encoding="utf-8")
    embedded.server_for(smollm2, embeddings=True)  # the children share this process's server
    children = [
        subprocess.Popen([sys.executable, "-c", OPEN_IN_A_CHILD, str(notes), str(cache)], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    reports = [json.loads(child.communicate(timeout=120)[0]) for child in children]
    assert sorted(r["reused"] for r in reports) == [False, True]  # started together: one built, one waited
    assert reports[0]["hits"] == reports[1]["hits"]
    assert reports[0]["hits"][0] == "cats.md#0"

    corpus = Corpus("notes", notes)
    folder = cache / index_name(corpus, Chunking(by="paragraph"), SMOLLM2)
    assert sorted(p.name for p in folder.iterdir()) == ["chunks.json", "manifest.json", "vectors.npy"]
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    here = open_embeddings(corpus, cache, Chunking(by="paragraph"), model=SMOLLM2)
    assert here.reused and isinstance(here.vectors, np.memmap)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == written  # read, not written again
    assert [h.chunk_id for h in here.search("Tell me about cats", 2)] == reports[0]["hits"]

    again = Corpus("notes again", [Path(notes / f"{doc['id']}.md") for doc in reversed(TOPICS)])  # the same texts
    assert open_embeddings(again, cache, Chunking(by="paragraph"), model=SMOLLM2).reused
    (notes / "rain.md").write_text(
        "Snow is expected over the mountains tonight.", encoding="utf-8"
    )  # a changed document
    changed = open_embeddings(Corpus("notes", notes), cache, Chunking(by="paragraph"), model=SMOLLM2)
    assert not changed.reused and changed.corpus.version != corpus.version
    assert open_embeddings(Corpus("notes", notes), cache, Chunking(by="paragraph"), model=SMOLLM2).reused
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2
    assert not list(cache.glob(".*.tmp"))


@pytest.mark.integration
def test_a_sweep_with_retrievers_on_the_embedded_model(smollm2: Path, tmp_path: Path) -> None:
    """End to end: BM25, embeddings and hybrid retrievers in one sweep, answered by the
    embedded model through the real openai client, recorded in the real history file."""
    from promptlab.runner.progress import NullDisplay

    lab = pl.Lab(tmp_path / "history.duckdb")
    bm25 = pl.retrievers.bm25(CORPUS, k=1, chunking=Chunking(by="document"))
    semantic = pl.retrievers.embeddings(CORPUS, SMOLLM2, k=1, chunking=Chunking(by="document"))
    rows = [{"question": "Which pets purr and chase mice?", "relevant_ids": ["cats"]}]
    prompt = pl.Prompt("{{ context }}\n\nQuestion: {{ question }}\nAnswer in one word:", name="rag")
    run = lab.sweep(
        prompt,
        pl.Model("smollm2", max_tokens=4, temperature=0),
        rows,
        retrievers=[bm25, semantic, pl.retrievers.hybrid([bm25, semantic], k=1)],
        evaluators=[pl.evals.retrieval_recall(k=1)],
        display=NullDisplay(),
    )
    trials = run.df
    assert len(trials) == 3 and trials["error"].isna().all() and trials["output"].str.len().min() > 0
    assert (trials["prompt_tokens"] > 0).all()
    for _, trial in trials.iterrows():
        hit = trial["retrieval"]["hits"][0]
        assert hit["text"] in trial["messages"][-1]["content"]
    assert set(trials["retriever"]) == {bm25.label, semantic.label, "hybrid(bm25+embeddings(smollm2)) k=1"}
    assert trials.set_index("retriever").loc[bm25.label, "score_recall@1"] == 1.0
