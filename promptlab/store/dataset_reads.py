"""Read queries about datasets: their change log (``dataset_changes``).

A dataset is nothing but its changes, so every read is of the log, in the
order the changes were made: by each change's first time, then its id (two
changes in one microsecond still read in one order everywhere), and within
a change by its rows' times, which a change spaces a microsecond apart in
the order its rows were given (``promptlab.release.datasets``).
"""

from __future__ import annotations

import pandas as pd

from promptlab.store.reads import Source

_ORDERED = """
    SELECT change_id, dataset, op, row_hash, trial_id, note, "user", created_at{row}
    FROM (
        SELECT *, min(created_at) OVER (PARTITION BY change_id) AS change_at
        FROM dataset_changes {where}
    ) changes
    ORDER BY change_at, change_id, created_at, row_hash
"""


def dataset_changes(store: Source, name: str | None = None, *, rows: bool = True) -> pd.DataFrame:
    """Every change row of dataset ``name`` (of all datasets when None), in the
    order the changes were made; ``rows=False`` leaves out the rows' content
    (``row``), which a listing of versions doesn't need."""
    where = "WHERE dataset = ?" if name is not None else ""
    text = _ORDERED.format(row=', "row"' if rows else "", where=where)
    return store.query(text, [name] if name is not None else None)


def dataset_names(store: Source) -> list[str]:
    """The names of every dataset ever changed, sorted."""
    frame = store.query("SELECT DISTINCT dataset FROM dataset_changes ORDER BY dataset")
    return [str(name) for name in frame["dataset"]]
