"""Writing trials out of the history: tables for other tools, and the files
shared by the fine-tuning exports (``promptlab.release.finetune``, ``promptlab.release.preferences``).

Every file is written to a temporary file in the target's folder and renamed
into place only when complete, so an export that fails leaves nothing
half-written, and a reader never sees a partial file. Exported text is passed
through the same secret masking the recorder applies to outputs, at every
depth (keys of nested objects too), so a key that reached an input or a
correction doesn't leave in a file.

CSV files are opened by spreadsheets, which run a cell starting with ``=``,
``+``, ``-`` or ``@`` as a formula (``=HYPERLINK(...)`` from a model's
output). Such a cell (or one starting with a tab or carriage return) is
written with a leading ``'``, as OWASP advises; JSONL and Parquet keep the
text as it is. Rows end in CRLF, so a carriage return inside a field is
quoted and can't split a row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypedDict

import pandas as pd

from promptlab.core.files import write_atomically
from promptlab.core.hashing import canonical_json, to_jsonable
from promptlab.core.redaction import Redactor
from promptlab.errors import ExportError

Format = Literal["csv", "parquet", "jsonl"]
"""A table format ``export_trials`` writes."""

SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
"""File suffixes and the format each one means."""


class TrialFilters(TypedDict, total=False):
    """The ``Lab.trials`` filters the export methods pass on."""

    experiment: str | None
    prompt: str | None
    prompt_version: str | None
    model: str | None
    run: str | None
    user: str | None
    since: datetime | str | timedelta | None
    search: str | None
    errors: bool | None


# -- writing files ------------------------------------------------------------------


def jsonl_writer(records: Sequence[Mapping[Any, Any]]) -> Callable[[Path], None]:
    """A writer of ``records`` as JSON Lines (UTF-8, one object per line)."""

    def write(path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for record in records:
                out.write(json.dumps(to_jsonable(record), ensure_ascii=False) + "\n")

    return write


def scrub(value: Any, redactor: Redactor) -> Any:
    """``value`` with the environment's secret values masked in every string inside it."""
    if isinstance(value, str):
        return redactor.values(value)
    if isinstance(value, Mapping):
        return {scrub(key, redactor): scrub(item, redactor) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, redactor) for item in value]
    return value


# -- trials as a table ------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula."""


def defuse_formula(value: Any) -> Any:
    """A CSV cell that a spreadsheet won't run: text starting with a formula
    character gets a leading ``'``; anything else is returned as it is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _write_csv(frame: pd.DataFrame) -> Callable[[Path], None]:
    safe = frame.rename(columns=defuse_formula)
    for name in safe.columns:
        if pd.api.types.is_object_dtype(safe[name]) or pd.api.types.is_string_dtype(safe[name]):
            safe[name] = safe[name].map(defuse_formula)

    def write(path: Path) -> None:
        safe.to_csv(path, index=False, lineterminator="\r\n")  # CRLF: a lone \r in a field is quoted

    return write


def table_format(path: Path, format: str | None) -> Format:
    """The format named, else the one ``path``'s suffix means."""
    chosen = format.lower().lstrip(".") if format else SUFFIXES.get(path.suffix.lower())
    if chosen not in ("csv", "parquet", "jsonl"):
        known = ", ".join(sorted(SUFFIXES))
        what = f"format {format!r}" if format else f"suffix {path.suffix or '(none)'!r} of {path}"
        raise ExportError(f"unknown {what}; use a path ending in {known}, or format='csv' / 'parquet' / 'jsonl'")
    return chosen  # type: ignore[return-value]


def _nested_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding dicts or lists (params, vars, messages, ...)."""
    return [
        str(name)
        for name in frame.columns
        if pd.api.types.is_object_dtype(frame[name]) and frame[name].map(lambda v: isinstance(v, (dict, list))).any()
    ]


def export_trials(
    trials: pd.DataFrame, path: str | os.PathLike[str], format: str | None = None, *, mkdir: bool = False
) -> Path:
    """Write a trials DataFrame (``lab.trials(...)``) to CSV, Parquet or JSON Lines,
    chosen by ``path``'s suffix unless ``format`` says; returns the path.

    The columns are the DataFrame's. Nested values (params, vars, messages) are
    JSON text in CSV and Parquet (DuckDB's ``json`` functions read them back) and
    nested objects in JSONL; times are ISO text in CSV and JSONL. In CSV, text
    that a spreadsheet would run as a formula starts with ``'``.
    """
    target = Path(path)
    chosen = table_format(target, format)
    redactor = Redactor()
    frame = trials.reset_index(drop=True).copy()
    for name in frame.columns:
        if pd.api.types.is_object_dtype(frame[name]) or pd.api.types.is_string_dtype(frame[name]):
            frame[name] = frame[name].map(lambda v: scrub(v, redactor))
    if chosen == "jsonl":
        write_atomically({target: jsonl_writer(frame.to_dict("records"))}, mkdir=mkdir)
        return target
    for name in _nested_columns(frame):
        frame[name] = frame[name].map(lambda v: None if v is None else json.dumps(to_jsonable(v), ensure_ascii=False))
    if chosen == "csv":
        write_atomically({target: _write_csv(frame)}, mkdir=mkdir)
    else:
        write_atomically({target: lambda temporary: frame.to_parquet(temporary, index=False)}, mkdir=mkdir)
    return target


# -- training sets -------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedSet:
    """What a fine-tuning export wrote."""

    path: Path
    """The training file."""

    n_train: int
    """Examples in the training file."""

    validation_path: Path | None = None
    """The validation file (``<stem>.val.jsonl``), when a split was asked for."""

    n_validation: int = 0
    """Examples in the validation file."""

    def __str__(self) -> str:
        text = f"{self.n_train} examples to {self.path}"
        if self.validation_path is not None:
            text += f" and {self.n_validation} to {self.validation_path}"
        return text


def validation_path(path: Path) -> Path:
    """``train.jsonl`` → ``train.val.jsonl``: the validation file beside a training file."""
    return path.with_name(f"{path.stem}.val.jsonl")


def check_split(fraction: float) -> None:
    """Refuse a validation share outside [0, 1)."""
    if not 0.0 <= fraction < 1.0:
        raise ExportError(f"validation_split must be at least 0 and below 1, got {fraction}")


def split_examples(
    examples: Sequence[Mapping[str, Any]], fraction: float, seed: int
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(train, validation): ``n × fraction`` examples, rounded (at least one when
    ``fraction`` > 0) go to validation, picked by a hash of the seed and each
    example's content, so the same examples and seed always split the same way
    (in any order, and mostly the same when examples are added). Both keep the
    examples' order."""
    check_split(fraction)
    if fraction == 0.0 or not examples:
        return list(examples), []
    n_validation = max(1, int(len(examples) * fraction + 0.5))  # half up, not to even

    def rank(index: int) -> str:
        return hashlib.sha256(f"{seed}\0{canonical_json(examples[index])}".encode()).hexdigest()

    chosen = set(sorted(range(len(examples)), key=lambda i: (rank(i), i))[:n_validation])
    train = [e for i, e in enumerate(examples) if i not in chosen]
    return train, [e for i, e in enumerate(examples) if i in chosen]


def write_training_set(
    train: Sequence[Mapping[str, Any]],
    validation: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    mkdir: bool = False,
) -> ExportedSet:
    """Write ``train`` to ``path`` and, when there is any, ``validation`` beside it, atomically."""
    target = Path(path)
    files = {target: jsonl_writer(train)}
    if validation:
        files[validation_path(target)] = jsonl_writer(validation)
    write_atomically(files, mkdir=mkdir)
    return ExportedSet(target, len(train), validation_path(target) if validation else None, len(validation))


def too_few(kind: str, n: int, minimum: int, advice: str) -> str:
    """The message for a set below the minimum, with what to do about it."""
    return f"only {n} {kind}; fine-tuning needs at least {minimum}. {advice}"


def require_trials(trials: pd.DataFrame) -> None:
    """Refuse to make a training set from no trials at all, saying why."""
    if trials.empty:
        raise ExportError(
            "no trials to make examples from: none match the filters given (lab.trials(...) with the "
            "same filters shows what matches)"
        )


def left_out_advice(left_out: Iterable[str]) -> str:
    """What to relax, from what the filters left out (``min_score=0.8 on score_x: 12``, ...)."""
    reasons = [reason for reason in left_out if reason]
    if reasons:
        return f"Left out: {'; '.join(reasons)}. Relax those filters or select more trials"
    return "Select or record more trials"
