"""Personal data taken out of a trial's row before it is stored, when the
policy asks it of the trial's tier (``[privacy.redact]``'s ``before_storage``).

One ``Pseudonyms`` per trial, so a value that recurs in its input, its
messages and its output becomes the same placeholder in each and the row
still reads (``Hi <NAME_1>`` … ``<NAME_1>'s order``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

STORED_TEXT = ("vars", "messages", "output", "error", "metadata", "response")
"""The columns of a trial row that hold data rather than config."""


def scrubbed(row: Mapping[str, Any], kinds: Iterable[str]) -> dict[str, Any]:
    """``row`` with the personal data of ``kinds`` replaced in its data columns."""
    from promptlab.core.pii import Pseudonyms  # the detectors load only when a policy asks for them

    names = Pseudonyms(kinds)
    return {key: names.redact_value(value) if key in STORED_TEXT else value for key, value in row.items()}
