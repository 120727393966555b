"""What an application hands the logger, and the rows it becomes.

``record`` and ``feedback`` only capture their arguments (a ``Call`` or an
``AppFeedback``, a tuple) and return; everything that costs something
(rendering the prompt, reading the usage, masking secrets, the model's id
and price) happens here, on the logger's thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from promptlab.core.hashing import content_hash, to_jsonable
from promptlab.core.lineage import Lineage
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.redaction import Redactor
from promptlab.errors import PromptlabError

KIND = "production"
"""``trials.kind`` of a logged call."""


class Call(NamedTuple):
    """One call an application logged, as it was given."""

    trial_id: str
    at: float
    prompt: Prompt
    vars: Mapping[str, Any] | None
    output: Any
    model: str | Model | None
    latency_ms: float | None
    usage: Any
    error: BaseException | str | None
    end_user: str | None
    session: str | None
    external_id: str | None
    metadata: Mapping[str, Any] | None
    messages: Any
    params: Mapping[str, Any] | None
    ttft_ms: float | None
    cost_usd: float | None
    finish_reason: str | None
    base_url: str | None


class AppFeedback(NamedTuple):
    """One verdict an application sent about a call it logged."""

    feedback_id: str
    at: float
    ref: str
    vote: int | None
    action: str | None
    correction: str | None
    comment: str | None
    end_user: str | None


def timestamp(at: float) -> str:
    """A time as the journal writes it (UTC, no zone)."""
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None).isoformat()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _tokens(usage: Any, name: str) -> int | None:
    """A token count from an ``openai`` usage object or a dict."""
    value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class Models:
    """The model of each call, made once per distinct (prompt model, name, endpoint,
    parameters): making a ``Model`` checks its config, which costs more than the rest
    of a row."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, ...], Model | dict[str, Any] | None] = {}

    def of(self, call: Call) -> Model | dict[str, Any] | None:
        recommended = call.prompt.model.id if call.prompt.model is not None else None
        named = call.model.id if isinstance(call.model, Model) else call.model
        params = tuple(sorted((str(k), repr(v)) for k, v in (call.params or {}).items()))
        key = (recommended, named, call.base_url, params)
        if key not in self._known:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key] = _model(call)
        return self._known[key]


def _model(call: Call) -> Model | dict[str, Any] | None:
    """The model of a call: the prompt's recommended one when the call names it
    (or names none), else a config made from its name, with a price when
    promptlab knows one; a name ``Model`` refuses is kept as its identity."""
    recommended = call.prompt.model
    if isinstance(call.model, Model):
        return call.model
    name = call.model if isinstance(call.model, str) and call.model.strip() else None
    if name is None or (recommended is not None and recommended.name == name and not call.base_url):
        return recommended if recommended is not None else None
    params: dict[str, Any] = {k: v for k, v in (call.params or {}).items() if isinstance(v, int | float | str | bool)}
    try:
        return Model(name, provider="openai", base_url=call.base_url, **params)
    except PromptlabError:
        identity = {"provider": "openai", "name": name, "base_url": call.base_url, "params": params}
        return {**identity, "model_id": content_hash(identity, 12)}


def model_row(model: Model | dict[str, Any], at: str) -> dict[str, Any]:
    """The ``models`` row of a call's model."""
    if isinstance(model, Model):
        model = {**model.identity(), "model_id": model.id}
    return {**model, "params": dict(model["params"]), "created_at": at}


def prompt_row(prompt: Prompt, user: str, at: str) -> dict[str, Any]:
    """The ``prompts`` row of a logged call's prompt (the first one recorded stands)."""
    return {
        "name": prompt.name,
        "version": prompt.version,
        "template": prompt.template,
        "variables": sorted(prompt.variables),
        "created_at": at,
        "created_by": user,
    }


def trial_row(
    call: Call, *, run_id: str, experiment: str, lineage: Lineage, redactor: Redactor, models: Models
) -> tuple[dict[str, Any], Model | dict[str, Any] | None]:
    """The trial a call becomes, and its model (for the ``models`` table)."""
    variables = to_jsonable(dict(call.vars)) if isinstance(call.vars, Mapping) else {}
    metadata = redactor.json_value(to_jsonable(dict(call.metadata))) if call.metadata else None
    messages = call.messages
    if messages is None:
        try:
            messages = call.prompt.render(variables)
        except PromptlabError as exc:  # the call happened: keep it, and say why its messages are missing
            metadata = {**(metadata or {}), "promptlab_render_error": str(exc)}
    model = models.of(call)
    prompt_tokens, completion_tokens = _tokens(call.usage, "prompt_tokens"), _tokens(call.usage, "completion_tokens")
    cost = _number(call.cost_usd)
    price = model.price if isinstance(model, Model) else None
    if cost is None and price is not None and prompt_tokens is not None and completion_tokens is not None:
        cost = price.cost(prompt_tokens, completion_tokens)
    error_type = error = None
    if isinstance(call.error, BaseException):
        error_type, error = type(call.error).__name__, f"{type(call.error).__name__}: {call.error}"
    elif call.error is not None:
        error_type, error = "Error", str(call.error)
    output = call.output if call.output is None or isinstance(call.output, str) else str(call.output)
    at = timestamp(call.at)
    name: str | None = None
    model_id: str | None = None
    provider: str | None = None
    if isinstance(model, Model):
        name, model_id, provider = model.name, model.id, model.provider
    elif model is not None:
        name, model_id, provider = model["name"], model["model_id"], model["provider"]
    row = {
        "trial_id": call.trial_id,
        "run_id": run_id,
        "experiment": experiment,
        "prompt_name": call.prompt.name,
        "prompt_version": call.prompt.version,
        "model": name,
        "model_id": model_id,
        "provider": provider,
        "params": redactor.json_value(to_jsonable(dict(call.params or {}))),
        "vars": variables,
        "messages": to_jsonable(messages),
        "output": redactor.values(output),
        "finish_reason": call.finish_reason,
        "error_type": error_type,
        "error": redactor.text(error),
        "latency_ms": _number(call.latency_ms),
        "ttft_ms": _number(call.ttft_ms),
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost,
        "cached": False,
        "attempts": 1,
        "started_at": at,
        "created_at": at,
        **lineage.to_row(),
        "kind": KIND,
        "label": call.prompt.label,
        "external_id": None if call.external_id is None else str(call.external_id),
        "end_user": None if call.end_user is None else str(call.end_user),
        "session_id": None if call.session is None else str(call.session),
        "metadata": metadata,
    }
    return row, model


def feedback_row(
    verdict: AppFeedback, trial_id: str | None, *, source: str, user: str, redactor: Redactor
) -> dict[str, Any]:
    """The ``feedback`` row of an app's verdict: about ``trial_id`` when the logger
    knows which trial its ref names, else about the ref (the app's id, or a trial
    id it kept), which reads resolve (``store.reads.FEEDBACK``)."""
    return {
        "feedback_id": verdict.feedback_id,
        "trial_id": trial_id,
        "vote": verdict.vote,
        "correction": redactor.values(verdict.correction),
        "comment": redactor.values(verdict.comment),
        "action": verdict.action,
        "user": user,
        "created_at": timestamp(verdict.at),
        "external_id": None if trial_id is not None else verdict.ref,
        "source": source,
        "end_user": verdict.end_user,
    }


class RunState(NamedTuple):
    """A logger's run, at one moment."""

    status: str
    started_at: str
    now: str
    written: int
    dropped: int
    revision: int


def experiment_row(source: str, user: str, at: str) -> dict[str, Any]:
    """The experiment an app's runs are in: its name, tagged ``production``."""
    return {
        "name": source,
        "description": f"calls logged by {source}",
        "tags": [KIND],
        "created_at": at,
        "created_by": user,
    }


def run_row(run_id: str, source: str, lineage: Lineage, state: RunState) -> dict[str, Any]:
    """A logger's run row in ``state``: running (with a heartbeat) or done, with
    what it wrote and what it dropped (as its error, so the loss shows)."""
    return {
        "run_id": run_id,
        "experiment": source,
        "fingerprint": None,
        "status": state.status,
        "n_cells": state.written,
        "config": {"kind": KIND, "source": source, "calls": state.written, "dropped": state.dropped},
        "started_at": state.started_at,
        "ended_at": state.now if state.status != "running" else None,
        "error": f"dropped {state.dropped} record(s): the logger's queue was full" if state.dropped else None,
        **lineage.to_row(),
        "revision": state.revision,
        "heartbeat_at": state.now,
    }
