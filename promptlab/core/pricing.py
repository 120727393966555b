"""Per-million-token prices, so every trial can carry what it cost.

The table covers common OpenAI models (USD per 1M tokens, standard tier, as
published in 2025). A model not in the table has an unknown price and its
trials record ``cost_usd`` as NULL, never 0. Pass ``price=(input, output)``
to ``Model`` to set or override a price; embedded models are free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """USD per one million tokens."""

    input: float
    """Price of one million prompt tokens."""

    output: float
    """Price of one million completion tokens."""

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """Cost of one call, or None when the token counts are unknown."""
        if prompt_tokens is None or completion_tokens is None:
            return None
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


FREE = Price(0.0, 0.0)

PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00),
    "o1-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
}


# A dated snapshot: gpt-4o-mini-2024-07-18, gpt-4-0613.
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(\d{4}-\d{2}-\d{2}|\d{4})$")


def lookup_price(model_name: str) -> Price | None:
    """The table's price for ``model_name``, also for dated snapshots such as
    ``gpt-4o-mini-2024-07-18``; None when unknown (``o3-pro`` is not ``o3``)."""
    if model_name in PRICES:
        return PRICES[model_name]
    snapshot = _SNAPSHOT.match(model_name)
    return PRICES.get(snapshot.group("base")) if snapshot else None


def dollars(usd: float) -> str:
    """``$12.50``, ``$0.0123``, ``$0.000043``, ``$0`` when free: enough digits
    that a small price never shows as zero."""
    if usd == 0:
        return "$0"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    if abs(usd) < 0.000001:
        return "<$0.000001"
    return "$" + f"{usd:.6f}".rstrip("0")
