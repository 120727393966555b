"""Erasure on a team server, until the rows are gone from its tables' files.

PostgreSQL keeps a deleted or updated row's old version in the table's
file until a vacuum, and a plain ``VACUUM`` only marks the space reusable:
``VACUUM (FULL)`` rewrites the table (its TOAST and indexes too) without
them. So an erasure:

1. sends this user's local spool first (``ServerStore.fold``), and stops
   when it can't: rows there would reach the server afterwards. Waits, as
   the file does, for a live writer's open segment holding rows it takes
   (``journal_erasure.py``);
2. as an admin (only admins may delete or update rows, and record an
   erasure; anyone else gets a ``PolicyError`` saying who may), in one
   transaction, runs the same statements as the file (``erasure_rows.py``);
   the server's triggers count the runs touched again (``trial_totals``);
3. then, outside any transaction (VACUUM can't run in one), ``VACUUM
   (FULL, ANALYZE)`` every table it changed (the planner's statistics
   keep sample values of a table's columns: they are taken afresh);
4. scrubs the spool's quarantined segments and stale temporaries.

What it can't reach: other people's spools (rows their machines haven't
sent yet arrive later; run the erasure again once they have flushed), and
the server's own write-ahead log and backups, which its administrators
keep and expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from psycopg import sql as pg_sql

from promptlab.errors import PolicyError, StoreError
from promptlab.store import erasure_rows, journal_erasure
from promptlab.store.erasable import Erased, Selection
from promptlab.store.journal_erasure import LIVE_WAIT
from promptlab.store.schema import TABLES
from promptlab.store.server.migrations import ADMIN_ROLE
from promptlab.store.server.store import ServerStore


class _ServerSql:
    """``erasure_rows.Sql`` for one connection to the server."""

    json_type = "jsonb"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def table(self, name: str) -> str:
        return f'promptlab."{name}"'

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.connection.execute(text.replace("?", "%s"), list(params)).fetchall())

    def run_many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(text.replace("?", "%s"), [list(row) for row in rows])


def erase(store: ServerStore, selection: Selection, *, dry_run: bool = False, wait: float = LIVE_WAIT) -> Erased:
    """Erase what ``selection`` takes from the server and this user's spool
    (see the module docstring); ``dry_run``: count it, change nothing (any reader may)."""
    if store.read_only:
        raise StoreError(f"{store.location} was opened read-only; open it with pl.Lab(url) to erase from it")
    store.fold(wait=store.busy_timeout)
    if any(store.journal.sealed(name) for name in TABLES):
        raise StoreError(
            f"rows in the local spool {store.journal.root} could not be sent to {store.location}, and they may "
            "hold what is to be erased: nothing was erased. Send them (lab.flush()) once the server takes them, "
            "then erase again."
        )
    erased = journal_erasure.patiently(lambda: _erase_once(store, selection, dry_run=dry_run), store.journal, wait)
    if dry_run:
        return erased
    touched = [name for name, n in {**erased.changed, **erased.deleted}.items() if n]
    if touched:
        with store._connected() as connection:
            connection.execute(
                pg_sql.SQL("VACUUM (FULL, ANALYZE) {}").format(
                    pg_sql.SQL(", ").join(pg_sql.Identifier("promptlab", name) for name in touched)
                )
            )
    return replace(erased, files_rewritten=tuple(f"promptlab.{name}" for name in touched))


def _erase_once(store: ServerStore, selection: Selection, *, dry_run: bool) -> Erased:
    with store._connected() as connection:
        if not dry_run:
            _refuse_non_admin(store, connection)
        with connection.transaction():
            connection.execute("SET LOCAL synchronous_commit = on")
            erased, matcher = erasure_rows.take(
                _ServerSql(connection),
                selection,
                dry_run=dry_run,
                refuse_live=lambda matcher: journal_erasure.refuse_live(store.journal, matcher),
            )
    if dry_run:
        return erased
    scrubbed = journal_erasure.scrub(store.journal, matcher)
    return replace(erased, segments_scrubbed=tuple(str(p.relative_to(store.journal.root)) for p in scrubbed))


def _refuse_non_admin(store: ServerStore, connection: Any) -> None:
    row = connection.execute(
        "SELECT r.rolsuper OR pg_catalog.pg_has_role(session_user, a.oid, 'MEMBER') "
        "FROM pg_catalog.pg_roles r LEFT JOIN pg_catalog.pg_roles a ON a.rolname = %s WHERE r.rolname = session_user",
        [ADMIN_ROLE],
    ).fetchone()
    if not (row and row[0]):
        raise PolicyError(
            f"only a promptlab admin may erase rows on {store.location}, and {store.identity} is not one: an admin "
            f"runs it (pl.Lab('postgresql://ADMIN@…')), or grants the role: promptlab db grant {store.identity} admin"
        )
