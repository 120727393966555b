"""Fixtures every widget test gets: a handler that raises fails the test
(instead of ipywidgets logging it and moving on), and the working folder is an
empty one of the test's own (no ``experiments/`` folder unless a test makes one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.widgets import raise_handler_errors


@pytest.fixture(autouse=True)
def handler_errors_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    raise_handler_errors(monkeypatch)


@pytest.fixture(autouse=True)
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
