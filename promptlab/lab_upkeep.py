"""Looking after the history a ``Lab`` holds: folding or sending what waits,
the file's check-up, space and compaction (``promptlab db ...``)."""

from __future__ import annotations

from promptlab.errors import ConfigError
from promptlab.store import Store, compaction, space
from promptlab.store.compaction import Compaction
from promptlab.store.doctor import Checkup, checkup
from promptlab.store.space import StorageStats


class UpkeepMethods:
    """The upkeep half of ``Lab`` (it holds ``store``)."""

    store: Store

    def fold(self) -> int:
        """Move journaled rows into the database file now (promptlab does this on
        its own; call it before handing the file to a plain DuckDB client). On a
        team server: send what waits in the local spool."""
        return self.store.fold(wait=self.store.busy_timeout)

    flush = fold

    def _file_only(self, what: str) -> None:
        if not isinstance(self.store, Store):
            raise ConfigError(
                f"{what} looks after a history file; a team server is looked after with PostgreSQL's own tools "
                "(VACUUM, pg_dump, pg_stat_user_tables), and `promptlab db init URL` brings its schema up to date"
            )

    def doctor(self, *, salvage: bool = False) -> Checkup:
        """A check-up of the history (``promptlab db doctor``): its schema, objects
        in the file promptlab didn't make, rows waiting in the journal, and
        journal segments set aside in quarantine; ``salvage=True`` records what
        can be repaired from those."""
        self._file_only("db doctor")
        return checkup(self.store, salvage_quarantined=salvage)

    def db_stats(self) -> StorageStats:
        """How the history file uses its space (``promptlab db stats``): its size,
        the blocks earlier folds left free, rows per table, the journal waiting."""
        self._file_only("db stats")
        return space.stats(self.store)

    def compact(self) -> Compaction:
        """Rewrite the history file without its free blocks (``promptlab db compact``),
        checking every row before the copy replaces it; reads wait meanwhile.
        promptlab does this on its own after a background fold when enough of the
        file is free and the copy is quick (``promptlab.store.compaction``)."""
        self._file_only("db compact")
        return compaction.compact(self.store)
