"""Rows from the local spool into the server's tables, exactly once.

Each batch goes in one transaction: ``COPY`` into a temporary table, then
one ``INSERT … SELECT`` that keeps a key's first row (append-only tables:
a trial sent twice, after a lost acknowledgement, is still one trial) or
its newest state (runs, by revision). Only after the commit, a read of the
keys decides which spool segments may go (``fold.settle``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql

from promptlab.store.schema import Table

_TYPES = {
    "VARCHAR": "text",
    "JSON": "jsonb",
    "TIMESTAMP": "timestamp",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
}


def _staging(table: Table) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_TYPES[kind])) for name, kind in table.columns
    )
    return sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
        sql.Identifier(f"incoming_{table.name}"), columns
    )


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "TIMESTAMP" and isinstance(value, str):
        return value.replace("T", " ")
    if kind == "JSON" and not isinstance(value, str):  # a row written directly, not read from the spool
        return json.dumps(value, default=str)
    return value


def insert_rows(connection: Any, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Put ``rows`` into ``table`` (inside the caller's transaction)."""
    if not rows:
        return
    names = table.column_names
    staging = sql.Identifier(f"incoming_{table.name}")
    target = sql.Identifier(table.name)
    column_list = sql.SQL(", ").join(map(sql.Identifier, names))
    connection.execute(_staging(table))
    with connection.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staging, column_list)) as copy:
        for row in rows:
            copy.write_row([_value(kind, row.get(name)) for name, kind in table.columns])
    key = sql.SQL(", ").join(map(sql.Identifier, table.key))
    action: sql.Composable
    if not table.replace:
        action = sql.SQL("DO NOTHING")
    else:
        updates = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in names
            if c not in table.key
        )
        newer: sql.Composable = sql.SQL("TRUE")
        if table.revision is not None:
            revision = sql.Identifier(table.revision)
            newer = sql.SQL("coalesce(EXCLUDED.{0}, 0) >= coalesce({1}.{0}, 0)").format(revision, target)
        action = sql.SQL("DO UPDATE SET {} WHERE {}").format(updates, newer)
    connection.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) {}").format(
            target, column_list, column_list, staging, key, action
        )
    )


def missing_keys(connection: Any, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """How many of ``rows`` have no row of their key on the server (a state
    newer than the one sent counts as there: another writer moved on)."""
    if not rows:
        return 0
    keys = {tuple(str(row[k]) for k in table.key) for row in rows}
    if len(table.key) == 1:
        (column,) = table.key
        found = connection.execute(
            sql.SQL("SELECT {0} FROM {1} WHERE {0} = ANY(%s)").format(
                sql.Identifier(column), sql.Identifier(table.name)
            ),
            [[k[0] for k in keys]],
        ).fetchall()
    else:
        match = sql.SQL(" AND ").join(sql.SQL("t.{0} = k.{0}").format(sql.Identifier(c)) for c in table.key)
        unnest = sql.SQL(", ").join(sql.SQL("%s::text[]") for _ in table.key)
        aliases = sql.SQL(", ").join(map(sql.Identifier, table.key))
        found = connection.execute(
            sql.SQL("SELECT {0} FROM {1} t JOIN unnest({2}) AS k({3}) ON {4}").format(
                sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in table.key),
                sql.Identifier(table.name),
                unnest,
                aliases,
                match,
            ),
            [[k[i] for k in keys] for i in range(len(table.key))],
        ).fetchall()
    return len(keys - {tuple(str(v) for v in row) for row in found})
