"""Planning a sweep: every argument checked and the grid expanded into cells,
with what identifies the run (its fingerprint) and the model configs it
calls computed once, before anything is called or written. ``Lab.sweep``,
``asweep``, ``start`` and ``estimate`` all plan through ``plan_sweep``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypedDict

from promptlab import evals
from promptlab.core.grid import Cell, Sweep, expand, fingerprint, make_sweep, model_variants
from promptlab.core.model import MODEL_PARAMETERS, Model
from promptlab.core.prompt import Prompt
from promptlab.core.rows import Data, load_rows
from promptlab.errors import ConfigError
from promptlab.evals.protocol import Evaluator
from promptlab.retrieval.retrievers import RetrieverSpec
from promptlab.runner.cells import RunSettings
from promptlab.runner.progress import Display
from promptlab.runner.retrieve import BeforeSearch, retrieve
from promptlab.runner.scoring import require_columns


class SweepOptions(TypedDict, total=False):
    """Keyword options of ``Lab.sweep`` (and ``asweep``, ``start``, ``estimate``)."""

    params: Mapping[str, Any] | None
    """Parameter grid crossed with every model, e.g. ``{"temperature": [0.0, 0.7]}``."""
    repeats: int
    """Calls per (prompt, model, row); default 1."""
    experiment: str
    """Experiment name; default ``"default"``."""
    description: str | None
    """Experiment description (kept from earlier runs when not given)."""
    tags: Sequence[str] | None
    """Tags added to the experiment's: ``tags=["x"]`` adds ``x`` and keeps the
    tags earlier runs gave it (nothing given, or ``[]``, changes nothing)."""
    remove_tags: Sequence[str] | None
    """Tags taken off the experiment, after ``tags`` are added (the builder
    passes those a user deleted from the experiment's tags)."""
    concurrency: int
    """Calls in flight at most; default 8."""
    timeout: float | None
    """Seconds per call; default 60, None for no limit."""
    max_retries: int
    """Retries after transient errors and rate limits; default 4."""
    max_wait: float
    """Longest Retry-After honoured, in seconds; default 600."""
    cache: bool
    """Answer requests that already succeeded from history; default True."""
    resume: bool | str | Literal["auto"]
    """"auto" (default): continue this user's unfinished run of the same sweep;
    a run id: continue that run; False: always a new run."""
    display: Display | None
    """Where progress goes; default: tqdm in terminals and notebooks, lines in logs."""
    evaluators: Sequence[Evaluator | Callable[..., Any]] | None
    """Evaluators scoring each trial as it finishes (``pl.evals``, or plain functions)."""
    retrievers: Sequence[RetrieverSpec] | None
    """Retrievers crossed with everything else (``pl.retrievers``): each finds passages
    for each row, which the prompt uses as ``{{ context }}`` or ``{{ passages }}``."""
    tier: str | None
    """The data tier of the rows, when higher than what the policy, their data
    or their ``tier`` column says (``promptlab.privacy``): it can raise a tier, never lower one."""


@dataclass(frozen=True)
class PlannedSweep:
    """A sweep checked and expanded, ready to run (nothing written yet)."""

    sweep: Sweep
    """The grid."""

    cells: list[Cell]
    """Every cell of it."""

    settings: RunSettings
    """How calls are made."""

    experiment: str
    """Experiment name."""

    data: str
    """Where the rows came from, for the run's config."""

    evaluators: tuple[Evaluator, ...]
    """Evaluators scoring each trial."""

    variants: tuple[Model, ...]
    """Every model config the cells call: the models crossed with the parameter grid."""

    fingerprint: str
    """Identifies the sweep by its cells, so running it again can resume its run."""

    tiers: tuple[str | None, ...] = ()
    """The data tier of each row (``promptlab.privacy.guard.row_tiers``); empty: not checked."""

    tier: str | None = None
    """The highest of ``tiers``: what a judge grading these rows receives."""

    retrievers: tuple[RetrieverSpec, ...] = ()
    """The sweep's retrievers; their contexts are ``sweep.contexts``."""

    scrub: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per tier, the kinds of personal data taken out of its trials before they
    are stored (``[privacy.redact]``'s ``before_storage``)."""


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse a keyword ``sweep`` doesn't take (a misspelt option would otherwise
    be ignored and the sweep run with the default), naming the nearest one."""
    known = list(SweepOptions.__annotations__)
    for name in options:
        if name in known:
            continue
        if name in MODEL_PARAMETERS:
            raise ConfigError(
                f"{name}= is a model parameter, not a sweep option: give it to the model, "
                f"pl.Model(..., {name}=...), or sweep it with params={{{name!r}: [...]}}"
            )
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}=? " if close else ""
        raise ConfigError(f"sweep got an unknown option {name}=; {hint}options: {', '.join(sorted(known))}")


def plan_sweep(
    prompts: Prompt | Sequence[Prompt],
    models: Model | Sequence[Model],
    data: Data,
    options: SweepOptions,
    *,
    retrieval_cache: Path | None = None,
    before_search: BeforeSearch | None = None,
) -> PlannedSweep:
    """Check every argument, search for each row with each retriever (indexes and
    searches cached in ``retrieval_cache``; ``before_search`` sees the rows and
    the models queries would go to first) and expand the cells; raises before any
    model is called or anything is written."""
    check_options(options)
    experiment = options.get("experiment", "default")
    if not experiment or not isinstance(experiment, str):
        raise ConfigError("experiment must be a non-empty name, e.g. experiment='summaries'")
    settings = _settings(options)
    rows = load_rows(data)
    sweep = make_sweep(prompts, models, rows, options.get("params"), options.get("repeats", 1))
    described = str(data) if isinstance(data, (str, os.PathLike)) else f"{type(data).__name__} of {len(rows)} rows"
    evaluators = evals.coerce(options.get("evaluators"))
    require_columns(evaluators, rows)  # a missing `expected` column fails now, not after the calls
    specs = tuple(options.get("retrievers") or ())
    if specs:
        if retrieval_cache is None:
            raise ConfigError("a sweep with retrievers needs a folder for its indexes: plan it through a pl.Lab")
        sweep = replace(sweep, contexts=retrieve(specs, rows, retrieval_cache, before_search))
    variants = model_variants(sweep.models, sweep.params)
    cells = expand(sweep, variants)
    return PlannedSweep(
        sweep,
        cells,
        settings,
        experiment,
        described,
        tuple(evaluators),
        tuple(variants),
        fingerprint(cells),
        retrievers=specs,
    )


def _settings(options: SweepOptions) -> RunSettings:
    concurrency = options.get("concurrency", 8)
    timeout = options.get("timeout", 60.0)
    max_retries = options.get("max_retries", 4)
    max_wait = options.get("max_wait", 600.0)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number ≥ 1, got {concurrency!r}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be a number of seconds > 0 (or None), got {timeout!r}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"max_retries must be a whole number ≥ 0, got {max_retries!r}")
    if not max_wait >= 0:
        raise ConfigError(f"max_wait must be ≥ 0 seconds, got {max_wait!r}")
    return RunSettings(concurrency, timeout, max_retries, max_wait, bool(options.get("cache", True)))
