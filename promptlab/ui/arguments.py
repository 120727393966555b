"""The builder's output as plain data: the arguments of ``Lab.start``.

Nothing here touches a widget, so a notebook can build, inspect or replay
sweep arguments without the UI (``SweepBuilder.sweep_arguments()`` and
``sweep_arguments_from_run``).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from promptlab import SweepOptions, evals
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.rows import Data
from promptlab.errors import ConfigError, PromptlabError
from promptlab.evals import Evaluator

if TYPE_CHECKING:
    from promptlab import Display, Lab, SweepHandle

DATA_SUFFIXES = (".jsonl", ".csv", ".parquet")
"""Files the builder offers from ``experiments/``."""


@dataclass(frozen=True)
class SweepArguments:
    """What ``lab.start`` / ``lab.sweep`` / ``lab.estimate`` are called with."""

    prompts: list[Prompt]
    """Prompt variants."""

    models: list[Model]
    """Model configs (before the parameter grid)."""

    data: Data
    """Rows: a file path, a DataFrame or a list of dicts."""

    options: SweepOptions = field(default_factory=SweepOptions)
    """params, repeats, experiment, tags, concurrency, ..."""

    note: str | None = None
    """Anything the caller should know about how these were recovered."""

    retrievers: tuple[Mapping[str, Any], ...] = ()
    """The retrievers a recorded run used, as its config has them (``RetrieverSpec.to_dict()``):
    not in ``options``, since their corpus must be picked again to search it."""

    def start(self, lab: Lab, display: Display | None = None) -> SweepHandle:
        """``lab.start(...)`` with these arguments, reporting progress to ``display`` when given."""
        options: SweepOptions = {**self.options}
        if display is not None:
            options["display"] = display
        return lab.start(self.prompts, self.models, self.data, **options)

    def cell_count(self, n_rows: int) -> int:
        """Cells the sweep will have over ``n_rows`` rows (duplicates counted once, as the sweep does)."""
        grid = self.options.get("params") or {}
        combos = math.prod(len(v) if isinstance(v, (list, tuple)) else 1 for v in grid.values())
        repeats = self.options.get("repeats", 1)
        searches = max(len(self.options.get("retrievers") or ()), 1)  # each retriever is one more axis
        variants = len(dict.fromkeys(self.prompts)) * len(dict.fromkeys(self.models)) * combos * searches
        return variants * n_rows * repeats


def parse_values(text: str, what: str, kind: type = float) -> list[Any]:
    """``"0, 0.7"`` → ``[0.0, 0.7]``; blank → ``[]``. Raises ConfigError naming ``what``."""
    values = []
    for piece in (p.strip() for p in text.replace(";", ",").split(",")):
        if not piece:
            continue
        try:
            number = float(piece) if kind is float else int(piece)
        except ValueError:
            example, noun = ("0, 0.7", "number") if kind is float else ("64, 256", "whole number")
            raise ConfigError(
                f"{what}: {piece!r} is not a {noun}; write values separated by commas, e.g. {example}"
            ) from None
        if number < 0:
            raise ConfigError(f"{what} can't be negative, got {piece}")
        values.append(number)
    return list(dict.fromkeys(values))


def parse_param_grid(text: str) -> dict[str, list[Any]]:
    """Other parameters, ``"top_p=0.9, 1; stop=###"`` → ``{"top_p": [0.9, 1], "stop": ["###"]}``.

    Values are Python literals where they parse (numbers, true/false as
    ``True``/``False``, quoted text), else plain text.
    """
    grid: dict[str, list[Any]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        key, sep, values = part.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"other parameters: write name=value; name=v1, v2 (got {part!r})")
        grid[key.strip()] = [_literal(v.strip()) for v in values.split(",") if v.strip()]
        if not grid[key.strip()]:
            raise ConfigError(f"other parameters: give {key.strip()} at least one value")
    return grid


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def format_values(values: Sequence[Any]) -> str:
    """The inverse of ``parse_values``: ``[0.0, 0.7]`` → ``"0.0, 0.7"``."""
    return ", ".join(str(v) for v in values)


def format_param_grid(grid: Mapping[str, Sequence[Any]]) -> str:
    """The inverse of ``parse_param_grid``."""
    return "; ".join(
        f"{key}={', '.join(repr(v) if isinstance(v, str) else str(v) for v in values)}" for key, values in grid.items()
    )


def data_files(root: Path | None = None) -> list[str]:
    """Data files under ``experiments/`` (relative to ``root``, default the working
    directory), as paths relative to ``root``, sorted."""
    base = root or Path.cwd()
    folder = base / "experiments"
    if not folder.is_dir():
        return []
    found = (p for p in folder.rglob("*") if p.suffix.lower() in DATA_SUFFIXES and p.is_file())
    return sorted(str(p.relative_to(base)) for p in found)


def rows_of_run(lab: Lab, run_id: str) -> list[dict[str, Any]]:
    """The input rows a run used, in their original order, read back from its trials.

    A run records its data's path when it was given one; for a DataFrame or a
    list this is the only way back to the rows (only rows that got a trial).
    """
    trials = lab.trials(run=run_id)
    if trials.empty:
        return []
    first = trials.sort_values("row_index", kind="stable").drop_duplicates("row_index")
    return [dict(v) for v in first["vars"]]


def evaluators_of_run(config: Mapping[str, Any]) -> tuple[list[Evaluator], list[str]]:
    """The evaluators a run's ``config`` recorded, rebuilt with ``evals.from_spec``
    (a judge with its model, ``code`` from its import path), and a sentence for
    each that can't be rebuilt here."""
    rebuilt, lost = [], []
    for recorded in config.get("evaluators") or []:
        try:
            rebuilt.append(evals.from_spec(recorded))
        except (PromptlabError, TypeError, ValueError) as exc:
            lost.append(f"the evaluator {recorded.get('label') or recorded.get('name')} can't be restored ({exc})")
    return rebuilt, lost


def sweep_arguments_from_run(lab: Lab, run_id: str) -> SweepArguments:
    """The arguments that would run a recorded run's sweep again (or fork it).

    Prompts, models, parameter grid, repeats, settings and evaluators come
    from the run's ``config``; the experiment's tags from ``lab.experiments()``;
    the data is the recorded path when that file is still there, else the rows
    read back from the run's trials.
    """
    info = lab.run_info(run_id)
    config = info.get("config") or {}
    prompts = [Prompt(p["template"], name=p["name"], message=p.get("message")) for p in config.get("prompts", [])]
    models = [Model.from_dict(m) for m in config.get("models", [])]
    data: Data
    note = None
    described = str(config.get("data") or "")
    if Path(described).suffix.lower() in (*DATA_SUFFIXES, ".tsv", ".json", ".ndjson") and Path(described).is_file():
        data = described
    else:
        data = rows_of_run(lab, str(info["run_id"]))
        expected = config.get("n_rows")
        if expected is not None and not data:
            note = (
                f"the run ({info['status']}) recorded no trial, and its {expected} input rows were given as "
                "rows, not a file: pick the data again to run it"
            )
        elif expected is not None and len(data) < int(expected):
            note = f"only {len(data)} of the run's {expected} input rows have trials; those are loaded"
    experiments = lab.experiments()
    mine = experiments[experiments["experiment"] == info["experiment"]]
    tags = list(mine["tags"].iloc[0] or []) if len(mine) else []
    settings = config.get("settings") or {}
    options: SweepOptions = {
        "params": {k: list(v) for k, v in (config.get("params") or {}).items()},
        "repeats": int(config.get("repeats", 1)),
        "experiment": str(info["experiment"]),
        "tags": tags,
    }
    for key in ("concurrency", "timeout", "max_retries", "max_wait", "cache"):
        if key in settings:
            options[key] = settings[key]
    evaluators, lost = evaluators_of_run(config)
    if evaluators:
        options["evaluators"] = evaluators
    searched = tuple(config.get("retrievers") or ())
    if searched:
        lost.append(f"the run searched corpus {searched[0].get('corpus')!r}: pick it again under Retrieval")
    notes = [*([note] if note else []), *lost]
    return SweepArguments(prompts, models, data, options, "; ".join(notes) or None, searched)


def table_columns(data: Data) -> list[str]:
    """Columns every row of ``data`` has (a DataFrame's columns; for rows, those all share)."""
    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns]
    if isinstance(data, Sequence) and not isinstance(data, str):
        keys: dict[str, None] | None = None
        for row in data:
            names = dict.fromkeys(str(k) for k in row) if isinstance(row, Mapping) else {}
            keys = names if keys is None else {k: None for k in keys if k in names}
        return list(keys or {})
    return []
