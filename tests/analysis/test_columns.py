"""The trial table's columns: stored JSON decoded exactly as ``json.loads`` would."""

from __future__ import annotations

import json
import re

import pytest

from promptlab.analysis.columns import decode_json


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, null]}',
        '"\\ud800"',
        " [1]",
        "[1] ",
        "1",
        '{"a":1} x',
        "1,2",
        "",
        "{",
        "[1]]",
        "123456789012345678901234567890",
        "NaN",
        '\t{"a": -Infinity}\n',
        "x",
    ],
)
def test_stored_json_decodes_exactly_as_json_loads(text: str) -> None:
    """The fast path of ``decode_json`` gives json.loads's answer, or its error."""
    try:
        expected: object = json.loads(text)
    except json.JSONDecodeError as error:
        with pytest.raises(json.JSONDecodeError, match=re.escape(str(error))):
            decode_json(text)
    else:
        assert repr(decode_json(text)) == repr(expected)  # repr: NaN equals itself there


def test_missing_values_and_decoded_values_pass_through() -> None:
    assert decode_json(None) is None
    assert decode_json(float("nan")) is None
    value = {"already": "decoded"}
    assert decode_json(value) is value
