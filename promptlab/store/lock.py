"""The lock promptlab processes take around every open of the DuckDB file
(``promptlab.core.files.file_lock`` on the journal folder), and the error
for a program outside promptlab that holds the file.

DuckDB allows one read-write process or many read-only ones, and refuses
the rest with an error. promptlab never lets that error reach a user:
writers append to the journal without opening the database at all, and
every open of the file happens under an ``flock`` on a sidecar lock file,
shared for reads and exclusive for folds and migrations. Inside a process a
thread lock serialises opens too, because flocks taken on two descriptors
of one process conflict with each other.

The store locks its journal folder (a folder can be locked like a file), so
deleting a lock file can't let two folds run at once.
"""

from __future__ import annotations

from pathlib import Path

from promptlab.errors import StoreBusyError


def busy_error(path: Path, waited: float, cause: Exception | None = None) -> StoreBusyError:
    """The error for a database another program kept open past our patience."""
    detail = f" ({cause})" if cause else ""
    held = (
        f"has been held open by another program for {waited:.3g}s"
        if waited >= 0.5
        else "is held open by another program"
    )
    return StoreBusyError(
        f"{path} {held}{detail}. "
        "DuckDB lets one program write or many read, never both: close that program's "
        "connection (a DuckDB shell, a DBeaver tab, a notebook using duckdb directly) and "
        "try again. Trials recorded meanwhile are safe in the journal folder beside the file."
    )
