"""Where a history lives: the DuckDB file, and the files promptlab keeps beside it.

``history.duckdb`` is the file any DuckDB client can read; beside it,
``history.duckdb.journal/`` holds rows not yet folded into it (and is what
promptlab processes lock), DuckDB keeps its own ``history.duckdb.wal``, and
the fold keeps ``history.duckdb.labels.json``: where each label points, so a
first ``load_prompt`` needn't start DuckDB (``label_file.py``), and sweeps with
retrievers keep their indexes and searches in ``history.duckdb.retrieval/``.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = "promptlab.duckdb"
"""The history file when neither a path nor ``$PROMPTLAB_DB`` says otherwise."""


def default_db_path() -> str:
    """``$PROMPTLAB_DB``, else ``./promptlab.duckdb``."""
    return os.environ.get("PROMPTLAB_DB") or DEFAULT_DB


def journal_folder(db: Path) -> Path:
    """The journal beside history file ``db``."""
    return db.with_name(db.name + ".journal")


def wal_file(db: Path) -> Path:
    """DuckDB's write-ahead log beside ``db``."""
    return db.with_name(db.name + ".wal")


def label_file(db: Path) -> Path:
    """The label file beside ``db`` (see ``promptlab.store.label_file``)."""
    return db.with_name(db.name + ".labels.json")


def retrieval_folder(db: Path) -> Path:
    """Retrieval indexes and cached searches beside ``db`` (``promptlab.runner.retrieve``)."""
    return db.with_name(db.name + ".retrieval")
