"""Test inputs: rows of template variables from lists, DataFrames or files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import pandas as pd

from promptlab.core.hashing import to_jsonable
from promptlab.errors import DataError

Data = Union[Sequence[Mapping[str, Any]], pd.DataFrame, str, "os.PathLike[str]"]
"""What ``sweep(data=...)`` accepts: a list of dicts, a DataFrame, or a file path."""


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    """One row per line, each a JSON object; a bad line is named by its number
    (pandas' reader only says the file is bad)."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}); "
                    "each line of a .jsonl file must be one JSON object"
                ) from None
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {number}: a JSON {type(row).__name__}, not an object of variables")
            rows.append(row)
    return rows


_READERS: dict[str, Callable[[Path], Any]] = {
    ".csv": lambda p: pd.read_csv(p, keep_default_na=False, dtype=str),
    ".tsv": lambda p: pd.read_csv(p, sep="\t", keep_default_na=False, dtype=str),
    ".jsonl": _read_json_lines,
    ".ndjson": _read_json_lines,
    ".json": lambda p: pd.read_json(p, dtype=False),
    ".parquet": pd.read_parquet,
}


def _read_file(path: Path) -> pd.DataFrame | list[dict[str, Any]]:
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(
            f"can't read {path}: use a .csv, .tsv, .jsonl, .json or .parquet file, "
            "or pass a list of dicts or a DataFrame"
        )
    if not path.is_file():
        raise DataError(f"data file {path} does not exist (working directory: {Path.cwd()})")
    try:
        frame = reader(path)
    except DataError:
        raise
    except Exception as exc:  # pandas raises many types for a bad file; all mean the same
        raise DataError(f"can't read {path} as {path.suffix[1:].upper()}: {exc}") from exc
    if isinstance(frame, list):
        return frame
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{path} does not hold a table of rows")
    return frame


def load_rows(data: Data) -> list[dict[str, Any]]:
    """Rows of template variables, as plain JSON-able dicts, in their original order."""
    if isinstance(data, (str, os.PathLike)):
        data = _read_file(Path(data))
    records: list[Any]
    if isinstance(data, pd.DataFrame):
        records = data.to_dict(orient="records")
    elif isinstance(data, Mapping):
        raise DataError("data is a single dict; wrap it in a list: data=[{...}]")
    elif isinstance(data, Sequence):
        records = list(data)
    else:
        raise DataError(f"data must be a list of dicts, a DataFrame or a file path, not {type(data).__name__}")
    if not records:
        raise DataError("the data has no rows; a sweep needs at least one input")
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise DataError(f"row {i} is a {type(record).__name__}, not a dict of template variables")
        row = {str(k): to_jsonable(v) for k, v in record.items()}
        _refuse_lone_surrogates(row, i)
        rows.append(row)
    return rows


def _refuse_lone_surrogates(row: Mapping[str, Any], index: int) -> None:
    """Text no UTF-8 file can hold (a lone surrogate, e.g. from a bad ``\\ud800``
    escape) is refused here, with its row, rather than failing a sweep midway."""
    for key, value in row.items():
        for text in _strings(value):
            try:
                text.encode()
            except UnicodeEncodeError as exc:
                raise DataError(
                    f"row {index}, column {key!r} holds a lone surrogate ({text[exc.start]!r} at character "
                    f"{exc.start}), which isn't valid Unicode text; fix or drop that character in the data"
                ) from None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
