"""Tests that run on both stores (``both_stores``): acting as a teammate.

In a file, who recorded a row is ``$PROMPTLAB_USER``; on a team server it is
the database role that logged in, whatever the environment says. So "ana
runs a sweep" means setting the variable for a file, and opening the same
database as the role ``ana`` (made a researcher first) for a server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import promptlab as pl
from promptlab.store.server import roles
from promptlab.store.server.connection import connect, is_server
from support.postgres import SUPERUSER


def new_lab(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> pl.Lab:
    """A history of the test's own: a file, or (``store_kind`` server) a database
    on the private cluster. The ``lab`` fixture, for modules whose own builds on it."""
    if store_kind == "server":
        return pl.Lab(request.getfixturevalue("server_url"))
    return pl.Lab(tmp_path / "history.duckdb")


def as_user(lab: pl.Lab, user: str, monkeypatch: pytest.MonkeyPatch, role: str = "researcher") -> pl.Lab:
    """``lab``'s history, recording as ``user`` from now on (a new ``Lab`` on a server)."""
    monkeypatch.setenv("PROMPTLAB_USER", user)
    if not is_server(lab.location):
        return lab
    url = lab.store.url  # type: ignore[attr-defined]
    with connect(make_conninfo(url, user=SUPERUSER)) as admin:
        roles.grant(admin, user, role)
    return pl.Lab(_as_url(url, user))


def _as_url(url: str, user: str) -> str:
    settings = conninfo_to_dict(url)
    return f"postgresql://{user}@{settings['host']}:{settings['port']}/{settings['dbname']}"
