"""Retrieval in the widget app (issue 18): the builder's Retrieval step becomes
``retrievers=[...]`` of the sweep it runs, what is wrong with it is said before
anything runs, a cell opened whole shows the passages it used (escaped: a
corpus is untrusted text), and a grid keeps each retriever a variant of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.team_history import HANDBOOK, TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import SweepBuilder, builder, results, review

pytest.importorskip("bm25s")
pytestmark = pytest.mark.both_stores

DOCS = [
    {"id": "lamp", "text": "The brass lamp hangs in the attic above the harbour."},
    {"id": "ferry", "text": "The ferry leaves the north pier at dawn."},
    {"id": "trap", "text": "Never trust <script>alert('lamp')</script> in a lamp manual."},
]
QUESTIONS = [{"question": "where is the brass lamp"}, {"question": "when does the ferry leave"}]
ASK = "Answer {{ question }} using:\n{{ context }}"


@pytest.fixture
def corpus_file(tmp_path: Path) -> str:
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(doc) + "\n" for doc in DOCS))
    return "corpus.jsonl"  # the tests run in tmp_path (tests/ui/conftest.py)


def with_question(lab: pl.Lab, prompt: str = ASK) -> SweepBuilder:
    b = builder(lab, models=[fake_model("echo")], namespace={})
    rows = b.editors()[0].rows.children
    rows[1].content.value = prompt
    b.data.typed.set_rows(QUESTIONS)
    return b


def finish(b: SweepBuilder) -> None:
    assert b.handle is not None and b.watch is not None
    assert b.handle.wait(30) and b.watch.join(30)


def test_the_retrieval_step_runs_each_retriever_as_an_axis(lab: pl.Lab, corpus_file: str) -> None:
    b = with_question(lab)
    first = b.retrieval.add()
    b.retrieval.corpus.value = corpus_file
    first.k.value = 1
    b.retrieval.add_button.click()
    assert "3 documents" in b.retrieval.about.value
    assert not b.check() and not b.run_button.disabled
    assert "4 cells" in text_of(b.size.value)  # 2 rows × 2 retrievers, priced as typed
    b.run_button.click()
    finish(b)
    trials = lab.trials(run=b.handle.run_id)
    assert sorted(trials["retriever"]) == ["bm25 k=1", "bm25 k=1", "bm25 k=5", "bm25 k=5"]
    found = trials[trials["retriever"] == "bm25 k=1"].sort_values("row_index")["retrieval"].iloc[0]
    assert found["query"] == "where is the brass lamp" and found["corpus"] == "corpus"
    assert [hit["doc_id"] for hit in found["hits"]] == ["lamp"]
    config = lab.run_info(b.handle.run_id)["config"]
    assert [r["label"] for r in config["retrievers"]] == ["bm25 k=1", "bm25 k=5"]
    assert len(b.results.table.variants) == 2


def test_a_prompt_using_context_without_a_retriever_says_so_and_nothing_runs(lab: pl.Lab) -> None:
    b = with_question(lab)
    problems = b.check()
    assert "retriever" in problems["prompt 1"] and "Retrieval" in text_of(b.editors()[0].error.value)
    assert b.run_button.disabled and b.run() is None
    assert lab.trials().empty


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"corpus": "missing.jsonl"}, "does not exist"),
        ({"corpus": ""}, "pick a corpus"),
        ({"k": 0}, "retriever 1: k is how many passages a search returns"),
        ({"overlap": 500}, "overlap (500) must be less than size (200)"),
        ({"size": "lots"}, "'lots' is not a whole number"),
        ({"query": "topic"}, "query column 'topic' is not in the data"),
        ({"query": "{{ title }}"}, "the query uses {{ title }}"),
        ({"twice": True}, "two retrievers are both 'bm25 k=5'"),
    ],
)
def test_what_is_wrong_with_retrieval_is_shown_and_nothing_runs(
    lab: pl.Lab, corpus_file: str, change: dict, said: str
) -> None:
    b = with_question(lab)
    row = b.retrieval.add()
    b.retrieval.corpus.value = change.get("corpus", corpus_file)
    row.k.value = change.get("k", 5)
    row.overlap.value = change.get("overlap", 0)
    row.size.value = change.get("size", "200")
    b.retrieval.query.value = change.get("query", "")
    if change.get("twice"):
        b.retrieval.add()
    assert said in b.check()["retrieval"]
    assert said in text_of(b.retrieval.error.value)
    assert b.run_button.disabled and b.run() is None and said in text_of(b.run_error.value)
    assert lab.trials().empty


def test_rows_without_a_query_column_are_asked_for_one(lab: pl.Lab, corpus_file: str) -> None:
    b = with_question(lab, "Answer {{ text }} using {{ context }}")
    b.data.typed.set_rows([{"text": "where is the lamp"}])
    b.retrieval.add()
    b.retrieval.corpus.value = corpus_file
    assert "no query or question column" in b.check()["retrieval"]
    b.retrieval.query.value = "text"
    assert not b.check()
    assert b.sweep_arguments().options["retrievers"][0].query == "text"


def test_embeddings_and_hybrid_use_a_model_the_builder_offers_that_can_embed(lab: pl.Lab, corpus_file: str) -> None:
    b = with_question(lab)
    row = b.retrieval.add()
    b.retrieval.corpus.value = corpus_file
    row.kind.value = "embeddings"
    offered = [model.name for _, model in row.model.options]
    assert "smollm2" in offered and "echo" not in offered  # the fake can't embed
    assert row.model.layout.display is None
    row.by.value, row.size.value, row.overlap.value = "paragraph", "50", 10
    (spec,) = b.sweep_arguments().options["retrievers"]
    assert spec.kind == "embeddings" and spec.model.name == "smollm2"
    assert spec.chunking == pl.Chunking(by="paragraph", size=50, overlap=10)
    assert "Estimate cost" in text_of(b.size.value)  # embedding the corpus waits to be asked for
    row.kind.value, row.name.value = "hybrid", "fused"
    (spec,) = b.sweep_arguments().options["retrievers"]
    assert spec.kind == "hybrid" and [part.kind for part in spec.parts] == ["bm25", "embeddings"]
    assert spec.label == "fused"


def test_the_cell_detail_shows_the_passages_escaped_and_marked(lab: pl.Lab, corpus_file: str) -> None:
    corpus = pl.Corpus("manuals", corpus_file)
    run = lab.sweep(
        pl.Prompt(ASK, name="ask"),
        fake_model("echo"),
        [{"question": "lamp manual"}],
        retrievers=[pl.retrievers.bm25(corpus, k=2)],
        display=NullDisplay(),
    )
    grid = results(run)
    (value,) = [value for label, value in grid.cell.options if value is not None]
    detail = grid.open_cell(value)
    assert detail is not None
    body = detail.body.value
    assert "<script>" not in body and "&lt;script&gt;alert(&#x27;lamp&#x27;)&lt;/script&gt;" in body
    shown = text_of(body)
    assert "retriever bm25 k=2" in shown.splitlines()[0]  # the header line, beside the numbers
    assert "query lamp manual" in shown
    assert "#1 · trap · score" in shown and "in the prompt" in shown
    score = run.df["retrieval"].iloc[0]["hits"][0]["score"]
    assert f"score {score:.3f}" in shown
    assert '<mark style="background:#fff3b0">manual</mark>' in body  # a word of the answer
    assert 'title="passage 1 · trap"' in body  # the passage marked in the prompt as sent
    assert "retriever bm25 k=2" in text_of(grid.matrix.value)


def test_review_shows_the_passages_under_the_output(lab: pl.Lab, corpus_file: str) -> None:
    corpus = pl.Corpus("manuals", corpus_file)
    retriever = pl.retrievers.bm25(corpus, k=1)
    run = lab.sweep(
        pl.Prompt(ASK, name="ask"), fake_model("echo"), QUESTIONS[:1], retrievers=[retriever], display=NullDisplay()
    )
    panel = review(run)
    assert "#1 · lamp" in text_of(panel.passages.value) and panel.found.layout.display is None
    assert "bm25 k=1" in text_of(panel.header.value)


def test_two_retrievers_two_prompts_two_models_are_eight_variants(lab: pl.Lab, corpus_file: str) -> None:
    corpus = pl.Corpus("manuals", corpus_file)
    prompts = [pl.Prompt(ASK, name="ask"), pl.Prompt("Q: {{ question }}\n{{ context }}", name="terse")]
    searches = [pl.retrievers.bm25(corpus, k=1), pl.retrievers.bm25(corpus, k=2)]
    run = lab.sweep(
        prompts, [fake_model("echo"), fake_model("upper")], QUESTIONS, retrievers=searches, display=NullDisplay()
    )
    grid = results(run)
    variants = grid.table.variants
    assert len(variants) == 8 and len(set(variants.names)) == 8
    assert variants.names[:2] == ["ask · echo · bm25 k=1", "ask · echo · bm25 k=2"]  # the retrievers side by side
    assert len(grid.table.rows) == 2 and (grid.table.cells[:, :, 0] >= 0).all()
    assert "retriever: bm25 k=1" in variants.frame["differs"].iloc[0]
    header = text_of(grid.matrix.value)
    assert all(name in header for name in variants.names)
    assert text_of(grid.summary.value).count("bm25 k=") == 8


def test_loading_a_run_with_retrievers_restores_them_and_asks_for_the_corpus(lab: pl.Lab, corpus_file: str) -> None:
    corpus = pl.Corpus("corpus", corpus_file)
    searches = [pl.retrievers.bm25(corpus, k=1), pl.retrievers.bm25(corpus, k=3, chunking=pl.Chunking(size=40))]
    run = lab.sweep(
        pl.Prompt(ASK, name="ask"), fake_model("echo"), QUESTIONS, retrievers=searches, display=NullDisplay()
    )
    b = builder(lab, namespace={})
    b.load_run(run.run_id)
    assert [row.k.value for row in b.retrieval.rows.children] == [1, 3]
    assert "pick it again under Retrieval" in text_of(b.note.value)
    assert f"pick a corpus (the run searched corpus (version {corpus.version}))" in b.check()["retrieval"]
    b.retrieval.corpus.value = corpus_file
    assert [spec.label for spec in b.sweep_arguments().options["retrievers"]] == [s.label for s in searches]


def test_the_teams_retrieval_run_is_loaded_run_again_and_read_by_retriever(team: TeamHistory) -> None:
    lab = team.lab()
    b = builder(lab, namespace={})
    b.load_run(team.runs["rag"])
    restored = [(row.k.value, row.by.value, row.name.value) for row in b.retrieval.rows.children]
    assert restored == [(2, "paragraph", ""), (1, "document", "whole documents")]
    assert "handbook" in b.check()["retrieval"]
    Path("handbook.jsonl").write_text("".join(json.dumps(doc) + "\n" for doc in HANDBOOK))
    b.retrieval.corpus.value = "handbook.jsonl"
    b.cache.value = True
    assert not b.check()
    handle = b.run()
    assert handle is not None
    finish(b)
    again = lab.trials(run=handle.run_id)
    assert len(again) == 2 * 2 * 2 * 3  # retrievers × prompts × models × questions
    assert set(again["retriever"]) == {"bm25 k=2 paragraph", "whole documents"}
    assert again["cached"].sum() == len(again) - again["error_type"].notna().sum()  # the same searches and prompts
    assert len(b.results.table.variants) == 8 and len(set(b.results.table.variants.names)) == 8
