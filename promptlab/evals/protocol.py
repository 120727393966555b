"""What every evaluator is: the ``Evaluator`` protocol, the ``Score`` it gives,
the ``TrialView`` it sees, and the registry of factories by name.

Each evaluator is made by a factory registered under a name with
``@register`` and remembers the arguments it was made with, so a run records
which evaluators scored it (``spec``) and can be re-scored later from that
record (``from_spec``). The built-in evaluators are in ``promptlab.evals``,
the model-graded ones in ``promptlab.evals.judges``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from promptlab.errors import ConfigError, EvaluatorError


@dataclass(frozen=True)
class Score:
    """One evaluator's verdict on one trial."""

    value: float | None
    """The score, usually 0–1; None when the evaluator couldn't score."""

    passed: bool | None = None
    """Pass or fail, for evaluators that decide one."""

    label: str | None = None
    """A category (a judge's verdict, the label a classifier chose)."""

    explanation: str | None = None
    """Why, in words."""

    judge_trial_id: str | None = None
    """For model-graded scores: the judge's own recorded call."""


class JudgeCalls(Protocol):
    """How a model-graded evaluator calls its judge: the call is a recorded
    trial (``kind="judge"``), answered from the cache when it was made before."""

    async def ask(self, prompt: Any, model: Any, variables: Mapping[str, Any]) -> Any:
        """Run ``prompt`` with ``variables`` on ``model``; the judge's ``Trial``."""
        ...


@dataclass(frozen=True)
class TrialView:
    """What an evaluator sees of a trial."""

    trial_id: str
    """The trial's id."""

    output: str | None
    """The model's text (None when the call failed)."""

    vars: Mapping[str, Any]
    """The input row (template variables, ``expected`` and other columns)."""

    messages: Sequence[Mapping[str, str]] = ()
    """The rendered messages sent."""

    latency_ms: float | None = None
    """The call's latency."""

    cost_usd: float | None = None
    """The call's cost."""

    error: str | None = None
    """The call's error, when it failed."""

    extra: Mapping[str, Any] = field(default_factory=dict)
    """Anything else of the stored trial row (prompt_name, model, ...)."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TrialView:
        """From a trials DataFrame row or a stored trial dict."""
        known = {"trial_id", "output", "vars", "messages", "latency_ms", "cost_usd", "error"}

        def clean(value: Any) -> Any:
            return None if isinstance(value, float) and math.isnan(value) else value

        return cls(
            trial_id=str(row["trial_id"]),
            output=clean(row.get("output")),
            vars=row.get("vars") or {},
            messages=row.get("messages") or (),
            latency_ms=clean(row.get("latency_ms")),
            cost_usd=clean(row.get("cost_usd")),
            error=clean(row.get("error")),
            extra={k: v for k, v in row.items() if k not in known},
        )


class Described(Protocol):
    """Anything recorded with its scores: ``name`` and ``args`` replay it, ``label`` names its column."""

    @property
    def name(self) -> str:
        """The registry name of its factory."""
        ...

    @property
    def args(self) -> Mapping[str, Any]:
        """The arguments it was made with (JSON)."""
        ...

    @property
    def label(self) -> str:
        """Its column: ``score_<label>``."""
        ...


@runtime_checkable
class Evaluator(Described, Protocol):
    """Scores trials one at a time."""

    def required_columns(self) -> set[str]:
        """Input columns every row must have (checked before a sweep starts)."""
        ...

    async def score(self, trial: TrialView, judges: JudgeCalls) -> Score:
        """The verdict on one trial; raising records an error for this score only.
        ``judges`` is for model-graded evaluators; others ignore it."""
        ...


Check = Callable[[TrialView], "Score | bool | float"]


def as_score(result: Score | bool | float | int | None) -> Score:
    """A ``Score`` from what a check returned: True/False pass or fail as 1/0."""
    if isinstance(result, Score):
        return result
    if isinstance(result, bool):
        return Score(1.0 if result else 0.0, passed=result)
    if isinstance(result, (int, float)):
        return Score(float(result))
    if result is None:
        return Score(None, explanation="the check returned nothing")
    raise EvaluatorError(f"an evaluator must return a Score, a bool or a number, not {type(result).__name__}")


class CheckEvaluator:
    """An evaluator made of a plain check function (every built-in one is)."""

    def __init__(
        self,
        name: str,
        check: Check,
        args: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
        columns: set[str] | None = None,
    ) -> None:
        self.name = name
        self.args = dict(args or {})
        self.label = label or _default_label(name, self.args)
        self._check = check
        self._columns = columns or set()

    def required_columns(self) -> set[str]:
        """Input columns the check reads."""
        return set(self._columns)

    async def score(self, trial: TrialView, judges: JudgeCalls) -> Score:
        """Run the check; a failed call scores None with the call's error."""
        if trial.output is None:
            return Score(None, explanation=f"no output to score: {trial.error or 'the call failed'}")
        return as_score(self._check(trial))

    def __repr__(self) -> str:
        return f"<evaluator {self.label}>"


def _default_label(name: str, args: Mapping[str, Any]) -> str:
    first = next((v for k, v in args.items() if k not in ("label", "case_sensitive")), None)
    if first is None or isinstance(first, (dict, list)):
        return name
    return f"{name}:{first}"


# -- registry -----------------------------------------------------------------

Factory = Callable[..., Any]
"""Makes an evaluator (or a pairwise judge) from recorded arguments."""
REGISTRY: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    """Register an evaluator factory under ``name`` (the decorator)."""

    def add(factory: Factory) -> Factory:
        REGISTRY[name] = factory
        return factory

    return add


def spec(evaluator: Described) -> dict[str, Any]:
    """What a run records of an evaluator, enough to rebuild it."""
    return {"name": evaluator.name, "args": dict(evaluator.args), "label": evaluator.label}


def from_spec(recorded: Mapping[str, Any]) -> Evaluator:
    """Rebuild an evaluator from its recorded ``spec``."""
    name = recorded["name"]
    if name not in REGISTRY:
        raise ConfigError(f"no evaluator named {name!r} is registered (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name](**recorded.get("args", {}), label=recorded.get("label"))
