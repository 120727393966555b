"""The experiment's name and tags: what the typed tags mean to a sweep."""

from __future__ import annotations

import promptlab as pl
from promptlab.ui.experiment_fields import ExperimentFields, parse_tags, tag_options


def test_blank_tags_change_nothing_typed_ones_add_deleted_ones_remove() -> None:
    assert parse_tags(" news, draft,, news ") == ["news", "draft"]
    assert tag_options("", ["news"]) == {"tags": None}
    assert tag_options("news, draft", ["news"]) == {"tags": ["news", "draft"]}
    assert tag_options("draft", ["news", "weekly"]) == {"tags": ["draft"], "remove_tags": ["news", "weekly"]}


def test_a_new_experiment_has_no_tags_and_needs_a_name(lab: pl.Lab) -> None:
    fields = ExperimentFields(lab)
    assert fields.tags.value == "" and fields.options() == {"experiment": "playground", "tags": None}
    fields.name.value = " "
    try:
        fields.options()
    except pl.ConfigError as exc:
        assert "name the experiment" in str(exc)
    else:
        raise AssertionError("a blank name was accepted")
