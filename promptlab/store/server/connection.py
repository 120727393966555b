"""Connections to a team server: which locations are servers, how a URL is
shown without its password, and a psycopg connection set up the way every
promptlab query expects.

Connection settings come from the URL and libpq's own sources (``PG*``
variables, ``~/.pgpass``, service files): promptlab passes the URL to libpq
untouched and never reads a password itself. What it shows of a location
(``repr``, messages, lineage, logs) is ``shown(url)``: the URL rebuilt
without its password, and error messages from libpq pass through
``scrubbed`` in case one repeats the URL it was given.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from promptlab.errors import ServerUnreachableError, StoreError

SERVER_SCHEMES = ("postgresql://", "postgres://")
"""Locations that name a PostgreSQL server rather than a DuckDB file."""

SCHEMA = "promptlab"
"""The server schema holding promptlab's tables; every connection searches it
first, then ``pg_catalog``, and temporary objects last, so nothing a user
creates can stand in for one of promptlab's tables."""

CONNECT_TIMEOUT = 5
"""Seconds a connection attempt waits: a sweep finds out quickly that the
server is away, and spools instead."""

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")
_PASSWORD_SETTING = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)


def is_server(location: object) -> bool:
    """Whether ``location`` is a PostgreSQL URL (``postgresql://…``)."""
    return isinstance(location, str) and location.strip().lower().startswith(SERVER_SCHEMES)


def scrubbed(text: str) -> str:
    """``text`` with any password it holds (in a URL or a ``password=`` setting) replaced by ``***``."""
    return _PASSWORD_SETTING.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***\3", text))


def shown(url: str) -> str:
    """The URL as promptlab shows and records it: without a password."""
    return scrubbed(url.strip())


def spool_root() -> Path:
    """``$PROMPTLAB_SPOOL``, else ``$XDG_STATE_HOME/promptlab/spool``, else ``~/.local/state/promptlab/spool``."""
    if os.environ.get("PROMPTLAB_SPOOL"):
        return Path(os.environ["PROMPTLAB_SPOOL"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "promptlab" / "spool"


def spool_folder(location: str) -> Path:
    """This user's local spool for the server at ``location`` (its URL without a password):
    the journal its writes wait in until they are sent."""
    return spool_root() / hashlib.sha256(location.encode()).hexdigest()[:16]


def connect(url: str, *, autocommit: bool = True, timeout: int = CONNECT_TIMEOUT) -> Any:
    """A psycopg connection to ``url``: JSON columns come back as their text
    (as from the file), and names resolve in promptlab's schema first."""
    import psycopg
    from psycopg.types.string import StrDumper, TextLoader

    connection = psycopg.connect(
        url.strip(),
        autocommit=autocommit,
        connect_timeout=timeout,
        options=f"-c search_path={SCHEMA},pg_catalog,pg_temp",
        application_name="promptlab",
    )
    for json_type in ("json", "jsonb"):
        connection.adapters.register_loader(json_type, TextLoader)
    # text parameters typed as text (not "unknown"), so a list of names is a text[] to unnest
    connection.adapters.register_dumper(str, StrDumper)
    return connection


def unreachable(location: str, exc: BaseException) -> StoreError:
    if _refused_login(exc):
        return StoreError(f"the team server {location} refused the login ({scrubbed(str(exc)).strip()})")
    return ServerUnreachableError(
        f"the team server {location} can't be reached ({scrubbed(str(exc)).strip()}); check the server and "
        "the network (trials recorded meanwhile wait in the local spool and are sent when it is back)"
    )


def _refused_login(exc: BaseException) -> bool:
    """A wrong password or an unknown role or database: no point waiting for it."""
    message = str(exc)
    return "authentication failed" in message or "does not exist" in message or "no password supplied" in message
