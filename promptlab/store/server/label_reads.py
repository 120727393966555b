"""``pl.load_prompt`` from a team server without sqlglot: application code
opening a label pays for a connection and two queries, not for importing
and running a SQL translator (~280 ms of a cold call, measured in
``benchmarks/server_history.py``).

The two queries are ``prompt_reads``' own, as ``dialect.postgres`` writes
them; a test keeps the text here equal to that translation, so the label an
application loads is the label the library reads.
"""

from __future__ import annotations

from typing import Any

LABELS_OF_NAME = (
    "SELECT name, label, version, model, moved_by, approved_by, moved_at, note FROM (SELECT name, label, "
    'to_version AS version, model, "user" AS moved_by, approved_by, created_at AS moved_at, note, ROW_NUM'
    "BER() OVER (PARTITION BY name, label ORDER BY (NOT hash IS NULL AND NOT seq IS NULL) DESC NULLS LAST"
    ", CASE WHEN (NOT hash IS NULL AND NOT seq IS NULL) THEN seq END DESC NULLS LAST, created_at DESC NUL"
    "LS LAST, event_id DESC NULLS LAST) AS _w FROM label_events WHERE name = %s ORDER BY name, label) AS "
    "_t WHERE _w = 1"
)
"""``prompt_reads.labels_sql(of_name=True)`` in PostgreSQL's dialect."""

PROMPT_TEMPLATE = (
    "SELECT name, version, template, (ARRAY_AGG(created_by ORDER BY created_at ASC) FILTER(WHERE created_"
    "at IS NOT NULL))[1] AS created_by, MIN(created_at) AS created_at FROM prompts WHERE name = %s AND ST"
    "ARTS_WITH(version, %s) GROUP BY name, version, template"
)
"""``prompt_reads.PROMPT_TEMPLATE_SQL`` in PostgreSQL's dialect."""


def label_and_template(
    connection: Any, name: str, label: str, version_of: Any
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Where ``label`` of ``name`` points (its row) and the stored template row of
    that version, or None when the label doesn't exist. ``version_of(row)`` picks
    the version to look up from the label's row."""
    with connection.cursor() as cursor:
        cursor.execute(LABELS_OF_NAME, [name])
        names = [column.name for column in cursor.description or []]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall() if row[1] == label]
        if not found:
            return None
        cursor.execute(PROMPT_TEMPLATE, [name, version_of(found[0])])
        names = [column.name for column in cursor.description or []]
        templates = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return found[0], (templates[0] if len(templates) == 1 else {})
