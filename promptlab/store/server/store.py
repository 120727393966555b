"""The team server store: a history on PostgreSQL, with the file store's API.

Writes go first to a local spool (the file store's journal, in a folder of
this user on this machine) and are acknowledged once on disk there; the
fold sends sealed segments to the server (``send.py``) and removes them
only after the server shows their keys. So a sweep never waits on the
network, and when the server is away (restarted, network down) it carries
on: its trials wait in the spool, a warning says how many, and the next
fold (``lab.flush()``, a later sweep, the next ``Lab`` open) sends them,
each exactly once (the keys make a second send a no-op).

Reads go to the server, with the read queries both stores share
(``dialect.py``); they say when the spool holds rows the server hasn't got.
Label moves are the exception to the spool: the server must accept them
now (it enforces who may move a protected label), so they are written
directly, under the server's lock.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from promptlab.core.files import file_lock
from promptlab.core.hashing import new_id
from promptlab.errors import HistoryWarning, NewerSchemaError, PolicyError, ServerUnreachableError, StoreError
from promptlab.store import fold
from promptlab.store.fold import FoldResult
from promptlab.store.journal import Journal
from promptlab.store.reader import shared_session
from promptlab.store.schema import TABLES
from promptlab.store.server import migrations, roles, send
from promptlab.store.server.connection import connect, scrubbed, shown, spool_folder, unreachable
from promptlab.store.server.reader import ServerReader

BUSY_TIMEOUT = 5.0
"""Seconds a fold waits for another process of this user sending the same spool."""

DIRECT_TABLES = frozenset({"label_events", "privacy_log"})
"""Tables written to the server at once, never spooled (see the module docstring)."""

IDLE_CONNECTIONS = 4
"""Connections kept open between uses (a sweep's reads and sends come from a few threads)."""

LABELS_LOCK = 0x70_6C_61_62
"""The advisory lock key under which label events are numbered and appended."""


def _refuse_newer(location: str, version: int) -> None:
    if version > migrations.LATEST:
        raise NewerSchemaError(
            f"{location} was set up by a newer promptlab (server schema {version}; this one knows up to "
            f"{migrations.LATEST}). Upgrade: pip install -U promptlab"
        )


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.close()


class ServerStore:
    """A history on a PostgreSQL server, and this user's local spool for it."""

    indexed_search = False
    """Trigram indexes on the server serve a search (see ``ServerReader``)."""

    def __init__(self, url: str, *, busy_timeout: float = BUSY_TIMEOUT, read_only: bool = False) -> None:
        self.url = url.strip()
        self.location = shown(self.url)
        """The URL without its password: what promptlab shows and records."""
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        spool = spool_folder(self.location)
        self.journal = Journal(spool)
        self.lock_path = self.journal.root
        self.last_fold = fold.FoldResult()
        self.after_background_fold: Callable[[Any], object] | None = None
        self.identity: str | None = None
        """The database role this store records as (the server's ``session_user``)."""
        self.may_record = True
        """Whether that role may record trials (a reader may not)."""
        self._session = threading.local()
        self._connections = threading.local()  # the connection a thread's block holds
        self._idle: list[Any] = []
        self._idle_lock = threading.Lock()
        self._warned_waiting = -1
        self._send_failed = False
        """Whether the last send couldn't reach the server: only then do reads warn
        of the spool (during a sweep it always holds the trials of the next send)."""
        try:
            if not read_only:  # application code reading a label keeps nothing on disk
                self.journal.create()
        except OSError as exc:
            raise StoreError(f"can't keep the local spool for {self.location} at {spool} ({exc})") from exc
        try:
            with self._connected() as connection:
                if read_only:
                    _refuse_newer(self.location, migrations.applied_version(connection))
                else:
                    migrations.migrate(connection)
                self.identity, self.may_record = connection.execute(
                    "SELECT session_user, has_table_privilege('promptlab.trials', 'INSERT')"
                ).fetchone()
        except ServerUnreachableError as exc:
            warnings.warn(f"{exc}", HistoryWarning, stacklevel=3)
            return
        if not read_only:
            self.fold()  # what an earlier process left in the spool goes now

    def __repr__(self) -> str:
        return f"ServerStore({self.location!r})"

    @property
    def path(self) -> Path:
        """The local spool (a server has no file)."""
        return self.journal.root

    # -- connections -------------------------------------------------------------

    @contextlib.contextmanager
    def _connected(self) -> Iterator[Any]:
        """A connection for the block: the one this thread's block holds already
        (a read inside a label move), else an idle one that still answers, else
        a new one; idle again afterwards. A connection that failed is closed,
        never reused, and its error becomes ``ServerUnreachableError`` (a
        refused login: ``StoreError``)."""
        held = getattr(self._connections, "connection", None)
        if held is not None:
            yield held
            return
        try:
            connection = self._checkout()
        except psycopg.OperationalError as exc:
            raise unreachable(self.location, exc) from None
        self._connections.connection = connection
        try:
            yield connection
        except psycopg.OperationalError as exc:
            _close(connection)
            raise unreachable(self.location, exc) from None
        finally:
            self._connections.connection = None
        self._checkin(connection)

    def _checkout(self) -> Any:
        """An idle connection that answers, or a new one. A server restart leaves an
        idle connection dead without its knowing, so each is asked first (one
        round trip, as psycopg_pool checks its connections)."""
        while True:
            with self._idle_lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return connect(self.url)
            try:
                connection.execute("SELECT 1")
                return connection
            except psycopg.Error:
                _close(connection)

    def _checkin(self, connection: Any) -> None:
        idle = not connection.closed and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with self._idle_lock:
            if idle and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(connection)
                return
        _close(connection)

    # -- writing -----------------------------------------------------------------

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]], *, seal: bool = True) -> None:
        """Record rows durably in the spool (returns once they are on disk);
        label events go to the server at once."""
        if self.read_only:
            raise StoreError(f"{self.location} was opened read-only; open it with pl.Lab(url) to record")
        unknown = set(rows_by_table) - TABLES.keys()
        if unknown:
            raise StoreError(f"no table named {', '.join(sorted(unknown))}")
        if not self.may_record and set(rows_by_table) - {"feedback", "scores", "privacy_log"}:
            raise PolicyError(
                f"{self.identity} may only read {self.location}; an admin gives a role that records: "
                f"`promptlab db grant {self.identity} researcher`"
            )
        direct = {name: rows for name, rows in rows_by_table.items() if name in DIRECT_TABLES}
        spooled = {name: rows for name, rows in rows_by_table.items() if name not in DIRECT_TABLES}
        if direct:
            self._write_now(direct)
        if spooled:
            self.journal.append(spooled)
            if seal:
                self.journal.seal()

    def _write_now(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        try:
            with self._connected() as connection, connection.transaction():
                connection.execute("SET LOCAL synchronous_commit = on")
                for name, rows in rows_by_table.items():
                    send.insert_rows(connection, TABLES[name], rows)
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException) as exc:
            raise PolicyError(f"the team server refused it: {exc.diag.message_primary or exc}") from None

    @contextlib.contextmanager
    def labels_locked(self) -> Iterator[None]:
        """Hold the server's lock under which label events are numbered and appended
        (the reads and the write inside use the connection that holds it)."""
        with self._connected() as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", [LABELS_LOCK])
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    connection.execute("SELECT pg_advisory_unlock(%s)", [LABELS_LOCK])

    def server_policy(self) -> tuple[list[str], list[str]]:
        """The labels this server protects, and the members of its approver role."""
        with self._connected() as connection:
            approvers = connection.execute(
                "SELECT member.rolname FROM pg_auth_members m JOIN pg_roles member ON member.oid = m.member "
                "JOIN pg_roles grp ON grp.oid = m.roleid WHERE grp.rolname = %s AND member.rolcanlogin",
                [roles.group_role("approver")],
            ).fetchall()
            return roles.protected_labels(connection), sorted(str(row[0]) for row in approvers)

    def approve(self, name: str, version: str, label: str, *, note: str | None = None) -> str:
        """Record, as this session's role, an approval to move ``label`` of ``name`` to ``version``."""
        approval_id = new_id()
        try:
            with self._connected() as connection:
                connection.execute(
                    "INSERT INTO label_approvals (approval_id, name, version, label, approved_by, note, created_at) "
                    "VALUES (%s, %s, %s, %s, session_user, %s, now() AT TIME ZONE 'UTC')",
                    [approval_id, name, version, label, note],
                )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PolicyError(
                f"only the team server's approvers may approve ({exc.diag.message_primary}); an admin runs "
                f"`promptlab db grant {self.identity} approver`"
            ) from None
        return approval_id

    def fold(self, wait: float = 0.0) -> int:
        """Send the spool's sealed segments to the server; the number sent.
        When the server can't be reached they wait, with a warning saying how many."""
        if self.read_only:
            return 0
        self.journal.seal()
        if not self.journal.pending():
            return 0
        with file_lock(self.lock_path, exclusive=True, timeout=wait) as held:
            if not held:
                return 0  # another process of this user is sending this spool
            self.journal.adopt_orphans()
            result = self.last_fold = fold.FoldResult()
            try:
                self._send(result)
                self._send_failed = False
            except StoreError as exc:  # away (or the login refused): the rows wait
                self._report_waiting(exc)
            except psycopg.Error as exc:
                warnings.warn(
                    f"the team server {self.location} refused rows from the local spool "
                    f"({scrubbed(str(exc)).strip()}); they stay in {self.journal.root}",
                    HistoryWarning,
                    stacklevel=2,
                )
            self.journal.sweep_temporaries()
            return result.folded

    def _send(self, result: FoldResult) -> None:
        """Each batch of sealed segments in one transaction, checked, then removed."""
        with self._connected() as connection:
            for batch in fold.batches(self.journal):
                parsed = fold.parse_batch(batch)
                rows = fold.chosen_rows(parsed)
                with connection.transaction():
                    # the commit's answer must mean the rows are on the server's disk: the
                    # spool's copy goes next (a server set to synchronous_commit=off lost them)
                    connection.execute("SET LOCAL synchronous_commit = on")
                    for name, table_rows in rows.items():
                        send.insert_rows(connection, TABLES[name], table_rows)
                result.unverified = sum(
                    send.missing_keys(connection, TABLES[name], table_rows) for name, table_rows in rows.items()
                )
                if result.unverified:
                    break  # the segments stay; sending them again is harmless
                fold.settle(self.journal, parsed, result, fold.report_quarantine)

    def waiting(self) -> int:
        """How many trials the local spool holds that the server hasn't got yet."""
        count = 0
        for path in self.journal.segments("trials"):
            with contextlib.suppress(FileNotFoundError):
                count += path.read_bytes().count(b"\n")
        return count

    def _report_waiting(self, exc: BaseException) -> None:
        self._send_failed = True
        waiting = self.waiting()
        warnings.warn(
            f"{exc}; {waiting} trial(s) wait in the local spool and are sent when it is back (lab.flush())",
            HistoryWarning,
            stacklevel=3,
        )

    def fold_soon(self, delay: float = 0.0) -> None:
        """Send now, whatever ``delay`` says: reads come from the server, so a row
        written (a vote, a sweep's last trials) must be there for the next read.
        A server that can't be reached leaves them waiting, with a warning."""
        self.fold(wait=self.busy_timeout)

    # -- reading -----------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, wait: float | None = None) -> Iterator[ServerReader]:
        """A read session: one repeatable-read transaction on the server."""
        shared = getattr(self._session, "reader", None)
        if shared is not None:
            yield shared
            return
        self._say_what_waits()
        with self._connected() as connection:
            outermost = connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            with connection.transaction():
                if outermost:  # a read inside a read is a savepoint of the outer one
                    connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    # an experiment's 20,000 wide rows sort in memory, not in files (4 MB by default)
                    connection.execute("SET LOCAL work_mem = '64MB'")
                yield ServerReader(connection)

    def _say_what_waits(self) -> None:
        if not self._send_failed or not self.journal.pending():
            self._warned_waiting = -1
            return
        waiting = self.waiting()
        if waiting and waiting != self._warned_waiting:
            self._warned_waiting = waiting
            warnings.warn(
                f"{waiting} trial(s) recorded here wait in the local spool and are not on the team server "
                f"{self.location} yet, so this read doesn't show them; lab.flush() sends them",
                HistoryWarning,
                stacklevel=4,
            )

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Reads in this thread share one session until the block ends."""
        with shared_session(self._session, self.reading):
            yield

    def query(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one read query and return a DataFrame."""
        with self.reading() as reader:
            return reader.query(text, params)
