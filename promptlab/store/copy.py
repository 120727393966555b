"""Moving a history between stores: a file into a team server, a server into
a file, or several teammates' files into one server (once per file).

Rows keep everything they were recorded with: ids, lineage (whoever ran a
trial, not whoever copies it), feedback, scores and the label audit log
with its ``seq`` and hash chain, so ``verify`` walks the copied log as it
walked the original. That is why a destination server takes the copy only
from an admin: its triggers stamp the login on every row a researcher
writes, and keep an admin's rows as written (``roles.py``); the admin's
``promptlab.copying_history`` setting lets label events and the privacy
log in as they were approved then, without fresh approvals.

The source is read table by table in key order, ``BATCH_ROWS`` rows a page
(keyset pages: the last costs what the first did); each page asks the
destination which of its keys it holds and writes only the rest, in one
transaction on a server, or one journal write and a fold on a file (its
only write path). A page is durable before the next is read, so a copy
interrupted (Ctrl+C, ``kill -9``, a dropped connection) resumes by running
it again: pages done are found and skipped, so a repeat costs reads, not
writes (50,000 trials: 31 s to copy into a server, 6 s to find them all
there again, on a busy 2-core machine), and no row is written twice.

When both sides have a key, an append-only row (it never changes) stays;
a run takes the state with the higher ``revision``; an experiment takes
the source's description and tags only when it is the same experiment
(same creation time): a teammate's of the same name keeps its own.

Two label logs can't be one hash chain: when the destination's chained
events and the source's give one ``seq`` to different events, the copy is
refused before anything is written (``labels=False`` copies the rest).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from promptlab.errors import ConfigError, PolicyError, StoreError, StoreLocationError
from promptlab.store.database import Store
from promptlab.store.schema import TABLES, Table
from promptlab.store.segments import plain_row
from promptlab.store.server.connection import is_server, shown
from promptlab.store.sql import quoted

BATCH_ROWS = 5000
"""Source rows per page: one destination transaction each (about 10 MB of trials)."""


class HistoryStore(Protocol):
    """What a copy needs of a source: read sessions (a file or a server store)."""

    def reading(self, wait: float | None = None) -> contextlib.AbstractContextManager[Any]: ...


@dataclass(frozen=True)
class TableCopy:
    """What a copy did to one table (so far, when a progress display hears it after a page)."""

    table: str
    """The table."""

    total: int
    """Its source rows when the copy began (rows recorded since are copied too)."""

    read: int
    """Rows read from the source."""

    copied: int
    """Rows written to the destination (new keys, or a newer state of a run)."""

    skipped: int
    """Rows the destination already had (in that state or a newer one)."""


@dataclass(frozen=True)
class CopyResult:
    """What ``copy_history`` did (``print`` it for a table of counts)."""

    source: str
    """Where the rows came from (a path, or a URL without its password)."""

    destination: str
    """Where they went."""

    tables: tuple[TableCopy, ...]
    """Per table, in copy order."""

    seconds: float
    """How long the copy took."""

    @property
    def copied(self) -> int:
        """Rows written, over every table."""
        return sum(t.copied for t in self.tables)

    @property
    def skipped(self) -> int:
        """Rows the destination already had, over every table."""
        return sum(t.skipped for t in self.tables)

    def __str__(self) -> str:
        read = sum(t.read for t in self.tables)
        rate = f", {read / self.seconds:,.0f} rows/s" if self.seconds > 0 and read else ""
        lines = [f"copied {self.source} → {self.destination} in {self.seconds:.1f} s{rate}"]
        counts = [*((t.table, t.copied, t.skipped) for t in self.tables), ("total", self.copied, self.skipped)]
        width = max(len(name) for name, _, _ in counts)
        lines += [
            f"  {name:<{width}} {copied:>9,} copied {skipped:>9,} already there" for name, copied, skipped in counts
        ]
        return "\n".join(lines)


def open_source(location: str | os.PathLike[str]) -> Any:
    """The store to copy from: a server opened read-only (a reader may copy out),
    or an existing file (opening never creates one at a mistyped path)."""
    if is_server(location):
        from promptlab.store.server.opening import server_store

        return server_store(str(location), read_only=True)
    path = Path(location).expanduser()
    if not path.is_file():
        raise StoreLocationError(f"no history file at {path} to copy from; check the path")
    return Store(path)


def copy_history(
    source: HistoryStore,
    destination: str | os.PathLike[str],
    *,
    labels: bool = True,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[TableCopy], object] | None = None,
) -> CopyResult:
    """Copy every row of ``source`` (an open store) that ``destination`` (a
    history file, created if new, or a team server URL, as its admin) lacks;
    ``labels=False`` leaves the label log out. Run it again after an
    interruption: it carries on where the last page left off. ``progress``
    hears after each page."""
    if batch_rows < 1:
        raise ConfigError(f"batch_rows is a number of rows ≥ 1, not {batch_rows!r}")
    started = time.monotonic()
    where = location_of(source)
    target: Destination = (
        ServerDestination(str(destination)) if is_server(destination) else FileDestination(Path(destination))
    )
    try:
        if target.location == where:
            raise StoreError(f"{where} is both the source and the destination of the copy; name another")
        names = [name for name in TABLES if labels or name != "label_events"]
        totals = {name: _count(source, name) for name in names}
        if labels:
            _refuse_two_chains(source, target)
        tables = tuple(
            _copy_table(source, target, TABLES[name], totals[name], size=batch_rows, progress=progress)
            for name in names
        )
    finally:
        target.close()
    return CopyResult(where, target.location, tables, time.monotonic() - started)


def location_of(store: Any) -> str:
    """How a store is shown: a server's URL without its password, a file's path."""
    return str(store.location)


# -- the destination ------------------------------------------------------------------


class FileDestination:
    """A history file, written through its journal and folded after each page."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path.expanduser())
        self.location = str(self.store.path)
        self.reading = self.store.reading

    def write(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        plain = [plain_row(table, row) for row in rows]
        # no label moves in the destination while its log takes copied events
        with self.store.labels_locked() if table.name == "label_events" else contextlib.nullcontext():
            self.store.append({table.name: plain})
        # lookups of the next pages read the journal's segments: folding keeps them few
        self.store.fold(wait=self.store.busy_timeout)

    def close(self) -> None:
        """Nothing to close: the file is opened per read and per fold."""


class ServerDestination:
    """A team server, written as its admin: one transaction per page."""

    def __init__(self, url: str) -> None:
        self.location = shown(url)
        try:
            from promptlab.store.server import migrations
            from promptlab.store.server.connection import connect
        except ImportError as exc:  # psycopg and sqlglot come with the extra
            raise ConfigError(
                f"a team server needs the server extra: pip install 'promptlab[server]' ({exc})"
            ) from None
        with self._speaking():
            self.connection = connect(url)
        try:
            with self._speaking():
                if migrations.applied_version(self.connection) == 0:
                    raise StoreError(
                        f"{self.location} has no promptlab history yet: its admin sets it up first "
                        "(promptlab db init URL), then the copy goes in"
                    )
                admin = self.connection.execute(_ADMIN).fetchone()
                if not (admin and admin[0]):
                    raise PolicyError(
                        f"copying into {self.location} takes a promptlab admin of it: a copy keeps who recorded "
                        "each row, and the server records a researcher's rows under their own name. Connect as "
                        "an admin (postgresql://ADMIN@HOST/DATABASE), or ask one to run the copy"
                    )
                migrations.migrate(self.connection)
        except BaseException:
            self.close()
            raise

    @contextlib.contextmanager
    def _speaking(self) -> Iterator[None]:
        """Errors from the server as promptlab's, with no password in them."""
        import psycopg

        from promptlab.store.server.connection import scrubbed
        from promptlab.store.server.store import unreachable

        try:
            yield
        except psycopg.OperationalError as exc:
            raise unreachable(self.location, exc) from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.location} refused the copy ({scrubbed(str(exc)).strip()})") from None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        from promptlab.store.server.reader import ServerReader

        with self._speaking(), self.connection.transaction():
            yield ServerReader(self.connection)

    def write(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        from promptlab.store.server import send
        from promptlab.store.server.store import LABELS_LOCK

        with self._speaking(), self.connection.transaction():
            # the commit's answer must mean the page is on the server's disk: the next run skips it
            self.connection.execute("SET LOCAL synchronous_commit = on")
            if table.name == "label_events":  # as a label move does; events keep their approvals of then
                self.connection.execute("SELECT pg_advisory_xact_lock(%s)", [LABELS_LOCK])
            if table.name in ("label_events", "privacy_log"):  # approvals as they were given then
                self.connection.execute("SET LOCAL promptlab.copying_history = 'on'")
            send.insert_rows(self.connection, table, rows)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()


_ADMIN = (
    "SELECT r.rolsuper OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = 'promptlab_admin' "
    "AND pg_catalog.pg_has_role(r.oid, a.oid, 'MEMBER')) FROM pg_catalog.pg_roles r WHERE r.rolname = session_user"
)
"""Whether this login is a promptlab admin (superusers are), as the server's triggers decide it."""


Destination = FileDestination | ServerDestination
"""Where a copy writes: ``reading()`` sessions on its tables, ``write`` a page durably (all or none)."""


# -- pages ----------------------------------------------------------------------------


def _count(source: HistoryStore, name: str) -> int:
    with source.reading() as reader:
        return int(reader.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])


def _page(source: HistoryStore, table: Table, after: tuple[Any, ...] | None, size: int) -> list[dict[str, Any]]:
    """The next ``size`` rows of ``table`` in key order, after key ``after``."""
    names = table.column_names
    where, params = "", []
    if after is not None:  # (a, b) > (x, y), spelled out so both dialects read it alike
        clauses = []
        for index, column in enumerate(table.key):
            equal = [f'"{k}" = ?' for k in table.key[:index]]
            clauses.append("(" + " AND ".join([*equal, f'"{column}" > ?']) + ")")
            params.extend([*after[:index], after[index]])
        where = "WHERE " + " OR ".join(clauses)
    text = f"SELECT {quoted(names)} FROM {table.name} {where} ORDER BY {quoted(table.key)} LIMIT ?"
    with source.reading() as reader:
        found = reader.execute(text, [*params, size]).fetchall()
    return [dict(zip(names, values, strict=True)) for values in found]


def _held(
    target: Destination, table: Table, rows: Sequence[Mapping[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The destination's rows with the keys of ``rows`` (the columns a decision needs)."""
    if table.revision is not None:
        wanted = [*table.key, table.revision]
    elif table.replace:
        wanted = table.column_names
    else:
        wanted = list(table.key)
    unnested = ", ".join(f'unnest(CAST(? AS VARCHAR[])) AS "{k}"' for k in table.key)
    match = " AND ".join(f't."{k}" = k."{k}"' for k in table.key)
    selected = ", ".join(f't."{c}"' for c in wanted)
    text = f"SELECT {selected} FROM {table.name} t JOIN (SELECT {unnested}) k ON {match}"
    params = [[row[k] for row in rows] for k in table.key]
    with target.reading() as reader:
        found = reader.execute(text, params).fetchall()
    held = [dict(zip(wanted, values, strict=True)) for values in found]
    return {tuple(row[k] for k in table.key): row for row in held}


def _needed(table: Table, row: Mapping[str, Any], held: Mapping[str, Any] | None) -> bool:
    """Whether the destination should take ``row`` (see the module docstring)."""
    if held is None:
        return True
    if table.revision is not None:
        return bool((row[table.revision] or 0) > (held[table.revision] or 0))
    if not table.replace or held.get("created_at") != row.get("created_at"):
        return False
    return any(not _same(kind, row[name], held[name]) for name, kind in table.columns)


def _same(kind: str, a: Any, b: Any) -> bool:
    if kind == "JSON" and a is not None and b is not None:
        return bool(json.loads(a) == json.loads(b))  # the server's jsonb spaces its text its own way
    return bool(a == b)


def _copy_table(
    source: HistoryStore,
    target: Destination,
    table: Table,
    total: int,
    *,
    size: int,
    progress: Callable[[TableCopy], object] | None,
) -> TableCopy:
    read = copied = 0
    after: tuple[Any, ...] | None = None
    while True:
        rows = _page(source, table, after, size)
        if not rows:
            break
        held = _held(target, table, rows)
        fresh = [row for row in rows if _needed(table, row, held.get(tuple(row[k] for k in table.key)))]
        if fresh:
            target.write(table, fresh)
        read, copied = read + len(rows), copied + len(fresh)
        after = tuple(rows[-1][k] for k in table.key)
        if progress is not None:
            progress(TableCopy(table.name, total, read, copied, read - copied))
        if len(rows) < size:
            break
    return TableCopy(table.name, total, read, copied, read - copied)


def _chain(store: Any) -> dict[int, str]:
    """The chained label events' ``seq`` → ``event_id``."""
    with store.reading() as reader:
        query = "SELECT seq, event_id FROM label_events WHERE seq IS NOT NULL AND hash IS NOT NULL"
        return {int(seq): str(event_id) for seq, event_id in reader.execute(query).fetchall()}


def _refuse_two_chains(source: HistoryStore, target: Destination) -> None:
    mine, theirs = _chain(source), _chain(target)
    clash = sorted(seq for seq in mine.keys() & theirs.keys() if mine[seq] != theirs[seq])
    if clash:
        seq = clash[0]
        raise StoreError(
            f"{target.location} already has a label log whose hash chain differs from the one being copied "
            f"(event {seq} is {theirs[seq]} there and {mine[seq]} here), and one log can't hold two chains. "
            "Nothing was copied. Copy this history without its label moves (promptlab db copy --without-labels, "
            "lab.copy_to(..., labels=False)) and move its labels again on the destination."
        )
