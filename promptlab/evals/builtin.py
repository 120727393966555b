"""The built-in evaluators: text checks, formats, lengths, cost and latency,
similarity, your own code, and ``parse``/``coerce`` for the spec strings an
experiment file or ``promptlab check`` gives (``icontains:expected``)."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptlab.errors import ConfigError, EvaluatorError
from promptlab.evals.protocol import (
    REGISTRY,
    Check,
    CheckEvaluator,
    Evaluator,
    Score,
    TrialView,
    register,
)


def parse(text: str) -> Evaluator:
    """An evaluator from a short spec: ``"json_valid"``, ``"contains:expected"``,
    ``"max_length:200"``, ``"regex:^\\d+$"`` (the part after the first colon is
    the first argument; numbers are read as numbers)."""
    name, _, argument = text.partition(":")
    if name not in REGISTRY or name in ("judge", "pairwise_judge", "code"):
        usable = sorted(set(REGISTRY) - {"judge", "pairwise_judge", "code"})
        raise ConfigError(f"unknown evaluator {name!r} in {text!r}; use one of {', '.join(usable)}")
    if not argument:
        return REGISTRY[name]()
    value: Any = argument
    for kind in (int, float):
        try:
            value = kind(argument)
            break
        except ValueError:
            continue
    return REGISTRY[name](value)


def coerce(evaluators: Sequence[Evaluator | Callable[..., Any]] | None) -> list[Evaluator]:
    """Evaluators from what a user passed: evaluators, or plain callables (``code``)."""
    result: list[Evaluator] = []
    for item in evaluators or []:
        if isinstance(item, Evaluator):
            result.append(item)
        elif callable(item):
            result.append(code(item))
        else:
            raise ConfigError(f"evaluators must be pl.evals evaluators or functions, got {item!r}")
    labels = [e.label for e in result]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError(f"two evaluators share the label {duplicates[0]!r}; give one label='...'")
    return result


# -- deterministic --------------------------------------------------------------


def _target(trial: TrialView, target: str, literal: bool) -> str:
    """The text to compare with: the row's column ``target``, or ``target`` itself."""
    if literal:
        return target
    if target not in trial.vars:
        raise EvaluatorError(f"the input row has no column {target!r}")
    return str(trial.vars[target])


def _column_of(target: str, literal: bool) -> set[str]:
    return set() if literal else {target}


@register("exact", is_check=True)
def exact(
    target: str = "expected", *, literal: bool = False, strip: bool = True, label: str | None = None
) -> Evaluator:
    """Passes when the output equals the ``target`` column (or the literal text)."""

    def check(trial: TrialView) -> bool:
        want, got = _target(trial, target, literal), trial.output or ""
        return (got.strip() == want.strip()) if strip else got == want

    args = {"target": target, "literal": literal, "strip": strip}
    return CheckEvaluator("exact", check, args, label=label, columns=_column_of(target, literal))


def _contains(target: str, literal: bool, case_sensitive: bool) -> Check:
    def check(trial: TrialView) -> bool:
        want, got = _target(trial, target, literal), trial.output or ""
        return want in got if case_sensitive else want.casefold() in got.casefold()

    return check


@register("contains", is_check=True)
def contains(
    target: str = "expected", *, literal: bool = False, case_sensitive: bool = True, label: str | None = None
) -> Evaluator:
    """Passes when the output contains the ``target`` column's text (or the literal text)."""
    args = {"target": target, "literal": literal, "case_sensitive": case_sensitive}
    check = _contains(target, literal, case_sensitive)
    return CheckEvaluator("contains", check, args, label=label, columns=_column_of(target, literal))


@register("icontains", is_check=True)
def icontains(target: str = "expected", *, literal: bool = False, label: str | None = None) -> Evaluator:
    """``contains``, ignoring case."""
    check = _contains(target, literal, case_sensitive=False)
    args = {"target": target, "literal": literal}
    return CheckEvaluator("icontains", check, args, label=label, columns=_column_of(target, literal))


@register("not_contains", is_check=True)
def not_contains(phrases: Sequence[str], *, case_sensitive: bool = False, label: str | None = None) -> Evaluator:
    """Passes when the output contains none of ``phrases`` (e.g. refusals)."""
    if isinstance(phrases, str):
        phrases = [phrases]
    wanted = [p if case_sensitive else p.casefold() for p in phrases]

    def check(trial: TrialView) -> Score:
        got = trial.output or ""
        got = got if case_sensitive else got.casefold()
        found = [p for p in wanted if p in got]
        return Score(0.0 if found else 1.0, passed=not found, explanation=f"contains {found[0]!r}" if found else None)

    args = {"phrases": list(phrases), "case_sensitive": case_sensitive}
    return CheckEvaluator("not_contains", check, args, label=label or "not_contains")


@register("regex", is_check=True)
def regex(pattern: str, *, label: str | None = None) -> Evaluator:
    """Passes when the pattern is found in the output (``re.search``)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"regex {pattern!r} doesn't compile: {exc}") from exc
    return CheckEvaluator(
        "regex", lambda t: compiled.search(t.output or "") is not None, {"pattern": pattern}, label=label
    )


def _parse_json(text: str) -> Any:
    """JSON from a model's output, allowing a fenced ```json block around it."""
    stripped = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", stripped, re.S)
    return json.loads(fenced.group(1) if fenced else stripped)


@register("json_valid", is_check=True)
def json_valid(*, label: str | None = None) -> Evaluator:
    """Passes when the output parses as JSON (a fenced ```json block is accepted)."""

    def check(trial: TrialView) -> Score:
        try:
            _parse_json(trial.output or "")
        except json.JSONDecodeError as exc:
            return Score(0.0, passed=False, explanation=f"not JSON: {exc.msg} at line {exc.lineno}")
        return Score(1.0, passed=True)

    return CheckEvaluator("json_valid", check, {}, label=label)


@register("json_schema", is_check=True)
def json_schema(schema: Mapping[str, Any], *, label: str | None = None) -> Evaluator:
    """Passes when the output is JSON valid against ``schema`` (JSON Schema)."""
    import jsonschema

    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"the JSON schema itself is invalid: {exc.message}") from exc
    validator = validator_class(schema)

    def check(trial: TrialView) -> Score:
        try:
            document = _parse_json(trial.output or "")
        except json.JSONDecodeError as exc:
            return Score(0.0, passed=False, explanation=f"not JSON: {exc.msg} at line {exc.lineno}")
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            return Score(0.0, passed=False, explanation=f"{where}: {errors[0].message}")
        return Score(1.0, passed=True)

    return CheckEvaluator("json_schema", check, {"schema": dict(schema)}, label=label or "json_schema")


@register("one_of", is_check=True)
def one_of(labels: Sequence[str], *, case_sensitive: bool = False, label: str | None = None) -> Evaluator:
    """Passes when the output (stripped of spaces and final punctuation) is one of ``labels``;
    the score's label is the matched one."""
    if isinstance(labels, str):
        raise ConfigError("one_of takes a list of labels, e.g. one_of(['positive', 'negative'])")
    canon = {(x if case_sensitive else x.casefold()): x for x in labels}

    def check(trial: TrialView) -> Score:
        got = (trial.output or "").strip().rstrip(".!").strip()
        key = got if case_sensitive else got.casefold()
        if key in canon:
            return Score(1.0, passed=True, label=canon[key])
        return Score(0.0, passed=False, explanation=f"{got[:60]!r} is not one of {list(labels)}")

    return CheckEvaluator(
        "one_of", check, {"labels": list(labels), "case_sensitive": case_sensitive}, label=label or "one_of"
    )


@register("max_length", is_check=True)
def max_length(characters: int, *, label: str | None = None) -> Evaluator:
    """Passes when the output has at most ``characters`` characters."""
    return CheckEvaluator(
        "max_length", lambda t: len(t.output or "") <= characters, {"characters": characters}, label=label
    )


@register("word_count", is_check=True, higher_is_better=False)
def word_count(maximum: int | None = None, *, minimum: int = 0, label: str | None = None) -> Evaluator:
    """The output's word count as the value; passes when within [minimum, maximum].
    A check: comparisons count passes, and the count is never called better for being larger."""

    def check(trial: TrialView) -> Score:
        words = len((trial.output or "").split())
        within = words >= minimum and (maximum is None or words <= maximum)
        return Score(float(words), passed=within)

    return CheckEvaluator("word_count", check, {"maximum": maximum, "minimum": minimum}, label=label)


@register("latency_under", is_check=True)
def latency_under(milliseconds: float, *, label: str | None = None) -> Evaluator:
    """Passes when the call took less than ``milliseconds``."""
    return CheckEvaluator(
        "latency_under",
        lambda t: t.latency_ms is not None and t.latency_ms < milliseconds,
        {"milliseconds": milliseconds},
        label=label,
    )


@register("cost_under", is_check=True)
def cost_under(usd: float, *, label: str | None = None) -> Evaluator:
    """Passes when the call cost less than ``usd`` (fails when the cost is unknown)."""
    return CheckEvaluator(
        "cost_under", lambda t: t.cost_usd is not None and t.cost_usd < usd, {"usd": usd}, label=label
    )


# -- similarity -------------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _TOKEN.findall(text.casefold())


def token_f1(candidate: str, reference: str) -> float:
    """SQuAD-style token-overlap F1."""
    got, want = tokens(candidate), tokens(reference)
    if not got or not want:
        return float(got == want)
    common = sum(min(got.count(t), want.count(t)) for t in set(got))
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure: longest common subsequence of tokens."""
    got, want = tokens(candidate), tokens(reference)
    if not got or not want:
        return float(got == want)
    previous = [0] * (len(want) + 1)
    for g in got:
        current = [0]
        for j, w in enumerate(want, 1):
            current.append(previous[j - 1] + 1 if g == w else max(previous[j], current[j - 1]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(got), lcs / len(want)
    return 2 * precision * recall / (precision + recall)


@register("similarity")
def similarity(
    target: str = "expected", *, method: str = "f1", threshold: float | None = None, label: str | None = None
) -> Evaluator:
    """Token-overlap F1 (``method="f1"``) or ROUGE-L (``"rouge_l"``) against the
    ``target`` column; passes at or above ``threshold`` when one is given. A score,
    not a check: comparisons weigh the value, higher better, threshold or not."""
    measures = {"f1": token_f1, "rouge_l": rouge_l}
    if method not in measures:
        raise ConfigError(f"similarity method must be one of {sorted(measures)}, got {method!r}")
    measure = measures[method]

    def check(trial: TrialView) -> Score:
        value = measure(trial.output or "", _target(trial, target, False))
        return Score(value, passed=None if threshold is None else value >= threshold)

    args = {"target": target, "method": method, "threshold": threshold}
    return CheckEvaluator("similarity", check, args, label=label or f"{method}:{target}", columns={target})


# -- code ------------------------------------------------------------------------------


@register("code")
def code(
    function: Callable[..., Any] | str,
    *,
    label: str | None = None,
    higher_is_better: bool = True,
    is_check: bool = False,
) -> Evaluator:
    """Any Python callable ``fn(output, row) -> bool | float | Score``. Recorded
    by its import path, so a run can be re-scored when the function is importable.
    Say what its value means: ``higher_is_better=False`` for a cost or a length,
    ``is_check=True`` when it decides pass or fail (comparisons then count passes)."""
    fn = _import(function) if isinstance(function, str) else function
    path = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"

    def check(trial: TrialView) -> Score | bool | float:
        return fn(trial.output, trial.vars)

    # Recorded only when not the default, so the stored arguments of existing code evaluators stay as they were.
    args: dict[str, Any] = {"function": path}
    if not higher_is_better:
        args["higher_is_better"] = False
    if is_check:
        args["is_check"] = True
    name = getattr(fn, "__name__", "code")
    return CheckEvaluator("code", check, args, label=label or ("code" if name == "<lambda>" else name))


def _import(path: str) -> Callable[..., Any]:
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"can't import the evaluator function {path!r}: {exc}") from exc
    if not callable(target):
        raise ConfigError(f"{path!r} is not a function")
    return target
