"""What a sweep will cost before it runs: calls, tokens, dollars, cache hits.

Prompt tokens are counted with tiktoken when it is installed and its
encoding is available offline (``TIKTOKEN_CACHE_DIR`` or its own cache);
otherwise they are approximated as one token per four characters of text
plus four per message, which is within ~15% for English prose on OpenAI
tokenizers. Completion tokens are the mean this model produced in the history (capped
at its ``max_tokens``), else its ``max_tokens``, else ``DEFAULT_COMPLETION_TOKENS``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from promptlab.model import Model
from promptlab.pricing import dollars
from promptlab.sweep import Cell

DEFAULT_COMPLETION_TOKENS = 256
"""Assumed completion length when neither max_tokens nor history says."""

MESSAGE_OVERHEAD = 4
"""Tokens each chat message adds for its role and separators."""


@functools.cache
def _tiktoken_counter() -> Callable[[str], int] | None:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("o200k_base")  # fails offline unless cached
    except Exception:  # not installed, or its files can't be fetched: approximate instead
        return None
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def tokenizer_name() -> str:
    """Which counter ``count_tokens`` uses here."""
    return "tiktoken o200k_base" if _tiktoken_counter() else "approximation: 4 characters per token"


def count_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """Prompt tokens of a chat request (exact with tiktoken, else approximate)."""
    counter = _tiktoken_counter()
    if counter is not None:
        text_tokens = sum(counter(m["content"]) for m in messages)
    else:
        text_tokens = sum(math.ceil(len(m["content"]) / 4) for m in messages)
    return text_tokens + MESSAGE_OVERHEAD * len(messages)


@dataclass(frozen=True)
class Estimate:
    """The size and price of a sweep, before running it."""

    cells: int
    """Cells in the grid."""

    cached: int
    """Cells the history already answers (no call, no cost)."""

    calls: int
    """Calls that would be made."""

    prompt_tokens: int
    """Estimated prompt tokens over those calls."""

    completion_tokens: int
    """Estimated completion tokens over those calls."""

    cost_usd: float | None
    """Estimated cost; None when any model's price is unknown."""

    tokenizer: str
    """How prompt tokens were counted."""

    def __str__(self) -> str:
        cost = "unknown (a model has no price)" if self.cost_usd is None else dollars(self.cost_usd)
        return (
            f"{self.cells} cells: {self.calls} calls, {self.cached} answered from history; "
            f"~{self.prompt_tokens:,} prompt + ~{self.completion_tokens:,} completion tokens; cost {cost}"
        )


def estimate_cells(cells: Sequence[Cell], cached_keys: set[str], mean_completion: Mapping[str, float]) -> Estimate:
    """The estimate for ``cells``, given which cache keys history answers and the
    mean completion tokens per model name seen in history."""
    live = [cell for cell in cells if cell.cache_key not in cached_keys]
    prompt_tokens = completion_tokens = 0
    cost: float | None = 0.0
    for cell in live:
        asked = count_tokens(cell.messages)
        answered = _completion_tokens(cell.model, mean_completion)
        prompt_tokens += asked
        completion_tokens += answered
        price = cell.model.price
        cost = None if cost is None or price is None else cost + (price.cost(asked, answered) or 0.0)
    return Estimate(
        cells=len(cells),
        cached=len(cells) - len(live),
        calls=len(live),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost,
        tokenizer=tokenizer_name(),
    )


def _completion_tokens(model: Model, mean_completion: Mapping[str, float]) -> int:
    limits = [int(v) for k in ("max_tokens", "max_completion_tokens") if isinstance(v := model.params.get(k), int)]
    if model.name in mean_completion:
        return min([round(mean_completion[model.name]), *limits])
    return limits[0] if limits else DEFAULT_COMPLETION_TOKENS
