"""Prompt templates: text or chat messages with Jinja2 placeholders.

Templates come from other people: a shared history, an exported prompt
file, an experiment file in a pull request. A plain Jinja2 environment lets
such a template reach Python itself (``{{ cycler.__init__.__globals__.os
.popen('id').read() }}`` ran ``id``), so every template renders in Jinja2's
``ImmutableSandboxedEnvironment``: no attribute starting with ``_``, no
``str.format`` tricks, no changing a list or dict it was given, ``range``
capped at ``MAX_RANGE``; on top of it, powers and repetition that would
build huge values are refused. Whatever the sandbox stops is a
``TemplateError`` saying the template tried something unsafe. The sandbox
stops code, not every way to burn time: loops within those bounds still run.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptlab.core.hashing import content_hash
from promptlab.core.model import Model
from promptlab.errors import ConfigError, TemplateError

ROLES = ("system", "user", "assistant")

VERSION_LENGTH = 12
"""Hex digits of a prompt version (of its messages' content hash)."""

LARGEST_POWER_BITS = 4096
"""Bits a ``**`` result may have: far beyond any number a prompt needs, far short of a hang."""

LONGEST_REPETITION = 1_000_000
"""Items (characters, for text) a ``*`` repetition may build."""


def _too_big(operator: str, left: Any, right: Any) -> bool:
    """Whether ``left operator right`` would build a huge number or sequence."""
    if operator == "**":
        whole = all(isinstance(x, int) for x in (left, right))
        return whole and right > 0 and abs(left) > 1 and right * math.log2(abs(left)) > LARGEST_POWER_BITS
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
            return len(sequence) * times > LONGEST_REPETITION
    return False


class _PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with ``**`` and ``*`` bounded too (left
    alone, ``{{ 10 ** 10 ** 10 }}`` hangs while the template compiles)."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if _too_big(operator, left, right):
            raise SecurityError(f"{operator!r} would build a value too large for a prompt")
        return super().call_binop(context, operator, left, right)


def _shown(value: Any) -> Any:
    """What a ``{{ value }}`` prints: a missing value (None, a blank cell of a
    DataFrame) as empty text, never as the word "None"."""
    return "" if value is None else value


_ENV = _PromptSandbox(
    finalize=_shown,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> jinja2.Template:
    """Compile once per distinct source: a sweep renders each template many times."""
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template syntax error on line {exc.lineno}: {exc.message}\n  in: {source[:200]!r}"
        ) from exc


@functools.lru_cache(maxsize=1024)
def _variables(source: str) -> frozenset[str]:
    try:
        return frozenset(jinja2.meta.find_undeclared_variables(_ENV.parse(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc


def _unsafe(name: str, exc: Exception) -> TemplateError:
    return TemplateError(
        f"prompt {name!r} tried something unsafe, so it was not rendered: {str(exc).rstrip('.')}. A template "
        "may fill in variables (with filters, conditions and loops); it may not reach Python objects, change "
        "the values it is given, or build huge values. If this prompt came from someone else, don't use it."
    )


def template_text(template: str | Sequence[Mapping[str, Any]]) -> str:
    """A template as one text (to show or diff): a string as it is, chat
    messages each under a ``[role]`` header."""
    if isinstance(template, str):
        return template
    return "\n".join(f"[{m.get('role')}]\n{m.get('content')}" for m in template if isinstance(m, Mapping))


def _normalise_messages(template: str | Sequence[Mapping[str, str]]) -> tuple[tuple[str, str], ...]:
    if isinstance(template, str):
        if not template.strip():
            raise ConfigError("the prompt is empty: give it a template such as 'Summarize: {{ text }}'")
        return (("user", template),)
    if isinstance(template, Mapping) or not isinstance(template, Sequence):
        raise ConfigError(
            f"a prompt is a template string or a list of {{role, content}} messages, not {type(template).__name__} "
            "(e.g. pl.Prompt('Summarize: {{ text }}'))"
        )
    if not template:
        raise ConfigError("the prompt has no messages: give a string or a list of {role, content}")
    messages = []
    for i, message in enumerate(template):
        if not isinstance(message, Mapping) or "content" not in message:
            raise ConfigError(f"message {i} must be a dict with 'role' and 'content', got {message!r}")
        role = str(message.get("role", "user"))
        if role not in ROLES:
            raise ConfigError(f"message {i} has role {role!r}; use one of {', '.join(ROLES)}")
        messages.append((role, str(message["content"])))
    if not any(content.strip() for _, content in messages):
        raise ConfigError("every message of the prompt is empty: write some text in at least one")
    return tuple(messages)


class RenderedMessages(list[dict[str, str]]):
    """The chat messages ``Prompt.render`` made: a plain list, sent by any client
    as it is, that also knows the prompt and values it came from, so an
    instrumented client (``promptlab.instrument``) records the call against them."""

    __slots__ = ("prompt", "variables")

    def __init__(self, messages: list[dict[str, str]], prompt: Prompt, variables: Mapping[str, Any]) -> None:
        super().__init__(messages)
        self.prompt = prompt
        self.variables = variables


@dataclass(frozen=True, init=False)
class Prompt:
    """A named template. Its ``version`` is a hash of its messages, so identical
    templates are the same version wherever they were written."""

    messages: tuple[tuple[str, str], ...]
    """(role, content template) pairs; a text prompt is one user message."""

    name: str
    """What the versions of this prompt are grouped under (labels point at a name)."""

    version: str = field(compare=False)
    """Content hash of the messages (12 hex characters)."""

    model: Model | None = field(default=None, compare=False)
    """The model config recommended with it (set by a promotion; not part of the version)."""

    message: str | None = field(default=None, compare=False)
    """What this version changes, in a line, like a commit message: recorded with the
    run that uses it, shown beside the version's number (not part of the version)."""

    label: str | None = field(default=None, compare=False)
    """The label it was loaded by (``load_prompt``), which an application's
    logged calls record (not part of the version)."""

    def __init__(
        self,
        template: str | Sequence[Mapping[str, str]],
        name: str | None = None,
        *,
        model: Model | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        messages = _normalise_messages(template)
        for _, content in messages:
            _compile(content)  # a syntax error surfaces now, not mid-sweep
        version = content_hash([list(m) for m in messages], VERSION_LENGTH)
        object.__setattr__(self, "messages", messages)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "name", name or f"prompt-{version[:6]}")
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "message", " ".join(message.split()) if message and message.strip() else None)
        object.__setattr__(self, "label", label)

    def labelled(self, label: str) -> Prompt:
        """This prompt, as loaded by ``label``."""
        copy = object.__new__(Prompt)
        for attribute in ("messages", "name", "version", "model", "message"):
            object.__setattr__(copy, attribute, getattr(self, attribute))
        object.__setattr__(copy, "label", label)
        return copy

    @property
    def is_chat(self) -> bool:
        """True unless this is a plain text prompt (a single user message)."""
        return not (len(self.messages) == 1 and self.messages[0][0] == "user")

    @property
    def template(self) -> str | list[dict[str, str]]:
        """The template as it was given: a string, or a list of message dicts."""
        if not self.is_chat:
            return self.messages[0][1]
        return [{"role": role, "content": content} for role, content in self.messages]

    @property
    def variables(self) -> frozenset[str]:
        """Names of the ``{{ placeholders }}`` the template uses."""
        return frozenset().union(*(_variables(content) for _, content in self.messages))

    def render(self, variables: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
        """The chat messages with ``variables`` filled in; a missing one is a ``TemplateError``."""
        values = dict(variables or {})
        missing = sorted(self.variables - values.keys())
        if missing:
            raise TemplateError(
                f"prompt {self.name!r} uses {{{{ {missing[0]} }}}} but it was not given"
                f" (given: {', '.join(sorted(values)) or 'nothing'})"
            )
        try:
            messages = [{"role": role, "content": _compile(content).render(values)} for role, content in self.messages]
            return RenderedMessages(messages, self, values)
        except (SecurityError, OverflowError) as exc:  # OverflowError: range() past the sandbox's MAX_RANGE
            raise _unsafe(self.name, exc) from exc
        except jinja2.UndefinedError as exc:  # e.g. {{ row.missing_attr }}
            raise TemplateError(f"prompt {self.name!r}: {exc.message}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain data: name, version, template, variables (and the model and message, when set)."""
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "template": self.template,
            "variables": sorted(self.variables),
        }
        if self.model is not None:
            data["model"] = self.model.to_dict()
        if self.message is not None:
            data["message"] = self.message
        return data

    def __repr__(self) -> str:
        return f"Prompt(name={self.name!r}, version={self.version!r})"
