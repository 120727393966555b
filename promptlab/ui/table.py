"""The results grid as data: one row per input, one column per variant.

Pure pandas/numpy over a trials DataFrame, so sorting, filtering and paging
10,000 trials costs milliseconds and the widget only builds the page shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from promptlab.analysis import stats
from promptlab.analysis.columns import SCORE_PREFIX
from promptlab.analysis.plots import variant_labels

SORT_KEYS = ("input", "latency", "cost")
"""Sort orders every table offers; each ``score_*`` column adds one."""


@dataclass(frozen=True)
class ResultsTable:
    """Trials arranged as inputs × variants."""

    trials: pd.DataFrame
    """The trials, with ``variant`` (label) and ``input_key`` columns added, positionally indexed."""

    variants: list[str]
    """Variant labels, in order of first appearance: the grid's columns."""

    rows: pd.DataFrame
    """One row per (input, repeat): ``input_key``, ``row_index``, ``repeat``, ``vars``."""

    cells: np.ndarray
    """``cells[i, j]``: position in ``trials`` of row i's trial for variant j, or -1."""

    @property
    def scores(self) -> list[str]:
        """Score columns present (``score_<label>``)."""
        return [str(c) for c in self.trials.columns if str(c).startswith(SCORE_PREFIX)]

    @property
    def sort_keys(self) -> list[str]:
        """What ``select_rows`` can sort by here."""
        return [*SORT_KEYS, *self.scores]

    def trial(self, row: int, variant: int) -> dict[str, Any] | None:
        """The trial in a cell as a dict, or None when the cell is empty."""
        position = int(self.cells[row, variant])
        if position < 0:
            return None
        return {str(k): v for k, v in self.trials.iloc[position].to_dict().items()}


def _input_key(values: Any) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def input_text(values: Any) -> str:
    """An input row's values as one line of text (what the text filter searches)."""
    if isinstance(values, dict):
        return " ".join(str(v) for v in values.values())
    return "" if values is None else str(values)


def results_table(trials: pd.DataFrame) -> ResultsTable:
    """Arrange ``trials`` (from ``run.df`` or ``lab.trials``) as inputs × variants.

    Inputs are matched by their values (not their position), so trials of
    several runs line up; with repeats each repeat gets its own row. When a
    cell has several trials (a resumed run retried an error) the newest wins.
    """
    frame = trials.reset_index(drop=True)
    frame = frame.assign(variant=variant_labels(frame), input_key=frame["vars"].map(_input_key))
    variants = list(dict.fromkeys(frame["variant"]))
    if frame.empty:
        empty_rows = pd.DataFrame(columns=["input_key", "row_index", "repeat", "vars"])
        return ResultsTable(frame, variants, empty_rows, np.zeros((0, 0), dtype=np.int64))
    order = frame.sort_values("created_at", kind="stable") if "created_at" in frame else frame
    latest = order.drop_duplicates(["input_key", "repeat", "variant"], keep="last")
    firsts = frame.sort_values(["row_index", "repeat"], kind="stable").drop_duplicates(["input_key", "repeat"])
    rows = firsts[["input_key", "row_index", "repeat", "vars"]].reset_index(drop=True)
    row_of = {key: i for i, key in enumerate(zip(rows["input_key"], rows["repeat"], strict=True))}
    column_of = {label: j for j, label in enumerate(variants)}
    cells = np.full((len(rows), len(variants)), -1, dtype=np.int64)
    for position, key, repeat, label in zip(
        latest.index, latest["input_key"], latest["repeat"], latest["variant"], strict=True
    ):
        cells[row_of[key, repeat], column_of[label]] = position
    return ResultsTable(frame, variants, rows, cells)


def _per_cell(table: ResultsTable, values: np.ndarray) -> np.ndarray:
    """``values`` (one per trial) laid out as the cells, NaN where a cell is empty."""
    if not len(table.trials):
        return np.zeros(table.cells.shape)
    taken = values[np.clip(table.cells, 0, None)].astype(float)
    taken[table.cells < 0] = np.nan
    return taken


def _output_key(trial_output: Any, error_type: Any) -> str:
    if isinstance(error_type, str):
        return f"\0error:{error_type}"
    return (
        ""
        if trial_output is None or (isinstance(trial_output, float) and np.isnan(trial_output))
        else str(trial_output).strip()
    )


def differing_rows(table: ResultsTable) -> np.ndarray:
    """True for rows whose variants answered differently (empty cells ignored)."""
    outputs = [_output_key(o, e) for o, e in zip(table.trials["output"], table.trials["error_type"], strict=True)]
    result = np.zeros(len(table.rows), dtype=bool)
    for i, positions in enumerate(table.cells):
        seen = {outputs[p] for p in positions if p >= 0}
        result[i] = len(seen) > 1
    return result


def _text_match(table: ResultsTable, needle: str) -> np.ndarray:
    needle = needle.lower()
    outputs = table.trials["output"].fillna("").astype(str) + "\n" + table.trials["error"].fillna("").astype(str)
    in_output = outputs.str.lower().str.contains(needle, regex=False).to_numpy()
    in_input = table.rows["vars"].map(input_text).str.lower().str.contains(needle, regex=False).to_numpy()
    any_output = (_per_cell(table, in_output.astype(float)) == 1).any(axis=1)
    return in_input | any_output


def _sort_values(table: ResultsTable, key: str) -> np.ndarray:
    if key == "latency":
        per_cell = _per_cell(table, table.trials["latency_ms"].to_numpy(dtype=float))
    elif key == "cost":
        per_cell = _per_cell(table, table.trials["cost_usd"].to_numpy(dtype=float))
        return np.where(np.isnan(per_cell).all(axis=1), np.nan, np.nansum(per_cell, axis=1))
    else:
        per_cell = _per_cell(table, table.trials[key].to_numpy(dtype=float))
    counts = (~np.isnan(per_cell)).sum(axis=1)
    sums = np.nansum(per_cell, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def select_rows(
    table: ResultsTable,
    *,
    text: str = "",
    errors_only: bool = False,
    differ_only: bool = False,
    sort_by: str = "input",
    descending: bool = False,
) -> np.ndarray:
    """Positions of ``table.rows`` to show, filtered and in order.

    ``text`` matches inputs and outputs (any case); ``errors_only`` keeps rows
    with a failed trial; ``differ_only`` rows where variants disagree;
    ``sort_by`` is ``input``, ``latency`` (mean over variants), ``cost``
    (total) or a score column (mean); rows without a value sort last.
    """
    keep = np.ones(len(table.rows), dtype=bool)
    if text.strip():
        keep &= _text_match(table, text.strip())
    if errors_only:
        failed = table.trials["error_type"].notna().to_numpy().astype(float)
        keep &= (_per_cell(table, failed) == 1).any(axis=1)
    if differ_only:
        keep &= differing_rows(table)
    positions = np.flatnonzero(keep)
    if sort_by == "input" or sort_by not in table.sort_keys:
        order = np.lexsort((table.rows["repeat"].to_numpy()[positions], table.rows["row_index"].to_numpy()[positions]))
        ordered = positions[order]
        return ordered[::-1] if descending else ordered
    values = _sort_values(table, sort_by)[positions]
    signed = -values if descending else values
    order = np.argsort(np.where(np.isnan(signed), np.inf, signed), kind="stable")
    return positions[order]


def page_count(n_rows: int, page_size: int) -> int:
    """Pages needed for ``n_rows`` (at least 1)."""
    return max(1, -(-n_rows // max(page_size, 1)))


def page_of(positions: np.ndarray, page: int, page_size: int) -> np.ndarray:
    """The positions on ``page`` (1-based; clamped into range)."""
    page = min(max(page, 1), page_count(len(positions), page_size))
    return positions[(page - 1) * page_size : page * page_size]


def variant_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """``stats.summary`` (n, errors, latency, cost, ``<score>_mean`` per evaluator)
    with the grid's variant label first."""
    summary = stats.summary(trials)
    if trials.empty:
        return summary.assign(variant=pd.Series(dtype=object))
    summary.insert(0, "variant", variant_labels(summary).to_numpy())
    return summary
