"""What a retriever found for a trial, shown with its answer: the query, each
passage (rank, document, score, text), the answer's words marked where a
passage has them, and the passages marked where they sit in the prompt as sent.

Passages come from a corpus nobody here wrote: every piece of text is escaped
(``html.escape``) before the marks, which are the only tags added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptlab.ui.common import MONO, MUTED, escape, messages_text

ANSWER_MARK = "background:#fff3b0"
"""How the answer's words look in a passage."""

PASSAGE_MARK = "background:#dcecff"
"""How a passage looks in the prompt as sent."""

SHORTEST_WORD = 4
"""Answer words shorter than this are not marked ("the", "is", "of" would mark everything)."""

_COMMON = (
    "about also been from have into just like more only other over some such than that their them then "
    "there these they this very were what when where which while will with would your"
)
COMMON_WORDS = frozenset(_COMMON.split())
"""Words long enough to be marked that say nothing about where an answer came from."""

_WORD = re.compile(r"\w+")


def retrieval_of(trial: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The trial's ``retrieval`` (query, hits, ...) when it used a retriever, else None."""
    found = trial.get("retrieval")
    return found if isinstance(found, Mapping) else None


def hits_of(trial: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The passages the trial's retriever found, best first."""
    found = retrieval_of(trial)
    hits = found.get("hits") if found is not None else None
    return [hit for hit in hits if isinstance(hit, Mapping)] if isinstance(hits, Sequence) else []


def answer_words(answer: str) -> set[str]:
    """The answer's words worth finding in a passage, lower-cased."""
    words = {word.lower() for word in _WORD.findall(answer)}
    return {word for word in words if len(word) >= SHORTEST_WORD and word not in COMMON_WORDS}


def word_spans(text: str, words: set[str]) -> list[tuple[int, int]]:
    """Where any of ``words`` (lower-cased) stand in ``text``, whole words only."""
    return [m.span() for m in _WORD.finditer(text) if m.group().lower() in words]


def marked(text: str, spans: Sequence[tuple[int, int]], style: str, titles: Sequence[str] = ()) -> str:
    """``text`` escaped, with the ``spans`` (in order, not overlapping) in ``<mark>``s of ``style``."""
    pieces, at = [], 0
    for i, (start, end) in enumerate(spans):
        if start < at:
            continue  # overlaps the last one: already marked
        title = f' title="{escape(titles[i])}"' if i < len(titles) else ""
        pieces += [escape(text[at:start]), f'<mark style="{style}"{title}>{escape(text[start:end])}</mark>']
        at = end
    return "".join([*pieces, escape(text[at:])])


def _text_block(inner: str) -> str:
    return f'<div style="white-space:pre-wrap;word-break:break-word;{MONO}">{inner}</div>'


def prompt_html(trial: Mapping[str, Any]) -> str:
    """The prompt as sent, each passage the retriever found marked where it appears."""
    text = messages_text(trial.get("messages"))
    found = []
    for hit in hits_of(trial):
        passage = str(hit.get("text") or "")
        start = text.find(passage) if passage else -1
        if start >= 0:
            found.append((start, start + len(passage), f"passage {hit.get('rank')} · {hit.get('doc_id')}"))
    found.sort()
    spans, titles = [(start, end) for start, end, _ in found], [title for _, _, title in found]
    return _text_block(marked(text, spans, PASSAGE_MARK, titles))


def passages_html(trial: Mapping[str, Any]) -> str:
    """The query and each passage found, the answer's words marked in it; empty without a retriever."""
    found = retrieval_of(trial)
    if found is None:
        return ""
    prompt = messages_text(trial.get("messages"))
    output = trial.get("output")
    words = answer_words(output) if isinstance(output, str) else set()
    corpus = f"· corpus {found.get('corpus')} (version {found.get('corpus_version')})"
    lines = [
        f'<div style="font-size:12px"><b>query</b> {escape(found.get("query"))} '
        f'<span style="color:{MUTED}">{escape(corpus)}</span></div>'
    ]
    hits = hits_of(trial)
    if not hits:
        lines.append(f'<div style="color:{MUTED};font-size:12px">the search found no passage</div>')
    for hit in hits:
        text = str(hit.get("text") or "")
        score = hit.get("score")
        shown = f"{float(score):.3f}" if isinstance(score, int | float) else "?"
        sent = "in the prompt" if text and text in prompt else "not in the prompt as sent"
        head = f"#{hit.get('rank')} · {hit.get('doc_id')} · score {shown} · {sent}"
        lines.append(
            f'<div style="margin-top:4px;border-left:3px solid #9cc3f5;padding-left:6px">'
            f'<div style="color:{MUTED};font-size:11px">{escape(head)}</div>'
            f"{_text_block(marked(text, word_spans(text, words), ANSWER_MARK))}</div>"
        )
    if words and hits:
        legend = f'<mark style="{ANSWER_MARK}">marked</mark>: words of the answer'
        lines.append(f'<div style="color:{MUTED};font-size:11px">{legend}</div>')
    return "".join(lines)
