"""Where a logger's rows go: the journal beside a history file, or this
user's spool for a team server; and how they reach the history itself.

Both are the same durable journal the sweeps write (``store/journal.py``):
an append returns once the rows are on disk. Publishing seals the logger's
open segment, so the next fold takes it, and then folds (a file) or sends
(a server) itself. That part imports the store (DuckDB, pandas, psycopg),
so it runs on the logger's own thread, never on the application's, and an
application that only appends stays light.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from promptlab.privacy.policy import PrivacyPolicy, policy_for
from promptlab.store.journal import Journal
from promptlab.store.location import journal_folder
from promptlab.store.server.connection import is_server, shown, spool_folder


class Sink(Protocol):
    """A logger's destination."""

    location: str
    """Where the history is, as shown (a path, or a URL without its password)."""

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Write the rows durably (returns once they are on disk)."""

    def publish(self) -> None:
        """Seal what was appended, and move it into the history (fold or send)."""

    def close(self) -> None:
        """Seal what was appended (a server's: and send it); nothing appended is
        lost if this never comes."""

    def privacy_policy(self) -> PrivacyPolicy:
        """The privacy policy over the history (``promptlab.privacy.policy``)."""


class _Spooled:
    """Appends go to a journal (``folder``), durably; ``_store`` is opened by the first publish."""

    def __init__(self, folder: Path) -> None:
        self.journal = Journal(folder)
        self.journal.create()
        self._store: Any = None

    def append(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.journal.append(rows_by_table)


class FileSink(_Spooled):
    """The journal beside a history file; publishing folds it into the file."""

    def __init__(self, path: Path, *, fold: bool) -> None:
        self.path = path.expanduser().resolve()
        self.location = str(self.path)
        self.fold = fold
        super().__init__(journal_folder(self.path))

    def publish(self) -> None:
        self.journal.seal()
        if not self.fold:
            return
        if self._store is None:
            from promptlab.store.database import Store

            self._store = Store(self.path)
        self._store.fold(wait=0.0)  # busy (another process folding, a reader): the next publish

    def close(self) -> None:
        self.journal.seal()

    def privacy_policy(self) -> PrivacyPolicy:
        return policy_for(self.path)


class ServerSink(_Spooled):
    """This user's spool for a team server; publishing sends it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = shown(url)
        super().__init__(spool_folder(self.location))

    def privacy_policy(self) -> PrivacyPolicy:
        return policy_for(None)

    def publish(self) -> None:
        self.journal.seal()
        if self._store is None:
            from promptlab.store.server.opening import server_store

            self._store = server_store(self.url)  # opening sends what waits
            return
        self._store.fold(wait=0.0)

    def close(self) -> None:
        self.publish()  # reads come from the server: what the app logged should be there


def sink_for(db: str | os.PathLike[str], *, fold: bool = True) -> Sink:
    """The sink for history ``db``: a team server's URL, or a file's path."""
    if is_server(db):
        return ServerSink(str(db))
    path = Path(db)
    with contextlib.suppress(OSError):
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)
    return FileSink(path, fold=fold)
