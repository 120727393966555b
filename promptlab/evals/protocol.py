"""What every evaluator is: the ``Evaluator`` protocol, the ``Score`` it gives,
the ``TrialView`` it sees, and the registry of factories by name.

Each evaluator is made by a factory registered under a name with
``@register`` and remembers the arguments it was made with, so a run records
which evaluators scored it (``spec``) and can be re-scored later from that
record (``from_spec``). The factory also declares what its scores mean
(``Meaning``: which way is better, and whether it is a pass/fail check), and
since only the name and arguments are stored with each score, ``meaning``
recovers that from the history too. The built-in evaluators are in ``promptlab.evals``,
the model-graded ones in ``promptlab.evals.judges``.
"""

from __future__ import annotations

import json
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

    retrieval: Mapping[str, Any] | None = None
    """What a retriever found for this trial's row, when the sweep had ``retrievers=``:
    ``{"retriever": label, "query": str, "corpus": name, "corpus_version": str,
    "settings": {...}, "k": int, "hits": [{"chunk_id", "doc_id", "score", "rank", "text"}, ...]}``
    (hits best first, ranks from 1). None for a trial made without retrieval."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TrialView:
        """From a trials DataFrame row or a stored trial dict."""
        known = {"trial_id", "output", "vars", "messages", "latency_ms", "cost_usd", "error", "retrieval"}

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
            retrieval=_decoded(clean(row.get("retrieval"))),
        )


def _decoded(value: Any) -> Mapping[str, Any] | None:
    """A trial's ``retrieval`` as a dict, whether it comes decoded (a trials frame) or as stored JSON text."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, Mapping) and value else None


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
    """Scores trials one at a time.

    An evaluator may also declare what its scores mean with the attributes
    ``higher_is_better`` and ``is_check`` (``Meaning``; every built-in one
    does); they are optional, so an evaluator written before them still is one."""

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
        higher_is_better: bool | None = None,
        is_check: bool | None = None,
    ) -> None:
        """``higher_is_better`` and ``is_check`` default to what the factory
        registered under ``name`` declared (``meaning``); a factory that lets its
        caller choose records the choice in ``args``, as ``code`` does, so the
        history keeps it."""
        self.name = name
        self.args = dict(args or {})
        self.label = label or _default_label(name, self.args)
        declared = meaning(name, self.args)
        self.higher_is_better = declared.higher_is_better if higher_is_better is None else higher_is_better
        """Whether a larger value is better (for a check, its value: a word count is not)."""
        self.is_check = declared.is_check if is_check is None else is_check
        """Whether it decides pass or fail: comparisons then count passes."""
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


@dataclass(frozen=True)
class Meaning:
    """What an evaluator's scores mean, so a comparison knows what "better" is."""

    higher_is_better: bool = True
    """Whether a larger value is better. False for a cost or a length: the
    value of a ``word_count`` check is a count, never better for being larger."""

    is_check: bool = False
    """Whether the evaluator decides pass or fail (its value may be a raw
    measure): comparisons count passes and summaries lead with the pass rate.
    False for a score (a judge's grade, a similarity), compared on its value
    even when a threshold gives it a pass too."""

    def compared(self, higher_is_better: bool | None = None, on: str | None = None) -> tuple[bool, str]:
        """``(higher_is_better, on)`` for ``promptlab.analysis.stats.compare``: what
        a caller said wins; else a check is compared on ``passed`` and a score on
        its value (``score``) in its direction. A caller who gives only the
        direction means the values: a check's raw measure, compared as they say."""
        higher = self.higher_is_better if higher_is_better is None else higher_is_better
        weighed = on or ("passed" if self.is_check and higher_is_better is None else "score")
        return higher, weighed


MEANINGS: dict[str, Meaning] = {}
"""The meaning each registered factory declared (``register``)."""


def register(name: str, *, higher_is_better: bool = True, is_check: bool = False) -> Callable[[Factory], Factory]:
    """Register an evaluator factory under ``name`` (the decorator), declaring
    what its scores mean: whether higher is better, and whether it is a check."""

    def add(factory: Factory) -> Factory:
        REGISTRY[name] = factory
        MEANINGS[name] = Meaning(higher_is_better, is_check)
        return factory

    return add


def meaning(name: str | None, args: Mapping[str, Any] | None = None) -> Meaning:
    """The meaning of an evaluator recorded as ``name`` with ``args`` (the
    ``evaluator_name`` and ``args`` of its stored scores): what its factory
    declared, overridden by ``higher_is_better``/``is_check`` in ``args``
    (``code`` records them there); an unknown name's scores are taken as
    higher is better, not a check."""
    declared = MEANINGS.get(name or "", Meaning())
    recorded = args or {}
    return Meaning(
        higher_is_better=bool(recorded.get("higher_is_better", declared.higher_is_better)),
        is_check=bool(recorded.get("is_check", declared.is_check)),
    )


def meaning_of(evaluator: Described) -> Meaning:
    """An evaluator's meaning: what it declares (``higher_is_better``,
    ``is_check`` attributes), else what its name and arguments say."""
    recorded = meaning(evaluator.name, evaluator.args)
    return Meaning(
        higher_is_better=bool(getattr(evaluator, "higher_is_better", recorded.higher_is_better)),
        is_check=bool(getattr(evaluator, "is_check", recorded.is_check)),
    )


def spec(evaluator: Described) -> dict[str, Any]:
    """What a run records of an evaluator, enough to rebuild it."""
    return {"name": evaluator.name, "args": dict(evaluator.args), "label": evaluator.label}


def from_spec(recorded: Mapping[str, Any]) -> Evaluator:
    """Rebuild an evaluator from its recorded ``spec``."""
    name = recorded["name"]
    if name not in REGISTRY:
        raise ConfigError(f"no evaluator named {name!r} is registered (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name](**recorded.get("args", {}), label=recorded.get("label"))
