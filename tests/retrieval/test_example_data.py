"""The shipped retrieval example: the Port Alder handbook and its questions
(``experiments/data/harbor_*.jsonl``), read with plain json so a broken file
fails here rather than in a notebook, and checked against the script that writes them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "experiments" / "data"
CORPUS = DATA / "harbor_handbook.jsonl"
QUESTIONS = DATA / "harbor_questions.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return read_jsonl(CORPUS)


@pytest.fixture(scope="module")
def questions() -> list[dict[str, Any]]:
    return read_jsonl(QUESTIONS)


def test_the_corpus_has_250_to_350_documents_with_unique_ids(documents: list[dict[str, Any]]) -> None:
    assert 250 <= len(documents) <= 350
    ids = [d["id"] for d in documents]
    assert len(set(ids)) == len(ids), [i for i in ids if ids.count(i) > 1]
    for doc in documents:
        assert set(doc) == {"id", "title", "text", "section"}, doc["id"]
        assert all(isinstance(doc[key], str) and doc[key].strip() for key in doc), doc["id"]


def test_every_document_is_40_to_120_words(documents: list[dict[str, Any]]) -> None:
    counts = {d["id"]: len(d["text"].split()) for d in documents}
    assert {id_: n for id_, n in counts.items() if not 40 <= n <= 120} == {}


def test_every_question_names_existing_documents_that_hold_its_answer(
    documents: list[dict[str, Any]], questions: list[dict[str, Any]]
) -> None:
    assert 60 <= len(questions) <= 80
    texts = {d["id"]: d["text"].lower() for d in documents}
    for q in questions:
        assert set(q) == {"question", "relevant_ids", "expected"}, q
        assert 1 <= len(q["relevant_ids"]) <= 3, q["question"]
        assert [i for i in q["relevant_ids"] if i not in texts] == [], q["question"]
        assert q["expected"].strip(), q["question"]
        assert any(q["expected"].lower() in texts[i] for i in q["relevant_ids"]), q["question"]
    asked = [q["question"] for q in questions]
    assert len(set(asked)) == len(asked)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_harbor_handbook", DATA / "make_harbor_handbook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the classes are made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_the_files_are_what_the_generator_writes(
    documents: list[dict[str, Any]], questions: list[dict[str, Any]]
) -> None:
    generator = _generator()  # builds in memory; only its main() writes
    built = generator.build_documents()
    assert generator.check(built, list(generator.QUESTIONS)) == []
    assert documents == [{"id": d.id, "title": d.title, "text": d.text, "section": d.section} for d in built], (
        "the corpus differs from what the script makes: edit the script and run it"
    )
    assert questions == [
        {"question": q.question, "relevant_ids": list(q.relevant_ids), "expected": q.expected}
        for q in generator.QUESTIONS
    ]
