"""A retriever that sends queries to a model (embeddings) is held to the data
tiers like the sweep's own calls: a restricted row's query never reaches an
endpoint not cleared for it, and is redacted first where the policy says."""

from __future__ import annotations

from pathlib import Path

import pytest

import promptlab as pl
from promptlab.errors import PrivacyError
from promptlab.runner.progress import NullDisplay
from promptlab.testing import StubServer, fake_model

DOCS = [
    {"id": "plan", "text": "The quarterly plan is due in March."},
    {"id": "offsite", "text": "The offsite is in May."},
]
ROWS = [
    {"question": "when is the quarterly plan due?"},
    {"question": "what did Mrs Jones ask about account 4417?", "tier": "restricted"},
]
PROMPT = pl.Prompt("{{ context }}\n{{ question }}", name="rag")


@pytest.fixture(autouse=True)
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stub_server: StubServer) -> None:
    monkeypatch.chdir(tmp_path)
    host = stub_server.url.split("//")[1].split("/")[0]
    (tmp_path / "promptlab.toml").write_text(
        f'[privacy]\ndefault = "internal"\n\n[privacy.endpoints]\n"{host}" = "internal"\n', encoding="utf-8"
    )


def test_a_restricted_query_is_refused_before_any_search(
    lab: pl.Lab, stub_server: StubServer, quiet: NullDisplay
) -> None:
    corpus = pl.Corpus("notes", DOCS)
    remote = pl.Model("stub-embedder", base_url=stub_server.url)
    retriever = pl.retrievers.embeddings(corpus, remote, k=1)
    with pytest.raises(PrivacyError, match="restricted"):
        lab.sweep(PROMPT, fake_model(), ROWS, retrievers=[retriever], display=quiet)
    assert stub_server.requests == 0
    assert not (lab.path.parent / f"{lab.path.name}.retrieval").exists()  # nothing searched, nothing indexed
    assert lab.trials().empty
    refused = lab.privacy_log()
    assert refused["action"].tolist() == ["refuse"] and refused["model"].tolist() == ["stub-embedder"]


def test_a_local_retriever_needs_no_clearance(lab: pl.Lab, quiet: NullDisplay) -> None:
    run = lab.sweep(
        PROMPT, fake_model(), ROWS, retrievers=[pl.retrievers.bm25(pl.Corpus("notes", DOCS))], display=quiet
    )
    assert run.df.sort_values("row_index")["tier"].tolist() == ["internal", "restricted"]


def test_searching_without_a_sweep_is_held_to_the_tiers_too(lab: pl.Lab, stub_server: StubServer) -> None:
    remote = pl.Model("stub-embedder", base_url=stub_server.url)
    with pytest.raises(PrivacyError, match="restricted"):
        lab.search(pl.retrievers.embeddings(pl.Corpus("notes", DOCS), remote, k=1), ROWS)
    assert stub_server.requests == 0
