"""The evaluators section: rows made from the registry, the data's columns and
the builder's models offered, restored rows keeping their labels."""

from __future__ import annotations

import promptlab as pl
from promptlab.testing import fake_model
from promptlab.ui.evaluator_picker import EvaluatorPicker


def test_rows_become_evaluators_with_their_arguments() -> None:
    picker = EvaluatorPicker()
    picker.offer(["text", "expected"], [fake_model("echo")])
    picker.add("one_of").fields[0].control.value = "positive, negative"
    judge = picker.add("judge")
    judge.fields[0].control.value = "Is it polite?"
    made = picker.evaluators()
    assert [e.label for e in made] == ["one_of", "judge:Is it polite?"]
    assert made[1].args["model"]["name"] == "echo"  # the builder's first model, until another is picked
    assert picker.check(["text", "expected"]) is None


def test_a_row_with_a_bad_argument_says_so_beside_it() -> None:
    picker = EvaluatorPicker()
    row = picker.add("max_length")
    assert "characters: fill it in" in picker.check(["text"])
    assert "characters" in row.error.value
    assert picker.check(["text"], show=False) and row.error.value == ""


def test_two_rows_under_one_label_are_refused() -> None:
    picker = EvaluatorPicker()
    picker.add("contains")
    picker.add("contains")
    assert "share the label" in picker.check(["expected"])


def test_a_restored_evaluator_keeps_its_label_until_edited() -> None:
    picker = EvaluatorPicker()
    picker.set_evaluators([pl.evals.contains("expected", label="mentions it")])
    assert [e.label for e in picker.evaluators()] == ["mentions it"]
    picker.rows.children[0].fields[1].control.value = True  # literal
    assert [e.label for e in picker.evaluators()] == ["contains:expected"]
    picker.rows.children[0].remove.click()
    assert picker.evaluators() == [] and "unscored" in picker.hint.value
