"""``lab.estimate`` (``promptlab/runner/estimate.py``): calls, cache hits, tokens and
cost of a sweep before it runs, and without making a single call."""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import promptlab as pl
from promptlab.core.pricing import PRICES, Price, dollars
from promptlab.runner import estimate as estimate_module
from promptlab.runner.estimate import (
    ASSUMED,
    DEFAULT_COMPLETION_TOKENS,
    FROM_MAX_TOKENS,
    FROM_MODEL,
    FROM_PROMPT,
    FROM_VERSION,
    MESSAGE_OVERHEAD,
    CompletionHistory,
    Estimate,
    count_tokens,
    estimate_without_writing,
)
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider, fake_model

pytestmark = pytest.mark.both_stores

Messages = Sequence[Mapping[str, str]]
PROMPT = pl.Prompt("Summarize: {{ text }}", name="summarize")
TERSE = pl.Prompt([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{ text }}"}], name="terse")


def rows(n: int) -> list[dict[str, str]]:
    return [{"text": f"item number {i}"} for i in range(n)]


def fake_endpoint(
    respond: Callable[[Messages, pl.Model], str] | None = None, name: str = "m", **options: Any
) -> tuple[FakeProvider, pl.Model]:
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
    expected = sum(
        approx_tokens(f"Summarize: item number {i}") + approx_tokens("Be terse.", f"item number {i}") for i in range(2)
    )
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
    assert f"; cost at most {dollars(found.cost_usd)}" in str(found), "max_tokens is the upper end"
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


# -- the range and where the completion tokens came from (issue 11 item 9) ------------------


def test_before_the_first_run_the_estimate_is_a_range_marked_rough(lab: pl.Lab) -> None:
    model = fake_model("gpt-4o-mini")  # priced like the real one, no max_tokens

    found = lab.estimate(PROMPT, model, rows(4))

    prompt_tokens = sum(approx_tokens(f"Summarize: item number {i}") for i in range(4))
    assert found.completion_tokens == found.completion_tokens_high == 4 * DEFAULT_COMPLETION_TOKENS
    assert found.completion_tokens_low == 4, "one token per call at the least"
    assert found.cost_usd == found.cost_high_usd == pytest.approx((prompt_tokens * 0.15 + 1024 * 0.60) / 1e6)
    assert found.cost_low_usd == pytest.approx((prompt_tokens * 0.15 + 4 * 0.60) / 1e6)
    assert found.basis == ((ASSUMED, 4),) and found.rough
    text = str(found)
    assert f"~{4 * DEFAULT_COMPLETION_TOKENS:,} completion tokens (4 to 1,024)" in text
    assert f"cost at most {dollars(found.cost_high_usd)} (at least {dollars(found.cost_low_usd)})" in text
    assert "a rough upper bound (no history, no max_tokens) (4 calls)" in text
    assert text.endswith("; set max_tokens or run a few rows first for a closer figure")


def test_max_tokens_is_the_upper_end(lab: pl.Lab) -> None:
    found = lab.estimate(PROMPT, fake_model("gpt-4o-mini", max_tokens=8), rows(3))

    assert (found.completion_tokens_low, found.completion_tokens, found.completion_tokens_high) == (3, 24, 24)
    assert found.basis == ((FROM_MAX_TOKENS, 3),) and not found.rough
    assert "completion tokens from max_tokens, an upper bound (3 calls)" in str(found)
    assert "set max_tokens" not in str(found)


def short_or_long(messages: Messages, model: pl.Model) -> str:
    """Two words for a prompt that asks for a label, ten otherwise."""
    return "a b" if "Label" in messages[-1]["content"] else " ".join(["w"] * 10)


LABEL = pl.Prompt("Label: {{ text }}", name="label")
LABEL_V2 = pl.Prompt("Label this: {{ text }}", name="label")
ESSAY = pl.Prompt("Essay: {{ text }}", name="essay")


def test_the_prompts_own_history_beats_the_models(lab: pl.Lab) -> None:
    _, model = fake_endpoint(short_or_long, name="talker")
    lab.sweep([LABEL, ESSAY], model, rows(4), display=NullDisplay())
    new = [{"text": "something new"}, {"text": "and more"}]

    def estimate(prompt: pl.Prompt, chosen: pl.Model = model) -> Estimate:
        return estimate_without_writing(lab.location, prompt, chosen, new)

    same = estimate(LABEL)
    assert (same.completion_tokens, same.basis) == (2 * 2, ((FROM_VERSION, 2),)), "the model's mean would be 6"
    assert same.completion_tokens_low == same.completion_tokens_high == 4
    other_version = estimate(LABEL_V2)
    assert (other_version.completion_tokens, other_version.basis) == (4, ((FROM_PROMPT, 2),))
    unseen = estimate(pl.Prompt("Poem: {{ text }}", name="poem"))
    assert (unseen.completion_tokens, unseen.basis) == (2 * 6, ((FROM_MODEL, 2),))
    assert (unseen.completion_tokens_low, unseen.completion_tokens_high) == (2 * 2, 2 * 10), "its prompts' means"
    assert "~12 completion tokens (4 to 20)" in str(unseen)
    capped = estimate(ESSAY, model.with_params(max_tokens=5))
    assert capped.completion_tokens == capped.completion_tokens_high == 2 * 5
    mixed = estimate_without_writing(
        lab.location, [LABEL, ESSAY, pl.Prompt("Poem: {{ text }}", name="poem")], model, new
    )
    assert mixed.basis == ((FROM_VERSION, 4), (FROM_MODEL, 2))


def test_history_from_the_calls_themselves() -> None:
    calls = pd.DataFrame(
        {
            "model": ["m", "m", "m", "m", "other"],
            "prompt_name": ["p", "p", "p", "q", "p"],
            "prompt_version": ["v1", "v1", "v2", "w1", "v1"],
            "completion_tokens": [2.0, 4.0, 9.0, 20.0, None],
        }
    )
    history = CompletionHistory.from_calls(calls)
    assert history.by_version == {("m", "v1"): 3.0, ("m", "v2"): 9.0, ("m", "w1"): 20.0}
    assert history.by_prompt == {("m", "p"): (5.0, 3.0, 9.0), ("m", "q"): (20.0, 20.0, 20.0)}
    assert history.by_model == {"m": (8.75, 5.0, 20.0)}
    assert CompletionHistory.from_calls(calls.iloc[4:]) == CompletionHistory()


def test_an_estimate_without_a_history_file_creates_none(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "h.duckdb"
    found = estimate_without_writing(missing, PROMPT, fake_model("gpt-4o-mini", max_tokens=4), rows(2))
    assert (found.calls, found.cached, found.completion_tokens) == (2, 0, 8)
    assert not (tmp_path / "none").exists()


@pytest.mark.file_only  # its files are what it checks
def test_an_estimate_reads_an_existing_history_without_writing_to_it(lab: pl.Lab) -> None:
    _, model = fake_endpoint()
    lab.sweep(PROMPT, model, rows(2), display=NullDisplay())
    lab.fold()
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in lab.path.parent.rglob("*"))

    found = estimate_without_writing(lab.path, PROMPT, model, rows(3))

    assert (found.cached, found.calls) == (2, 1)
    assert sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in lab.path.parent.rglob("*")) == before


# -- the fake provider's prices --------------------------------------------------------------


def test_a_fake_model_named_like_a_priced_one_costs_what_it_costs(lab: pl.Lab) -> None:
    run = lab.sweep(
        PROMPT,
        [fake_model("gpt-4o-mini"), fake_model("echo"), fake_model("gpt-4o-2024-08-06")],
        rows(2),
        display=NullDisplay(),
    )
    trials = run.df.set_index("model")
    mini = trials.loc["gpt-4o-mini"].iloc[0]
    assert mini["cost_usd"] == pytest.approx((mini["prompt_tokens"] * 0.15 + mini["completion_tokens"] * 0.60) / 1e6)
    assert mini["cost_usd"] > 0
    assert (trials.loc["echo", "cost_usd"] == 0).all(), "echo stays free"
    assert (trials.loc["gpt-4o-2024-08-06", "cost_usd"] > mini["cost_usd"]).all()
    assert fake_model("gpt-4o-mini", price=(1.0, 1.0)).price == Price(1.0, 1.0)
    assert fake_model("upper").price == Price(0.0, 0.0)
