"""What an evaluator factory takes, read from its signature, and how the text
typed for each argument becomes its value. Nothing here touches a widget.

The builder offers every factory in ``promptlab.evals.REGISTRY`` (the
built-ins, the judges, a team's own) without a form written for each: an
argument's kind comes from its annotation, so a factory registered later gets
fields too. ``label`` is left out (a run names its columns itself).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptlab.errors import ConfigError
from promptlab.evals import REGISTRY

NOT_OFFERED = {"pairwise_judge": "it compares two runs' outputs: use lab.compare_pairwise"}
"""Registered factories that make no per-trial evaluator, and what to use instead."""

COLUMN_ARGUMENTS = ("target",)
"""Arguments that name a column of the data (offered from its columns)."""

REQUIRED = inspect.Parameter.empty
"""The default of an argument that has none."""

PLACEHOLDERS = {
    "list": "comma-separated, e.g. positive, negative",
    "json": 'JSON, e.g. {"type": "object"}',
    "function": "import path, e.g. mypackage.checks:short_enough",
    "number": "a number",
    "whole": "a whole number",
}


@dataclass(frozen=True)
class Argument:
    """One argument of an evaluator factory, as the builder asks for it."""

    name: str
    """The keyword it is passed as."""

    kind: str
    """``column``, ``flag``, ``model``, ``function``, ``json``, ``list``, ``whole``, ``number`` or ``text``."""

    default: Any = REQUIRED
    """Its default (``REQUIRED`` when it has none)."""

    @property
    def required(self) -> bool:
        """True when the factory has no default for it."""
        return self.default is REQUIRED


def offered_evaluators() -> list[str]:
    """Names of the registered evaluator factories the builder offers, sorted."""
    return sorted(name for name in REGISTRY if name not in NOT_OFFERED)


def factory_arguments(name: str) -> list[Argument]:
    """The arguments of the factory registered as ``name`` (``label`` left out)."""
    if name not in REGISTRY:
        raise ConfigError(f"no evaluator named {name!r} is registered (known: {', '.join(offered_evaluators())})")
    found = []
    for parameter in inspect.signature(REGISTRY[name]).parameters.values():
        if parameter.name == "label" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        found.append(Argument(parameter.name, argument_kind(parameter.name, parameter.annotation), parameter.default))
    return found


def argument_kind(name: str, annotation: Any) -> str:
    """The kind of field an argument needs, from its name and annotation."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    if name in COLUMN_ARGUMENTS:
        return "column"
    for kind, pattern in (
        ("flag", r"\bbool\b"),
        ("model", r"\bModel\b"),
        ("function", r"\bCallable\b"),
        ("json", r"\bMapping\b|\bdict\b"),
        ("list", r"\bSequence\b|\blist\b"),
        ("whole", r"\bint\b"),
        ("number", r"\bfloat\b"),
    ):
        if re.search(pattern, text):
            return kind
    return "text"


def parse_argument(argument: Argument, text: str) -> Any:
    """The value typed for a text-like ``argument`` (blank: its default). Raises
    ConfigError naming the argument."""
    text = text.strip()
    if not text:
        if argument.required:
            raise ConfigError(f"{argument.name}: fill it in" + _example(argument))
        return argument.default
    if argument.kind in ("whole", "number"):
        try:
            return int(text) if argument.kind == "whole" else float(text)
        except ValueError:
            raise ConfigError(f"{argument.name}: {text!r} is not {PLACEHOLDERS[argument.kind]}") from None
    if argument.kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    if argument.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{argument.name}: not JSON ({exc.msg} at character {exc.pos})") from None
    return text


def format_argument(argument: Argument, value: Any) -> str:
    """The inverse of ``parse_argument``: what to show for ``value``."""
    if value is None or value is REQUIRED:
        return ""
    if argument.kind == "list" and isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(str(v) for v in value)
    if argument.kind == "json":
        return json.dumps(value)
    return str(value)


def _example(argument: Argument) -> str:
    hint = PLACEHOLDERS.get(argument.kind)
    return f" ({hint})" if hint else ""
