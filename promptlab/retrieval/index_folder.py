"""An index kept in a folder of the retrieval cache, for every retriever that keeps one.

A folder is written whole or not at all: into a temporary folder beside it,
renamed into place once complete. The first process that needs an index
builds it under a lock while the others wait, then load it; a temporary
folder left by a process that died saving is cleared. The folder records
its passages as spans of the corpus (``chunks.json``), not their texts:
those come from the corpus, whose version its manifest must match.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from promptlab.core.files import file_lock
from promptlab.errors import DataError, ExportError
from promptlab.retrieval.chunking import Chunk
from promptlab.retrieval.corpus import Corpus

Index = TypeVar("Index")

MANIFEST = "manifest.json"
CHUNKS = "chunks.json"


def write_index(
    folder: Path, write: Callable[[Path], None], chunks: Sequence[Chunk], manifest: Mapping[str, Any]
) -> None:
    """Write an index to ``folder``, which must not exist yet: ``write`` fills a
    temporary folder with the index's own files, then the spans and manifest join them."""
    folder = Path(folder)
    if folder.exists():
        raise ExportError(f"{folder} already exists; save the index to a new folder, or delete that one")
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        temporary.mkdir()
        write(temporary)
        spans = [[c.id, c.doc_id, c.start, c.end] for c in chunks]
        (temporary / CHUNKS).write_text(json.dumps(spans, ensure_ascii=False), encoding="utf-8")
        (temporary / MANIFEST).write_text(json.dumps(dict(manifest), indent=1), encoding="utf-8")
        os.rename(temporary, folder)
    except OSError as exc:
        raise ExportError(f"can't write the index to {folder}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def read_index(folder: Path, what: str) -> tuple[dict[str, Any], list[list[Any]]]:
    """The manifest and passage spans of the ``what`` index in ``folder``."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        spans = json.loads((folder / CHUNKS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder} holds no readable {what} index ({exc}); delete it to rebuild") from exc
    return manifest, spans


def chunks_of(spans: Sequence[Sequence[Any]], corpus: Corpus) -> list[Chunk]:
    """The passages ``spans`` mark out in ``corpus``'s documents."""
    texts = {d.id: d.text for d in corpus}
    return [Chunk(id_, doc_id, texts[doc_id][start:end], start, end) for id_, doc_id, start, end in spans]


def open_index(
    cache_dir: Path,
    name: str,
    load: Callable[[Path], Index],
    build: Callable[[], Index],
    save: Callable[[Index, Path], None],
) -> Index:
    """The index ``name`` from ``cache_dir``, built and saved there first if no process has yet."""
    cache_dir = Path(cache_dir)
    folder = cache_dir / name
    if (folder / MANIFEST).exists():
        return load(folder)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(cache_dir / f".{name}.lock", exclusive=True, timeout=None):
        if (folder / MANIFEST).exists():  # built by another process while we waited
            return load(folder)
        for leftover in cache_dir.glob(f".{name}.*.tmp"):  # from a process that died saving
            shutil.rmtree(leftover, ignore_errors=True)
        index = build()
        save(index, folder)
        return index
