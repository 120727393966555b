"""A read session: the history file attached read-only, with views that
union its tables with the journal's segments not folded yet.

A writer may seal its open segment (a rename) after the views listed it:
the views are rebuilt from a fresh listing and the query runs again. A
segment with a line too large to parse is left out of the session (the
fold sets it aside), so no line can make reads fail for everyone. An error
that says the file is damaged becomes a ``DamagedStoreError``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from promptlab.errors import DamagedStoreError, HistoryWarning, StoreError
from promptlab.store import search_index, sql
from promptlab.store.engine import interruptible
from promptlab.store.journal import Journal
from promptlab.store.schema import TABLES, Table
from promptlab.store.totals import TRIAL_TOTALS

_TOO_LARGE = re.compile(r'maximum_object_size.*?reading file "([^"]+)"', re.S)
_DAMAGE = re.compile(r"Could not read enough bytes|Corrupt|checksum|INTERNAL Error|not a valid DuckDB", re.I)


def damaged(path: Path, error: duckdb.Error) -> DamagedStoreError | None:
    """The ``DamagedStoreError`` for an error that says the file is damaged, else None."""
    if not _DAMAGE.search(str(error)):
        return None
    return DamagedStoreError(
        f"{path} is damaged and can't be read ({error}). Restore it from a backup; trials not yet "
        f"folded are safe in {path.name}.journal beside it."
    )


def sealed_while_reading(error: Exception) -> bool:
    """Whether DuckDB failed because a journal segment was sealed (renamed)
    between listing it and reading it (at bind time or at scan time)."""
    message = str(error)
    return "No files found that match the pattern" in message or (
        "Cannot open file" in message and ".jsonl.open" in message
    )


class Reader:
    """Queries in one read session (see ``Store.reading``)."""

    indexed_search = True
    """Searches are narrowed by the file's own search index (``search_index.py``)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        alias: str,
        journal: Journal,
        present: Mapping[str, set[str]],
        path: Path,
    ) -> None:
        self.con = con
        self._path = path
        self._alias = alias
        self._journal = journal
        self._present = present
        """The file's tables and their columns (a read-only open of an older file lacks the newer ones)."""
        self._left_out: set[str] = set()

    def list_journal(self) -> None:
        """(Re)build the live views from a fresh listing of the segments."""
        for attempt in range(5):
            try:
                for name, table in TABLES.items():
                    if name in self._present:
                        paths = [p for p in self._journal.segments(name) if str(p) not in self._left_out]
                        view = sql.live_view(table, self._as_now(table), paths)
                        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {view}")
                        if name == "trials":
                            self._journal_trials(paths)
                            self.con.execute(f"CREATE OR REPLACE TEMP VIEW trial_totals AS {TRIAL_TOTALS}")
                self._search_views()
                return
            except duckdb.IOException as exc:  # a segment was sealed as we listed it: list again
                if not sealed_while_reading(exc) or attempt == 4:
                    raise

    def _as_now(self, table: Table) -> str:
        """The file's table ``table``, with the columns an older file lacks as NULLs."""
        missing = [(c, kind) for c, kind in table.columns if c not in self._present[table.name]]
        if not missing:
            return self.folded(table.name)
        nulls = ", ".join(f'CAST(NULL AS {kind}) AS "{c}"' for c, kind in missing)
        return f"(SELECT *, {nulls} FROM {self.folded(table.name)})"

    def folded(self, name: str) -> str:
        """The file's own table ``name`` (the folded rows, with their ``rowid``),
        for the reads that fetch a few rows of a big table in two steps."""
        return f'"{self._alias}"."main"."{name}"'

    def _journal_trials(self, paths: Sequence[Path]) -> None:
        """``journal_trials``: the trials in segments not folded yet (none when
        the journal is empty); a trial in both, folded just now, is the same trial."""
        trials = TABLES["trials"]
        rows = sql.segment_rows(trials, paths) if paths else f"SELECT * FROM {self.folded('trials')} LIMIT 0"
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW journal_trials AS {rows}")

    def _search_views(self) -> None:
        """``search_docs`` and ``search_postings`` (the index's tables), and
        ``unindexed_trials``: the trials the index doesn't cover, which a
        search reads whole (the journal's; every trial of a file from before
        the index, opened read-only)."""
        if "trials" not in self._present:
            return
        if all(name in self._present for name in search_index.INDEX_TABLES):
            for name in search_index.INDEX_TABLES:
                self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {self.folded(name)}")
            unindexed = "SELECT trial_id FROM journal_trials"
        else:
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {search_index.DOCS} AS "
                "SELECT NULL::BIGINT AS doc, NULL::VARCHAR AS trial_id WHERE FALSE"
            )
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {search_index.POSTINGS} AS "
                "SELECT NULL::VARCHAR AS term, NULL::BIGINT[] AS docs WHERE FALSE"
            )
            unindexed = "SELECT trial_id FROM trials"
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW unindexed_trials AS {unindexed}")

    def _leave_out(self, error: Exception) -> bool:
        """Leave out a segment with a line too large to read (the fold quarantines it)."""
        found = _TOO_LARGE.search(str(error))
        if not found or found.group(1) in self._left_out:
            return False
        segment = Path(found.group(1))
        self._left_out.add(str(segment))
        warnings.warn(
            f"{segment.name} in the journal has a line too large to read; it is left out of this read "
            "and the next fold sets it aside (`promptlab db doctor` lists it)",
            HistoryWarning,
            stacklevel=4,
        )
        return True

    def execute(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Run a read query. A writer may seal its open segment (a rename) after the
        views listed it; the views are then rebuilt from a fresh listing and the
        query runs again: the rows are still there, under the sealed name."""
        for attempt in range(5):
            try:
                with interruptible():
                    return self.con.execute(text, params)
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:
                retry = sealed_while_reading(exc) or self._leave_out(exc)
                if not retry or attempt == 4:
                    raise damaged(self._path, exc) or exc from exc
                self.list_journal()
        raise AssertionError("unreachable")

    def query(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        with warnings.catch_warnings():
            # duckdb 2.0 calls a pandas API that pandas 3.1 deprecates; not ours to fix
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            return self.execute(text, params).df()

    def frame(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Like ``query``, through Arrow: about twice as fast for wide rows of
        text (a trial's output), and a text column is ``str`` even when every
        value is missing (``query`` makes that one ``object``)."""
        result = self.execute(text, params)
        with warnings.catch_warnings():  # "makes an extra copy of the rows": measured, no slower here
            warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
            table = result.to_arrow_table()
        assert table is not None  # a query that ran has a result, if only an empty one
        return table.to_pandas()


@contextlib.contextmanager
def shared_session(
    local: threading.local, reading: Callable[[], contextlib.AbstractContextManager[Any]]
) -> Iterator[None]:
    """``Store.together`` (either store): reads in this thread share the session
    ``reading()`` opens, kept on ``local.reader`` until the block ends. When it
    can't be opened, each read opens its own (and reports its own error)."""
    with contextlib.ExitStack() as stack:
        if getattr(local, "reader", None) is None:
            with contextlib.suppress(StoreError):
                local.reader = stack.enter_context(reading())
            stack.callback(setattr, local, "reader", None)
        yield
