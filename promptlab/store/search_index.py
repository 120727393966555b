"""The search index: which trials hold each word of their inputs and output,
kept in the history file itself and brought up to date in the same
transaction that folds the trials, so it can't fall behind or out of step.

``lab.trials(search=...)`` means a substring, any case, in the input values
or the output (``ILIKE``). Read over a million trials, that scan costs
seconds; the index narrows it to the trials that can match, and the same
``ILIKE`` then decides, on those trials alone. The answers stay exactly
the scan's because the index only ever over-approximates:

- a trial's words are the runs of letters and digits in its output, its
  inputs' JSON text and every string value inside it, lowercased;
- a query is narrowed only when it is ASCII (so Python's lowercasing and
  DuckDB's agree on every character it can match); each run of letters and
  digits in it must then be a whole word of the trial (when the query has a
  separator on both sides of it), the start of one (a separator before it),
  the end of one (a separator after it), or inside one;
- a query with no such run of at least three characters, or with another
  character, isn't narrowed: the scan answers it.

Trials not folded yet (in the journal) are always scanned.

Tables: ``search_docs`` (``doc`` number, ``trial_id``) and
``search_postings`` (``term``, ``docs``: the docs of one fold holding it).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from promptlab.errors import HistoryWarning

DOCS = "search_docs"
POSTINGS = "search_postings"
INDEX_TABLES = (DOCS, POSTINGS)

NOTICE = 50_000
"""Trials to index on opening (an upgraded file) from which people are told it takes a while."""

MIN_NARROWING = 3
"""Query words shorter than this (unless whole words) don't narrow: too many terms hold them."""

_WORD = re.compile(r"[^\W_]+")
_QUERY_WORD = re.compile(r"[a-z0-9]+")
_INCOMING = "promptlab_search_incoming"


def words(text: str) -> set[str]:
    """The lowercased runs of letters and digits in ``text``. (Python lowercases
    "İ" to two characters, DuckDB to "i": it is made "i" first.)"""
    return set(_WORD.findall(text.replace("İ", "i").lower()))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def trial_words(vars_json: str | None, output: str | None) -> set[str]:
    """Every word a search may find in a trial: its output's, and its inputs'
    both as stored (numbers as written) and decoded (escaped characters)."""
    found = words(output or "")
    if vars_json:
        found |= words(vars_json)
        try:
            decoded = json.loads(vars_json)
        except ValueError:
            decoded = None
        for text in _strings(decoded):
            found |= words(text)
    return found


def patterns(search: str) -> list[str] | None:
    """``LIKE`` patterns over terms, one per query word that narrows (see the
    module's rules), or None when the index can't narrow ``search``."""
    if not search.isascii():
        return None
    text = search.lower()
    found = []
    for match in _QUERY_WORD.finditer(text):
        word, start, end = match.group(), match.start(), match.end()
        bounded_before, bounded_after = start > 0, end < len(text)
        if bounded_before and bounded_after:
            found.append(word)
        elif len(word) >= MIN_NARROWING:
            found.append(("" if bounded_before else "%") + word + ("" if bounded_after else "%"))
    return found or None


SCAN_BELOW = 50_000
"""When a search's other filters (an experiment, a run) leave at most this
many trials, their text is tested directly: at 1M trials the index costs a
fixed ~0.35 s (weighing its words, intersecting their trials), more than
testing 20,000 trials' text (~0.2 s)."""

WEIGHED = 8
"""Query patterns weighed per search (whole words first, then the longest)."""

NARROWING = 2
"""Patterns whose trials are intersected: the two held by the fewest trials.
Every trial that matches holds every pattern, so leaving the others out
only widens the candidates, and the ``ILIKE`` still decides. Intersecting
a word every trial holds ("item") costs more than it narrows: a phrase of
two common and two rare words took 1.4 s and 735 MB at 1M trials."""

WEIGHTS_SQL = f"""
    SELECT p.i, coalesce(sum(len(s.docs)), 0) AS n
    FROM (SELECT unnest(range(len($patterns))) AS i, unnest($patterns) AS pattern) p
    LEFT JOIN {POSTINGS} s ON s.term LIKE p.pattern
    GROUP BY p.i
"""
"""How many trials (with repeats across folds, an upper bound) hold each of ``$patterns``."""


def weighed(patterns: Sequence[str]) -> list[str]:
    """The patterns worth weighing: whole words first (one term each), then
    the longest, at most ``WEIGHED``."""
    order = sorted(patterns, key=lambda p: (p.startswith("%") or p.endswith("%"), -len(p.strip("%"))))
    return order[:WEIGHED]


def candidates_sql(count: int) -> str:
    """SQL for the trial ids the index holds that can match ``count`` patterns
    (its parameters, in order): those whose terms match every one."""
    per_pattern = " INTERSECT ".join([f"SELECT unnest(docs) FROM {POSTINGS} WHERE term LIKE ?"] * count)
    return f"SELECT trial_id FROM {DOCS} WHERE doc IN ({per_pattern})"


def add_trials(con: duckdb.DuckDBPyConnection, alias: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Index the folded ``rows`` of ``trials`` that the index doesn't hold yet
    (a batch folded again adds nothing), inside the fold's transaction."""
    if not rows:
        return
    docs, postings = f'"{alias}"."main"."{DOCS}"', f'"{alias}"."main"."{POSTINGS}"'
    con.register(_INCOMING, pa.table({"trial_id": pa.array([row["trial_id"] for row in rows], pa.string())}))
    try:
        new = {
            str(trial_id)
            for (trial_id,) in con.execute(
                # the few already indexed, found by probing the index with the
                # incoming ids (a hash of these, not of every indexed trial)
                f"SELECT trial_id FROM {_INCOMING} WHERE trial_id NOT IN "
                f"(SELECT d.trial_id FROM {docs} d SEMI JOIN {_INCOMING} i ON d.trial_id = i.trial_id)"
            ).fetchall()
        }
    finally:
        con.unregister(_INCOMING)
    fresh = [row for row in rows if row["trial_id"] in new]
    if not fresh:
        return
    ((highest,),) = con.execute(f"SELECT coalesce(max(doc), 0) FROM {docs}").fetchall()
    first = int(highest) + 1
    insert(con, docs, postings, [(row["trial_id"], row.get("vars"), row.get("output")) for row in fresh], first)


def insert(
    con: duckdb.DuckDBPyConnection,
    docs: str,
    postings: str,
    trials: Sequence[tuple[str, str | None, str | None]],
    first: int,
) -> None:
    """Number ``trials`` (id, inputs' JSON, output) from ``first`` and add their words."""
    by_term: dict[str, list[int]] = {}
    for doc, (_, vars_json, output) in enumerate(trials, first):
        for term in trial_words(vars_json, output):
            by_term.setdefault(term, []).append(doc)
    doc_table = pa.table(
        {
            "doc": pa.array(range(first, first + len(trials)), pa.int64()),
            "trial_id": pa.array([trial_id for trial_id, _, _ in trials], pa.string()),
        }
    )
    terms = sorted(by_term)
    term_table = pa.table(
        {
            "term": pa.array(terms, pa.string()),
            "docs": pa.array([by_term[term] for term in terms], pa.list_(pa.int64())),
        }
    )
    for name, table, target in ((f"{_INCOMING}_docs", doc_table, docs), (f"{_INCOMING}_terms", term_table, postings)):
        con.register(name, table)
        try:
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {name}")
        finally:
            con.unregister(name)


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Make the index's tables, empty, in the current database (a migration;
    ``catch_up`` then fills them)."""
    con.execute(f"CREATE TABLE {DOCS} (doc BIGINT, trial_id VARCHAR)")
    con.execute(f"CREATE TABLE {POSTINGS} (term VARCHAR, docs BIGINT[])")


def behind(con: duckdb.DuckDBPyConnection, alias: str) -> int:
    """How many folded trials the index lacks (a file just upgraded, or an
    upgrade cut short): two counts DuckDB keeps, so it costs nothing."""
    ((trials, docs),) = con.execute(
        f'SELECT (SELECT count(*) FROM "{alias}"."main"."trials"), (SELECT count(*) FROM "{alias}"."main"."{DOCS}")'
    ).fetchall()
    return max(0, int(trials) - int(docs))


def catch_up(con: duckdb.DuckDBPyConnection, alias: str, name: str, batch: int = 20_000) -> int:
    """Index every folded trial the index doesn't hold, ``batch`` at a time, each
    batch its own transaction (so an upgrade cut short resumes where it
    stopped, and memory stays bounded); how many were indexed. About five
    minutes per million trials on this project's 2-core machines (splitting
    1 KB outputs into words in Python is most of it)."""
    missing = behind(con, alias)
    if not missing:
        return 0
    if missing >= NOTICE:
        warnings.warn(
            f"indexing {missing:,} trials of {name} for search, once (about {missing / 3_000:.0f} s): "
            "this promptlab keeps a search index in the history",
            HistoryWarning,
            stacklevel=4,
        )
    trials, docs = f'"{alias}"."main"."trials"', f'"{alias}"."main"."{DOCS}"'
    done = 0
    while True:
        chunk = con.execute(
            f"SELECT trial_id, CAST(vars AS VARCHAR), output FROM {trials} t "
            f"WHERE NOT EXISTS (SELECT 1 FROM {docs} d WHERE d.trial_id = t.trial_id) LIMIT {int(batch)}"
        ).fetchall()
        if not chunk:
            return done
        con.execute("BEGIN TRANSACTION")
        try:
            ((highest,),) = con.execute(f"SELECT coalesce(max(doc), 0) FROM {docs}").fetchall()
            insert(con, docs, f'"{alias}"."main"."{POSTINGS}"', chunk, int(highest) + 1)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        done += len(chunk)
