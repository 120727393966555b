"""``lab.estimate`` (``promptlab/estimate.py``): calls, cache hits, tokens and
cost of a sweep before it runs, and without making a single call."""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import promptlab as pl
from promptlab import estimate as estimate_module
from promptlab.display import NullDisplay
from promptlab.estimate import DEFAULT_COMPLETION_TOKENS, MESSAGE_OVERHEAD, count_tokens
from promptlab.pricing import PRICES, dollars
from promptlab.testing import FakeProvider

Messages = Sequence[Mapping[str, str]]
PROMPT = pl.Prompt("Summarize: {{ text }}", name="summarize")
TERSE = pl.Prompt([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{ text }}"}],
                  name="terse")  # fmt: skip


def rows(n: int) -> list[dict[str, str]]:
    return [{"text": f"item number {i}"} for i in range(n)]


def fake_endpoint(respond: Callable[[Messages, pl.Model], str] | None = None, name: str = "m",
                  **options: Any) -> tuple[FakeProvider, pl.Model]:  # fmt: skip
    """A FakeProvider registered under a fresh name, and a Model that runs on it."""
    provider = FakeProvider(respond)
    endpoint = f"fake-{uuid.uuid4().hex[:10]}"
    pl.register_provider(endpoint, provider)
    return provider, pl.Model(name, provider=endpoint, **options)


def approx_tokens(*contents: str) -> int:
    """The documented approximation: a token per 4 characters, plus 4 per message."""
    return sum(math.ceil(len(c) / 4) + 4 for c in contents)


REAL_COUNTER = estimate_module._tiktoken_counter


@pytest.fixture(autouse=True)
def approximate_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Count prompt tokens with the approximation, whether or not tiktoken is installed."""
    REAL_COUNTER.cache_clear()
    monkeypatch.setattr(estimate_module, "_tiktoken_counter", lambda: None)
    yield
    REAL_COUNTER.cache_clear()


@pytest.fixture
def lab(tmp_path: Path) -> pl.Lab:
    return pl.Lab(tmp_path / "h.duckdb")


# -- counting tokens ----------------------------------------------------------------------


def test_the_approximation_without_tiktoken() -> None:
    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "x" * 17}]
    assert count_tokens(messages) == math.ceil(9 / 4) + math.ceil(17 / 4) + 2 * MESSAGE_OVERHEAD == 16
    assert count_tokens([{"role": "user", "content": ""}]) == MESSAGE_OVERHEAD
    assert estimate_module.tokenizer_name().startswith("approximation")


def test_a_tokenizer_when_one_is_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(estimate_module, "_tiktoken_counter", lambda: lambda text: len(text.split()))
    messages = [{"role": "user", "content": "one two three"}]
    assert count_tokens(messages) == 3 + MESSAGE_OVERHEAD
    assert estimate_module.tokenizer_name() == "tiktoken o200k_base"


def test_without_tiktoken_the_counter_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # importing it fails, as when it isn't installed
    assert REAL_COUNTER() is None
    REAL_COUNTER.cache_clear()


# -- calls and cache hits ---------------------------------------------------------------------


def test_estimate_counts_cells_and_calls_without_calling(lab: pl.Lab) -> None:
    provider, model = fake_endpoint()
    found = lab.estimate([PROMPT, TERSE], model, rows(3), params={"temperature": [0.0, 0.7]}, repeats=2)
    assert (found.cells, found.calls, found.cached) == (24, 24, 0)
    assert provider.calls == 0
    assert lab.trials().empty and lab.runs().empty
    assert "24 cells: 24 calls, 0 answered from history" in str(found)


def test_cells_already_answered_count_as_cached(lab: pl.Lab) -> None:
    provider, model = fake_endpoint()
    lab.sweep(PROMPT, model, rows(3), display=NullDisplay())
    assert provider.calls == 3
    found = lab.estimate(PROMPT, model, rows(5))
    assert (found.cells, found.cached, found.calls) == (5, 3, 2)
    assert found.prompt_tokens == sum(approx_tokens(f"Summarize: item number {i}") for i in (3, 4))
    uncached = lab.estimate(PROMPT, model, rows(5), cache=False)
    assert (uncached.cached, uncached.calls) == (0, 5)
    assert provider.calls == 3


def test_failed_cells_are_not_counted_as_cached(lab: pl.Lab) -> None:
    _, model = fake_endpoint(fail_if="number 1")
    run = lab.sweep(PROMPT, model, rows(3), display=NullDisplay())
    assert run.df["error_type"].notna().sum() == 1
    assert (lab.estimate(PROMPT, model, rows(3)).cached, lab.estimate(PROMPT, model, rows(3)).calls) == (2, 1)


# -- tokens --------------------------------------------------------------------------------------


def test_prompt_tokens_are_counted_over_every_message(lab: pl.Lab) -> None:
    _, model = fake_endpoint()
    found = lab.estimate([PROMPT, TERSE], model, rows(2))
    expected = sum(approx_tokens(f"Summarize: item number {i}") + approx_tokens("Be terse.", f"item number {i}")
                   for i in range(2))  # fmt: skip
    assert found.prompt_tokens == expected
    assert found.tokenizer.startswith("approximation")


def test_completion_tokens_from_max_tokens_else_the_default(lab: pl.Lab) -> None:
    _, bounded = fake_endpoint(max_tokens=50)
    assert lab.estimate(PROMPT, bounded, rows(3)).completion_tokens == 3 * 50
    _, unbounded = fake_endpoint(name="other")
    assert lab.estimate(PROMPT, unbounded, rows(3)).completion_tokens == 3 * DEFAULT_COMPLETION_TOKENS


def test_completion_tokens_from_history_capped_by_max_tokens(lab: pl.Lab) -> None:
    lengths = iter([2, 4, 6])
    _, model = fake_endpoint(lambda messages, model: " ".join(["w"] * next(lengths)), name="talker")
    lab.sweep(PROMPT, model, rows(3), display=NullDisplay(), concurrency=1)
    new_rows = [{"text": "something new"}, {"text": "and more"}]
    assert lab.estimate(PROMPT, model, new_rows).completion_tokens == 2 * 4  # the mean of 2, 4, 6
    assert lab.estimate(PROMPT, model.with_params(max_tokens=3), new_rows).completion_tokens == 2 * 3
    assert lab.estimate(PROMPT, model.with_params(max_tokens=100), new_rows).completion_tokens == 2 * 4


# -- cost -------------------------------------------------------------------------------------------


def test_cost_from_the_pricing_table_without_a_call(lab: pl.Lab) -> None:
    model = pl.Model("gpt-4o-mini", base_url="http://unused", max_tokens=100)
    found = lab.estimate(PROMPT, model, rows(4))
    prompt_tokens = sum(approx_tokens(f"Summarize: item number {i}") for i in range(4))
    assert (found.calls, found.prompt_tokens, found.completion_tokens) == (4, prompt_tokens, 400)
    price = PRICES["gpt-4o-mini"]
    assert (price.input, price.output) == (0.15, 0.60)
    assert found.cost_usd == pytest.approx((prompt_tokens * 0.15 + 400 * 0.60) / 1_000_000)
    assert f"; cost {dollars(found.cost_usd)}" in str(found)
    assert dollars(found.cost_usd).startswith("$0.000")  # a small price is shown, not rounded to zero
    assert lab.trials().empty


def test_cost_is_unknown_when_any_model_has_no_price(lab: pl.Lab) -> None:
    mystery = pl.Model("mystery-model", base_url="http://unused")
    assert lab.estimate(PROMPT, mystery, rows(2)).cost_usd is None
    mixed = lab.estimate(PROMPT, [pl.Model("gpt-4o-mini", base_url="http://unused"), mystery], rows(2))
    assert mixed.cost_usd is None and mixed.calls == 4
    assert "unknown" in str(mixed)


def test_cached_cells_cost_nothing(lab: pl.Lab) -> None:
    _, model = fake_endpoint(price=(1.0, 2.0), max_tokens=10)
    lab.sweep(PROMPT, model, rows(2), display=NullDisplay())
    found = lab.estimate(PROMPT, model, rows(3))
    asked = approx_tokens("Summarize: item number 2")
    answered = found.completion_tokens
    assert (found.calls, found.cached) == (1, 2)
    assert found.cost_usd == pytest.approx((asked * 1.0 + answered * 2.0) / 1_000_000)
    assert answered == 5  # history: each answer was "m: Summarize: item number N", 5 words
