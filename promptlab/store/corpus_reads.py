"""Read queries about the corpora sweeps searched (``promptlab.retrieval``)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from promptlab.store.reads import Source


def known_corpora(store: Source, versions: Sequence[str]) -> set[str]:
    """Which of ``versions`` the history already holds the documents of."""
    if not versions:
        return set()
    frame = store.query(
        "SELECT DISTINCT corpus_version FROM corpus_documents WHERE corpus_version IN (SELECT unnest(?))",
        [list(versions)],
    )
    return set(frame["corpus_version"])


def corpora(store: Source) -> pd.DataFrame:
    """Every corpus searched, newest first: version, name, documents, characters, when and by whom."""
    return store.query(
        "SELECT corpus_version, name, documents, characters, created_at, created_by FROM corpora "
        "ORDER BY created_at DESC, corpus_version"
    )


def corpus_documents(store: Source, version: str) -> pd.DataFrame:
    """The documents of corpus ``version`` (id, text, metadata), in id order."""
    return store.query(
        "SELECT doc_id AS id, text, metadata FROM corpus_documents WHERE corpus_version = ? ORDER BY doc_id",
        [version],
    )
