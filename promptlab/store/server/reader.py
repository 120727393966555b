"""A read session on the team server: promptlab's read queries (DuckDB's
dialect, ``dialect.py``) run on one PostgreSQL connection, in one
repeatable-read transaction, so reads made together see one state."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import ClientCursor

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

_CSV_BLOCK = 1 << 24
_CSV_PARSE = pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
"""A row of one NULL is an empty line: it is a row, not nothing."""
_CSV_NULLS = {"null_values": [""], "strings_can_be_null": True, "quoted_strings_can_be_null": False}
"""PostgreSQL's CSV: NULL is an empty field, an empty text a quoted one (``""``)."""


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
        """Run a read query and return a DataFrame typed through Arrow, as the file's
        ``frame``. Rows of plain types (every trial column) come as CSV from ``COPY``,
        parsed by Arrow in C: 20,000 trials in a fraction of the time psycopg takes to
        make 900,000 Python values of them. Others are fetched as rows."""
        query, plain = dialect.postgres(text), _plain(params)
        names, types = self._columns(query, plain)
        if names and all(kind is not None for kind in types):
            table = self._copied(ClientCursor(self.connection).mogrify(query, plain), types).rename_columns(names)
        else:
            rows = self.connection.cursor().execute(query, plain).fetchall()
            arrays = [pa.array([row[index] for row in rows], type=kind) for index, kind in enumerate(types)]
            table = pa.table(arrays, names=names) if names else pa.table({})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            return table.to_pandas()

    def _columns(self, query: str, plain: Any) -> tuple[list[str], list[Any]]:
        """``query``'s column names and Arrow types (None: not one COPY's CSV can carry),
        asked of the server once per query and parameter types in this process."""
        key = (query, _kinds(plain))
        if key not in _DESCRIBED:
            cursor = self.connection.cursor().execute(f"SELECT * FROM ({query}) AS q LIMIT 0", plain)
            described = cursor.description or []
            if len(_DESCRIBED) >= 1024:
                _DESCRIBED.clear()
            _DESCRIBED[key] = ([c.name for c in described], [_ARROW_TYPES.get(c.type_code) for c in described])
        return _DESCRIBED[key]

    def _copied(self, query: str, types: list[Any]) -> pa.Table:
        """``query``'s rows through ``COPY … TO STDOUT (FORMAT csv)``, as ``types``.
        COPY takes no parameters: ``query`` has its values in it, quoted by psycopg."""
        chunks = io.BytesIO()
        with self.connection.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                chunks.write(chunk)
        names = [f"f{index}" for index in range(len(types))]
        if not chunks.tell():
            return pa.schema(list(zip(names, types, strict=True))).empty_table()
        convert = pa_csv.ConvertOptions(
            column_types=dict(zip(names, types, strict=True)), true_values=["t"], false_values=["f"], **_CSV_NULLS
        )
        chunks.seek(0)
        read = pa_csv.ReadOptions(column_names=names, block_size=_CSV_BLOCK)
        return pa_csv.read_csv(chunks, read_options=read, parse_options=_CSV_PARSE, convert_options=convert)

    def query(self, text: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Like ``frame``, with text as the file's ``query`` gives it: objects, None when missing."""
        frame = self.frame(text, params)
        for index, dtype in enumerate(frame.dtypes):
            if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
                values = frame.iloc[:, index]
                frame.isetitem(index, values.astype(object).where(values.notna(), None).tolist())
        return frame


_DESCRIBED: dict[tuple[str, Any], tuple[list[str], list[Any]]] = {}
"""``ServerReader._columns``' answers, by query text and parameter types."""


def _kinds(plain: Sequence[Any] | Mapping[str, Any] | None) -> Any:
    """The parameters' types, which with the query's text decide its columns' types."""
    if isinstance(plain, Mapping):
        return tuple(sorted((str(k), type(v).__name__) for k, v in plain.items()))
    return tuple(type(v).__name__ for v in plain or ())


def _plain(params: Sequence[Any] | Mapping[str, Any] | None) -> Sequence[Any] | Mapping[str, Any] | None:
    """Parameters as psycopg adapts them: a tuple of values becomes a list (an array)."""
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    return [list(v) if isinstance(v, tuple) else v for v in params]
