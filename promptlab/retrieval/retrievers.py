"""Retrievers as a sweep axis: ``pl.retrievers.bm25(corpus, k=5)`` and its kin.

Each function returns a ``RetrieverSpec``: data saying how passages are found
for a row (which corpus, which retriever and settings, how many, from which
query), not an open index. The sweep opens each spec once (``open``), from
the index cache beside the history, and searches it for every row::

    handbook = pl.Corpus("handbook", "docs/")
    lab.sweep(prompt, model, "questions.csv", retrievers=[
        pl.retrievers.bm25(handbook, k=5),
        pl.retrievers.embeddings(handbook, pl.Model("smollm2"), k=5),
        pl.retrievers.hybrid([pl.retrievers.bm25(handbook), pl.retrievers.embeddings(handbook, model)], k=5),
    ])

The prompt uses ``{{ context }}`` (the passages, numbered) or loops over
``{{ passages }}``. The query is the row's ``query`` column (else its
``question``), another column named by ``query=``, or a template over the
row's columns (``query="{{ title }}: {{ body }}"``), rendered in the same
sandbox as prompts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from promptlab.core.hashing import content_hash
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.errors import ConfigError, DataError, TemplateError
from promptlab.retrieval.bm25 import BM25Params
from promptlab.retrieval.chunking import Chunking
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.protocol import Retriever

QUERY_COLUMNS = ("query", "question")
"""Where a row's query is read from when ``query=`` isn't given, in this order."""

DEFAULT_K = 5
"""Passages a search returns when ``k`` isn't given."""

Kind = Literal["bm25", "embeddings", "hybrid"]


@dataclass(frozen=True)
class RetrieverSpec:
    """How a sweep finds the passages for each row; made by ``bm25``, ``embeddings`` or ``hybrid``."""

    kind: Kind
    """Which retriever."""

    corpus: Corpus
    """The corpus searched (for ``hybrid``, its parts')."""

    k: int = DEFAULT_K
    """Passages per search, at most."""

    chunking: Chunking = field(default_factory=Chunking)
    """How the corpus's documents are cut into passages."""

    query: str | None = None
    """The column the query is read from, or a template over the row; None: ``query``, else ``question``."""

    name: str | None = None
    """The label in tables and plots; default: made from the kind, model, ``k`` and chunking."""

    bm25: BM25Params | None = None
    """BM25's parameters (``bm25`` only)."""

    model: Model | None = None
    """The embeddings model (``embeddings`` only)."""

    parts: tuple[RetrieverSpec, ...] = ()
    """The retrievers fused (``hybrid`` only)."""

    rrf_k: int = 60
    """Reciprocal rank fusion's constant (``hybrid`` only): higher flattens the ranks' weights."""

    @property
    def label(self) -> str:
        """The name shown for this retriever: ``name``, else e.g. ``bm25 k=5``."""
        if self.name:
            return self.name
        kind: str = self.kind
        if self.model is not None:
            kind = f"embeddings({self.model.name})"
        elif self.parts:
            kind = "hybrid(" + "+".join(part.label.split(" k=")[0] for part in self.parts) + ")"
        cut = "" if self.chunking == Chunking() or self.parts else f" {_described(self.chunking)}"
        return f"{kind} k={self.k}{cut}"

    def settings(self) -> dict[str, Any]:
        """Everything that decides the passages found, as plain values: recorded with
        each trial and hashed into the retrieval cache's keys (no secret: a model's key never is)."""
        settings: dict[str, Any] = {
            "retriever": self.kind,
            "corpus": self.corpus.name,
            "corpus_version": self.corpus.version,
            "k": self.k,
        }
        if self.parts:
            settings["rrf_k"] = self.rrf_k
            settings["parts"] = [{**part.settings(), "k": None} for part in self.parts]
            return settings
        settings["chunking"] = self.chunking.settings()
        if self.bm25 is not None:
            settings["bm25"] = self.bm25.settings()
        if self.model is not None:
            settings["model"] = self.model.identity()
        return settings

    def models(self) -> tuple[Model, ...]:
        """The models its searches send queries to (an embeddings retriever's; none for BM25)."""
        own = (self.model,) if self.model is not None else ()
        return own + tuple(model for part in self.parts for model in part.models())

    def key(self) -> str:
        """A stable hash of ``settings()`` but the corpus's name, a label like a
        prompt's (16 hex characters): the same documents searched the same way
        share their cached searches whatever the corpus is called."""
        return content_hash(_unnamed(self.settings()), 16)

    def to_dict(self) -> dict[str, Any]:
        """What a run's config records of it: its label, settings and query."""
        return {"label": self.label, "query": self.query, **self.settings()}

    def query_for(self, row: Mapping[str, Any], index: int) -> str:
        """The query for input row number ``index``."""
        source = self.query
        if source is not None and ("{{" in source or "{%" in source):
            try:
                return Prompt(source, name=f"query of {self.label}").render(row)[0]["content"]
            except TemplateError as exc:
                raise TemplateError(f"row {index}: {exc}") from exc
        columns = [source] if source is not None else [c for c in QUERY_COLUMNS if c in row][:1]
        if not columns or columns[0] not in row:
            wanted = repr(source) if source is not None else "'query' or 'question'"
            raise DataError(
                f"retriever {self.label!r} reads its query from the {wanted} column, but row {index} has none "
                f"(row has: {', '.join(sorted(row)) or 'no columns'}); name the column with query='...' "
                "or give a template, query='{{ title }}: {{ body }}'"
            )
        value = row[columns[0]]
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"row {index}: the query in column {columns[0]!r} is empty; give every row a query")
        return value

    def open(self, cache_dir: Path) -> Retriever:
        """The retriever itself, its index loaded from ``cache_dir`` (built there first if no process has)."""
        if self.kind == "bm25":
            from promptlab.retrieval.bm25 import open_bm25

            return open_bm25(self.corpus, cache_dir, self.chunking, self.bm25)
        if self.kind == "embeddings":
            from promptlab.retrieval.embeddings import open_embeddings

            assert self.model is not None  # made by embeddings()
            return open_embeddings(self.corpus, cache_dir, self.chunking, model=self.model)
        from promptlab.retrieval.hybrid import HybridRetriever

        return HybridRetriever([part.open(cache_dir) for part in self.parts], rrf_k=self.rrf_k)


def _unnamed(settings: dict[str, Any]) -> dict[str, Any]:
    parts = [_unnamed(part) for part in settings.get("parts", ())]
    return {key: value for key, value in settings.items() if key != "corpus"} | ({"parts": parts} if parts else {})


def _described(chunking: Chunking) -> str:
    if chunking.by == "document":
        return "whole documents"
    size = f" ≤{chunking.size}" if chunking.size is not None else ""
    overlap = f"+{chunking.overlap}" if chunking.overlap else ""
    return f"{chunking.by}{size}{overlap}"


def _checked(corpus: Corpus, k: int, chunking: Chunking | None, query: str | None) -> Chunking:
    if not isinstance(corpus, Corpus):
        raise ConfigError(
            f"a retriever searches a pl.Corpus, not {type(corpus).__name__}: pl.Corpus('name', documents)"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k is how many passages a search returns: a whole number ≥ 1, not {k!r}")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise ConfigError("query= names the column the query is in, or is a template like '{{ question }}'")
    if chunking is not None and not isinstance(chunking, Chunking):
        raise ConfigError("chunking= takes pl.Chunking(by='words', size=200, overlap=50) (or by 'paragraph', ...)")
    return chunking or Chunking()


def bm25(
    corpus: Corpus,
    k: int = DEFAULT_K,
    *,
    chunking: Chunking | None = None,
    query: str | None = None,
    name: str | None = None,
    params: BM25Params | None = None,
) -> RetrieverSpec:
    """Lexical search with BM25 (the ``retrieval`` extra: ``pip install 'promptlab[retrieval]'``)."""
    cut = _checked(corpus, k, chunking, query)
    return RetrieverSpec("bm25", corpus, k, cut, query, name, bm25=params or BM25Params())


def embeddings(
    corpus: Corpus,
    model: Model | str,
    k: int = DEFAULT_K,
    *,
    chunking: Chunking | None = None,
    query: str | None = None,
    name: str | None = None,
) -> RetrieverSpec:
    """Semantic search: passages and queries embedded by ``model``, any OpenAI-compatible
    embeddings endpoint (``pl.Model("text-embedding-3-small")``) or the embedded model
    (``pl.Model("smollm2")``), ranked by cosine similarity."""
    cut = _checked(corpus, k, chunking, query)
    chosen = Model(model) if isinstance(model, str) else model
    if not isinstance(chosen, Model):
        raise ConfigError(f"an embeddings retriever needs a pl.Model (or its name), not {type(model).__name__}")
    return RetrieverSpec("embeddings", corpus, k, cut, query, name, model=chosen)


def hybrid(
    retrievers: Sequence[RetrieverSpec],
    k: int = DEFAULT_K,
    *,
    rrf_k: int = 60,
    query: str | None = None,
    name: str | None = None,
) -> RetrieverSpec:
    """Several retrievers' rankings fused by reciprocal rank fusion (each passage
    scores the sum of 1 / (``rrf_k`` + its rank) over the rankings it is in)."""
    parts = tuple(retrievers)
    if len(parts) < 2 or not all(isinstance(part, RetrieverSpec) for part in parts):
        raise ConfigError("hybrid fuses two or more retrievers: hybrid([bm25(corpus), embeddings(corpus, model)])")
    if len({(part.corpus.version, part.chunking) for part in parts}) > 1:
        raise ConfigError(
            "hybrid's retrievers must search the same corpus cut the same way, so their passages are the same; "
            "give them the same corpus and chunking"
        )
    if isinstance(rrf_k, bool) or not isinstance(rrf_k, int) or rrf_k < 0:
        raise ConfigError(f"rrf_k must be a whole number ≥ 0 (60 is usual), not {rrf_k!r}")
    cut = _checked(parts[0].corpus, k, parts[0].chunking, query)
    return RetrieverSpec("hybrid", parts[0].corpus, k, cut, query, name, parts=parts, rrf_k=rrf_k)
