"""Corpora: the documents a retriever searches, with a content-derived version.

A corpus's ``version`` is a hash of its documents' ids, texts and metadata,
taken in id order: the same documents are the same version whichever order
they came in and wherever they were loaded (a list, a DataFrame, a folder),
so a trial can name the corpus it searched and an index built for a version
serves every process that loads the same documents. The name is a label and
not part of the version, as with prompts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import pandas as pd  # the type of a corpus given as a DataFrame (a corpus is made in a notebook, pandas is there)

from promptlab.core.hashing import canonical_json, hash_strings, to_jsonable
from promptlab.errors import DataError

VERSION_LENGTH = 12
"""Hex digits of a corpus version (as for prompt versions)."""

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
"""Files a folder of documents is read from; others in it are left alone."""

Documents = Union[Sequence[Union[Mapping[str, Any], str, "os.PathLike[str]"]], "pd.DataFrame", str, "os.PathLike[str]"]
"""What ``Corpus`` accepts: dicts with ``id`` and ``text`` (other keys are metadata),
plain strings (ids are their positions), ``Path`` objects of .txt/.md files (ids are
the file names), a folder of them (ids are paths inside it), a data file
(.csv, .jsonl, .parquet, ...) or a DataFrame with ``id`` and ``text`` columns; a
dataset of the history (``lab.dataset(name)``) is a list of such dicts."""


@dataclass(frozen=True)
class Document:
    """One document of a corpus."""

    id: str
    """Unique within its corpus; what ``relevant_ids`` in the data name."""

    text: str
    """The text that is chunked and searched."""

    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Anything else about it (source, title, date), as plain JSON values; part of the version."""


@dataclass(frozen=True, init=False, eq=False)
class Corpus:
    """Named documents with a content-derived version."""

    name: str
    """A label for people (``handbook``); not part of the version."""

    documents: tuple[Document, ...]
    """The documents, in id order."""

    version: str
    """Hash of the documents' (id, text, metadata) in id order (12 hex characters)."""

    def __init__(self, name: str, documents: Documents) -> None:
        if not isinstance(name, str) or not name.strip():
            raise DataError("a Corpus needs a name, such as pl.Corpus('handbook', documents)")
        loaded = sorted(_load(documents), key=lambda d: d.id)
        if not loaded:
            raise DataError(f"corpus {name!r} has no documents; give at least one")
        _refuse_duplicates(loaded)
        lines = [canonical_json([d.id, d.text, d.metadata], plain=True) for d in loaded]
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "documents", tuple(loaded))
        object.__setattr__(self, "version", hash_strings(lines, VERSION_LENGTH))

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Corpus) and (self.name, self.version) == (other.name, other.version)

    def __hash__(self) -> int:
        return hash((self.name, self.version))

    def __repr__(self) -> str:
        return f"Corpus({self.name!r}, {len(self)} documents, version={self.version!r})"


def _refuse_duplicates(documents: list[Document]) -> None:
    counts = Counter(d.id for d in documents)
    repeated = [f"{id_!r} ({n} times)" for id_, n in counts.items() if n > 1]
    if repeated:
        raise DataError(
            f"document ids must be unique, but {len(repeated)} are used more than once: {', '.join(repeated[:5])}"
            f"{', ...' if len(repeated) > 5 else ''}; give each document its own id, or merge the repeats"
        )


def _load(documents: Documents) -> list[Document]:
    if isinstance(documents, pd.DataFrame):
        return _from_frame(documents)
    if isinstance(documents, (str, os.PathLike)):
        return _from_path(Path(documents))
    if isinstance(documents, Mapping):
        raise DataError("documents is a single dict; wrap it in a list: [{'id': ..., 'text': ...}]")
    if not isinstance(documents, Sequence):
        raise DataError(f"documents must be a list, a DataFrame, a folder or a file, not {type(documents).__name__}")
    _refuse_paths_as_text(documents)
    return [_from_item(item, position) for position, item in enumerate(documents)]


def _from_item(item: Any, position: int) -> Document:
    if isinstance(item, str):
        return Document(str(position), item)
    if isinstance(item, os.PathLike):
        path = Path(item)
        return Document(path.name, _read_text(path))
    if isinstance(item, Mapping):
        return _from_record(item, f"document {position}")
    raise DataError(f"document {position} is a {type(item).__name__}; give a dict with 'id' and 'text', or a str")


def _from_record(record: Mapping[str, Any], where: str) -> Document:
    missing = [key for key in ("id", "text") if key not in record]
    if missing:
        raise DataError(f"{where} has no {' or '.join(repr(m) for m in missing)}; its keys are {sorted(record)}")
    id_, text = to_jsonable(record["id"]), record["text"]
    if id_ is None or isinstance(id_, (bool, dict, list)) or str(id_) == "":
        raise DataError(f"{where} has no usable id ({record['id']!r}); give it a string or a number")
    if not isinstance(text, str):
        raise DataError(f"{where} (id {id_!r}): text is a {type(text).__name__}, not a string")
    nested = record.get("metadata")
    unpacked = isinstance(nested, Mapping)  # {"metadata": {...}}, flat keys, or both
    metadata: dict[str, Any] = dict(nested) if isinstance(nested, Mapping) else {}
    metadata |= {str(k): v for k, v in record.items() if k not in ("id", "text") and not (unpacked and k == "metadata")}
    return Document(str(id_), text, to_jsonable(metadata))


def _from_frame(frame: Any) -> list[Document]:
    missing = [column for column in ("id", "text") if column not in frame.columns]
    if missing:
        raise DataError(
            f"the DataFrame has no {' or '.join(repr(m) for m in missing)} column; its columns are "
            f"{list(frame.columns)} (rename them: frame.rename(columns={{...: 'text'}}))"
        )
    records = frame.to_dict(orient="records")
    return [_from_record(record, f"row {i}") for i, record in enumerate(records)]


def _from_path(path: Path) -> list[Document]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise DataError(f"the folder {path} holds no {', '.join(TEXT_SUFFIXES)} files")
        return [Document(p.relative_to(path).as_posix(), _read_text(p)) for p in files]
    if path.suffix.lower() in TEXT_SUFFIXES:
        return [Document(path.name, _read_text(path))]
    from promptlab.core.rows import load_rows  # a data file of documents; pandas only when one is read

    return [_from_record(record, f"{path}, row {i}") for i, record in enumerate(load_rows(path))]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"document file {path} does not exist (working directory: {Path.cwd()})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"can't read {path} as UTF-8 text: {exc}") from exc


def _refuse_paths_as_text(items: Sequence[Any]) -> None:
    """A list of strings is texts; if they all name files, the user meant paths."""
    strings = [item for item in items if isinstance(item, str)]
    short = all(len(s) < 4096 and "\n" not in s for s in strings)
    if strings and len(strings) == len(items) and short and all(_names_a_text_file(s) for s in strings):
        raise DataError(
            "these strings name files, but strings are taken as document texts; "
            "pass paths as Path objects: [Path(p) for p in paths], or the folder that holds them"
        )


def _names_a_text_file(text: str) -> bool:
    try:
        return Path(text).suffix.lower() in TEXT_SUFFIXES and Path(text).is_file()
    except (OSError, ValueError):  # not a possible path (too long, a NUL)
        return False
