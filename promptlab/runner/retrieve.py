"""A sweep's retrievers searched for every row before any model is called.

Each retriever is an axis of the grid: for each row it gives a ``Context``
(``promptlab.core.grid``), the passages the prompt is rendered with and what
the trial records of the search. Searches are cached beside the history by
(retriever settings, which name the corpus version, and query) in one
append-only file per retriever, shared by every process: a sweep run again,
resumed or estimated searches nothing it searched before, and an index is
opened only when a query is new. A search is deterministic (ties are ranked
in corpus order), so a cached result is the one searching again would give.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptlab.core.grid import Context
from promptlab.core.hashing import content_hash
from promptlab.core.model import Model
from promptlab.errors import ConfigError
from promptlab.retrieval.protocol import Hit
from promptlab.retrieval.retrievers import RetrieverSpec

SEARCHES = "searches"
"""The folder of the search cache, under the retrieval cache folder."""


BeforeSearch = Callable[[Sequence[Mapping[str, Any]], Sequence[Model]], Sequence[Mapping[str, Any]]]
"""Called with the rows and the models the retrievers send queries to (an
embeddings endpoint) before any search; returns the rows to take queries from.
The Lab's refuses rows the policy keeps from those endpoints and redacts what
it says is redacted before a call (``lab_privacy.cleared_search``)."""


def retrieve(
    specs: Sequence[RetrieverSpec],
    rows: Sequence[Mapping[str, Any]],
    cache_dir: Path,
    before_search: BeforeSearch | None = None,
) -> tuple[tuple[Context, ...], ...]:
    """For each retriever, the context it finds for each row (``contexts[i][r]``);
    ``before_search`` sees the rows first when a retriever would send them to a model."""
    check_retrievers(specs)
    called = [model for spec in specs for model in spec.models()]
    searched = before_search(rows, called) if before_search is not None and called else rows
    return tuple(_contexts(spec, searched, Path(cache_dir)) for spec in specs)


def check_retrievers(specs: Sequence[Any]) -> None:
    """Refuse what isn't a retriever, and two retrievers with one label (their trials couldn't be told apart)."""
    for spec in specs:
        if not isinstance(spec, RetrieverSpec):
            raise ConfigError(
                f"retrievers= takes pl.retrievers.bm25(corpus), .embeddings(...) or .hybrid([...]), "
                f"not {type(spec).__name__}"
            )
    labels = [spec.label for spec in specs]
    if twice := sorted({label for label in labels if labels.count(label) > 1}):
        raise ConfigError(
            f"two retrievers are both called {twice[0]!r}; give each its own name=, e.g. "
            "pl.retrievers.bm25(corpus, k=5, name='bm25 small chunks')"
        )


def _contexts(spec: RetrieverSpec, rows: Sequence[Mapping[str, Any]], cache_dir: Path) -> tuple[Context, ...]:
    queries = [spec.query_for(row, index) for index, row in enumerate(rows)]
    cache = cache_dir / SEARCHES / f"{spec.key()}.jsonl"
    found = _cached(cache)
    new = [query for query in dict.fromkeys(queries) if query not in found]
    if new:
        retriever = spec.open(cache_dir)
        searched = {query: [_hit_row(hit) for hit in retriever.search(query, spec.k)] for query in new}
        _remember(cache, searched)
        found.update(searched)
    settings = spec.settings()
    key = content_hash([spec.key(), spec.query], 16)
    record = {"retriever": spec.label, "corpus": spec.corpus.name, "corpus_version": spec.corpus.version}
    return tuple(
        Context(
            retriever=spec.label,
            key=key,
            variables=_variables(found[query]),
            record={**record, "query": query, "k": spec.k, "settings": settings, "hits": found[query]},
        )
        for query in queries
    )


def _hit_row(hit: Hit) -> dict[str, Any]:
    return {
        "chunk_id": hit.chunk_id,
        "doc_id": hit.doc_id,
        "score": float(hit.score),
        "rank": hit.rank,
        "text": hit.text,
    }


def _variables(hits: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``context``: the passages numbered by rank, one paragraph each; ``passages``: each as a dict."""
    passages = [{"id": h["chunk_id"], **h} for h in hits]
    return {"context": "\n\n".join(f"[{h['rank']}] {h['text']}" for h in hits), "passages": passages}


def _cached(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The searches recorded in ``path``; a line cut short by a process that died is skipped."""
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return found
    for line in lines:
        try:
            entry = json.loads(line)
            found[entry["query"]] = entry["hits"]
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _remember(path: Path, searched: Mapping[str, list[dict[str, Any]]]) -> None:
    """Append the new searches in one write, so processes adding at once never interleave within a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps({"query": q, "hits": hits}, ensure_ascii=False) + "\n" for q, hits in searched.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
