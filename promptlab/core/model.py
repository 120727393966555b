"""Model configs: which model, where, with which parameters. Never a secret.

A ``Model`` refuses a secret anywhere in its config: a parameter named like
a key, a key-shaped value or a secret of the environment at any depth of
its parameters, header parameters (they would be sent in the request body
and stored with every trial), and credentials in ``base_url``. Its
``origin`` says who chose the config: the running user in their own code,
or a file (an experiment file, a prompt file, the history), which
``promptlab.providers.endpoints`` holds to the endpoints and keys the user allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from promptlab.core.hashing import content_hash, to_jsonable
from promptlab.core.pricing import FREE, Price, lookup_price
from promptlab.core.redaction import Redactor
from promptlab.errors import ConfigError, SecretInConfigError

EMBEDDED_MODELS = ("smollm2",)
"""Names served by the embedded llama.cpp provider; ``local:PATH.gguf`` is too."""

# Parameter names that hold secrets: api_key, apikey, auth_token, secret, ...
# but not max_tokens or top_k.
_SECRET_NAME = re.compile(
    r"(api[_-]?key|secret|password|passwd|authorization|bearer|credentials?|(^|[_-])(token|key))$", re.I
)
# Query parameters of a base_url that carry keys, besides those names: Azure
# Functions' ?code=, signed URLs' ?sig=, and the like (not ?api-version=).
_SECRET_QUERY = re.compile(r"^(code|sig|signature|auth|jwt|session(_?id)?|ticket|pass|pwd)$", re.I)

HEADER_PARAMS = ("headers", "extra_headers", "default_headers", "extra_query")
"""Parameters refused outright: sent in the request body and stored with every trial, never as headers."""

CONFIG_NAMES = ("name", "provider", "base_url", "price", "api_key_env", "origin")
"""What configures a ``Model`` besides its parameters (so never a parameter's name)."""

OPENAI_PARAMETERS = frozenset(
    {
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "reasoning_effort",
        "user",
        "n",
    }
)
"""Parameters OpenAI's chat API names: the OpenAI-compatible provider sends these as
arguments and anything else a model carries (top_k, min_p, ...) in ``extra_body``."""

MODEL_PARAMETERS = OPENAI_PARAMETERS | {"top_k", "min_p", "stream"}
"""Names that are model parameters, whatever the server (a sweep option by one of these names is a slip)."""


FROM_HISTORY = "history"
"""``Model.origin`` of a config read back from a history (a label's model, a run's config)."""


def infer_provider(name: str) -> str:
    """The provider a bare model name runs on: embedded names locally, the rest on OpenAI-compatible."""
    if name in EMBEDDED_MODELS or name.startswith("local:"):
        return "llamacpp"
    return "openai"


_USE_THE_ENVIRONMENT = (
    "promptlab never stores secrets. Put the key in an environment variable (OPENAI_API_KEY, "
    "or any name you pass as api_key_env='MY_KEY_VAR') instead."
)


def _secret_inside(value: Any, where: str, redactor: Redactor) -> str | None:
    """Where inside a parameter's value a secret sits (``metadata.auth``), or None."""
    if isinstance(value, str):
        return where if redactor.holds_secret(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if redactor.holds_secret(str(key)):
                return f"{where}.<a key>"  # never the key itself in a message
            inner = f"{where}.{key}"
            if isinstance(item, str) and item and _SECRET_NAME.search(str(key)):
                return inner
            found = _secret_inside(item, inner, redactor)
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _secret_inside(item, f"{where}[{index}]", redactor)
            if found:
                return found
    return None


def _number(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high


def _whole(low: int, high: int | None = None) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low and (high is None or v <= high)


def _stop(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and 0 < len(value) <= 4 and all(isinstance(s, str) for s in value)


PARAMETER_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "temperature": (_number(0, 2), "a number from 0 to 2"),
    "top_p": (_number(0, 1), "a number from 0 to 1"),
    "max_tokens": (_whole(1), "a whole number ≥ 1"),
    "max_completion_tokens": (_whole(1), "a whole number ≥ 1"),
    "seed": (_whole(-(2**63), 2**63 - 1), "a whole number"),
    "presence_penalty": (_number(-2, 2), "a number from -2 to 2"),
    "frequency_penalty": (_number(-2, 2), "a number from -2 to 2"),
    "stop": (_stop, "a string or a list of up to 4 strings"),
    "logprobs": (lambda v: isinstance(v, bool), "true or false"),
    "top_logprobs": (_whole(0, 20), "a whole number from 0 to 20"),
    "stream": (lambda v: isinstance(v, bool), "true or false"),
    "logit_bias": (lambda v: isinstance(v, dict), "a mapping of token id to bias"),
}
"""The common OpenAI parameters, checked before any call: a wrong type or
range (``temperature="hot"``) would otherwise fail every call of a sweep."""


def _check_params(params: Mapping[str, Any]) -> None:
    for name, value in params.items():
        rule = PARAMETER_RULES.get(name)
        if rule is not None and value is not None and not rule[0](value):
            raise ConfigError(f"{name} must be {rule[1]}, got {value!r}")


def _refuse_secrets(params: Mapping[str, Any], base_url: str | None) -> None:
    for key in params:
        if key in HEADER_PARAMS:
            raise SecretInConfigError(
                f"Model parameter {key!r} is not supported: parameters are sent in the request body and stored "
                "with every trial, so headers given there are neither sent as headers nor kept secret. For a "
                "key, name its environment variable with api_key_env='MY_KEY_VAR'; for other headers, "
                "register a provider of your own (promptlab.register_provider)."
            )
        if _SECRET_NAME.search(key):
            raise SecretInConfigError(f"Model parameter {key!r} looks like a secret; {_USE_THE_ENVIRONMENT}")
    redactor = Redactor()
    for key, value in params.items():
        found = _secret_inside(value, key, redactor)
        if found:
            raise SecretInConfigError(
                f"Model parameter {found!r} holds a secret (a key, an Authorization header value or the value "
                f"of a secret environment variable); {_USE_THE_ENVIRONMENT}"
            )
    if base_url:
        _refuse_secrets_in_url(base_url, redactor)


def _refuse_secrets_in_url(base_url: str, redactor: Redactor) -> None:
    parts = urlsplit(base_url)
    if parts.username or parts.password:
        raise SecretInConfigError(
            f"base_url {parts.hostname!r} carries a user name or password; remove it from the "
            "URL and put the key in an environment variable (see api_key_env=)."
        )
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    secret = next((n for n in names if _SECRET_NAME.search(n) or _SECRET_QUERY.match(n)), None)
    if secret is not None or redactor.holds_secret(base_url):
        what = f"a key in its query string ({secret}=)" if secret is not None else "a key"
        raise SecretInConfigError(
            f"base_url {parts.hostname!r} has {what}; remove it and put the key in an "
            "environment variable (see api_key_env=)."
        )


def _refuse_config_names(params: Mapping[str, Any]) -> None:
    clash = sorted(set(params) & set(CONFIG_NAMES))
    if clash:
        raise ConfigError(
            f"{clash[0]!r} configures the model itself and can't be a parameter; make another "
            f"pl.Model(..., {clash[0]}=...) instead"
        )


def _as_price(price: Price | tuple[float, float] | None, provider: str, name: str) -> Price | None:
    if isinstance(price, Price):
        return price
    if price is not None:
        try:
            return Price(float(price[0]), float(price[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise ConfigError(
                f"price for {name!r} must be (input, output) USD per million tokens, got {price!r}"
            ) from exc
    if provider == "llamacpp":
        return FREE
    if provider == "fake":  # a fake named like a priced model costs what it would (tests and docs look real)
        return lookup_price(name) or FREE
    return lookup_price(name)


@dataclass(frozen=True, init=False, eq=False)
class Model:
    """A model config. Its ``id`` is a hash of provider, name, endpoint and
    parameters; the price and the key's environment variable are not part of it."""

    name: str
    """Model name as the endpoint knows it (``gpt-4o-mini``, ``smollm2``, ``local:/m.gguf``)."""

    provider: str
    """Registered provider that runs it: ``openai``, ``llamacpp``, ``fake`` or one you register."""

    params: Mapping[str, Any]
    """Sampling parameters sent with every call (temperature, max_tokens, top_p, seed, ...)."""

    base_url: str | None
    """OpenAI-compatible endpoint; None means the provider's default."""

    price: Price | None = field(default=None)
    """USD per million tokens; None when unknown (cost is then recorded as NULL)."""

    api_key_env: str | None = field(default=None)
    """Name of the environment variable holding the key (the key itself is never kept)."""

    origin: str | None = field(default=None)
    """Who chose this config: None when the running user wrote it in code; a
    file's path, or ``"history"`` for one read back from a history. Decides
    which endpoints and keys it may use (``promptlab.providers.endpoints``). Not part of
    ``id``, and never stored: a file could claim anything."""

    id: str = field(default="")
    """Content hash of provider, name, endpoint and params (12 hex characters)."""

    def __init__(
        self,
        name: str,
        *,
        provider: str | None = None,
        base_url: str | None = None,
        price: Price | tuple[float, float] | None = None,
        api_key_env: str | None = None,
        origin: str | None = None,
        **params: Any,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a Model needs a name, such as pl.Model('smollm2') or pl.Model('gpt-4o-mini')")
        provider = provider or infer_provider(name)
        if provider == "openai" and base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL") or None
        _refuse_secrets(params, base_url)
        if params.get("n", 1) != 1:
            raise ConfigError("n must be 1: each trial records one output; use repeats= for more")
        params = to_jsonable(params)  # numpy scalars and the like, as plain JSON values
        _check_params(params)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "provider", provider)
        object.__setattr__(self, "params", dict(sorted(params.items())))
        object.__setattr__(self, "base_url", base_url.rstrip("/") if base_url else None)
        object.__setattr__(self, "price", _as_price(price, provider, name))
        object.__setattr__(self, "api_key_env", api_key_env)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "id", content_hash(self.identity(), 12))

    def identity(self) -> dict[str, Any]:
        """What makes two configs the same model call (also part of every cache key)."""
        return {
            "provider": self.provider,
            "name": self.name,
            "base_url": self.base_url,
            "params": self.params,
        }

    def with_params(self, **params: Any) -> Model:
        """A copy with ``params`` merged over this model's own (same origin)."""
        _refuse_config_names(params)
        return Model(
            self.name,
            provider=self.provider,
            base_url=self.base_url,
            price=self.price,
            api_key_env=self.api_key_env,
            origin=self.origin,
            **{**self.params, **params},
        )

    @property
    def label(self) -> str:
        """Short display name: the model name and its parameters."""
        if not self.params:
            return self.name
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name} ({shown})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data, safe to store: no secret is ever part of a Model. The
        origin is left out: read back, the data comes from a file, whatever it says."""
        price = None if self.price is None else [self.price.input, self.price.output]
        return {**self.identity(), "id": self.id, "price": price, "api_key_env": self.api_key_env}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str | None = FROM_HISTORY) -> Model:
        """The model ``to_dict`` described (as recorded in a run's config, a label
        event or a prompt file), marked as coming from ``origin``: the history
        unless told which file (None only for config the running user wrote)."""
        price = data.get("price")
        params = dict(data.get("params") or {})
        _refuse_config_names(params)
        return cls(
            data["name"],
            provider=data.get("provider"),
            base_url=data.get("base_url"),
            price=(float(price[0]), float(price[1])) if price else None,
            api_key_env=data.get("api_key_env"),
            origin=origin,
            **params,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and (self.id, self.price) == (other.id, other.price)

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Model({self.name!r}, provider={self.provider!r}{extra})"
