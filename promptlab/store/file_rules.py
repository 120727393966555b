"""What a history file can and can't promise about who did what, as the
members a team server has (``server/store.py``), so callers ask either store
the same way.

Anyone who can write the file can write anything in it: it authenticates no
one (``identity`` is None; a row's user is whoever its lineage names),
records no approvals of its own (the policy file beside it names approvers;
the person promoting passes ``approved_by=``), and serializes label moves
with a lock file beside its journal, for the processes of one machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from promptlab.core.files import file_lock
from promptlab.errors import ConfigError, StoreBusyError

if TYPE_CHECKING:
    from promptlab.store.journal import Journal

LABELS_LOCK = "labels.lock"
"""The lock file, in the journal's folder, held while a label event is numbered and appended."""


class FileRules:
    """The file's answers (a base of ``Store``)."""

    path: Path
    journal: Journal
    busy_timeout: float

    identity: str | None = None
    """Who the store authenticated: no one, for a file."""

    @property
    def location(self) -> str:
        """Where the history is, as it is shown: the file's path."""
        return str(self.path)

    @contextmanager
    def labels_locked(self) -> Iterator[None]:
        """Hold the lock under which label events are numbered and appended."""
        with file_lock(self.journal.root / LABELS_LOCK, exclusive=True, timeout=self.busy_timeout) as held:
            if not held:
                raise StoreBusyError(
                    f"another process has been moving a label in {self.path} for {self.busy_timeout:.3g}s; "
                    "try again in a moment"
                )
            yield

    def server_policy(self) -> None:
        """None: a file's label policy is the file beside it (``labels.Policy.beside``)."""
        return None

    def approve(self, name: str, version: str, label: str, *, note: str | None = None) -> str:
        """Refused: in a file an approval is named by the person promoting."""
        raise ConfigError(
            "approvals are recorded on a team server (pl.Lab('postgresql://...')); in a history file the "
            "person promoting passes approved_by= and the policy file says who may approve"
        )
