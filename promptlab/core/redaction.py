"""Keeping secrets out of the history.

Models never hold keys (``Model`` refuses one at any depth of its
parameters, and in its ``base_url``), and requests are recorded without
headers. What is left is text a server sends back (error messages that
quote a key, an ``x-request-id`` that echoes one): ``Redactor`` masks the
values of secret-looking environment variables and anything shaped like a
key or an Authorization header before a trial is written, and again before
an export or a report leaves (in HTML, as written and as escaped).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from html import escape as html_escape
from typing import Any

_SECRET_VARIABLE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.I)
_KEY_SHAPES = (
    r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{12,}"  # OpenAI-style keys
    r"|\b(?:ghp|gho|github_pat|xox[abp]|AKIA|hf)_?[A-Za-z0-9_]{16,}"  # other common keys
)
_SECRET_SHAPES = re.compile(r"(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}|" + _KEY_SHAPES)  # with header values
# What config is refused for: the same keys, and header values only with a digit in
# them, as tokens nearly always have; prose such as "basic settings" never does.
_CREDENTIAL_SHAPES = re.compile(r"(?i:bearer|basic)\s+(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}|" + _KEY_SHAPES)
REDACTED = "[redacted]"


class Redactor:
    """Masks secrets in text; built from the environment when a sweep starts."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, *, variables: Iterable[str] = (), values: Iterable[str] = ()
    ) -> None:
        """``variables``: more environment variables whose values are secrets
        (a model's ``api_key_env``, whatever its name); ``values``: secrets
        known some other way (the key a provider was given)."""
        environ = os.environ if environ is None else environ
        named = set(variables)
        found = {v for k, v in environ.items() if _SECRET_VARIABLE.search(k) or k in named}
        known = {v for v in (*found, *values) if len(v) >= 8}
        # Longest first, so a key that contains another is masked whole.
        self._values = sorted(known, key=len, reverse=True)
        # As JSON text writes them: a secret holding " or \ is escaped there.
        self._json_forms = [json.dumps(secret, ensure_ascii=False)[1:-1] for secret in self._values]

    def values(self, value: str | None) -> str | None:
        """``value`` with the environment's secret values masked (for model
        output, where key-shaped text may be legitimate)."""
        if not value:
            return value
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def holds_secret(self, value: str) -> bool:
        """Whether ``value`` holds a secret value of the environment, a key or an
        Authorization header value (for refusing config, which has no reason to)."""
        return any(secret in value for secret in self._values) or _CREDENTIAL_SHAPES.search(value) is not None

    def html(self, value: str) -> str:
        """``value`` (HTML) with secret values masked as written and as HTML-escaped."""
        for secret in self._values:
            escaped = html_escape(secret)
            jinja_escaped = escaped.replace("&quot;", "&#34;").replace("&#x27;", "&#39;")  # markupsafe's quotes
            for form in dict.fromkeys((secret, escaped, jinja_escaped, html_escape(secret, quote=False))):
                value = value.replace(form, REDACTED)
        return value

    def text(self, value: str | None) -> str | None:
        """``value`` with secret values and anything shaped like a key masked."""
        value = self.values(value)
        return _SECRET_SHAPES.sub(REDACTED, value) if value else value

    def json_value(self, value: Any) -> Any:
        """``data`` for a JSON value, checked as text first: most responses hold
        no secret, and one scan of their text is cheaper than a walk."""
        text = json.dumps(value, ensure_ascii=False)
        escaped = any(form in text for form in self._json_forms)
        if escaped or '"authorization"' in text.lower() or self.text(text) != text:
            return self.data(value)
        return value

    def data(self, value: Any) -> Any:
        """Every string inside a JSON-like value masked, keys too."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            masked = {k: REDACTED if str(k).lower() == "authorization" else self.data(v) for k, v in value.items()}
            return {self.data(k): v for k, v in masked.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value
