"""Opening a team server store from code that must not need the server extra
until a server is named (``Lab``, ``load_prompt``, the CLI)."""

from __future__ import annotations

from typing import Any


def server_store(url: str, **options: Any) -> Any:
    """A ``ServerStore`` for ``url``; says how to install the server extra when it is missing."""
    try:
        from promptlab.store.server.store import ServerStore
    except ImportError as exc:  # psycopg and sqlglot come with the extra
        from promptlab.errors import ConfigError

        raise ConfigError(
            f"a team server needs promptlab's server extra ({exc.name} is missing): pip install 'promptlab[server]'"
        ) from None
    return ServerStore(url, **options)
