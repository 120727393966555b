"""An evaluator factory's arguments, read from its signature, and the text typed for each."""

from __future__ import annotations

import pytest

from promptlab.errors import ConfigError
from promptlab.ui.evaluator_arguments import (
    REQUIRED,
    Argument,
    factory_arguments,
    format_argument,
    offered_evaluators,
    parse_argument,
)


def test_every_registered_evaluator_but_the_pairwise_judge_is_offered() -> None:
    offered = offered_evaluators()
    assert {"contains", "judge", "code", "one_of", "similarity"} <= set(offered)
    assert "pairwise_judge" not in offered


def test_arguments_get_a_kind_from_their_annotation() -> None:
    kinds = {a.name: a.kind for a in factory_arguments("contains")}
    assert kinds == {"target": "column", "literal": "flag", "case_sensitive": "flag"}
    judge = {a.name: (a.kind, a.required) for a in factory_arguments("judge")}
    assert judge == {"rubric": ("text", True), "model": ("model", False), "threshold": ("number", False)}
    assert (factory_arguments("one_of")[0].name, factory_arguments("one_of")[0].kind) == ("labels", "list")
    assert [a.kind for a in factory_arguments("word_count")] == ["whole", "whole"]
    assert factory_arguments("code")[0].kind == "function"
    assert factory_arguments("json_schema")[0].kind == "json"


def test_typed_text_becomes_the_value_and_back() -> None:
    labels = Argument("labels", "list")
    assert parse_argument(labels, "positive, negative,") == ["positive", "negative"]
    assert format_argument(labels, ["positive", "negative"]) == "positive, negative"
    assert parse_argument(Argument("maximum", "whole", None), "") is None
    assert parse_argument(Argument("schema", "json"), '{"type": "object"}') == {"type": "object"}
    with pytest.raises(ConfigError, match="characters: 'ten' is not a whole number"):
        parse_argument(Argument("characters", "whole"), "ten")
    with pytest.raises(ConfigError, match="rubric: fill it in"):
        parse_argument(Argument("rubric", "text", REQUIRED), " ")
