"""Retrievers as a sweep axis, on the fake provider and the real history file:
each cell searches for its row, the prompt gets the passages, the trial
records what was found, and retrieval is scored apart from the answer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import promptlab as pl
from promptlab.core.grid import expand, make_sweep
from promptlab.core.hashing import canonical_json, hash_strings
from promptlab.errors import ConfigError, DataError, TemplateError
from promptlab.runner.progress import NullDisplay
from promptlab.runner.retrieve import retrieve
from promptlab.store import corpus_reads
from promptlab.store.location import retrieval_folder
from promptlab.testing import fake_model

DOCS = [
    {"id": "ferry", "text": "The ferry to Gull Island leaves the north pier at 7:40 every morning."},
    {"id": "lighthouse", "text": "The lighthouse keeper lights the lamp at dusk and logs every ship."},
    {"id": "market", "text": "The fish market opens on Saturdays; bring cash, cards are not taken."},
    {"id": "moorings", "text": "Visiting boats moor at pontoon C for twelve pounds a night."},
]
QUESTIONS = [
    {"question": "When does the ferry leave for Gull Island?", "relevant_ids": ["ferry"], "expected": "7:40"},
    {"question": "Where do visiting boats moor?", "relevant_ids": ["moorings"], "expected": "pontoon C"},
    {"question": "Does the fish market take cards?", "relevant_ids": ["market"], "expected": "cash"},
]
TERSE = pl.Prompt("Context:\n{{ context }}\n\nQuestion: {{ question }}\nAnswer briefly.", name="terse")
pytestmark = pytest.mark.both_stores

LISTED = pl.Prompt("{% for p in passages %}({{ p.doc_id }}) {{ p.text }}\n{% endfor %}Q: {{ question }}", name="listed")


@pytest.fixture
def corpus() -> pl.Corpus:
    return pl.Corpus("harbour", DOCS)


def test_each_retriever_is_an_axis_and_each_trial_records_its_search(
    lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay
) -> None:
    wide, narrow = pl.retrievers.bm25(corpus, k=3), pl.retrievers.bm25(corpus, k=1)
    run = lab.sweep(
        [TERSE, LISTED], [fake_model("a"), fake_model("b")], QUESTIONS, retrievers=[wide, narrow], display=quiet
    )
    trials = run.df
    assert len(trials) == 2 * 2 * 2 * len(QUESTIONS)
    assert set(trials["retriever"]) == {"bm25 k=3", "bm25 k=1"}
    ferry = trials[(trials["row_index"] == 0) & (trials["retriever"] == "bm25 k=1")].iloc[0]
    found = ferry["retrieval"]
    assert found["query"] == QUESTIONS[0]["question"]
    assert found["corpus"] == "harbour" and found["corpus_version"] == corpus.version
    assert found["k"] == 1 and found["settings"]["bm25"]["k1"] == 1.5
    assert [(h["doc_id"], h["rank"]) for h in found["hits"]] == [("ferry", 1)]
    assert found["hits"][0]["score"] > 0
    rendered = ferry["messages"][-1]["content"]
    assert DOCS[0]["text"] in rendered and DOCS[1]["text"] not in rendered
    assert "pier" not in json.dumps(ferry["vars"])  # the row is recorded as given, the passages apart
    summary = run.summary()
    assert "retriever" in summary and len(summary) == 8


def test_retrieval_is_scored_apart_from_the_answer_and_compared_paired(
    lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay
) -> None:
    specs = [pl.retrievers.bm25(corpus, k=2), pl.retrievers.bm25(corpus, k=2, chunking=pl.Chunking(by="words", size=4))]
    run = lab.sweep(
        TERSE,
        fake_model(),
        QUESTIONS,
        retrievers=specs,
        evaluators=[pl.evals.retrieval_recall(k=2), pl.evals.retrieval_mrr(), pl.evals.icontains("expected")],
        display=quiet,
    )
    summary = run.summary()
    assert {"recall@2_mean", "mrr_mean"} <= set(summary.columns)
    whole = summary[summary["retriever"] == "bm25 k=2"].iloc[0]
    assert whole["recall@2_mean"] == 1.0 and whole["mrr_mean"] == 1.0
    comparison = run.compare("recall@2", a="bm25 k=2", b=specs[1].label)
    assert comparison.n == len(QUESTIONS)


def test_searches_and_corpora_are_kept_once(lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay) -> None:
    spec = pl.retrievers.bm25(corpus, k=2)
    lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=[spec], display=quiet)
    folder = retrieval_folder(lab.path)
    searches = folder / "searches" / f"{spec.key()}.jsonl"
    assert len(searches.read_text().splitlines()) == len(QUESTIONS)
    again = lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=[spec], display=quiet, resume=False)
    assert again.df["cached"].all()
    assert len(searches.read_text().splitlines()) == len(QUESTIONS)  # nothing searched twice
    lab.store.fold()
    assert corpus_reads.known_corpora(lab.store, [corpus.version]) == {corpus.version}
    assert len(corpus_reads.corpus_documents(lab.store, corpus.version)) == len(DOCS)
    assert corpus_reads.corpora(lab.store)["documents"].tolist() == [len(DOCS)]


def test_a_changed_document_is_a_new_corpus_version_searched_afresh(
    lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay
) -> None:
    lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=[pl.retrievers.bm25(corpus)], display=quiet)
    edited = pl.Corpus("harbour", [*DOCS[:3], {"id": "moorings", "text": "Boats moor at pontoon D now."}])
    assert edited.version != corpus.version
    run = lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=[pl.retrievers.bm25(edited)], display=quiet)
    moorings = run.df[run.df["row_index"] == 1].iloc[0]
    assert moorings["retrieval"]["corpus_version"] == edited.version
    assert "pontoon D" in moorings["messages"][-1]["content"]
    indexes = [p for p in retrieval_folder(lab.path).iterdir() if p.name.startswith("bm25-")]
    assert len(indexes) == 2


def test_the_query_comes_from_a_column_or_a_template(lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay) -> None:
    rows = [{"topic": "ferry", "detail": "Gull Island"}]
    spec = pl.retrievers.bm25(corpus, k=1, query="{{ detail }} {{ topic }}")
    run = lab.sweep(pl.Prompt("{{ context }}", name="bare"), fake_model(), rows, retrievers=[spec], display=quiet)
    assert run.df.iloc[0]["retrieval"]["query"] == "Gull Island ferry"
    with pytest.raises(DataError, match=r"query='\.\.\.'"):
        lab.sweep(TERSE, fake_model(), rows, retrievers=[pl.retrievers.bm25(corpus)], display=quiet)
    named = pl.retrievers.bm25(corpus, k=1, query="topic")
    run = lab.sweep(pl.Prompt("{{ context }}", name="bare"), fake_model(), rows, retrievers=[named], display=quiet)
    assert run.df.iloc[0]["retrieval"]["hits"][0]["doc_id"] == "ferry"


def test_mistakes_are_refused_before_any_call(lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay) -> None:
    with pytest.raises(TemplateError, match="a retriever gives context"):
        lab.sweep(TERSE, fake_model(), QUESTIONS, display=quiet)
    with pytest.raises(ConfigError, match="name="):
        lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=[pl.retrievers.bm25(corpus), pl.retrievers.bm25(corpus)])
    with pytest.raises(ConfigError, match="k is how many"):
        pl.retrievers.bm25(corpus, k=0)
    with pytest.raises(ConfigError, match="retrievers= takes"):
        lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=["bm25"])  # type: ignore[list-item]
    assert lab.trials().empty


def test_cells_without_a_retriever_keep_their_keys(corpus: pl.Corpus, tmp_path: Path) -> None:
    """Runs recorded before retrievers existed resume: their cells' keys are what they were."""
    prompt, model = pl.Prompt("{{ question }}", name="q"), fake_model()
    sweep = make_sweep([prompt], [model], QUESTIONS)
    identity = canonical_json(model.identity(), plain=True)
    before = [
        hash_strings([prompt.version, identity, canonical_json(row, plain=True), "0", "0"], 20) for row in QUESTIONS
    ]
    assert [cell.cell_key for cell in expand(sweep)] == before
    searched = replace(sweep, contexts=retrieve([pl.retrievers.bm25(corpus)], QUESTIONS, tmp_path))
    assert not set(before) & {cell.cell_key for cell in expand(searched)}


def test_an_experiment_file_declares_corpora_and_retrievers(tmp_path: Path, lab: pl.Lab, quiet: NullDisplay) -> None:
    from promptlab.cli.experiment_file import load_experiment

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (tmp_path / "data" / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    (tmp_path / "rag.yaml").write_text(
        "experiment: rag\n"
        'prompts: [{name: terse, template: "{{ context }} Q: {{ question }}"}]\n'
        "models: [{name: echo, provider: fake}]\n"
        "data: data/questions.jsonl\n"
        "corpora: {harbour: data/docs.jsonl}\n"
        "retrievers:\n"
        "  - {kind: bm25, corpus: harbour, k: 2}\n"
        "  - {kind: bm25, corpus: harbour, k: 1, chunking: {by: document}, name: whole}\n"
        "evaluators: [retrieval_recall]\n"
    )
    loaded = load_experiment(tmp_path / "rag.yaml")
    assert [spec.label for spec in loaded.retrievers] == ["bm25 k=2", "whole"]
    run = lab.sweep(**loaded.sweep_arguments(), display=quiet)
    assert set(run.df["retriever"]) == {"bm25 k=2", "whole"}
    (tmp_path / "bad.yaml").write_text(
        (tmp_path / "rag.yaml").read_text().replace("corpus: harbour, k: 2", "corpus: harbor, k: 2")
    )
    with pytest.raises(pl.ConfigError, match=r"retrievers\[0\]\.corpus: names no corpus"):
        load_experiment(tmp_path / "bad.yaml")


def test_the_plot_puts_retrieval_beside_the_answer(lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay) -> None:
    specs = [pl.retrievers.bm25(corpus, k=1), pl.retrievers.bm25(corpus, k=2)]
    evaluators = [pl.evals.retrieval_recall(k=1), pl.evals.icontains("expected")]
    run = lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=specs, evaluators=evaluators, display=quiet)
    figure = run.plot_retrieval()
    left, right = figure.axes
    assert left.get_title() == "retrieval: recall@1" and right.get_title() == "answer: icontains:expected"
    shown = [label.get_text() for label in left.get_yticklabels()]
    assert shown == ["terse · echo · bm25 k=1", "terse · echo · bm25 k=2"]
    bare = lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=specs[:1], display=quiet)
    with pytest.raises(ConfigError, match="retrieval score and an answer score"):
        bare.plot_retrieval()


def test_retrievers_are_scored_without_a_model_as_the_sweep_scores_them(
    lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay
) -> None:
    specs = [pl.retrievers.bm25(corpus, k=1), pl.retrievers.bm25(corpus, k=2, chunking=pl.Chunking(by="words", size=3))]
    found = lab.search(specs, QUESTIONS)
    assert len(found) == 2 * len(QUESTIONS)
    assert found.iloc[0]["doc_ids"] == ["ferry"] and found.iloc[0]["query"] == QUESTIONS[0]["question"]
    scores = lab.score_retrievers(specs, QUESTIONS).set_index("retriever")
    assert scores.loc["bm25 k=1", "recall"] == 1.0 and scores.loc["bm25 k=1", "queries"] == len(QUESTIONS)
    run = lab.sweep(
        TERSE, fake_model(), QUESTIONS, retrievers=specs, evaluators=[pl.evals.retrieval_mrr()], display=quiet
    )
    means = run.summary().set_index("retriever")["mrr_mean"]
    for spec in specs:
        assert means[spec.label] == pytest.approx(scores.loc[spec.label, "mrr"])
    with pytest.raises(DataError, match="relevant_ids"):
        lab.score_retrievers(specs, [{"question": "ferry?"}])


def test_the_history_gives_back_the_corpus_a_trial_searched(lab: pl.Lab, corpus: pl.Corpus, quiet: NullDisplay) -> None:
    run = lab.sweep(TERSE, fake_model(), QUESTIONS, retrievers=[pl.retrievers.bm25(corpus)], display=quiet)
    lab.store.fold()
    version = run.df.iloc[0]["retrieval"]["corpus_version"]
    again = lab.corpus(version)
    assert again.version == corpus.version and again.name == "harbour" and len(again) == len(DOCS)
    assert lab.corpora()["name"].tolist() == ["harbour"]
    with pytest.raises(DataError, match="no corpus of version"):
        lab.corpus("0" * 12)


def test_the_command_line_runs_a_retrieval_file_and_shows_the_passages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptlab import cli

    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    (tmp_path / "rag.yaml").write_text(
        "experiment: rag\n"
        'prompts: [{name: terse, template: "{{ context }} Q: {{ question }}"}]\n'
        "models: [{name: echo, provider: fake}]\n"
        "data: questions.jsonl\n"
        "corpora: {harbour: docs.jsonl}\n"
        "retrievers: [{kind: bm25, corpus: harbour, k: 1}]\n"
    )
    db = str(tmp_path / "cli.duckdb")
    assert cli.main(["--db", db, "run", str(tmp_path / "rag.yaml")]) == 0
    trial = pl.Lab(db).trials().sort_values("row_index").iloc[0]
    capsys.readouterr()
    assert cli.main(["--db", db, "show", str(trial["trial_id"])]) == 0
    shown = capsys.readouterr().out
    assert "retrieval:     bm25 k=1 over harbour" in shown
    assert "[1] ferry#0  score" in shown and DOCS[0]["text"] in shown


def test_a_corpus_renamed_keeps_its_searches(corpus: pl.Corpus) -> None:
    renamed = pl.Corpus("port", DOCS)
    assert pl.retrievers.bm25(renamed).key() == pl.retrievers.bm25(corpus).key()
    assert pl.retrievers.bm25(renamed).settings()["corpus"] == "port"
    assert pl.retrievers.bm25(corpus, k=3).key() != pl.retrievers.bm25(corpus).key()


def test_a_dataset_of_the_history_is_a_corpus(lab: pl.Lab, corpus: pl.Corpus) -> None:
    documents = lab.dataset("harbour-docs")
    documents.add(DOCS, note="the handbook, as a dataset")
    from_history = pl.Corpus("harbour", documents)
    assert from_history.version == corpus.version and len(from_history) == len(DOCS)
