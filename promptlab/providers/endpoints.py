"""Which endpoints a model config may call, and which keys it may send there.

A model the running user wrote in their own code (``pl.Model(...,
base_url=..., api_key_env=...)``) goes where it says with the key it names:
the user chose both. A model read from a file is another matter: a label's
recommended model in a shared history, a run's config loaded into the
builder, an exported prompt file, an experiment file from a pull request.
Whoever wrote the file chose its ``base_url`` and ``api_key_env``, and
followed blindly, ``promptlab check`` in CI sent ``Authorization: Bearer
$GITHUB_TOKEN`` and the CI's data rows to a host of the file's choosing.
So a model whose ``origin`` is a file or the history:

- may call an endpoint the user trusts: ``https://api.openai.com``, the
  endpoint of ``OPENAI_BASE_URL``, or one the user allowed (below);
- may call a server on this machine (127.0.0.1, ::1, localhost) too, but
  sends it no key unless the user allowed it;
- sends a key only from a variable paired with its endpoint:
  ``OPENAI_API_KEY`` with OpenAI and ``OPENAI_BASE_URL``, any other as the
  user pairs it; a file that names no variable sends no key where
  ``OPENAI_API_KEY`` isn't paired;
- is refused otherwise, before anything is called or written, with a
  ``ConfigError`` naming the host, the file, and how to allow it.

The user allows endpoints with entries, each a base URL
(``https://api.together.xyz/v1``: that scheme, host and port) or a host
(``gpu-box``, ``gpu-box:8000``: any scheme), in any of:

- ``PROMPTLAB_ALLOW_ENDPOINTS``: comma-separated entries, each ``ENTRY`` or
  ``ENTRY=KEY_VAR`` (an upper-case variable name) to pair a key with it;
- ``--allow-endpoint ENTRY[=KEY_VAR]`` on ``promptlab run`` and
  ``promptlab check`` (``allowed_endpoints(...)`` from Python);
- the user's ``$XDG_CONFIG_HOME/promptlab/config.toml`` (else
  ``~/.config/promptlab/config.toml``) and the project's ``promptlab.toml``
  in the working directory, each read only when the running user owns it
  and others can't write it::

      [endpoints]
      allow = ["https://api.together.xyz/v1", "gpu-box:8000"]

      [endpoints.keys]  # entry = variable, or a list of them; pairing allows the entry too
      "https://api.together.xyz/v1" = "TOGETHER_API_KEY"

Other sections of those files (``[labels]``) are not read here. A project
file arrives with the checkout, so a pull request can change it as it can
any file; in CI, prefer the environment or flags that the workflow sets.
Providers you register yourself get the ``Model`` as it is: consult
``key_variable`` there if they send keys.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import stat
import threading
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from promptlab.core.model import FROM_HISTORY, Model
from promptlab.errors import ConfigError

OPENAI_URL = "https://api.openai.com/v1"
"""Where a model with no ``base_url`` goes."""

ALLOW_VARIABLE = "PROMPTLAB_ALLOW_ENDPOINTS"
"""The environment variable listing allowed endpoints."""

PROJECT_FILE = "promptlab.toml"
"""The project's config file, looked for in the working directory."""

_KEY_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_GRANTED: list[Endpoint] = []
_GRANTED_LOCK = threading.Lock()


@dataclass(frozen=True)
class Endpoint:
    """An endpoint the user trusts, and the key variables that may go to it."""

    host: str
    """Host name or address, lower case."""

    scheme: str | None = None
    """``http`` or ``https``; None for any."""

    port: int | None = None
    """Port; None for any."""

    keys: frozenset[str] = field(default_factory=frozenset)
    """Environment variables whose value may be sent to it as the key."""

    source: str = ""
    """Where the user allowed it (for messages)."""

    def matches(self, url: SplitResult) -> bool:
        """Whether ``url`` (split) is this endpoint."""
        if (url.hostname or "").lower() != self.host:
            return False
        if self.scheme is not None and url.scheme.lower() != self.scheme:
            return False
        return self.port is None or _port(url) == self.port


def _port(url: SplitResult) -> int | None:
    try:
        return url.port or _DEFAULT_PORTS.get(url.scheme.lower())
    except ValueError:
        return None


def _has_valid_port(url: SplitResult) -> bool:
    try:
        return url.port is None or url.port >= 0
    except ValueError:  # host:abc, host:99999
        return False


def parse_entry(text: str, source: str) -> Endpoint:
    """One allow-list entry: ``URL`` or ``HOST[:PORT]``, optionally ``=KEY_VAR``."""
    entry, keys = text.strip(), frozenset[str]()
    before, equals, after = entry.rpartition("=")
    if equals and _KEY_VARIABLE.fullmatch(after):
        entry, keys = before.strip(), frozenset({after})
    url = urlsplit(entry if "://" in entry else f"//{entry}")
    if not url.hostname or not _has_valid_port(url):
        raise ConfigError(
            f"{source}: {text!r} is not an endpoint; give a base URL (https://api.together.xyz/v1) or a "
            "host (gpu-box:8000), optionally with =KEY_VAR"
        )
    scheme = url.scheme.lower() or None
    port = _port(url) if scheme else url.port
    return Endpoint(url.hostname.lower(), scheme, port, keys, source)


def _named_variable(model: Model) -> str:
    return model.api_key_env or "OPENAI_API_KEY"


def is_loopback(url: SplitResult) -> bool:
    """Whether ``url`` is a server on this machine."""
    host = (url.hostname or "").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


# -- where the user allows endpoints ------------------------------------------------------


def config_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The user's config file and the project's, in the order they are read."""
    home = (os.environ if environ is None else environ).get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path(home) / "promptlab" / "config.toml", Path.cwd() / PROJECT_FILE]


def _untrusted_because(path: Path) -> str | None:
    """Why ``path`` can't be trusted to allow endpoints, or None."""
    info = path.stat()
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        return f"{path} belongs to user id {info.st_uid}, not you"
    if info.st_mode & stat.S_IWOTH:
        return f"{path} can be changed by anyone (chmod o-w it)"
    return None


def _file_endpoints(path: Path) -> list[Endpoint]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} can't be read as TOML: {exc}") from exc
    section = document.get("endpoints", {})
    example = 'e.g. [endpoints] allow = ["https://api.together.xyz/v1"]'
    if not isinstance(section, dict) or set(section) - {"allow", "keys"}:
        raise ConfigError(f"{path}: [endpoints] takes allow = [...] and [endpoints.keys]; {example}")
    allow, keys = section.get("allow", []), section.get("keys", {})
    if not isinstance(allow, list) or not all(isinstance(entry, str) for entry in allow):
        raise ConfigError(f"{path}: [endpoints] allow must be a list of base URLs or hosts; {example}")
    if not isinstance(keys, dict):
        raise ConfigError(f'{path}: [endpoints.keys] pairs an endpoint with variables: "ENDPOINT" = "KEY_VAR"')
    found = [parse_entry(entry, str(path)) for entry in allow]
    for entry, variables in keys.items():
        names = [variables] if isinstance(variables, str) else variables
        if not isinstance(names, list) or not all(isinstance(n, str) and _KEY_VARIABLE.fullmatch(n) for n in names):
            raise ConfigError(f'{path}: [endpoints.keys] {entry!r} must name upper-case variables, e.g. "MY_KEY"')
        found.append(replace(parse_entry(entry, str(path)), keys=frozenset(names)))
    return found


@dataclass(frozen=True)
class EndpointPolicy:
    """The endpoints the running user trusts, from every place they can say so."""

    endpoints: tuple[Endpoint, ...]
    """Trusted endpoints, the built-in ones first."""

    skipped: tuple[str, ...] = ()
    """Config files not read, and why."""

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> EndpointPolicy:
        """The policy now: built-in endpoints, the environment, flags, config files."""
        environ = os.environ if environ is None else environ
        openai_key = frozenset({"OPENAI_API_KEY"})
        found = [Endpoint("api.openai.com", "https", 443, openai_key, "OpenAI's own endpoint")]
        if environ.get("OPENAI_BASE_URL"):
            found.append(replace(parse_entry(environ["OPENAI_BASE_URL"], "OPENAI_BASE_URL"), keys=openai_key))
        listed = [entry for entry in environ.get(ALLOW_VARIABLE, "").split(",") if entry.strip()]
        found += [parse_entry(entry, ALLOW_VARIABLE) for entry in listed]
        with _GRANTED_LOCK:
            found += _GRANTED
        skipped = []
        for path in config_files(environ):
            if not path.is_file():
                continue
            reason = _untrusted_because(path)
            if reason is None:
                found += _file_endpoints(path)
            else:
                skipped.append(reason)
        return cls(tuple(found), tuple(skipped))

    def key_variable(self, model: Model) -> str | None:
        """The variable whose value ``model`` may send as its key (None: send no
        key); a ``ConfigError`` when ``model`` may not call its endpoint at all."""
        variable = _named_variable(model)
        if model.origin is None:
            return variable
        url = urlsplit(model.base_url or OPENAI_URL)
        trusted = [endpoint for endpoint in self.endpoints if endpoint.matches(url)]
        if not trusted and not is_loopback(url):
            problem = f"points at {url.hostname!r}, an endpoint you haven't allowed; promptlab sends keys and data"
            raise ConfigError(self._refusal(model, url, f"{problem} only to endpoints you chose"))
        if any(variable in endpoint.keys for endpoint in trusted):
            return variable
        if model.api_key_env is None:
            return None  # nothing named, and OPENAI_API_KEY doesn't belong there: no key at all
        problem = f"asks to send ${variable} to {url.hostname!r}; promptlab sends a key only where you paired it"
        raise ConfigError(self._refusal(model, url, problem, key=variable))

    def _refusal(self, model: Model, url: SplitResult, problem: str, *, key: str | None = None) -> str:
        where = "the history" if model.origin == FROM_HISTORY else model.origin
        base = f"{url.scheme}://{url.netloc}" if url.scheme else url.netloc
        entry = f"{base}={key}" if key else base
        toml = f'[endpoints.keys] "{base}" = "{key}"' if key else f'[endpoints] allow = ["{base}"]'
        skipped = "".join(f" (Not read: {reason}.)" for reason in self.skipped)
        return (
            f"refused: model {model.name!r} from {where} {problem}. If you trust it, allow it with "
            f"--allow-endpoint {entry} (promptlab run, promptlab check), {ALLOW_VARIABLE}={entry}, or "
            f"{toml} in {config_files()[0]} or ./{PROJECT_FILE}.{skipped}"
        )


def key_variable(model: Model) -> str | None:
    """``EndpointPolicy.current().key_variable(model)``: the variable whose value
    ``model`` may send as its key, None for no key; ``ConfigError`` if refused."""
    if model.origin is None:  # written in code: no need to read the config files
        return _named_variable(model)
    return EndpointPolicy.current().key_variable(model)


def check_endpoints(models: Iterable[Model]) -> None:
    """Refuse now, before anything is written, any model the policy refuses
    (only the OpenAI-compatible provider sends keys to a ``base_url``)."""
    for model in models:
        if model.provider == "openai":
            key_variable(model)


@contextlib.contextmanager
def allowed_endpoints(*entries: str | Endpoint) -> Iterator[None]:
    """Trust ``entries`` (``URL`` or ``HOST[:PORT]``, optionally ``=KEY_VAR``)
    in this process while the block runs: what ``--allow-endpoint`` does."""
    granted = [e if isinstance(e, Endpoint) else parse_entry(e, "allowed_endpoints") for e in entries]
    with _GRANTED_LOCK:
        _GRANTED.extend(granted)
    try:
        yield
    finally:
        with _GRANTED_LOCK:
            for endpoint in granted:
                _GRANTED.remove(endpoint)
