"""Corpora (where documents come from, and their content-derived version) and chunking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from promptlab.errors import ConfigError, DataError
from promptlab.retrieval.chunking import Chunking, chunk_document, chunk_documents
from promptlab.retrieval.corpus import Corpus, Document

DOCS: list[dict[str, object]] = [
    {"id": "setup", "text": "Install it with pip.", "section": "guide"},
    {"id": "faq", "text": "Ask in the channel.", "section": "help"},
    {"id": "api", "text": "Call lab.sweep.", "section": "reference"},
]


# ---- the version --------------------------------------------------------------


def test_the_same_documents_in_any_order_are_the_same_version() -> None:
    first = Corpus("handbook", DOCS)
    assert Corpus("handbook", list(reversed(DOCS))).version == first.version
    assert Corpus("another name", DOCS).version == first.version  # the name is a label
    assert [d.id for d in first] == ["api", "faq", "setup"]  # kept in id order
    assert len(first.version) == 12


@pytest.mark.parametrize(
    "change",
    [
        lambda docs: docs[0].update(text="Install it with uv."),
        lambda docs: docs[0].update(section="howto"),
        lambda docs: docs[0].update(id="install"),
        lambda docs: docs.append({"id": "new", "text": "More."}),
        lambda docs: docs.pop(),
    ],
    ids=["text", "metadata", "id", "added", "removed"],
)
def test_any_change_to_a_document_is_a_new_version(change: object) -> None:
    changed = [dict(d) for d in DOCS]
    change(changed)  # type: ignore[operator]
    assert Corpus("handbook", changed).version != Corpus("handbook", DOCS).version


def test_the_version_is_the_same_in_another_process() -> None:
    code = (
        "import json, sys; from promptlab.retrieval.corpus import Corpus; "
        "print(Corpus('x', json.loads(sys.argv[1])).version)"
    )
    done = subprocess.run([sys.executable, "-c", code, json.dumps(DOCS)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == Corpus("handbook", DOCS).version


def test_a_dataframe_a_data_file_and_a_list_give_the_same_corpus(tmp_path: Path) -> None:
    from_list = Corpus("handbook", DOCS)
    assert Corpus("handbook", pd.DataFrame(DOCS)).version == from_list.version
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    assert Corpus("handbook", tmp_path / "docs.jsonl").version == from_list.version
    nested = [{"id": d["id"], "text": d["text"], "metadata": {"section": d["section"]}} for d in DOCS]
    assert Corpus("handbook", nested).version == from_list.version
    assert Corpus("handbook", DOCS).documents[0] == Document("api", "Call lab.sweep.", {"section": "reference"})


def test_a_folder_of_text_files_and_a_list_of_their_paths(tmp_path: Path) -> None:
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "setup.md").write_text("# Setup\n\nInstall it.", encoding="utf-8")
    (tmp_path / "faq.txt").write_text("Ask in the channel.", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # not a document: left alone
    folder = Corpus("docs", tmp_path)
    assert [(d.id, d.text) for d in folder] == [
        ("faq.txt", "Ask in the channel."),
        ("guides/setup.md", "# Setup\n\nInstall it."),
    ]
    paths = Corpus("docs", [tmp_path / "faq.txt", tmp_path / "guides" / "setup.md"])
    assert [d.id for d in paths] == ["faq.txt", "setup.md"]  # a file's name; in a folder, its path there
    assert (
        Corpus("docs", [tmp_path / "faq.txt"]).version
        == Corpus("docs", [{"id": "faq.txt", "text": "Ask in the channel."}]).version
    )


def test_plain_strings_are_texts_numbered_by_position() -> None:
    corpus = Corpus("notes", ["first note", "second note"])
    assert [(d.id, d.text) for d in corpus] == [("0", "first note"), ("1", "second note")]


def test_strings_that_name_files_are_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("A", encoding="utf-8")
    with pytest.raises(DataError, match=r"Path objects: \[Path\(p\) for p in paths\]"):
        Corpus("docs", [str(tmp_path / "a.md")])


def test_duplicate_ids_are_refused_saying_which_and_what_to_do() -> None:
    docs: list[dict[str, object]] = [
        *DOCS,
        {"id": "faq", "text": "Another answer."},
        {"id": 7, "text": "x"},
        {"id": "7", "text": "y"},
    ]
    with pytest.raises(
        DataError, match=r"2 are used more than once: '7' \(2 times\), 'faq' \(2 times\); give each document its own id"
    ):
        Corpus("handbook", docs)


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        ([], "has no documents"),
        ({"id": "a", "text": "b"}, "wrap it in a list"),
        ([{"text": "no id"}], r"document 0 has no 'id'; its keys are \['text'\]"),
        ([{"id": "a", "text": 3}], "text is a int, not a string"),
        ([{"id": None, "text": "t"}], "no usable id"),
        (pd.DataFrame({"doc": ["a"], "body": ["b"]}), "no 'id' or 'text' column; its columns are"),
        (42, "must be a list, a DataFrame, a folder or a file"),
        ("missing-folder/notes.md", "does not exist"),
    ],
)
def test_documents_that_cant_be_used_are_data_errors(documents: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        Corpus("x", documents)  # type: ignore[arg-type]


def test_a_corpus_needs_a_name() -> None:
    with pytest.raises(DataError, match="needs a name"):
        Corpus("", DOCS)


# ---- chunking -----------------------------------------------------------------

TEN_WORDS = " ".join(f"w{i}" for i in range(10))


def texts(text: str, chunking: Chunking) -> list[str]:
    return [c.text for c in chunk_document(Document("d", text), chunking)]


def test_word_windows_with_overlap() -> None:
    # size 4, overlap 1: windows start every 3 words (0, 3, 6); the one at 6 reaches the last word
    assert texts(TEN_WORDS, Chunking(size=4, overlap=1)) == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]
    assert texts(TEN_WORDS, Chunking(size=4)) == ["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9"]
    assert texts(TEN_WORDS, Chunking(size=10)) == [TEN_WORDS]
    assert texts(TEN_WORDS, Chunking(size=3, overlap=2)) == [
        " ".join(f"w{i}" for i in range(s, s + 3)) for s in range(8)
    ]


def test_chunks_carry_ids_and_offsets_into_the_document() -> None:
    document = Document("guide", "  Alpha beta\n\tgamma   delta epsilon ")
    chunks = chunk_document(document, Chunking(size=2))
    assert [c.id for c in chunks] == ["guide#0", "guide#1", "guide#2"]
    assert [c.text for c in chunks] == ["Alpha beta", "gamma   delta", "epsilon"]  # the text's own spacing
    assert all(c.doc_id == "guide" and document.text[c.start : c.end] == c.text for c in chunks)
    assert (chunks[1].start, chunks[1].end) == (14, 27)


def test_paragraphs() -> None:
    text = "First paragraph,\nstill the first.\n\n\nSecond.\n  \t\r\nThird\r\n\r\nFourth."
    assert texts(text, Chunking(by="paragraph")) == [
        "First paragraph,\nstill the first.",
        "Second.",
        "Third",
        "Fourth.",
    ]
    # a size caps a paragraph: longer ones are cut into word windows
    assert texts(text, Chunking(by="paragraph", size=2)) == [
        "First paragraph,",
        "still the",
        "first.",
        "Second.",
        "Third",
        "Fourth.",
    ]


MARKDOWN = """Preamble line.

# Install
Run pip.

## From source
```bash
# not a heading: a comment in a code block
make
```
#hashtag is not a heading either
### Usage
Call it.
"""


def test_markdown_sections_by_heading() -> None:
    sections = texts(MARKDOWN, Chunking(by="heading"))
    assert [s.splitlines()[0] for s in sections] == ["Preamble line.", "# Install", "## From source", "### Usage"]
    assert sections[2].endswith("#hashtag is not a heading either")
    assert sections[3] == "### Usage\nCall it."
    capped = texts(MARKDOWN, Chunking(by="heading", size=3, overlap=1))
    assert capped[:3] == ["Preamble line.", "# Install\nRun", "Run pip."]  # 4 words, windows of 3 every 2


def test_whole_documents_and_empty_ones() -> None:
    assert texts("  all of it \n\n here ", Chunking(by="document")) == ["all of it \n\n here"]
    for chunking in (Chunking(), Chunking(by="paragraph"), Chunking(by="heading"), Chunking(by="document")):
        assert texts(" \n\n ", chunking) == []
    corpus = Corpus("c", [{"id": "b", "text": "two words"}, {"id": "a", "text": ""}, {"id": "c", "text": "one"}])
    assert [c.id for c in chunk_documents(corpus, Chunking(size=1))] == ["b#0", "b#1", "c#0"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"by": "sentence"}, "chunking by 'sentence' isn't known; use one of words, paragraph, heading, document"),
        ({"size": 4, "overlap": 4}, r"overlap \(4\) must be less than size \(4\)"),
        ({"size": 0}, r"overlap \(0\) must be less than size \(0\)"),
        ({"size": 2.5}, "chunk size must be a whole number of words"),
        ({"by": "document", "size": 100}, "give no size or overlap"),
        ({"by": "paragraph", "overlap": 5}, "an overlap needs a size"),
    ],
)
def test_chunk_settings_that_cant_work_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Chunking(**settings)  # type: ignore[arg-type]


def test_the_settings_key_is_stable() -> None:
    assert Chunking() == Chunking(by="words", size=200, overlap=0)
    assert Chunking().key() == Chunking(size=200).key() == "b5ebeeb8ba2d"  # changing it orphans every index cache
    keys = {Chunking(size=s, overlap=o).key() for s, o in ((100, 0), (100, 10), (200, 10))}
    assert len(keys | {Chunking(by="paragraph").key(), Chunking().key()}) == 5
