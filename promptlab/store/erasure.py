"""Erasure in a history file, until the bytes are gone from every file.

DuckDB deletes and updates rows in place of nothing: the old versions sit
in blocks the file marks free, and in its write-ahead log until a
checkpoint, readable by anyone who reads the file's bytes. So an erasure:

1. folds the journal and takes promptlab's exclusive lock with no sealed
   segment left (folding again if a writer sealed one meanwhile), so
   every acknowledged row is in the tables;
2. refuses to go on while a live process's open segment holds rows to
   erase (``journal_erasure.py``): it waits up to ``wait`` seconds for its
   writer to seal it, folding and looking again, then says which process;
3. in one transaction deletes the rows taken, or scrubs the value
   (``erasure_rows.py``), and takes their words out of the search index
   (re-indexing a scrubbed trial as it now is), then checkpoints, so the
   WAL is folded into the file and emptied;
4. scrubs quarantined segments and removes stale temporaries;
5. compacts (``compaction.compact``): the file is rewritten without its
   free blocks, checked row for row, and swapped in; the WAL of the old
   file removed. A failure there leaves the rows erased and says so.

A prune that takes nothing writes nothing; a dry run reads only. The file
system may keep the old file's blocks until it reuses them (as any
deleted file's): a disk that must never hold them is an encrypted one.

Measured here (2 cores) on a 10,300-trial history (6.3 MB): forgetting a
value (40 trials scrubbed), an end user (10 calls) or 20 trials by id took
1.0–1.1 s each, about half of it the compaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import duckdb
import pyarrow as pa

from promptlab.errors import StoreBusyError, StoreError
from promptlab.store import compaction, erasure_rows, fold, journal_erasure, search_index
from promptlab.store.database import Store
from promptlab.store.erasable import Erased, Selection
from promptlab.store.journal_erasure import LIVE_WAIT
from promptlab.store.schema import TABLES

FOLD_TRIES = 5
"""Folds tried before giving up on a journal that keeps receiving sealed segments."""

_GONE = "promptlab_erased_docs"


class _FileSql:
    """``erasure_rows.Sql`` for the attached history file."""

    json_type = "JSON"

    def __init__(self, con: duckdb.DuckDBPyConnection, alias: str) -> None:
        self.con, self.alias = con, alias

    def table(self, name: str) -> str:
        return f'"{self.alias}"."main"."{name}"'

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(text, list(params)).fetchall()

    def run_many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        self.con.executemany(text, [list(row) for row in rows])


def erase(store: Store, selection: Selection, *, dry_run: bool = False, wait: float = LIVE_WAIT) -> Erased:
    """Erase what ``selection`` takes from the file, its WAL and its journal
    (see the module docstring); ``dry_run``: count it, change nothing."""
    if store.read_only:
        raise StoreError(f"{store.path} was opened read-only; open it with pl.Lab(path) to erase from it")
    erased = journal_erasure.patiently(lambda: _erase_once(store, selection, dry_run=dry_run), store.journal, wait)
    if dry_run or (selection.kind == "retention" and not any(erased.deleted.values())):
        return erased
    try:
        compaction.compact(store)
    except StoreError as exc:
        raise StoreError(
            f"the rows are erased, but {store.path} still holds their old bytes in free blocks, because it "
            f"could not be rewritten ({exc}). Run `promptlab db compact` once that is fixed."
        ) from exc
    return replace(erased, files_rewritten=(str(store.path),))


@contextlib.contextmanager
def _folded(store: Store) -> Iterator[None]:
    """Hold the exclusive lock with every sealed segment folded."""
    for _ in range(FOLD_TRIES):
        store.fold(wait=store.busy_timeout)
        with store._locked(exclusive=True):
            if not any(store.journal.sealed(name) for name in TABLES):
                yield
                return
    raise StoreBusyError(
        f"the journal of {store.path} could not be folded (a program outside promptlab may hold the file, "
        "or writers keep sealing segments); nothing was erased: try again in a moment"
    )


def _erase_once(store: Store, selection: Selection, *, dry_run: bool) -> Erased:
    with _folded(store), store._attached(read_only=False) as (con, alias):
        store._migrate(con, alias)
        with fold.transaction(con):
            erased, matcher = erasure_rows.take(
                _FileSql(con, alias),
                selection,
                dry_run=dry_run,
                refuse_live=lambda matcher: journal_erasure.refuse_live(store.journal, matcher),
                reindex=lambda trials, gone: _reindex(con, alias, trials, gone),
            )
        if dry_run:
            return erased
        con.execute(f"CHECKPOINT {alias}")
        scrubbed = journal_erasure.scrub(store.journal, matcher)
    files = tuple(str(path.relative_to(store.journal.root)) for path in scrubbed)
    return replace(erased, segments_scrubbed=files)


def _reindex(
    con: duckdb.DuckDBPyConnection,
    alias: str,
    trials: Sequence[tuple[str, str | None, str | None]],
    gone: Sequence[str] = (),
) -> None:
    """Take trials out of the search index (``gone``, and ``trials``), then add
    ``trials`` back as they now are: no word of an erased text stays a term."""
    docs = f'"{alias}"."main"."{search_index.DOCS}"'
    postings = f'"{alias}"."main"."{search_index.POSTINGS}"'
    ids = [*gone, *(trial_id for trial_id, _, _ in trials)]
    if not ids:
        return
    found = con.execute(f"SELECT doc FROM {docs} WHERE trial_id IN (SELECT unnest(?))", [ids]).fetchall()
    numbers = [row[0] for row in found]
    if numbers:
        con.register(_GONE, pa.table({"doc": pa.array(numbers, pa.int64())}))
        try:
            # each posting holding a doc taken out, rebuilt without it (a list_filter
            # over a list of them took 46 s for 20,000 docs; this join, 1 s)
            con.execute(f"""
                UPDATE {postings} p SET docs = kept.docs FROM (
                    SELECT r, list(d ORDER BY d) FILTER (WHERE g.doc IS NULL) AS docs
                    FROM (SELECT rowid AS r, unnest(docs) AS d FROM {postings}
                          WHERE list_has_any(docs, (SELECT list(doc) FROM {_GONE}))) x
                    LEFT JOIN {_GONE} g ON x.d = g.doc
                    GROUP BY r
                ) kept WHERE p.rowid = kept.r""")
        finally:
            con.unregister(_GONE)
        con.execute(f"DELETE FROM {postings} WHERE docs IS NULL OR len(docs) = 0")
        con.execute(f"DELETE FROM {docs} WHERE trial_id IN (SELECT unnest(?))", [ids])
    if trials:
        ((highest,),) = con.execute(f"SELECT coalesce(max(doc), 0) FROM {docs}").fetchall()
        search_index.insert(con, docs, postings, trials, int(highest) + 1)
