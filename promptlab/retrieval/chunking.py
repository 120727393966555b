"""Chunking: cutting documents into the passages a retriever indexes and returns.

Sizes are counted in **words** (runs of non-space characters), not
characters or model tokens: a word count is close to proportional to both
BM25's terms and a model's tokens, never cuts a word in half, and needs no
tokenizer (which would tie the chunks to one model). A chunk's text is the
document's own text between its character offsets, whitespace included, so
``document.text[chunk.start:chunk.end] == chunk.text`` always.

Ways to cut (``Chunking.by``):

- ``"words"``: windows of ``size`` words, each starting ``size - overlap``
  words after the last; the last window ends at the document's last word.
- ``"paragraph"``: one chunk per paragraph (text between blank lines).
- ``"heading"``: one chunk per markdown section: from an ATX heading
  (``# ...`` to ``###### ...``) to the next, the text before the first heading
  its own chunk; ``#`` lines inside fenced code blocks are not headings.
  (Setext headings, underlined with ``===``, are not recognised.)
- ``"document"``: the whole document, one chunk.

With ``by="paragraph"`` or ``"heading"``, a ``size`` caps a chunk: a longer
paragraph or section is cut into word windows of ``size`` with ``overlap``.
Chunk ids are ``DOCID#N``, N counting from 0 within the document; a document
with no words has no chunks.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from promptlab.core.hashing import content_hash
from promptlab.errors import ConfigError
from promptlab.retrieval.corpus import Document

WAYS = ("words", "paragraph", "heading", "document")

DEFAULT_SIZE = 200
"""Words per chunk of ``by="words"`` when no size is given."""

_WORD = re.compile(r"\S+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_HEADING = re.compile(r"^[ ]{0,3}#{1,6}(?:[ \t]|$)", re.MULTILINE)
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})[^\n]*\n.*?(?:^[ ]{0,3}\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Chunking:
    """How documents are cut into chunks; ``key()`` names it in index caches."""

    by: Literal["words", "paragraph", "heading", "document"] = "words"
    """``words`` windows, one chunk per ``paragraph`` or markdown ``heading`` section, or the whole ``document``."""

    size: int | None = None
    """Words per chunk: the window for ``words`` (default 200), a cap for ``paragraph``/``heading``."""

    overlap: int = 0
    """Words a window shares with the one before it (less than ``size``)."""

    def __post_init__(self) -> None:
        if self.by not in WAYS:
            raise ConfigError(f"chunking by {self.by!r} isn't known; use one of {', '.join(WAYS)}")
        if self.by == "words" and self.size is None:
            object.__setattr__(self, "size", DEFAULT_SIZE)
        for name in ("size", "overlap"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigError(f"chunk {name} must be a whole number of words, not {value!r}")
        if self.by == "document" and (self.size is not None or self.overlap):
            raise ConfigError("by='document' keeps whole documents: give no size or overlap, or chunk by 'words'")
        if self.size is None and self.overlap:
            raise ConfigError(f"an overlap needs a size: Chunking(by={self.by!r}, size=..., overlap={self.overlap})")
        if self.size is not None and not 0 <= self.overlap < self.size:
            raise ConfigError(f"overlap ({self.overlap}) must be less than size ({self.size}) and at least 0")

    def settings(self) -> dict[str, Any]:
        """The settings as plain values, for recording."""
        return asdict(self)

    def key(self) -> str:
        """A stable hash of the settings (12 hex characters), the same in every process."""
        return content_hash(self.settings(), 12)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: what an index holds and a search returns."""

    id: str
    """``DOCID#N``: the document's id and the chunk's number in it, from 0."""

    doc_id: str
    """The id of the document it was cut from."""

    text: str
    """The document's text from ``start`` to ``end``."""

    start: int
    """Offset of its first character in the document's text."""

    end: int
    """Offset just past its last character."""


def word_windows(text: str, size: int, overlap: int, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) character spans of windows of ``size`` words of ``text``, shifted by ``offset``."""
    if len(text.split()) <= size:  # one window: str.split finds the same words, ~8x faster than the regex
        whole = _trimmed(text, 0, len(text))
        return [(offset + whole[0], offset + whole[1])] if whole else []
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    spans, step, first = [], size - overlap, 0
    while first < len(words):
        last = min(first + size, len(words)) - 1
        spans.append((offset + words[first][0], offset + words[last][1]))
        if last == len(words) - 1:
            break
        first += step
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without its surrounding whitespace, or None if nothing is left."""
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return None
    lead = len(piece) - len(piece.lstrip())
    return start + lead, start + lead + len(stripped)


def _paragraphs(text: str) -> list[tuple[int, int]]:
    starts = [0, *(m.end() for m in _PARAGRAPH_BREAK.finditer(text))]
    ends = [*(m.start() for m in _PARAGRAPH_BREAK.finditer(text)), len(text)]
    return [span for s, e in zip(starts, ends, strict=True) if (span := _trimmed(text, s, e))]


def _sections(text: str) -> list[tuple[int, int]]:
    fences = [(m.start(), m.end()) for m in _FENCE.finditer(text)]
    headings = [m.start() for m in _HEADING.finditer(text) if not any(s <= m.start() < e for s, e in fences)]
    bounds = [0, *(h for h in headings if h > 0), len(text)]
    return [span for s, e in itertools.pairwise(bounds) if (span := _trimmed(text, s, e))]


def _whole(text: str) -> list[tuple[int, int]]:
    span = _trimmed(text, 0, len(text))
    return [span] if span else []


_PIECES: dict[str, Callable[[str], list[tuple[int, int]]]] = {
    "paragraph": _paragraphs,
    "heading": _sections,
    "document": _whole,
}


def spans(text: str, chunking: Chunking) -> list[tuple[int, int]]:
    """(start, end) character spans of ``text``'s chunks, in order."""
    if chunking.by == "words":
        assert chunking.size is not None  # set in __post_init__
        return word_windows(text, chunking.size, chunking.overlap)
    found = _PIECES[chunking.by](text)
    if chunking.size is None:
        return found
    return [w for s, e in found for w in word_windows(text[s:e], chunking.size, chunking.overlap, offset=s)]


def chunk_document(document: Document, chunking: Chunking) -> list[Chunk]:
    """The chunks of one document."""
    return [
        Chunk(f"{document.id}#{n}", document.id, document.text[start:end], start, end)
        for n, (start, end) in enumerate(spans(document.text, chunking))
    ]


def chunk_documents(documents: Iterable[Document], chunking: Chunking) -> list[Chunk]:
    """The chunks of every document, document by document."""
    return [chunk for document in documents for chunk in chunk_document(document, chunking)]
