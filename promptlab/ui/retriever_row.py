"""One retriever of the builder's Retrieval step: its kind (BM25, embeddings,
or both fused), the embeddings model, k, how the corpus is cut and an optional
name, made into a ``pl.retrievers`` spec (``RetrieverRow.spec``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.model import Model
from promptlab.errors import ConfigError
from promptlab.retrieval import retrievers
from promptlab.retrieval.chunking import DEFAULT_SIZE, WAYS, Chunking
from promptlab.retrieval.corpus import Corpus
from promptlab.retrieval.retrievers import DEFAULT_K, RetrieverSpec
from promptlab.ui.common import FITS, button

KINDS = (("BM25 (words)", "bm25"), ("embeddings", "embeddings"), ("hybrid: BM25 + embeddings", "hybrid"))
"""The retrievers offered, by what they are called here."""


@functools.cache
def _any_corpus() -> Corpus:
    """A corpus to make a spec with for its label alone: a label never names its corpus."""
    return Corpus("any", ["any"])


class RetrieverRow(widgets.HBox):
    """One retriever: its kind, the embeddings model (embeddings, hybrid), k, how the corpus is cut
    and a name for the grid (blank: made from the rest, ``bm25 k=5``)."""

    def __init__(self, on_change: Callable[[], None], on_remove: Callable[[RetrieverRow], None]) -> None:
        self.on_change = on_change
        self._quiet = False
        self.kind = widgets.Dropdown(options=KINDS, value="bm25", layout={"width": "210px"})
        self.model = widgets.Dropdown(description="model", options=[], style=FITS, layout={"width": "260px"})
        self.k = widgets.IntText(value=DEFAULT_K, description="k", style=FITS, layout={"width": "90px"})
        self.by = widgets.Dropdown(description="chunks by", options=WAYS, style=FITS, layout={"width": "190px"})
        self.size = widgets.Text(
            value=str(DEFAULT_SIZE), description="size", placeholder="words", style=FITS, layout={"width": "120px"}
        )
        self.overlap = widgets.IntText(value=0, description="overlap", style=FITS, layout={"width": "120px"})
        self.name = widgets.Text(placeholder="name (optional)", continuous_update=False, layout={"width": "160px"})
        self.remove = button("×", "remove this retriever", width="32px")
        self.remove.on_click(lambda _: on_remove(self))
        for control in (self.kind, self.model, self.k, self.by, self.size, self.overlap, self.name):
            control.observe(self._changed, "value")
        self._show_fields()
        controls = [self.kind, self.model, self.k, self.by, self.size, self.overlap, self.name, self.remove]
        super().__init__(controls, layout={"flex_flow": "row wrap"})

    def _changed(self, _: Any = None) -> None:
        if not self._quiet:
            self._show_fields()
            self.on_change()

    def _show_fields(self) -> None:
        self.model.layout.display = None if self.kind.value != "bm25" else "none"
        whole = self.by.value == "document"
        self.size.layout.display = self.overlap.layout.display = "none" if whole else None

    def offer(self, models: Sequence[Model]) -> None:
        """Offer these embeddings models (the one chosen stays chosen when offered)."""
        options = [(model.label, model) for model in models]
        if list(self.model.options) != options:
            self._quiet = True
            try:
                chosen = self.model.value
                self.model.options = options
                self.model.value = chosen if chosen in models else (models[0] if models else None)
            finally:
                self._quiet = False

    def chunking(self) -> Chunking:
        """How this retriever cuts the corpus (raises ConfigError)."""
        if self.by.value == "document":
            return Chunking(by="document")
        size = self.size.value.strip()
        if size and not size.isdigit():
            raise ConfigError(f"chunk size: {size!r} is not a whole number of words, e.g. {DEFAULT_SIZE}")
        return Chunking(by=self.by.value, size=int(size) if size else None, overlap=int(self.overlap.value))

    def spec(self, corpus: Corpus, query: str | None) -> RetrieverSpec:
        """The ``pl.retrievers`` spec of this row (raises ConfigError or DataError)."""
        k, cut, name = int(self.k.value), self.chunking(), self.name.value.strip() or None
        if self.kind.value == "bm25":
            return retrievers.bm25(corpus, k, chunking=cut, query=query, name=name)
        if self.model.value is None:
            raise ConfigError("no model offered can embed: add an embeddings model above (e.g. text-embedding-3-small)")
        if self.kind.value == "embeddings":
            return retrievers.embeddings(corpus, self.model.value, k, chunking=cut, query=query, name=name)
        parts = [
            retrievers.bm25(corpus, k, chunking=cut),
            retrievers.embeddings(corpus, self.model.value, k, chunking=cut),
        ]
        return retrievers.hybrid(parts, k, query=query, name=name)

    def restore(self, recorded: Mapping[str, Any]) -> None:
        """Show a retriever as a run's config recorded it (``RetrieverSpec.to_dict()``)."""
        parts = recorded.get("parts") or []
        described = recorded.get("model") or next((p["model"] for p in parts if p.get("model")), None)
        cut: Mapping[str, Any] = recorded.get("chunking") or next((p["chunking"] for p in parts if "chunking" in p), {})
        if described:
            model = Model.from_dict(described)
            self.offer([*(value for _, value in self.model.options if value != model), model])
            self.model.value = model
        self.kind.value = recorded.get("retriever", "bm25")
        self.k.value = int(recorded.get("k") or DEFAULT_K)
        self.by.value = cut.get("by", "words")
        self.size.value = "" if cut.get("size") is None else str(cut["size"])
        self.overlap.value = int(cut.get("overlap") or 0)
        self.name.value = ""
        try:  # named only if it was: a name made from the settings would outlive a change of them
            made = self.spec(_any_corpus(), None).label
        except ConfigError:
            made = None
        self.name.value = "" if recorded.get("label") in (None, made) else str(recorded["label"])
