"""Reading a YAML file strictly (a key given twice is an error, not the last
one silently kept) and checking its values with errors that name the file,
the key and what to change: the parts of ``experiment_file`` that any
declarative file needs."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from promptlab.errors import ExperimentFileError


class StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (YAML would keep the last silently)."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if isinstance(key, str) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (lines {seen[key]} and {line})", key_node.start_mark
            )
        if isinstance(key, str):
            seen[key] = line
    return loader.construct_mapping(node)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class FileValues:
    """A file's values read as the types they must be, or an error naming the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, problem: str) -> ExperimentFileError:
        return ExperimentFileError(f"{self.path}: {key}: {problem}")

    def text(self, value: Any, key: str, example: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, got {shown(value)}; e.g. {key}: {example}")
        return value

    def integer(self, value: Any, key: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"must be a whole number ≥ {minimum}, got {shown(value)}")
        return value

    def seconds(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise self.error(key, f"must be a number of seconds > 0, got {shown(value)}")
        return float(value)

    def items(self, value: Any, key: str, example: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a non-empty list, got {shown(value)}; e.g.\n{example}")
        return value

    def keys(self, mapping: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.error(f"{where}{key}", f"unknown key; {hint}allowed keys: {', '.join(allowed)}")


def shown(value: Any) -> str:
    """A value and its YAML type, for messages: YAML turns ``no`` into false and ``1.10`` into 1.1."""
    kind = {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "mapping"}
    if value is None:
        return "nothing"
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ExperimentFileError(f"{path}: no such experiment file (working directory: {Path.cwd()})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentFileError(f"{path}: can't read the file: {exc}") from exc
    try:
        return yaml.load(text, Loader=StrictLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ExperimentFileError(
            f"{path}: not valid YAML{where}: {problem}. Check the indentation there, and quote text "
            "containing ': ' or starting with '{' or '*'."
        ) from exc
