"""Grid expansion: counts, stable keys, early template errors, fingerprints."""

from __future__ import annotations

import asyncio
import random
import re

import pytest

import promptlab as pl
from promptlab.core.grid import expand, fingerprint, make_sweep, model_variants
from promptlab.errors import ConfigError, TemplateError
from promptlab.runner.progress import NullDisplay

PROMPTS = [
    pl.Prompt("Summarize: {{ text }}", name="summarize"),
    pl.Prompt([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{ text }}"}], name="terse"),
]
MODELS = [pl.Model("echo", provider="fake"), pl.Model("upper", provider="fake", max_tokens=5)]
ROWS = [{"text": "one"}, {"text": "two"}, {"text": "three"}]
GRID = {"temperature": [0.0, 0.7], "top_p": [1.0, 0.9, 0.5]}


def cells_of(rows=ROWS, prompts=PROMPTS, models=MODELS, params=GRID, repeats=2):  # type: ignore[no-untyped-def]
    return expand(make_sweep(prompts, models, rows, params, repeats))


def test_expansion_crosses_every_dimension() -> None:
    cells = cells_of()
    assert len(cells) == 2 * 2 * (2 * 3) * 3 * 2  # prompts × models × grid × rows × repeats
    assert len({c.cell_key for c in cells}) == len(cells)
    assert {c.repeat for c in cells} == {0, 1}
    assert {c.row_index for c in cells} == {0, 1, 2}
    assert len({c.model.id for c in cells}) == 2 * 6


def test_no_grid_and_one_of_each() -> None:
    cells = expand(make_sweep(PROMPTS[0], MODELS[0], ROWS[:1]))
    assert len(cells) == 1
    assert cells[0].model == MODELS[0]
    assert cells[0].messages == ({"role": "user", "content": "Summarize: one"},)


def test_grid_values_are_applied_to_every_model() -> None:
    variants = model_variants(MODELS, {"temperature": [0.0, 0.7]})
    assert [(m.name, m.params.get("temperature")) for m in variants] == [
        ("echo", 0.0),
        ("echo", 0.7),
        ("upper", 0.0),
        ("upper", 0.7),
    ]
    assert all(m.params.get("max_tokens") == 5 for m in variants if m.name == "upper")
    # A single value counts as a one-value axis.
    assert len(cells_of(params={"temperature": 0.3}, repeats=1)) == 2 * 2 * 3


def test_cells_come_row_by_row() -> None:
    cells = cells_of(repeats=1)
    per_row = len(cells) // len(ROWS)
    assert [c.row_index for c in cells[:per_row]] == [0] * per_row
    assert cells[per_row].row_index == 1


def test_keys_are_stable_across_expansions() -> None:
    first = cells_of()
    # Built again from scratch: equal content gives equal keys.
    again = expand(
        make_sweep(
            [pl.Prompt("Summarize: {{ text }}", name="summarize"), PROMPTS[1]],
            [pl.Model("echo", provider="fake"), pl.Model("upper", provider="fake", max_tokens=5)],
            [dict(row) for row in ROWS],
            {"temperature": [0.0, 0.7], "top_p": [1.0, 0.9, 0.5]},
            2,
        )
    )
    assert [c.cell_key for c in first] == [c.cell_key for c in again]
    assert [c.cache_key for c in first] == [c.cache_key for c in again]


def test_every_part_of_a_cell_changes_its_keys() -> None:
    base = cells_of(rows=ROWS[:1], prompts=PROMPTS[:1], models=MODELS[:1], params={}, repeats=2)
    assert base[0].cell_key != base[1].cell_key  # the repeat index
    assert base[0].cache_key != base[1].cache_key
    other_input = cells_of(rows=[{"text": "ONE"}], prompts=PROMPTS[:1], models=MODELS[:1], params={}, repeats=1)
    other_model = cells_of(rows=ROWS[:1], prompts=PROMPTS[:1], models=MODELS[1:], params={}, repeats=1)
    other_param = cells_of(rows=ROWS[:1], prompts=PROMPTS[:1], models=MODELS[:1], params={"seed": 1}, repeats=1)
    other_prompt = cells_of(rows=ROWS[:1], prompts=PROMPTS[1:], models=MODELS[:1], params={}, repeats=1)
    for other in (other_input, other_model, other_param, other_prompt):
        assert other[0].cell_key != base[0].cell_key
        assert other[0].cache_key != base[0].cache_key


def test_cache_key_identifies_the_request_not_the_template() -> None:
    # Two templates that render to the very same request share a cache key, not a cell key.
    static = pl.Prompt("Summarize: one", name="static")
    cached = expand(make_sweep([PROMPTS[0], static], MODELS[0], ROWS[:1]))
    assert cached[0].cache_key == cached[1].cache_key
    assert cached[0].cell_key != cached[1].cell_key


def test_missing_variable_names_the_row_before_anything_runs() -> None:
    rows = [{"text": "a"}, {"text": "b"}, {"body": "c"}]
    with pytest.raises(TemplateError) as info:
        cells_of(rows=rows)
    message = str(info.value)
    assert "row 2" in message
    assert "text" in message
    assert "body" in message  # what the row does have


def test_missing_variable_in_a_sweep_calls_and_writes_nothing(lab: pl.Lab, scripted, quiet: NullDisplay) -> None:  # type: ignore[no-untyped-def]
    provider = scripted()
    with pytest.raises(TemplateError, match="row 1"):
        lab.sweep(PROMPTS[0], provider.model(), [{"text": "a"}, {"txt": "b"}], display=quiet)
    assert provider.calls == 0
    assert lab.runs().empty
    assert lab.trials().empty


def test_fingerprint_is_stable_and_content_derived() -> None:
    cells = cells_of()
    assert fingerprint(cells) == fingerprint(cells_of())
    assert fingerprint(cells) == fingerprint(random.Random(4).sample(cells, len(cells)))  # order-free
    assert fingerprint(cells) != fingerprint(cells_of(repeats=1))
    assert fingerprint(cells) != fingerprint(cells_of(rows=[*ROWS, {"text": "four"}]))
    assert len(fingerprint(cells)) == 16


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"prompts": []}, "no prompts"),
        ({"models": []}, "no models"),
        ({"prompts": ["Summarize: {{ text }}"]}, "pl.Prompt"),
        ({"models": ["gpt-4o-mini"]}, "pl.Model"),
        ({"repeats": 0}, "repeats"),
        ({"repeats": 1.5}, "repeats"),
        ({"params": {"temperature": []}}, "temperature"),
    ],
)
def test_bad_sweeps_are_config_errors(kwargs: dict, fragment: str) -> None:
    arguments = {"prompts": PROMPTS, "models": MODELS, "rows": ROWS, "params": None, "repeats": 1, **kwargs}
    with pytest.raises(ConfigError, match=fragment):
        make_sweep(**arguments)


def test_duplicate_prompts_and_models_are_run_once() -> None:
    sweep = make_sweep([PROMPTS[0], PROMPTS[0]], [MODELS[0], pl.Model("echo", provider="fake")], ROWS)
    assert len(sweep.prompts) == 1
    assert len(sweep.models) == 1
    assert len(expand(sweep)) == len(ROWS)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"experimnt": "x"}, "did you mean experiment=?"),
        ({"repeat": 3}, "did you mean repeats=?"),
        ({"temperature": 0.7}, "temperature= is a model parameter"),
        ({"max_tokens": 5}, "params={'max_tokens': [...]}"),
        ({"zzz": 1}, "unknown option zzz=; options: cache"),
    ],
)
def test_a_misspelt_option_is_refused_before_anything_runs(
    lab: pl.Lab,
    scripted,
    options: dict,
    fragment: str,  # type: ignore[no-untyped-def]
) -> None:
    provider = scripted()
    arguments = (pl.Prompt("Hi {{ n }}"), provider.model(), [{"n": "a"}])
    for method in (lab.sweep, lab.start, lab.estimate):
        with pytest.raises(ConfigError, match=re.escape(fragment)):
            method(*arguments, **options)
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        asyncio.run(lab.asweep(*arguments, **options))
    assert provider.calls == 0 and lab.runs().empty


def test_a_cells_key_follows_its_rows_content_not_its_position() -> None:
    rows = [{"text": "a"}, {"text": "b"}, {"text": "b"}]
    before = {
        (c.vars["text"], c.row_index): c.cell_key for c in expand(make_sweep(pl.Prompt("{{ text }}"), MODELS[0], rows))
    }
    moved = [{"text": "new"}, *reversed(rows)]
    after = expand(make_sweep(pl.Prompt("{{ text }}"), MODELS[0], moved))
    keys = {c.cell_key for c in after}
    assert set(before.values()) <= keys  # every old cell keeps its key wherever its row moved
    assert len(keys) == 4  # the two equal rows are still two cells
