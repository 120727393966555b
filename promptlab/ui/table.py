"""The results grid as data: one row per input, one column per variant.

Pure pandas/numpy over a trials DataFrame, so sorting, filtering and paging
10,000 trials costs milliseconds and the widget only draws the page shown.
Each cell holds one trial, or, with repeats grouped, each repeat's trial.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from promptlab.analysis.columns import EVAL_ERRORS, PASSED_PREFIX, SCORE_PREFIX
from promptlab.ui.variants import RunOrder, Variants, variants

NONE, PASS, FAIL, ERROR = 0, 1, 2, 3
"""A trial's (and a cell's) status: nothing decided, every check passed, a check
failed, the call failed. A cell takes its worst trial's."""

STATUS_NAMES = {NONE: "none", PASS: "pass", FAIL: "fail", ERROR: "error"}

VIEWS = ("All", "Failures", "Passes", "Errors", "Different")
"""Which rows to show: every row, rows where a check failed, rows where every
cell passed, rows with a failed call, rows where the variants answered differently."""

SORT_KEYS = {"input": "input order", "latency": "latency (mean)", "cost": "cost (total)"}
"""Sort orders every table offers, with their names; each score column adds one."""


@dataclass(frozen=True)
class ResultsTable:
    """Trials arranged as inputs × variants."""

    trials: pd.DataFrame
    """The trials, positionally indexed, with ``variant`` (its column), ``input_key`` and ``status`` added."""

    variants: Variants
    """The columns, in order, with their letters and names."""

    rows: pd.DataFrame
    """One row per input (per input and repeat unless repeats are grouped):
    ``input_key``, ``row_index``, ``repeat``, ``vars``."""

    cells: np.ndarray
    """``cells[i, j, k]``: position in ``trials`` of row i's k-th trial for variant j, or -1."""

    grouped: bool = False
    """Whether a cell holds every repeat of its input."""

    @property
    def scores(self) -> list[str]:
        """Score columns present (``score_<label>``)."""
        return [str(c) for c in self.trials.columns if str(c).startswith(SCORE_PREFIX)]

    @property
    def checks(self) -> list[str]:
        """Evaluator labels that decided pass or fail for some trial."""
        return [
            str(c).removeprefix(PASSED_PREFIX)
            for c in self.trials.columns
            if str(c).startswith(PASSED_PREFIX) and self.trials[c].notna().any()
        ]

    @property
    def sort_keys(self) -> list[tuple[str, str]]:
        """What ``select_rows`` can sort by here, as (name, key)."""
        scores = [(f"score: {c.removeprefix(SCORE_PREFIX)}", c) for c in self.scores]
        return [(name, key) for key, name in SORT_KEYS.items()] + scores

    def positions(self, row: int, variant: int) -> list[int]:
        """The trials in a cell (positions in ``trials``), oldest repeat first."""
        return [int(p) for p in self.cells[row, variant] if p >= 0]

    def trial(self, row: int, variant: int, k: int = 0) -> dict[str, Any] | None:
        """The k-th trial in a cell as a dict, or None when there is none."""
        position = int(self.cells[row, variant, k]) if k < self.cells.shape[2] else -1
        if position < 0:
            return None
        return {str(k): v for k, v in self.trials.iloc[position].to_dict().items()}

    def status(self) -> np.ndarray:
        """Each cell's status (rows × variants): its worst trial's."""
        per_trial = self.trials["status"].to_numpy()
        return np.where(self.cells >= 0, per_trial[np.clip(self.cells, 0, None)], NONE).max(axis=2)


def _input_key(values: Any) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def input_text(values: Any) -> str:
    """An input row's values as one line of text (what the text filter searches)."""
    if isinstance(values, dict):
        return " ".join(str(v) for v in values.values())
    return "" if values is None else str(values)


def trial_status(trials: pd.DataFrame) -> np.ndarray:
    """Each trial's status (``NONE``, ``PASS``, ``FAIL``, ``ERROR``)."""
    status = np.full(len(trials), NONE, dtype=np.int64)
    passed = [c for c in trials.columns if str(c).startswith(PASSED_PREFIX)]
    if passed:
        decided = trials[passed]
        status[(decided == True).any(axis=1).to_numpy()] = PASS  # noqa: E712 (nullable booleans)
        status[(decided == False).any(axis=1).to_numpy()] = FAIL  # noqa: E712
    status[trials["error_type"].notna().to_numpy()] = ERROR
    return status


def results_table(trials: pd.DataFrame, order: RunOrder | None = None, *, group_repeats: bool = False) -> ResultsTable:
    """Arrange ``trials`` (from ``run.df`` or ``lab.trials``) as inputs × variants.

    Inputs are matched by their values (not their position), so trials of
    several runs line up; with repeats each repeat gets its own row, or with
    ``group_repeats`` its own place in one cell. When a cell has several
    trials for one repeat (a resumed run retried an error) the newest wins.
    """
    frame = trials.reset_index(drop=True)
    found = variants(frame, order)
    frame = frame.assign(variant=found.of_trial, input_key=frame["vars"].map(_input_key), status=trial_status(frame))
    if frame.empty:
        empty_rows = pd.DataFrame(columns=["input_key", "row_index", "repeat", "vars"])
        return ResultsTable(frame, found, empty_rows, np.zeros((0, 0, 1), dtype=np.int64), group_repeats)
    order_by_time = frame.sort_values("created_at", kind="stable") if "created_at" in frame else frame
    latest = order_by_time.drop_duplicates(["input_key", "repeat", "variant"], keep="last")
    row_key = ["input_key"] if group_repeats else ["input_key", "repeat"]
    firsts = frame.sort_values(["row_index", "repeat"], kind="stable").drop_duplicates(row_key)
    rows = firsts[["input_key", "row_index", "repeat", "vars"]].reset_index(drop=True)
    row_of = {key: i for i, key in enumerate(zip(*(rows[c] for c in row_key), strict=True))}
    repeats = sorted(latest["repeat"].unique()) if group_repeats else [None]
    depth_of = {repeat: k for k, repeat in enumerate(repeats)}
    cells = np.full((len(rows), len(found), len(repeats)), -1, dtype=np.int64)
    for position, key, repeat, variant in zip(
        latest.index, latest["input_key"], latest["repeat"], latest["variant"], strict=True
    ):
        row = row_of[(key,) if group_repeats else (key, repeat)]
        cells[row, variant, depth_of[repeat] if group_repeats else 0] = position
    return ResultsTable(frame, found, rows, cells, group_repeats)


def _per_cell(table: ResultsTable, values: np.ndarray) -> np.ndarray:
    """``values`` (one per trial) as the cells' means over their repeats (rows × variants), NaN where empty."""
    if not len(table.trials):
        return np.zeros(table.cells.shape[:2])
    taken = values[np.clip(table.cells, 0, None)].astype(float)
    taken[table.cells < 0] = np.nan
    counts = (~np.isnan(taken)).sum(axis=2)
    return np.where(counts > 0, np.nansum(taken, axis=2) / np.maximum(counts, 1), np.nan)


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
        seen = {outputs[p] for p in positions.ravel() if p >= 0}
        result[i] = len(seen) > 1
    return result


def _text_match(table: ResultsTable, needle: str) -> np.ndarray:
    needle = needle.lower()
    outputs = table.trials["output"].fillna("").astype(str) + "\n" + table.trials["error"].fillna("").astype(str)
    in_output = outputs.str.lower().str.contains(needle, regex=False).to_numpy()
    in_input = table.rows["vars"].map(input_text).str.lower().str.contains(needle, regex=False).to_numpy()
    any_output = (_per_cell(table, in_output.astype(float)) > 0).any(axis=1)
    return in_input | any_output


def view_rows(table: ResultsTable, view: str) -> np.ndarray:
    """True for the rows a view (``VIEWS``) shows."""
    if view == "Different":
        return differing_rows(table)
    status = table.status()
    filled = np.asarray((table.cells >= 0).any(axis=2))
    if view == "Failures":
        return (status == FAIL).any(axis=1)
    if view == "Errors":
        return (status == ERROR).any(axis=1)
    if view == "Passes":
        return filled.any(axis=1) & ((status == PASS) | ~filled).all(axis=1)
    return np.ones(len(table.rows), dtype=bool)


def _sort_values(table: ResultsTable, key: str) -> np.ndarray:
    if key == "cost":
        per_cell = _per_cell(table, table.trials["cost_usd"].to_numpy(dtype=float))
        return np.where(np.isnan(per_cell).all(axis=1), np.nan, np.nansum(per_cell, axis=1))
    column = "latency_ms" if key == "latency" else key
    per_cell = _per_cell(table, table.trials[column].to_numpy(dtype=float))
    counts = (~np.isnan(per_cell)).sum(axis=1)
    return np.where(counts > 0, np.nansum(per_cell, axis=1) / np.maximum(counts, 1), np.nan)


def select_rows(
    table: ResultsTable,
    *,
    text: str = "",
    view: str = "All",
    sort_by: str = "input",
    descending: bool = False,
) -> np.ndarray:
    """Positions of ``table.rows`` to show, filtered and in order.

    ``text`` matches inputs and outputs (any case); ``view`` is one of
    ``VIEWS``; ``sort_by`` is ``input``, ``latency`` (mean over variants),
    ``cost`` (total) or a score column (mean); rows without a value sort last.
    """
    keep = view_rows(table, view)
    if text.strip():
        keep &= _text_match(table, text.strip())
    positions = np.flatnonzero(keep)
    if sort_by not in {key for _, key in table.sort_keys} or sort_by == "input":
        order = np.lexsort((table.rows["repeat"].to_numpy()[positions], table.rows["row_index"].to_numpy()[positions]))
        ordered = positions[order]
        return ordered[::-1] if descending else ordered
    values = _sort_values(table, sort_by)[positions]
    signed = -values if descending else values
    order = np.argsort(np.where(np.isnan(signed), np.inf, signed), kind="stable")
    return positions[order]


def rows_per_page(cells_per_page: int, n_variants: int) -> int:
    """Rows that fit ``cells_per_page`` cells across ``n_variants`` columns (at least one)."""
    return max(1, cells_per_page // max(n_variants, 1))


def page_count(n_rows: int, page_size: int) -> int:
    """Pages needed for ``n_rows`` (at least 1)."""
    return max(1, -(-n_rows // max(page_size, 1)))


def page_of(positions: np.ndarray, page: int, page_size: int) -> np.ndarray:
    """The positions on ``page`` (1-based; clamped into range)."""
    page = min(max(page, 1), page_count(len(positions), page_size))
    return positions[(page - 1) * page_size : page * page_size]


def variant_stats(table: ResultsTable) -> pd.DataFrame:
    """Per variant (in order): ``n``, ``errors``, ``eval_errors``, ``latency_p50_ms``
    (calls that succeeded), ``cost_usd`` and per evaluator label
    ``<label>_pass`` (pass rate of the trials it decided) and ``<label>_mean``."""
    trials = table.trials
    index = pd.RangeIndex(len(table.variants))
    if trials.empty:
        return pd.DataFrame(columns=["n", "errors", "eval_errors", "latency_p50_ms", "cost_usd"])
    ok_latency = trials["latency_ms"].where(trials["error_type"].isna())
    grouped = trials.assign(ok_latency=ok_latency).groupby("variant")
    stats = pd.DataFrame(
        {
            "n": grouped.size(),
            "errors": grouped["error_type"].count(),
            "eval_errors": grouped[EVAL_ERRORS].sum() if EVAL_ERRORS in trials else 0,
            "latency_p50_ms": grouped["ok_latency"].quantile(0.5),
            "cost_usd": grouped["cost_usd"].sum(min_count=1),
        }
    )
    for column in table.scores:
        label = column.removeprefix(SCORE_PREFIX)
        stats[f"{label}_mean"] = grouped[column].mean()
        passed = PASSED_PREFIX + label
        if passed in trials and trials[passed].notna().any():
            stats[f"{label}_pass"] = grouped[passed].agg(lambda v: v.dropna().astype(float).mean())
    return stats.reindex(index)


def feedback_key(table: ResultsTable, on_page: np.ndarray) -> tuple[Any, ...]:
    """The feedback the page's trials hold (votes, corrections): when it changes, the page is drawn again."""
    trials = table.trials
    if "votes_up" not in trials or trials.empty:
        return ()
    positions = table.cells[on_page].ravel()
    shown = trials.iloc[positions[positions >= 0]]
    votes = shown[["votes_up", "votes_down", "correction"]].astype(object)
    return tuple(map(tuple, votes.where(votes.notna(), None).to_numpy()))


def cell_name(table: ResultsTable, row: int, variant: int) -> str:
    """``#3 r1 · B``: a cell as the grid lists it (its input's number, its repeat unless
    repeats are grouped or there are none, its variant's letter)."""
    found = table.rows.iloc[row]
    repeat = f" r{int(found['repeat'])}" if not table.grouped and table.rows["repeat"].max() > 0 else ""
    return f"#{int(found['row_index'])}{repeat} · {table.variants.letters[variant]}"


def cell_choices(table: ResultsTable, on_page: np.ndarray, columns: list[int]) -> list[tuple[str, tuple[int, int]]]:
    """The page's cells that hold a trial, by name, row by row: what "open cell" offers."""
    return [(cell_name(table, int(i), j), (int(i), j)) for i in on_page for j in columns if table.positions(int(i), j)]
