"""What a sweep will cost before it runs: calls, tokens, dollars, cache hits.

Prompt tokens are counted with tiktoken when it is installed and its
encoding is available offline (``TIKTOKEN_CACHE_DIR`` or its own cache);
otherwise they are approximated as one token per four characters of text
plus four per message, which is within ~15% for English prose on OpenAI
tokenizers.

Completion tokens can't be counted before the calls, so each call's is taken
from the best evidence there is, and the estimate gives a range and says
which evidence it used (``Estimate.basis``):

1. this prompt version's answers on this model in the history: their mean;
2. other versions of this prompt on this model: their mean, ranging from
   the lowest version's mean to the highest;
3. this model's answers to other prompts: their mean, ranging likewise over prompts;
4. the model's ``max_tokens``: an upper bound (ranging from 1 token);
5. nothing: ``DEFAULT_COMPLETION_TOKENS``, a rough upper bound (from 1).

History means are capped at ``max_tokens``. Without history or a limit the
upper end is all one can say: a one-word label answers in a few tokens, 20
to 100 times less than 256, while a long answer can exceed it.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import pandas as pd

from promptlab.core.grid import Cell
from promptlab.core.model import Model
from promptlab.core.pricing import dollars
from promptlab.core.prompt import Prompt
from promptlab.core.rows import Data
from promptlab.runner.plan import PlannedSweep, SweepOptions, plan_sweep
from promptlab.store import Store, reads
from promptlab.store.server.connection import is_server
from promptlab.store.server.opening import server_store

DEFAULT_COMPLETION_TOKENS = 256
"""Assumed completion length, as a rough upper bound, when neither max_tokens nor history says."""

MESSAGE_OVERHEAD = 4
"""Tokens each chat message adds for its role and separators."""

FROM_VERSION = "this prompt version's history on this model"
FROM_PROMPT = "other versions of this prompt on this model"
FROM_MODEL = "this model's history"
FROM_MAX_TOKENS = "max_tokens, an upper bound"
ASSUMED = f"an assumed {DEFAULT_COMPLETION_TOKENS} per call, a rough upper bound (no history, no max_tokens)"
BASES = (FROM_VERSION, FROM_PROMPT, FROM_MODEL, FROM_MAX_TOKENS, ASSUMED)
"""Where a call's completion tokens came from, most trusted first."""


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


# -- what history says ---------------------------------------------------------------


@dataclass(frozen=True)
class Guess:
    """One call's completion tokens: a figure, its range and where it came from."""

    tokens: int
    """The figure used for the estimate."""

    low: int
    """The low end of its range."""

    high: int
    """The high end."""

    basis: str
    """Where it came from (one of ``BASES``)."""


@dataclass(frozen=True)
class CompletionHistory:
    """Mean completion tokens of past successful, uncached calls, at three levels."""

    by_version: Mapping[tuple[str, str], float] = field(default_factory=dict)
    """(model name, prompt version) → mean."""

    by_prompt: Mapping[tuple[str, str], tuple[float, float, float]] = field(default_factory=dict)
    """(model name, prompt name) → (mean, lowest version mean, highest version mean)."""

    by_model: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    """Model name → (mean, lowest prompt mean, highest prompt mean)."""

    @classmethod
    def from_calls(cls, calls: pd.DataFrame) -> CompletionHistory:
        """From one row per call: ``model``, ``prompt_name``, ``prompt_version``, ``completion_tokens``."""
        known = calls.dropna(subset=["completion_tokens"]).fillna({"prompt_name": ""})
        tokens = known.groupby(["model", "prompt_name", "prompt_version"])["completion_tokens"]
        totals = pd.DataFrame({"total": tokens.sum(), "n": tokens.size()}).reset_index()
        return cls.from_totals(totals)

    @classmethod
    def from_totals(cls, totals: pd.DataFrame) -> CompletionHistory:
        """From completion tokens summed per (``model``, ``prompt_name``,
        ``prompt_version``): ``total`` and ``n`` (``reads.completion_tokens``)."""
        if totals.empty:
            return cls()
        grouped = totals.fillna({"prompt_name": ""}).set_index(["model", "prompt_name", "prompt_version"])
        total, n = grouped["total"].astype(float), grouped["n"].astype(float)
        versions = total / n
        prompts = total.groupby(level=[0, 1]).sum() / n.groupby(level=[0, 1]).sum()
        models = total.groupby(level=0).sum() / n.groupby(level=0).sum()
        return cls(
            by_version={
                (model, version): float(mean)
                for (model, _, version), mean in zip(versions.index.tolist(), versions.tolist(), strict=True)
            },
            by_prompt=_with_spread(prompts, versions.groupby(level=[0, 1])),
            by_model=_with_spread(models, prompts.groupby(level=0)),
        )

    def guess(self, cell: Cell) -> Guess:
        """The completion tokens of ``cell``'s call, from the most specific evidence there is."""
        limits = [
            int(v) for k in ("max_tokens", "max_completion_tokens") if isinstance(v := cell.model.params.get(k), int)
        ]
        name, prompt = cell.model.name, cell.prompt
        found: tuple[float, float, float] | None = None
        if (name, prompt.version) in self.by_version:
            found, basis = (self.by_version[(name, prompt.version)],) * 3, FROM_VERSION
        elif (name, prompt.name or "") in self.by_prompt:
            found, basis = self.by_prompt[(name, prompt.name or "")], FROM_PROMPT
        elif name in self.by_model:
            found, basis = self.by_model[name], FROM_MODEL
        if found is not None:
            mean, low, high = (max(1, min([round(v), *limits])) for v in found)
            return Guess(mean, low, high, basis)
        if limits:
            return Guess(limits[0], 1, limits[0], FROM_MAX_TOKENS)
        return Guess(DEFAULT_COMPLETION_TOKENS, 1, DEFAULT_COMPLETION_TOKENS, ASSUMED)


def _with_spread(means: pd.Series, parts: Any) -> dict[Any, tuple[float, float, float]]:
    """Each key's mean with the lowest and highest mean of its parts (a prompt's
    versions, a model's prompts)."""
    low, high = parts.min(), parts.max()
    return {key: (float(mean), float(low[key]), float(high[key])) for key, mean in means.items()}


def completion_history(store: Store, model_names: Iterable[str]) -> CompletionHistory:
    """What the history says about completion lengths on these models (successful,
    uncached sweep calls)."""
    return CompletionHistory.from_totals(reads.completion_tokens(store, sorted(set(model_names))))


# -- the estimate ----------------------------------------------------------------------


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
    """Estimated completion tokens over those calls (an upper bound where ``basis`` says so)."""

    cost_usd: float | None
    """Estimated cost; None when any model's price is unknown."""

    tokenizer: str
    """How prompt tokens were counted."""

    completion_tokens_low: int = 0
    """The low end of the completion tokens' range."""

    completion_tokens_high: int = 0
    """The high end."""

    cost_low_usd: float | None = None
    """The cost at the low end of the range; None when a price is unknown."""

    cost_high_usd: float | None = None
    """The cost at the high end."""

    basis: tuple[tuple[str, int], ...] = ()
    """Where the completion tokens came from: (one of ``BASES``, calls) pairs, most trusted first."""

    @property
    def rough(self) -> bool:
        """True when some calls' completion tokens are only an assumed upper bound."""
        return any(basis == ASSUMED for basis, _ in self.basis)

    def __str__(self) -> str:
        tokens = f"~{self.prompt_tokens:,} prompt + ~{self.completion_tokens:,} completion tokens"
        if self.completion_tokens_low != self.completion_tokens_high:
            tokens += f" ({self.completion_tokens_low:,} to {self.completion_tokens_high:,})"
        size = f"{_counted(self.cells, 'cell')}: {_counted(self.calls, 'call')}, {self.cached} answered from history"
        text = f"{size}; {tokens}; {self._cost()}"
        if self.basis:
            sources = (f"{basis} ({_counted(calls, 'call')})" for basis, calls in self.basis)
            text += "; completion tokens from " + ", ".join(sources)
        if self.rough:
            text += "; set max_tokens or run a few rows first for a closer figure"
        return text

    def _cost(self) -> str:
        if self.cost_usd is None:
            return "cost unknown (a model has no price)"
        low, high = self.cost_low_usd, self.cost_high_usd
        if low is None or high is None or dollars(low) == dollars(high):
            return f"cost {dollars(self.cost_usd)}"
        if dollars(self.cost_usd) == dollars(high):
            return f"cost at most {dollars(high)} (at least {dollars(low)})"
        return f"cost {dollars(self.cost_usd)} ({dollars(low)} to {dollars(high)})"


def _counted(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def estimate_cells(cells: Sequence[Cell], cached_keys: set[str], history: CompletionHistory) -> Estimate:
    """The estimate for ``cells``, given which cache keys history answers and what it
    says about completion lengths."""
    live = [cell for cell in cells if cell.cache_key not in cached_keys]
    prompt_tokens, totals = 0, [0, 0, 0]
    costs: list[float] | None = [0.0, 0.0, 0.0]
    used: dict[str, int] = {}
    for cell in live:
        asked, guess = count_tokens(cell.messages), history.guess(cell)
        prompt_tokens += asked
        used[guess.basis] = used.get(guess.basis, 0) + 1
        answered = (guess.tokens, guess.low, guess.high)
        totals = [total + n for total, n in zip(totals, answered, strict=True)]
        price = cell.model.price
        costs = (
            None
            if costs is None or price is None
            else [cost + (price.cost(asked, n) or 0.0) for cost, n in zip(costs, answered, strict=True)]
        )
    return Estimate(
        cells=len(cells),
        cached=len(cells) - len(live),
        calls=len(live),
        prompt_tokens=prompt_tokens,
        completion_tokens=totals[0],
        cost_usd=None if costs is None else costs[0],
        tokenizer=tokenizer_name(),
        completion_tokens_low=totals[1],
        completion_tokens_high=totals[2],
        cost_low_usd=None if costs is None else costs[1],
        cost_high_usd=None if costs is None else costs[2],
        basis=tuple((basis, used[basis]) for basis in BASES if basis in used),
    )


def estimate_sweep(store: Store | None, plan: PlannedSweep) -> Estimate:
    """The estimate for a planned sweep against a history (None: an empty one)."""
    if store is None:
        return estimate_cells(plan.cells, set(), CompletionHistory())
    keys = [cell.cache_key for cell in plan.cells]
    cached = set(reads.cached_responses(store, keys)) if plan.settings.cache else set()
    return estimate_cells(plan.cells, cached, completion_history(store, (cell.model.name for cell in plan.cells)))


def estimate_without_writing(
    path: str | os.PathLike[str],
    prompts: Prompt | Sequence[Prompt],
    models: Model | Sequence[Model],
    data: Data,
    **options: Unpack[SweepOptions],
) -> Estimate:
    """``Lab.estimate`` against the history at ``path`` opened read-only: nothing is
    created, migrated or folded (``promptlab run --dry-run``). No file yet is an empty history."""
    plan = plan_sweep(prompts, models, data, options)
    if is_server(path):
        return estimate_sweep(server_store(str(path), read_only=True), plan)
    location = Path(path)
    return estimate_sweep(Store(location, read_only=True) if location.is_file() else None, plan)
