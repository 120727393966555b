"""Canonical JSON and the content hashes built on it.

Prompt versions, model ids, cell keys and cache keys are all hashes of
canonical JSON, so the same content gets the same key in every process,
notebook and machine that writes to a shared history.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import uuid
from datetime import date, datetime
from typing import Any


def _pandas_missing(value: Any) -> bool:
    """``pd.NA`` or ``pd.NaT`` (without importing pandas: a value can't be one unless it is;
    another thread may be importing it, so its names may not be there yet)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and (value is getattr(pandas, "NA", None) or value is getattr(pandas, "NaT", None))


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for ``value``: numpy/pandas scalars, NaN and dates made portable."""
    if value is None or _pandas_missing(value):
        return None
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy and pandas scalars
    if callable(item):
        return to_jsonable(item())
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return to_jsonable(tolist())
    return str(value)


def canonical_json(value: Any, *, plain: bool = False) -> str:
    """Stable JSON: sorted keys, no whitespace, portable scalars. ``plain=True``
    skips the conversion for values already made of JSON types (a hot path)."""
    return json.dumps(value if plain else to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any, length: int = 16) -> str:
    """Hex SHA-256 of ``value``'s canonical JSON, cut to ``length`` characters."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]


def hash_strings(parts: list[str], length: int = 16) -> str:
    """Hex SHA-256 of already-canonical strings; the fast path for keys built in bulk."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def new_id() -> str:
    """A fresh random id for trials and runs (32 hex characters)."""
    return uuid.uuid4().hex
