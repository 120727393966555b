"""SQL text for the journal's segments and the live tables built on them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from promptlab.store.schema import Table


def sql_list(paths: Sequence[Path]) -> str:
    """A DuckDB list literal of file paths."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def quoted(columns: Sequence[str]) -> str:
    """Column names, quoted and comma-separated."""
    return ", ".join(f'"{c}"' for c in columns)


def segment_rows(table: Table, paths: Sequence[Path], *, newest_first: bool) -> str:
    """SQL for the segments' rows, one per key: the newest (``replace`` tables) or
    the oldest (append-only tables). Torn, unacknowledged tails of open
    segments parse as errors and are skipped."""
    order = "DESC" if newest_first else "ASC"
    key = quoted(table.key)
    present = " AND ".join(f'"{k}" IS NOT NULL' for k in table.key)
    return (
        f"SELECT {quoted(table.column_names)} FROM read_json({sql_list(paths)}, "
        f"format='newline_delimited', columns={table.json_columns_spec()}, filename=true, "
        f"ignore_errors=true) WHERE {present} "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY filename {order}) = 1"
    )


def live_view(table: Table, source: str, paths: Sequence[Path]) -> str:
    """SQL for the table as readers see it: ``source`` (the folded rows) merged
    with the segments not folded yet."""
    columns, key = quoted(table.column_names), quoted(table.key)
    if not paths:
        return f"SELECT {columns} FROM {source}"
    segments = segment_rows(table, paths, newest_first=table.replace)
    if table.replace:  # segment rows are newer than anything folded
        return (
            f"WITH s AS ({segments}) SELECT * FROM s UNION ALL BY NAME "
            f"SELECT {columns} FROM {source} t WHERE ({key}) NOT IN (SELECT ({key}) FROM s)"
        )
    return (
        f"SELECT {columns} FROM {source} UNION ALL BY NAME SELECT * FROM ({segments}) s "
        f"WHERE ({key}) NOT IN (SELECT ({key}) FROM {source})"
    )


def missing_rows(table: Table, paths: Sequence[Path], target: str) -> str:
    """SQL counting segment rows that are not in ``target``: for ``replace``
    tables the newest state must be there exactly, for append-only tables the key."""
    rows = segment_rows(table, paths, newest_first=table.replace)
    if table.replace:
        return f"SELECT count(*) FROM ({rows} EXCEPT SELECT {quoted(table.column_names)} FROM {target})"
    key = quoted(table.key)
    return f"SELECT count(*) FROM ({rows}) s WHERE ({key}) NOT IN (SELECT ({key}) FROM {target})"


def fold_into(table: Table, paths: Sequence[Path]) -> str:
    """SQL moving the segments' rows into the table."""
    verb = "INSERT OR REPLACE" if table.replace else "INSERT OR IGNORE"
    return f"{verb} INTO {table.name} BY NAME {segment_rows(table, paths, newest_first=table.replace)}"
