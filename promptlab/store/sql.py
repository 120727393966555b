"""SQL text for the live tables readers see: the folded rows plus the
journal's segments not folded yet (the fold itself parses segments in
Python: ``fold.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from promptlab.core.trial import MAX_TRIAL_BYTES
from promptlab.store.engine import duckdb_path
from promptlab.store.schema import Table

READ_OBJECT_BYTES = 2 * MAX_TRIAL_BYTES
"""``read_json``'s ``maximum_object_size`` for readers: room for any line a
writer makes; a longer (crafted) line fails the read, and the reader leaves
its segment out (see ``reader.Reader``)."""


def sql_list(paths: Sequence[Path]) -> str:
    """A DuckDB list literal of file paths."""
    return "[" + ", ".join("'" + duckdb_path(p).replace("'", "''") + "'" for p in paths) + "]"


def quoted(columns: Sequence[str]) -> str:
    """Column names, quoted and comma-separated."""
    return ", ".join(f'"{c}"' for c in columns)


def segment_rows(table: Table, paths: Sequence[Path]) -> str:
    """SQL for the segments' rows, one per key: the newest (``replace`` tables,
    by revision, then segment) or the oldest (append-only tables). Torn,
    unacknowledged tails of open segments parse as errors and are skipped
    here; the fold quarantines any line it can't take, and says so."""
    order = "filename DESC" if table.replace else "filename ASC"
    if table.revision is not None:
        order = f'coalesce("{table.revision}", 0) DESC, {order}'
    key = quoted(table.key)
    present = " AND ".join(f'"{k}" IS NOT NULL' for k in table.key)
    return (
        f"SELECT {quoted(table.column_names)} FROM read_json({sql_list(paths)}, "
        f"format='newline_delimited', columns={table.json_columns_spec()}, filename=true, "
        f"ignore_errors=true, maximum_object_size={READ_OBJECT_BYTES}) WHERE {present} "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1"
    )


def live_view(table: Table, source: str, paths: Sequence[Path]) -> str:
    """SQL for the table as readers see it: ``source`` (the folded rows) merged
    with the segments not folded yet."""
    columns, key = quoted(table.column_names), quoted(table.key)
    if not paths:
        return f"SELECT {columns} FROM {source}"
    segments = segment_rows(table, paths)
    if table.replace and table.revision is not None:  # the higher revision wins, folded or not
        revision = f'coalesce("{table.revision}", 0)'
        return (
            f"SELECT * EXCLUDE (from_journal) FROM (WITH s AS ({segments}) SELECT *, 1 AS from_journal FROM s "
            f"UNION ALL BY NAME SELECT {columns}, 0 AS from_journal FROM {source}) "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {revision} DESC, from_journal DESC) = 1"
        )
    if table.replace:  # segment rows are newer than anything folded
        return (
            f"WITH s AS ({segments}) SELECT * FROM s UNION ALL BY NAME "
            f"SELECT {columns} FROM {source} t WHERE ({key}) NOT IN (SELECT ({key}) FROM s)"
        )
    return (
        f"SELECT {columns} FROM {source} UNION ALL BY NAME SELECT * FROM ({segments}) s "
        f"WHERE ({key}) NOT IN (SELECT ({key}) FROM {source})"
    )
