"""The variants of a results grid: a stable order, a short name each (A, B, …)
and what tells each apart.

A variant is one prompt version on one model config (and, in a sweep with
retrievers, one retriever: ``stats.variant_columns``). The order is the
builder's (the run's config lists prompts, models and retrievers as they were
given), then params sorted by value, so a grid reads the same each time it opens,
however the calls happened to finish. Without a config (a trials frame),
prompts and models come in the order they first ran.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from promptlab.analysis.plots import variant_labels
from promptlab.analysis.stats import variant_columns
from promptlab.ui.common import version_tag

KEY = ["prompt_name", "prompt_version", "model", "params_text", "retriever_text"]
"""What identifies a variant in a trials frame (``params_text``: params as canonical JSON;
``retriever_text``: the retriever's label, blank when none)."""


@dataclass(frozen=True)
class RunOrder:
    """The order a run's config gave its prompts and models in (the builder's)."""

    prompts: Sequence[Mapping[str, Any]] = ()
    """``prompt.to_dict()`` of each prompt, as the run recorded them."""

    models: Sequence[str] = ()
    """Model names, as given."""

    numbers: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Version numbers by (prompt name, version) (``lab.version_numbers``): ``summarize v2``."""

    retrievers: Sequence[str] = ()
    """Retriever labels, as given."""

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None, numbers: Mapping[tuple[str, str], int] | None = None
    ) -> RunOrder:
        """From a run's recorded config (``lab.run_info(run_id)["config"]``)."""
        if not isinstance(config, Mapping):
            return cls(numbers=numbers or {})
        prompts = [p for p in config.get("prompts") or () if isinstance(p, Mapping)]
        models = [str(m.get("name")) for m in config.get("models") or () if isinstance(m, Mapping)]
        searched = [str(r.get("label")) for r in config.get("retrievers") or () if isinstance(r, Mapping)]
        return cls(prompts, models, numbers or {}, searched)

    def templates(self) -> dict[str, Any]:
        """Templates by prompt version."""
        return {str(p.get("version")): p.get("template") for p in self.prompts}


@dataclass(frozen=True)
class Variants:
    """The grid's columns, in order."""

    frame: pd.DataFrame
    """One row per variant: ``letter``, the ``KEY`` columns, ``params`` (dict), ``name``
    (``prompt · model (params)``) and ``differs`` (what sets it apart, a line each)."""

    of_trial: pd.Series = field(repr=False)
    """Each trial's variant position (aligned with the trials frame)."""

    @property
    def letters(self) -> list[str]:
        """``A``, ``B``, …: the short names, in order."""
        return list(self.frame["letter"])

    @property
    def names(self) -> list[str]:
        """The long names, in order."""
        return list(self.frame["name"])

    def __len__(self) -> int:
        return len(self.frame)


def letter(position: int) -> str:
    """``A`` … ``Z``, then ``AA``, ``AB``, …"""
    name = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def params_text(params: Any) -> str:
    """Params as canonical JSON (what groups trials into variants)."""
    if isinstance(params, str):
        return params
    return json.dumps(params or {}, sort_keys=True, default=str)


def _value_key(value: Any) -> tuple[int, float, str]:
    """Numbers sort by value, before anything else (sorted as text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return (1, 0.0, str(value))
    return (0, float(value), "")


def _params_key(params: Any) -> tuple[Any, ...]:
    items = sorted(params.items()) if isinstance(params, dict) else ()
    return tuple((key, _value_key(value)) for key, value in items)


def _rank(values: pd.Series, given: Sequence[str]) -> pd.Series:
    """A value's position in ``given``; values not given come after, in first-seen order."""
    seen = list(dict.fromkeys([*given, *values]))
    return values.map({value: i for i, value in enumerate(seen)})


def _template_lines(template: Any) -> list[str]:
    if isinstance(template, str):
        return template.splitlines()
    if isinstance(template, list):
        return [
            f"{m.get('role')}: {line}"
            for m in template
            if isinstance(m, dict)
            for line in str(m.get("content", "")).splitlines()
        ]
    return []


def _differences(frame: pd.DataFrame, order: RunOrder) -> list[str]:
    """Per variant, what differs among the variants: prompt, model, each param,
    and the template lines not every variant has."""
    compared = ("prompt_name", "prompt_version", "model", "retriever_text")
    varying = [column for column in compared if frame[column].nunique() > 1]
    keys = sorted({key for params in frame["params"] for key in (params or {})})
    varying_params = [k for k in keys if len({json.dumps((p or {}).get(k), default=str) for p in frame["params"]}) > 1]
    templates = order.templates()
    lines_of = {v: _template_lines(templates.get(v)) for v in frame["prompt_version"].unique()}
    shared = set.intersection(*(set(lines) for lines in lines_of.values())) if lines_of else set()
    described = []
    for row in frame.to_dict("records"):
        number = order.numbers.get((row["prompt_name"], row["prompt_version"]))
        shown = {**row, "prompt_version": version_tag(row["prompt_version"], number)}
        lines = [f"{column.removeprefix('prompt_').removesuffix('_text')}: {shown[column]}" for column in varying]
        lines += [f"{key}: {(row['params'] or {}).get(key, '—')}" for key in varying_params]
        own = [line for line in lines_of.get(row["prompt_version"], []) if line not in shared]
        lines += [f"+ {line}" for line in own[:6]]
        described.append("\n".join(lines))
    return described


def _names(trials: pd.DataFrame, numbers: Mapping[tuple[str, str], int]) -> pd.Series:
    """``summarize v2 · echo (temperature=0.7)`` per trial of a prompt with several versions
    here whose numbers are known, else ``plots.variant_labels``' ``summarize · echo (…)``
    (``summarize@1828dd`` when the number isn't known); `` · bm25 k=5`` after it when
    the trial used a retriever."""
    names, searched = _prompt_model_names(trials, numbers), " · " + trials["retriever_text"]
    named = (trials["retriever_text"] == "") | pd.Series(map(str.endswith, names, searched), index=trials.index)
    return names.where(named, names + searched)


def _prompt_model_names(trials: pd.DataFrame, numbers: Mapping[tuple[str, str], int]) -> pd.Series:
    labels = variant_labels(trials)
    versions = trials.groupby("prompt_name")["prompt_version"].transform("nunique")
    if not numbers or not (versions > 1).any():
        return labels  # one version of each prompt: its name says enough
    keys = zip(trials["prompt_name"].astype(str), trials["prompt_version"].astype(str), strict=True)
    numbered = pd.Series([f"{n} v{numbers[n, v]}" if (n, v) in numbers else None for n, v in keys], index=trials.index)
    numbered = numbered.where(versions > 1)
    rest = labels.str.split(" · ", n=1).str[1]
    return numbered.where(numbered.isna(), numbered + " · " + rest).fillna(labels)


def variants(trials: pd.DataFrame, order: RunOrder | None = None) -> Variants:
    """The variants of ``trials`` in display order (see the module docstring)."""
    order = order or RunOrder()
    if trials.empty:
        columns = ["letter", *KEY, "params", "name", "differs"]
        return Variants(pd.DataFrame(columns=columns), pd.Series([], dtype="int64", index=trials.index))
    searched = "retriever" in variant_columns(trials)
    frame = trials.assign(
        params_text=trials["params"].map(params_text),
        retriever_text=trials["retriever"].fillna("").astype(str) if searched else "",
    )
    frame = frame.assign(name=_names(frame, order.numbers))
    timed = frame.sort_values("created_at", kind="stable") if "created_at" in frame else frame
    firsts = timed.drop_duplicates(KEY)[[*KEY, "params", "name"]].reset_index(drop=True)
    versions = [str(p.get("version")) for p in order.prompts]
    ranked = firsts.assign(
        _prompt=_rank(firsts["prompt_version"].astype(str), versions),
        _model=_rank(firsts["model"].astype(str), order.models),
        _params=firsts["params"].map(_params_key),
        _retriever=_rank(firsts["retriever_text"], order.retrievers),
    )
    sort = ["_prompt", "_model", "_params", "_retriever"]
    ranked = ranked.sort_values(sort, kind="stable").reset_index(drop=True).drop(columns=sort)
    ranked.insert(0, "letter", [letter(i) for i in range(len(ranked))])
    ranked["differs"] = _differences(ranked, order)
    position = {tuple(key): i for i, key in enumerate(ranked[KEY].itertuples(index=False))}
    of_trial = pd.Series([position[tuple(k)] for k in frame[KEY].itertuples(index=False)], index=trials.index)
    return Variants(ranked, of_trial)
