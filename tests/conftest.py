"""Shared fixtures: every test gets its own history file, a quiet display, and
providers it can script and count. What they are built from lives in
``tests/support/``; tests import helpers from there, never from this file.

- ``isolated_history`` (autouse): ``PROMPTLAB_DB`` points at a fresh file in the
  test's own folder, ``PROMPTLAB_USER=tester``, and no OpenAI key or base URL
  leaks in from the environment, so nothing can reach a real endpoint.
- ``lab``: a ``pl.Lab`` on ``tmp_path / "history.duckdb"``.
- ``stub_server``: ``promptlab.testing.StubServer`` running in a thread.
- ``quiet``: a ``NullDisplay`` for sweeps; ``recording_display``: one that keeps
  what the runner reported.
- ``scripted``: makes a provider registered under a fresh name that counts its
  calls, the most calls in flight, and attempts per input, and can be scripted.
- ``chromium``, ``jupyter_lab``, ``page``: the real-browser harness of
  ``support/browser.py``.
- ``settle`` / ``plain_query``: wait for background folds, then read the file
  with a plain DuckDB connection like any outside client would.
- ``pg_cluster``: a private PostgreSQL cluster (``support/postgres.py``), started
  on first use and stopped at the end of the session; ``server_url``: a fresh
  database of it, set up by ``promptlab db init``, as the researcher ``tester``.
- ``lab`` runs on both stores in a module marked ``both_stores`` (the file,
  and the team server: parameter ``store_kind``); a test marked
  ``file_only`` there runs on the file alone.
- ``team``: a copy of the history a team has after a week (``support/team_history.py``:
  several prompts, versions, models, a grid, repeats, failures, judges,
  feedback, labels, an interrupted run), built once per session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The real-browser fixtures (chromium, jupyter_lab, page), for the tests in e2e/.
from support.browser import chromium, jupyter_lab, page  # noqa: F401
from support.history import query_file, settle, trial_row
from support.postgres import Cluster, prepared_cluster
from support.providers import Behaviour, RecordingDisplay, ScriptedProvider, running_stub_server
from support.stores import new_lab
from support.team_history import TeamHistory, fill_team_history, register_providers

import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import StubServer


@pytest.fixture(autouse=True)
def isolated_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every test at its own database and a fixed user."""
    db = tmp_path / "default.duckdb"
    monkeypatch.setenv("PROMPTLAB_DB", str(db))
    monkeypatch.setenv("PROMPTLAB_USER", "tester")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("PROMPTLAB_SOURCE", raising=False)
    # a developer's own endpoint allow-list and config files must not change what tests see
    monkeypatch.delenv("PROMPTLAB_ALLOW_ENDPOINTS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PROMPTLAB_SPOOL", str(tmp_path / "spool"))
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    yield db
    settle()  # no fold of this test may still run when the next one starts


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``both_stores`` modules run each test using ``lab`` on the file and on the server."""
    if "store_kind" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("both_stores") is None:
        return
    kinds = ["file"] if metafunc.definition.get_closest_marker("file_only") else ["file", "server"]
    metafunc.parametrize("store_kind", kinds)


@pytest.fixture
def store_kind() -> str:
    return "file"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A private PostgreSQL cluster with a template database ``promptlab db init`` set up
    (roles included) and the researcher ``tester``."""
    with prepared_cluster() as cluster:
        yield cluster


@pytest.fixture
def server_url(pg_cluster: Cluster) -> str:
    """A database of the test's own on the private cluster, as the researcher ``tester``."""
    return pg_cluster.url(pg_cluster.new_database(), user="tester")


@pytest.fixture
def lab(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> pl.Lab:
    """A history of the test's own: a file, or (``store_kind`` server) a database on the private cluster."""
    return new_lab(tmp_path, store_kind, request)


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    """A local OpenAI-compatible server; ``stub_server.url`` is its base URL."""
    with running_stub_server() as server:
        yield server


@pytest.fixture
def quiet() -> NullDisplay:
    """A display that shows nothing (sweeps in tests pass ``display=quiet``)."""
    return NullDisplay()


@pytest.fixture
def recording_display() -> RecordingDisplay:
    return RecordingDisplay()


@pytest.fixture
def scripted() -> Callable[..., ScriptedProvider]:
    """``scripted(behave=None, latency=0.0)``: a ScriptedProvider registered
    under a name of its own; ``provider.model(...)`` makes Models for it."""

    def make(behave: Behaviour | None = None, latency: float = 0.0) -> ScriptedProvider:
        provider = ScriptedProvider(f"scripted-{uuid.uuid4().hex[:10]}", behave, latency)
        pl.register_provider(provider.name, provider)
        return provider

    return make


@pytest.fixture(name="settle")
def settle_fixture() -> Callable[[], None]:
    return settle


@pytest.fixture
def plain_query() -> Callable[..., list[tuple[Any, ...]]]:
    """``plain_query(path, sql, params=None)`` with a plain DuckDB connection,
    after background folds are done (DuckDB refuses a second open of a file
    inside one process while promptlab has it attached)."""
    return query_file


@pytest.fixture(name="trial_row")
def trial_row_fixture() -> Callable[..., dict[str, Any]]:
    """``trial_row(**overrides)``: a full trials row for writing to the journal by hand."""
    return trial_row


@pytest.fixture(scope="session")
def team_history_template(tmp_path_factory: pytest.TempPathFactory) -> TeamHistory:
    """The team's history, built once per session (tests get copies: ``team``)."""
    folder = tmp_path_factory.mktemp("team-template") / "team"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as patch:  # as isolated_history does, which a session fixture can't use
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PROMPTLAB_SOURCE", "PROMPTLAB_ALLOW_ENDPOINTS"):
            patch.delenv(name, raising=False)
        patch.setenv("XDG_CONFIG_HOME", str(folder.parent / "config"))
        patch.setenv("PROMPTLAB_USER", "tester")
        lab = pl.Lab(folder / "history.duckdb")
        history = fill_team_history(lab, interrupted=True)
        lab.fold()
        settle()  # everything is in the file: copies of the folder are whole
    return history


@pytest.fixture
def team(team_history_template: TeamHistory, tmp_path: Path) -> TeamHistory:
    """A copy of the team's history of its own (``team.lab()`` opens it); its
    providers are registered, so its runs can be run again."""
    register_providers()
    return team_history_template.copy_to(tmp_path / "team")
