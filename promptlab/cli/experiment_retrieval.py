"""The retrieval part of an experiment file: corpora and retrievers.

::

    corpora:                                 # optional: named corpora, each a file or folder
      handbook: data/handbook.jsonl          # inside this file's folder (id and text per line)
    retrievers:                              # optional: each one more axis of the sweep
      - {kind: bm25, corpus: handbook, k: 5}
      - {kind: embeddings, corpus: handbook, model: smollm2, k: 5, chunking: {by: words, size: 120, overlap: 20}}
      - {kind: hybrid, corpus: handbook, k: 5, parts: [{kind: bm25}, {kind: embeddings, model: smollm2}]}
      - {kind: bm25, corpus: handbook, k: 3, query: "{{ title }}: {{ question }}", name: bm25 titled}

A retriever's keys: ``kind`` (bm25, embeddings or hybrid), ``corpus`` (a
name under ``corpora``), ``k``, ``chunking`` (``by``, ``size``,
``overlap``), ``query`` (a column or a template; default ``query``, else
``question``), ``name`` (its label), ``model`` (embeddings: a model name or
mapping, held to the endpoints the running user allowed, like the file's
models), ``rrf_k`` and ``parts`` (hybrid: the retrievers fused, which take
the hybrid's corpus and chunking). A corpus path obeys the rule ``data``
does: inside the file's folder unless the user allows another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptlab.cli.strict_yaml import FileValues, shown
from promptlab.core.model import Model
from promptlab.errors import ConfigError, DataError
from promptlab.retrieval import retrievers
from promptlab.retrieval.chunking import Chunking
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.retrievers import RetrieverSpec

RETRIEVER_KEYS = ("kind", "corpus", "k", "chunking", "query", "name", "model", "rrf_k", "parts")
"""Keys of one entry of ``retrievers``."""

CHUNKING_KEYS = ("by", "size", "overlap")

PathCheck = Callable[[FileValues, Any, str, Sequence[Path]], Path]
"""How the experiment file resolves a path inside its folder (``experiment_file.inside``)."""

ModelCheck = Callable[[FileValues, Any, str], Model]
"""How the experiment file reads a model entry (``experiment_file._model``)."""


def read_corpora(check: FileValues, value: Any, allowed: Sequence[Path], inside: PathCheck) -> dict[str, Corpus]:
    """The ``corpora`` mapping: name → corpus, each loaded from its file or folder."""
    if not isinstance(value, Mapping) or not value:
        raise check.error(
            "corpora", f"must map names to files or folders, e.g. handbook: data/handbook.jsonl, got {shown(value)}"
        )
    found = {}
    for name, path in value.items():
        key = f"corpora.{name}"
        where = inside(check, path, key, allowed)
        try:
            found[str(name)] = Corpus(str(name), where)
        except (DataError, ConfigError) as exc:
            raise check.error(key, str(exc)) from exc
    return found


def read_retrievers(
    check: FileValues, value: Any, corpora: Mapping[str, Corpus], model_of: ModelCheck
) -> tuple[RetrieverSpec, ...]:
    """The ``retrievers`` list, each a ``RetrieverSpec``."""
    entries = check.items(value, "retrievers", "  - {kind: bm25, corpus: handbook, k: 5}")
    return tuple(_retriever(check, entry, f"retrievers[{i}]", corpora, model_of) for i, entry in enumerate(entries))


def _retriever(
    check: FileValues,
    entry: Any,
    key: str,
    corpora: Mapping[str, Corpus],
    model_of: ModelCheck,
    *,
    inherited: tuple[Corpus, Chunking | None] | None = None,
) -> RetrieverSpec:
    if not isinstance(entry, Mapping):
        raise check.error(key, f"must be a mapping such as {{kind: bm25, corpus: handbook, k: 5}}, got {shown(entry)}")
    check.keys(entry, RETRIEVER_KEYS, f"{key}.")
    kind = entry.get("kind")
    if kind not in ("bm25", "embeddings", "hybrid"):
        raise check.error(f"{key}.kind", f"must be bm25, embeddings or hybrid, got {shown(kind)}")
    if inherited is not None:
        corpus, chunking = inherited
    else:
        corpus, chunking = _corpus(check, entry, key, corpora), _chunking(check, entry.get("chunking"), key)
    k = check.integer(entry.get("k", retrievers.DEFAULT_K), f"{key}.k", 1)
    options: dict[str, Any] = {"query": entry.get("query"), "name": entry.get("name")}
    for option in ("query", "name"):
        if options[option] is not None:
            check.text(options[option], f"{key}.{option}", "question")
    try:
        if kind == "bm25":
            return retrievers.bm25(corpus, k, chunking=chunking, **options)
        if kind == "embeddings":
            if "model" not in entry:
                raise check.error(key, "an embeddings retriever needs a model, e.g. model: smollm2")
            model = model_of(check, entry["model"], f"{key}.model")
            return retrievers.embeddings(corpus, model, k, chunking=chunking, **options)
        parts = check.items(
            entry.get("parts"), f"{key}.parts", "  - {kind: bm25}\n  - {kind: embeddings, model: smollm2}"
        )
        fused = [
            _retriever(check, part, f"{key}.parts[{i}]", corpora, model_of, inherited=(corpus, chunking))
            for i, part in enumerate(parts)
        ]
        rrf_k = check.integer(entry.get("rrf_k", 60), f"{key}.rrf_k", 0)
        return retrievers.hybrid(fused, k, rrf_k=rrf_k, **options)
    except ConfigError as exc:
        raise check.error(key, str(exc)) from exc


def _corpus(check: FileValues, entry: Mapping[str, Any], key: str, corpora: Mapping[str, Corpus]) -> Corpus:
    name = entry.get("corpus")
    if name not in corpora:
        known = ", ".join(sorted(corpora)) or "none: add a corpora: section"
        raise check.error(f"{key}.corpus", f"names no corpus of this file ({shown(name)}); corpora: {known}")
    return corpora[str(name)]


def _chunking(check: FileValues, value: Any, key: str) -> Chunking | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise check.error(
            f"{key}.chunking", f"must be a mapping such as {{by: words, size: 200, overlap: 50}}, got {shown(value)}"
        )
    check.keys(value, CHUNKING_KEYS, f"{key}.chunking.")
    try:
        return Chunking(**{str(k): v for k, v in value.items()})
    except (ConfigError, TypeError) as exc:
        raise check.error(f"{key}.chunking", str(exc)) from exc
