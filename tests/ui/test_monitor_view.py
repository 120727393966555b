"""The Monitor view, headless: choose a prompt, a period and a label, Show,
Compare; and its tab in the app."""

from __future__ import annotations

import pytest
from support.production import OTHER, PROMPT, V1, V2, fill_production_history
from support.widgets import text_of

import promptlab as pl
from promptlab.ui import playground
from promptlab.ui.app import TABS
from promptlab.ui.monitor import ALL_LABELS, MonitorView

pytestmark = pytest.mark.both_stores


def test_show_and_compare_versions(lab: pl.Lab) -> None:
    fill_production_history(lab)
    view = MonitorView(lab)
    assert set(view.name.options) == {PROMPT, OTHER}
    view.name.value = PROMPT
    view.every.value = "week"
    view.show_button.click()
    assert text_of(view.headline.value) == f"{PROMPT} in production, per week: 92 calls"
    assert view.monitor is not None and len(view.monitor.df) == 3  # (production, V1), (production, V2), (staging, V2)
    assert "error_rate" in view.table.value and bytes(view.plot.value).startswith(b"\x89PNG")
    assert list(view.label.options) == [ALL_LABELS, "production", "staging"]
    view.label.value = "production"
    view.every.value = "day"
    view.show_button.click()
    assert set(view.monitor.df["label"]) == {"production"} and len(view.monitor.df) == 4
    assert set(view.a.options) == {"production", V1, V2}
    view.a.value, view.b.value = V1, V2
    view.compare_button.click()
    verdict = text_of(view.verdict.value)
    assert f"A = {PROMPT}@{V1[:6]}, B = {PROMPT}@{V2[:6]}" in verdict
    assert "on error_rate (lower is better): A " in verdict and "Mann–Whitney p=" in verdict
    assert view.error.value == ""


def test_the_app_has_a_monitor_tab_that_lists_prompts_when_opened(lab: pl.Lab) -> None:
    app = playground(lab)
    assert TABS[-1] == "Monitor" and app.monitor.name.options == ()
    fill_production_history(lab)
    app.selected_index = TABS.index("Monitor")
    assert set(app.monitor.name.options) == {PROMPT, OTHER}
    app.monitor.name.value = OTHER
    app.monitor.show_button.click()
    assert "6 calls" in text_of(app.monitor.headline.value)
