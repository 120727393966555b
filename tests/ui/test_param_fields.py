"""The parameter grid's fields: typed values to a grid and back."""

from __future__ import annotations

from promptlab.ui.param_fields import ParamFields


def test_a_grid_is_shown_and_read_back() -> None:
    fields = ParamFields()
    grid = {"temperature": [0.0, 0.7], "max_tokens": [64], "top_p": [0.9, 1], "stop": "###"}
    fields.set_params(grid)
    assert (fields.temperature.value, fields.max_tokens.value, fields.seed.value) == ("0.0, 0.7", "64", "")
    assert fields.params() == {"temperature": [0.0, 0.7], "max_tokens": [64], "top_p": [0.9, 1], "stop": ["###"]}


def test_a_bad_value_is_shown_under_the_fields_once_asked() -> None:
    fields = ParamFields()
    fields.seed.value = "one"
    assert "seed" in (fields.check(show=False) or "") and fields.error.value == ""
    assert fields.check() and "seed" in fields.error.value
