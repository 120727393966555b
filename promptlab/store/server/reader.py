"""A read session on the team server: promptlab's read queries (DuckDB's
dialect, ``dialect.py``) run on one PostgreSQL connection, in one
repeatable-read transaction, so reads made together see one state."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from promptlab.store.server import dialect

_ARROW_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    114: pa.string(),
    3802: pa.string(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
"""PostgreSQL type oids → the Arrow types DuckDB gives the same columns, so a
frame from the server has the dtypes of one from the file."""


class ServerReader:
    """Queries in one read session (see ``ServerStore.reading``)."""

    indexed_search = False
    """The file's own search index (``search_index.py``) isn't on the server:
    trigram indexes serve ``ILIKE`` there, so a search is never narrowed first."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        """Run a read query; the cursor with its result."""
        cursor = self.connection.cursor()
        cursor.execute(dialect.postgres(text), _plain(params))
        return cursor

    def frame(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame typed through Arrow, as the file's ``frame``."""
        cursor = self.execute(text, params)
        described = cursor.description or []
        rows = cursor.fetchall()
        arrays = [
            pa.array([row[index] for row in rows], type=_ARROW_TYPES.get(column.type_code))
            for index, column in enumerate(described)
        ]
        table = pa.table(arrays, names=[column.name for column in described]) if described else pa.table({})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            return table.to_pandas()

    def query(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Like ``frame``, with text as the file's ``query`` gives it: objects, None when missing."""
        frame = self.frame(text, params)
        for index, dtype in enumerate(frame.dtypes):
            if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
                values = frame.iloc[:, index]
                frame.isetitem(index, values.astype(object).where(values.notna(), None).tolist())
        return frame


def _plain(params: Sequence[Any] | Mapping[str, Any] | None) -> Sequence[Any] | Mapping[str, Any] | None:
    """Parameters as psycopg adapts them: a tuple of values becomes a list (an array)."""
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    return [list(v) if isinstance(v, tuple) else v for v in params]
