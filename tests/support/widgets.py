"""Helpers for the widget tests (tests/ui/)."""

from __future__ import annotations

import html
import re
from typing import Any

import ipywidgets as widgets
import pytest


def raise_handler_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make an exception in a button handler fail the test.

    ipywidgets catches what ``on_click`` callbacks raise and only logs it (a
    kernel shows a traceback), so without this a broken handler passes
    ``button.click()`` silently. Observers (``.value = ...``) raise anyway.
    """

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = None
        for callback in self.callbacks:
            result = callback(*args, **kwargs)
            value = result if result is not None else value
        return value

    monkeypatch.setattr(widgets.CallbackDispatcher, "__call__", call)


def text_of(markup: str) -> str:
    """What an HTML widget's value reads as on screen: tags dropped (a line break, a
    block or a table row ends a line; a table cell is set off by a space), entities decoded."""
    lines = re.sub(r"<br\s*/?>|</(?:div|tr|p|table|h\d)>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</t[dh]>", " ", lines)))
