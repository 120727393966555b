"""What an erasure takes, what it did, and the value it erases in every written form.

``Selection`` says what is erased: every occurrence of a value, an end
user's rows, trials by id, or production trials past their tier's
retention. ``Erasable`` is a value in every form it is written: as it is,
and JSON-escaped (quotes and backslashes escaped; non-ASCII kept, as the
journal, DuckDB's JSON text and PostgreSQL's ``jsonb`` write it; or
``\\uXXXX``, as Python's ``json`` and many providers' raw responses do; a
``/`` maybe written ``\\/``). It is matched case-insensitively (so "Ana
Lima" also takes "ANA LIMA" and "ana lima"), and each occurrence becomes
``PLACEHOLDER``. JSON is scrubbed as JSON: parsed, every string (keys
included) scrubbed, a number written with the value becomes the
placeholder, and written back, so it stays valid whatever the value holds.

Journal files are matched and scrubbed by ``journal_erasure.py``, tables by
``erasure_rows.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PLACEHOLDER = "[erased]"
"""What an erased value becomes."""


@dataclass(frozen=True)
class Selection:
    """What one erasure takes (exactly one of the first four is given)."""

    value: str | None = None
    """Every occurrence of this text, any case: rows stay, the text goes."""

    end_user: str | None = None
    """The rows of this end user of an application: their calls, and feedback they gave."""

    trial_ids: tuple[str, ...] = ()
    """These trials and what hangs off them."""

    retention: Mapping[str, datetime] = field(default_factory=dict)
    """Per tier, the time before which its production trials go (a prune)."""

    default_tier: str = "internal"
    """The tier of a trial with none recorded (the policy's default)."""

    @property
    def kind(self) -> str:
        """``value``, ``end_user``, ``trial_ids`` or ``retention``."""
        if self.value is not None:
            return "value"
        if self.end_user is not None:
            return "end_user"
        return "trial_ids" if self.trial_ids else "retention"


@dataclass(frozen=True)
class Erased:
    """What an erasure did to one store (or would do, in a dry run)."""

    changed: Mapping[str, int] = field(default_factory=dict)
    """Rows whose text was scrubbed, per table."""

    deleted: Mapping[str, int] = field(default_factory=dict)
    """Rows deleted (a dry run: that would be), per table."""

    by_tier: Mapping[str, int] = field(default_factory=dict)
    """A prune: the production trials it takes, per tier."""

    files_rewritten: tuple[str, ...] = ()
    """Database files rewritten without free blocks, or tables vacuumed on a server."""

    segments_scrubbed: tuple[str, ...] = ()
    """Journal (or spool) files scrubbed or removed."""

    remaining: Mapping[str, int] = field(default_factory=dict)
    """``table.column``: rows that still hold the value (tables an erasure
    doesn't change, such as prompt templates and the label log)."""


class Erasable:
    """A value, in every form it may be written (see the module docstring)."""

    def __init__(self, value: str) -> None:
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        forms = (value, escaped, json.dumps(value)[1:-1], escaped.replace("/", "\\/"))
        self.forms: tuple[str, ...] = tuple(dict.fromkeys(forms))
        """The written forms, each matched in any case."""
        self.pattern = re.compile("|".join(re.escape(f) for f in sorted(self.forms, key=len, reverse=True)), re.I)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds the value in any form."""
        return self.pattern.search(text) is not None

    def text(self, text: str) -> str:
        """``text`` with every occurrence replaced."""
        return self.pattern.sub(PLACEHOLDER, text)

    def json(self, text: str) -> str:
        """JSON text with every occurrence replaced, still valid JSON (as it was
        when it holds none)."""
        if not self.found_in(text):
            return text
        try:
            document = json.loads(text)
        except ValueError:
            return self.text(text)
        return json.dumps(self.value(document), ensure_ascii=False)

    def value(self, value: Any) -> Any:
        """A decoded JSON value with every occurrence replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self.found_in(json.dumps(value)):
            return PLACEHOLDER
        return value
