"""Reading a judge's verdicts out of what it answered, tolerant of small models.

A judge asked for "JSON only" still wraps it in prose or a ```json fence,
writes ``yes``/``no``, ``"Supported"`` or Python's ``True``, leaves a trailing
comma, or stops mid-list at its token limit. Each of these is read here;
only an answer with no whole verdict in it at all is refused (by the caller,
with the answer quoted). ``ast.literal_eval`` reads Python literals without
running anything.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.S)
_FLAT_OBJECT = re.compile(r"\{[^{}]*\}")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _loads(text: str) -> Any:
    """JSON, else JSON without trailing commas, else a Python literal (``True``, single quotes); None if none."""
    for attempt in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(attempt)
        except json.JSONDecodeError:
            pass
    try:
        return ast.literal_eval(_TRAILING_COMMA.sub(r"\1", text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _json_value(text: str) -> Any:
    """The JSON object or list in a judge's answer (in a fence, or among prose), or None."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    for opening, closing in ("{}", "[]"):
        start, end = body.find(opening), body.rfind(closing)
        if 0 <= start < end:
            found = _loads(body[start : end + 1])
            if isinstance(found, (dict, list)):
                return found
    return None


def verdict_items(text: str, key: str) -> tuple[list[Mapping[str, Any]], Mapping[str, Any]]:
    """The verdicts in a judge's answer: the objects listed under ``key`` (or
    any list of objects, or a bare list), and the whole answer object. An answer
    that doesn't parse (cut off, chatty) gives each flat ``{...}`` in it that does."""
    found = _json_value(text)
    whole = found if isinstance(found, dict) else {}
    listed = found if isinstance(found, list) else whole.get(key)
    if not isinstance(listed, list):
        listed = next((v for v in whole.values() if isinstance(v, list) and v and isinstance(v[0], dict)), None)
    if listed is None and found is None:
        listed = [_loads(match) for match in _FLAT_OBJECT.findall(text)]
    return [item for item in listed or [] if isinstance(item, Mapping)], whole


def truth(value: Any) -> bool | None:
    """A yes/no verdict as a judge wrote it (``true``, ``"yes"``, ``"Supported"``,
    ``"partially"`` counts as no); None when it is neither."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value) if value in (0, 1) else None
    text = str(value).strip().lower()
    if text == "0" or text.startswith(("no", "false", "not", "un", "ir", "partial")):
        return False
    if text == "1" or text.startswith(("yes", "true", "supported", "relevant", "fully")):
        return True
    return None


def first_of(item: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` in ``item`` (judges name fields their own way), or None."""
    return next((item[k] for k in keys if k in item), None)
