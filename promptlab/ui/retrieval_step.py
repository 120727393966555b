"""The builder's Retrieval step, optional: a corpus, one or more retrievers and
the column each row's query is read from. Its values become the sweep's
``retrievers=[...]`` (``pl.retrievers.bm25`` / ``embeddings`` / ``hybrid``),
each one more axis of the grid; the prompts then use ``{{ context }}`` or
``{{ passages }}``. With no retriever added the step is off.

The corpus is loaded (and its version hashed) once per version of its file or
folder, not on every keystroke: ``load_corpus`` caches by path, size and time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.grid import CONTEXT_VARIABLES
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.errors import ConfigError, DataError, PromptlabError
from promptlab.providers.embedder import PROVIDERS
from promptlab.retrieval.corpus import TEXT_SUFFIXES, Corpus
from promptlab.retrieval.retrievers import QUERY_COLUMNS, RetrieverSpec
from promptlab.ui.arguments import data_files
from promptlab.ui.common import FITS, button, error_label, muted, replace_children, show_error
from promptlab.ui.retriever_row import RetrieverRow


def corpus_choices(root: Path | None = None) -> list[str]:
    """What the corpus field offers: data files under ``experiments/`` and the folders
    there holding .txt/.md files, as paths relative to ``root`` (default: the working directory)."""
    base = root or Path.cwd()
    folder = base / "experiments"
    if not folder.is_dir():
        return []
    texts = {p.parent for p in folder.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES and p.is_file()}
    return sorted([*data_files(base), *(str(p.relative_to(base)) for p in texts)])


@functools.lru_cache(maxsize=8)
def _corpus(path: str, signature: tuple[Any, ...]) -> Corpus:
    return Corpus(Path(path).stem or Path(path).name, path)


def load_corpus(path: str) -> Corpus:
    """The corpus in a file or folder, named after it; read again only when it changed. Raises DataError."""
    where = Path(path)
    if not path.strip() or not where.exists():
        raise DataError(f"corpus {path!r} does not exist (working directory: {Path.cwd()}); pick a file or folder")
    files = sorted(p for p in where.rglob("*") if p.is_file()) if where.is_dir() else [where]
    signature = tuple((str(p), (s := os.stat(p)).st_mtime_ns, s.st_size) for p in files)
    return _corpus(str(where), signature)


class RetrievalStep(widgets.VBox):
    """The corpus, the retrievers and the query column; ``retrievers()`` is what the sweep gets.

    ``models`` gives the models the builder offers: those that can embed
    (``promptlab.providers.embedder.PROVIDERS``) are the embeddings models offered here.
    """

    def __init__(
        self, on_change: Callable[[], None] | None = None, models: Callable[[], Sequence[Model]] = lambda: ()
    ) -> None:
        self.on_change = on_change
        self.models = models
        self.wanted = ""
        """The corpus a loaded run searched, named in the message asking for it."""
        self.corpus = widgets.Combobox(
            description="corpus",
            placeholder="a .jsonl/.csv file with id and text, or a folder of .txt/.md files",
            options=corpus_choices(),
            ensure_option=False,
            continuous_update=False,
            style=FITS,
            layout={"width": "520px"},
        )
        self.rescan_button = button("Rescan", "look again for files and folders under experiments/")
        self.about = widgets.HTML()
        self.query = widgets.Text(
            description="query column",
            placeholder="blank: query, else question; or a template, {{ title }}: {{ body }}",
            continuous_update=False,
            style=FITS,
            layout={"width": "520px"},
        )
        self.rows = widgets.VBox()
        self.add_button = button("+ retriever", "search the corpus for each row: each retriever is one more axis")
        self.error = error_label()
        self.settings = widgets.VBox([widgets.HBox([self.corpus, self.rescan_button]), self.about, self.query])
        self.add_button.on_click(lambda _: self.add())
        self.rescan_button.on_click(lambda _: self.rescan())
        for control in (self.corpus, self.query):
            control.observe(self._changed, "value")
        self._show_settings()
        hint = muted("optional: prompts then use {{ context }} (the passages, numbered) or {{ passages }}")
        super().__init__([widgets.HTML(hint), self.settings, self.rows, self.add_button, self.error])

    def _changed(self, _: Any = None) -> None:
        if self.on_change is not None:
            self.on_change()

    def _show_settings(self) -> None:
        self.settings.layout.display = None if self.rows.children else "none"

    def rescan(self) -> None:
        """Look again for corpus files and folders under ``experiments/``."""
        self.corpus.options = corpus_choices()

    @property
    def active(self) -> bool:
        """Whether any retriever is added (else the sweep has none)."""
        return bool(self.rows.children)

    def embeds(self) -> bool:
        """Whether a retriever calls an embeddings model (planning the sweep embeds the corpus)."""
        return any(row.kind.value != "bm25" for row in self.rows.children)

    def add(self, recorded: Mapping[str, Any] | None = None) -> RetrieverRow:
        """Add a retriever (BM25, k=5, unless ``recorded`` says otherwise)."""
        row = RetrieverRow(self._changed, self._remove)
        row.offer(self._embedding_models())
        if recorded:
            row.restore(recorded)
        self.rows.children = [*self.rows.children, row]
        self._show_settings()
        self._changed()
        return row

    def _remove(self, row: RetrieverRow) -> None:
        replace_children(self.rows, [r for r in self.rows.children if r is not row])
        self._show_settings()
        self._changed()

    def restore(self, recorded: Sequence[Mapping[str, Any]]) -> None:
        """Show the retrievers a run's config recorded; their corpus must be picked again."""
        replace_children(self.rows, [])
        self._show_settings()
        for described in recorded:
            self.add(described)
        first = recorded[0] if recorded else {}
        self.query.value = str(first.get("query") or "")
        self.wanted = f"{first.get('corpus')} (version {first.get('corpus_version')})" if first else ""

    def _embedding_models(self) -> list[Model]:
        return [model for model in self.models() if model.provider in PROVIDERS]

    def prompt_columns(self, columns: Sequence[str]) -> list[str]:
        """What the prompts may use: the data's ``columns``, and what the retrievers add."""
        return [*columns, *sorted(CONTEXT_VARIABLES - set(columns))] if self.active else list(columns)

    def load_corpus(self) -> Corpus:
        """The corpus picked (raises DataError)."""
        if not self.corpus.value.strip():
            again = f" (the run searched {self.wanted})" if self.wanted else ""
            raise DataError(f"pick a corpus{again}: a .jsonl or .csv file with id and text, or a folder")
        return load_corpus(self.corpus.value.strip())

    def retrievers(self) -> list[RetrieverSpec]:
        """The sweep's retrievers, in order (none when the step is off). Raises a
        PromptlabError naming the retriever that can't be made."""
        if not self.active:
            return []
        corpus, query = self.load_corpus(), self.query.value.strip() or None
        made = []
        for i, row in enumerate(self.rows.children, start=1):
            try:
                made.append(row.spec(corpus, query))
            except ConfigError as exc:
                raise ConfigError(f"retriever {i}: {exc}") from exc
        labels = [spec.label for spec in made]
        if twice := [label for i, label in enumerate(labels) if label in labels[:i]]:
            raise ConfigError(f"two retrievers are both {twice[0]!r}: change one's k, chunking or name, or remove it")
        return made

    def check(self, columns: Sequence[str] | None, *, show: bool = True) -> str | None:
        """What stops the retrievers from searching these data ``columns`` (None: data
        unknown), shown under the step unless ``show=False``; None when nothing."""
        for row in self.rows.children:
            row.offer(self._embedding_models())
        problem = None
        try:
            found = self.retrievers()
        except PromptlabError as exc:
            problem, found = str(exc), []
        corpus = found[0].corpus if found else None
        self.about.value = muted(f"{len(corpus)} documents · version {corpus.version}") if corpus else ""
        if problem is None and found and columns is not None:
            problem = query_problem(self.query.value.strip(), columns)
        show_error(self.error, problem if show else None)
        return problem


def query_problem(query: str, columns: Sequence[str]) -> str | None:
    """Why rows with these ``columns`` have no query for ``query`` (a column, a template
    or blank for ``query``/``question``), or None."""
    have = ", ".join(columns) or "no columns"
    if not query:
        if any(column in columns for column in QUERY_COLUMNS):
            return None
        return f"the data has no query or question column (columns: {have}): name the query column"
    if "{{" in query or "{%" in query:
        try:
            missing = sorted(Prompt(query, name="query").variables - set(columns))
        except PromptlabError as exc:
            return f"query template: {exc}"
        return f"the query uses {{{{ {missing[0]} }}}}, which is not a column (columns: {have})" if missing else None
    return None if query in columns else f"query column {query!r} is not in the data (columns: {have})"
