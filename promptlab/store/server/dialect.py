"""promptlab's read queries, written in DuckDB's dialect, as PostgreSQL runs them.

The reads (``reads.py``, ``run_reads.py``, ``prompt_reads.py``) are one set
of SQL for both stores: sqlglot parses each in DuckDB's dialect and writes it
in PostgreSQL's (``QUALIFY`` becomes a subquery over a window, ``?`` a
psycopg placeholder, ``list`` ``array_agg``, DuckDB's default NULL order is
spelled out). What sqlglot leaves as it is and PostgreSQL lacks is rewritten
here (``arg_max``/``arg_min``) or defined on the server by the migrations
(functions over ``jsonb``). A query is translated once per process.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlglot
from sqlglot import exp

_MARK = "promptlab_parameter_"

_SPELLED_OUT = {
    # the text of every input value, for a search (DuckDB's JSON path wildcard has no PostgreSQL twin)
    "array_to_string(json_extract_string(vars, '$.*'), ' ')": "promptlab_vars_text(vars)",
    # an experiment's tags hold one (tags are a JSON array)
    "list_contains(CAST(e.tags AS VARCHAR[]), ?)": (
        "coalesce((SELECT bool_or(value = ?) FROM jsonb_array_elements_text(e.tags)), FALSE)"
    ),
    # each prompt a run's config lists
    "unnest(CAST(json_extract(r.config, '$.prompts') AS JSON[]))": "jsonb_array_elements(r.config -> 'prompts')",
}
"""DuckDB expressions promptlab's reads use, as the server spells them (before parsing)."""

_JSONB = (
    ("JSON_EXTRACT_PATH_TEXT(", "JSONB_EXTRACT_PATH_TEXT("),
    ("JSON_EXTRACT_PATH(", "JSONB_EXTRACT_PATH("),
    (" AS JSON)", " AS JSONB)"),
    ("PROMPTLAB_VARS_TEXT(", "promptlab.vars_text("),  # the function the trigram index is built on
)
"""The server's JSON columns are ``jsonb``: its functions, not ``json``'s."""


def _ordered_pick(node: exp.Expression) -> exp.Expression:
    """``arg_max(x, y) [FILTER (WHERE c)]`` →
    ``(array_agg(x ORDER BY y DESC NULLS LAST) FILTER (WHERE [c AND] y IS NOT NULL))[1]``."""
    condition = None
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArgMax | exp.ArgMin):
        condition = node.expression.this  # the Where's condition
        node = node.this
    if not isinstance(node, exp.ArgMax | exp.ArgMin):
        return node
    value, key = node.this.sql(dialect="postgres"), node.expression.sql(dialect="postgres")
    order = "DESC NULLS LAST" if isinstance(node, exp.ArgMax) else "ASC NULLS LAST"
    keep = f"{key} IS NOT NULL" if condition is None else f"({condition.sql(dialect='postgres')}) AND {key} IS NOT NULL"
    picked: Any = sqlglot.parse_one(
        f"(ARRAY_AGG({value} ORDER BY {key} {order}) FILTER (WHERE {keep}))[1]", read="postgres"
    )
    return picked


def _any_of_a_list(node: exp.Expression) -> exp.Expression:
    """``x IN (SELECT unnest(?))`` → ``x = ANY(?)``: the same rows, and PostgreSQL
    knows the list's length (it guesses 200 rows for an ``unnest``, and for 49,324
    ids chose 49,324 index probes over one hashed scan ten times as fast)."""
    query = node.args.get("query") if isinstance(node, exp.In) else None
    select = query.this if isinstance(query, exp.Subquery) else None
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return node
    if any(value for key, value in select.args.items() if key != "expressions"):  # FROM, WHERE, ...
        return node
    (listed,) = select.expressions
    if not isinstance(listed, exp.Explode | exp.Unnest) or not isinstance(listed.this, exp.Placeholder):
        return node
    return exp.EQ(this=node.this, expression=exp.Any(this=exp.Paren(this=listed.this)))


def _named_subqueries(tree: exp.Expression) -> None:
    """PostgreSQL (before 16) wants a name on every subquery in FROM; DuckDB doesn't."""
    for index, subquery in enumerate(tree.find_all(exp.Subquery)):
        if not subquery.alias and isinstance(subquery.parent, exp.From | exp.Join):
            subquery.set("alias", exp.TableAlias(this=exp.to_identifier(f"_q{index}")))


def _group_by_all(tree: exp.Expression) -> None:
    """``GROUP BY ALL`` (DuckDB's): every selected expression that isn't an aggregate."""
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None or not group.args.get("all"):
            continue
        keys = [e.unalias().copy() for e in select.expressions if not e.find(exp.AggFunc, exp.Window)]
        select.set("group", exp.Group(expressions=keys))


@functools.lru_cache(maxsize=1024)
def postgres(text: str) -> str:
    """``text`` (DuckDB's dialect, ``?`` / ``$name`` parameters) in PostgreSQL's,
    with psycopg's ``%s`` / ``%(name)s`` parameters and every literal ``%`` doubled."""
    for duckdb_text, server_text in _SPELLED_OUT.items():
        text = text.replace(duckdb_text, server_text)
    tree = sqlglot.parse_one(text, read="duckdb")
    tree = tree.transform(_ordered_pick).transform(_any_of_a_list)
    _named_subqueries(tree)
    _group_by_all(tree)
    names: list[str] = []

    def mark(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            names.append("" if node.name in ("", "?") else node.name)
            return exp.column(f"{_MARK}{len(names) - 1}")
        if isinstance(node, exp.Parameter):
            names.append(node.name)
            return exp.column(f"{_MARK}{len(names) - 1}")
        return node

    written = tree.transform(mark).sql(dialect="postgres").replace("%", "%%")
    for json_text, jsonb_text in _JSONB:
        written = written.replace(json_text, jsonb_text)
    for index, name in enumerate(names):
        written = written.replace(f"{_MARK}{index}", f"%({name})s" if name else "%s", 1)
    return written
