"""Keeping secrets out of the history.

Models never hold keys, and requests are recorded without headers. What is
left is text a server sends back (error messages that quote a key, echoed
headers): ``Redactor`` masks the values of secret-looking environment
variables and anything shaped like a key or an Authorization header before
a trial is written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

_SECRET_VARIABLE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.I)
_SECRET_SHAPES = re.compile(
    r"(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"  # Authorization header values
    r"|\b(?:sk|rk|pk)-[A-Za-z0-9_-]{12,}"  # OpenAI-style keys
    r"|\b(?:ghp|gho|github_pat|xox[abp]|AKIA|hf)_?[A-Za-z0-9_]{16,}"  # other common keys
)
REDACTED = "[redacted]"


class Redactor:
    """Masks secrets in text; built from the environment when a sweep starts."""

    def __init__(self, environ: Mapping[str, str] | None = None, *, variables: Iterable[str] = ()) -> None:
        """``variables``: more environment variables whose values are secrets
        (a model's ``api_key_env``, whatever its name)."""
        environ = os.environ if environ is None else environ
        named = set(variables)
        values = {v for k, v in environ.items() if (_SECRET_VARIABLE.search(k) or k in named) and len(v) >= 8}
        # Longest first, so a key that contains another is masked whole.
        self._values = sorted(values, key=len, reverse=True)

    def values(self, value: str | None) -> str | None:
        """``value`` with the environment's secret values masked (for model
        output, where key-shaped text may be legitimate)."""
        if not value:
            return value
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def text(self, value: str | None) -> str | None:
        """``value`` with secret values and anything shaped like a key masked."""
        value = self.values(value)
        return _SECRET_SHAPES.sub(REDACTED, value) if value else value

    def json_value(self, value: Any) -> Any:
        """``data`` for a JSON value, checked as text first: most responses hold
        no secret, and one scan of their text is cheaper than a walk."""
        text = json.dumps(value, ensure_ascii=False)
        if '"authorization"' in text.lower() or self.text(text) != text:
            return self.data(value)
        return value

    def data(self, value: Any) -> Any:
        """Every string inside a JSON-like value masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: (REDACTED if k.lower() == "authorization" else self.data(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value
