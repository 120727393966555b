"""The sweep grid, expanded into cells by pure functions (no I/O)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptlab.core.hashing import canonical_json, content_hash, hash_strings
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.trial import MAX_INPUT_BYTES
from promptlab.errors import ConfigError, DataError, TemplateError

CONTEXT_VARIABLES = frozenset({"context", "passages"})
"""The template variables a retriever fills in."""


@dataclass(frozen=True)
class Context:
    """What one retriever found for one input row: the variables it adds to the
    template and what the trial records of it (``promptlab.retrieval``)."""

    retriever: str
    """The retriever's label, e.g. ``bm25 k=5``: a column of the trial table."""

    key: str
    """Hash of the retriever's settings and ``k``: part of the cell key, so the
    same row searched two ways is two cells."""

    variables: Mapping[str, Any]
    """What the template may use: ``context`` (the passages' texts, numbered)
    and ``passages`` (a list of dicts: id, doc_id, text, score, rank)."""

    record: Mapping[str, Any]
    """What the trial records as ``retrieval``: the query, the corpus and its
    version, the settings, ``k`` and the hits."""


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a prompt, a model config, an input row and a repeat index."""

    prompt: Prompt
    """The prompt template of this cell."""

    model: Model
    """The model config, with the parameter-grid values already applied."""

    row_index: int
    """Position of the input row in the data set."""

    vars: Mapping[str, Any]
    """The input row: the template variables (and ``expected`` when given)."""

    repeat: int
    """Repeat index, 0-based; part of both keys so repeats are separate calls."""

    messages: tuple[Mapping[str, str], ...]
    """The rendered chat messages sent to the model."""

    cell_key: str
    """Hash of prompt version, model config, input (its content, and which
    occurrence of that content it is: two equal rows are two cells) and
    repeat: identifies the cell. Inserting or moving rows leaves the other
    cells' keys as they were."""

    cache_key: str
    """Hash of rendered messages, model config and repeat: identifies the request."""

    context: Context | None = None
    """What the cell's retriever found for its row; None in a sweep without retrievers."""


@dataclass(frozen=True)
class Sweep:
    """A sweep's definition, as data: what is crossed with what."""

    prompts: tuple[Prompt, ...]
    """Prompt variants."""

    models: tuple[Model, ...]
    """Model configs, before the parameter grid is applied."""

    rows: tuple[Mapping[str, Any], ...]
    """Input rows."""

    params: Mapping[str, tuple[Any, ...]]
    """Parameter grid crossed with every model, e.g. {"temperature": (0.0, 0.7)}."""

    repeats: int = 1
    """How many times each (prompt, model, row) is called."""

    contexts: tuple[tuple[Context, ...], ...] = ()
    """Per retriever, what it found for each row (``contexts[i][r]``); empty: no
    retrievers. Each retriever is one more axis of the grid."""


def make_sweep(
    prompts: Prompt | Sequence[Prompt],
    models: Model | Sequence[Model],
    rows: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
    repeats: int = 1,
) -> Sweep:
    """Check the pieces of a sweep and put them together."""
    prompt_list = [prompts] if isinstance(prompts, Prompt) else list(prompts)
    model_list = [models] if isinstance(models, Model) else list(models)
    if not prompt_list:
        raise ConfigError("no prompts: pass prompts=[pl.Prompt('...', name='...')]")
    if not model_list:
        raise ConfigError("no models: pass models=[pl.Model('smollm2')] or another model")
    for prompt in prompt_list:
        if not isinstance(prompt, Prompt):
            raise ConfigError(f"prompts must be pl.Prompt objects, got {type(prompt).__name__}")
    for model in model_list:
        if not isinstance(model, Model):
            raise ConfigError(f"models must be pl.Model objects, got {type(model).__name__}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be a whole number of at least 1, got {repeats!r}")
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(
            f"params must be a mapping of parameter to values, e.g. params={{'temperature': [0.0, 0.7]}}, "
            f"not {type(params).__name__}"
        )
    grid: dict[str, tuple[Any, ...]] = {}
    for key, given in (params or {}).items():
        if not isinstance(key, str):
            raise ConfigError(f"params keys are parameter names, e.g. 'temperature', not {key!r}")
        values = tuple(given) if isinstance(given, (list, tuple)) else (given,)
        if not values:
            raise ConfigError(f"the parameter grid gives no values for {key!r}")
        grid[key] = values
    return Sweep(tuple(dict.fromkeys(prompt_list)), tuple(dict.fromkeys(model_list)), tuple(rows), grid, repeats)


def model_variants(models: Iterable[Model], grid: Mapping[str, Sequence[Any]]) -> list[Model]:
    """Every model crossed with every combination of the parameter grid."""
    keys = list(grid)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]
    variants = [model.with_params(**combo) if combo else model for model in models for combo in combos]
    return list(dict.fromkeys(variants))


def _render_all(
    prompts: Sequence[Prompt], rows: Sequence[Mapping[str, Any]], contexts: Sequence[Sequence[Context]]
) -> dict[tuple[int, int, int], tuple]:
    """Every prompt rendered for every row (and every retriever's context for it)."""
    rendered = {}
    for p, prompt in enumerate(prompts):
        needed = prompt.variables
        for r, row in enumerate(rows):
            for c, found in enumerate([retrieved[r] for retrieved in contexts] or [None]):
                values = {**row, **found.variables} if found is not None else row
                missing = sorted(needed - values.keys())
                if missing:
                    hint = " (a retriever gives context and passages)" if missing[0] in CONTEXT_VARIABLES else ""
                    raise TemplateError(
                        f"prompt {prompt.name!r} uses {{{{ {missing[0]} }}}} but row {r} has no "
                        f"{missing[0]!r}{hint} (row has: {', '.join(sorted(values)) or 'no columns'}); "
                        "add the column to the data or fix the placeholder"
                    )
                try:
                    rendered[p, r, c] = tuple(prompt.render(values))
                except TemplateError as exc:
                    raise TemplateError(f"row {r}: {exc}") from exc
    return rendered


def expand(sweep: Sweep, variants: Sequence[Model] | None = None) -> list[Cell]:
    """All cells of ``sweep``, row by row so partial results cover every variant
    (``variants``: its models crossed with its grid, when already known).

    Every template is rendered for every row first, so a missing variable is
    reported with its row before any model is called.
    """
    rendered = _render_all(sweep.prompts, sweep.rows, sweep.contexts)
    models = list(variants) if variants is not None else model_variants(sweep.models, sweep.params)
    # Serialise each piece once: a sweep has thousands of cells but few models and rows.
    identities = {model: canonical_json(model.identity(), plain=True) for model in models}
    cells: list[Cell] = []
    occurrences: dict[str, int] = {}
    for r, row in enumerate(sweep.rows):
        row_json = canonical_json(row, plain=True)
        occurrence = occurrences[row_json] = occurrences.get(row_json, -1) + 1
        for c, found in enumerate([retrieved[r] for retrieved in sweep.contexts] or [None]):
            # Without a retriever a key is what it always was, so runs from before retrievers resume.
            row_identity = [row_json, str(occurrence), *([found.key] if found is not None else [])]
            extra = len(canonical_json(found.record, plain=True).encode()) if found is not None else 0
            for p, prompt in enumerate(sweep.prompts):
                messages = rendered[p, r, c]
                messages_json = canonical_json(messages, plain=True)
                _refuse_too_large(r, prompt, len(row_json.encode()) + len(messages_json.encode()) + extra)
                cells.extend(
                    Cell(
                        prompt=prompt,
                        model=model,
                        row_index=r,
                        vars=row,
                        repeat=repeat,
                        messages=messages,
                        cell_key=hash_strings([prompt.version, identities[model], *row_identity, str(repeat)], 20),
                        cache_key=hash_strings([messages_json, identities[model], str(repeat)], 20),
                        context=found,
                    )
                    for model in models
                    for repeat in range(sweep.repeats)
                )
    return cells


def _refuse_too_large(row: int, prompt: Prompt, size: int) -> None:
    if size > MAX_INPUT_BYTES:
        raise DataError(
            f"row {row} is too large to record: with prompt {prompt.name!r} its input takes {size:,} bytes, "
            f"over the {MAX_INPUT_BYTES:,} a trial's input may; shorten it or split it into several rows "
            "(or retrieve fewer, shorter passages)"
        )


def fingerprint(cells: Sequence[Cell]) -> str:
    """Identifies a sweep by its cells, so running the same sweep again can resume it."""
    return content_hash(sorted(cell.cell_key for cell in cells), 16)
