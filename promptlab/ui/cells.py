"""The cells of the results grid: an input, and one variant's output on it.

Each is a handful of widgets (an HTML body, a "more" toggle when the text
is long, the feedback buttons), since a page holds rows × variants of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.columns import SCORE_PREFIX
from promptlab.pricing import dollars
from promptlab.ui.common import MUTED, RED, block, escape, truncate
from promptlab.ui.feedback import FeedbackBar

if TYPE_CHECKING:
    from promptlab.lab import Lab

SHORT = 240
"""Characters of an output shown before "more"."""


def present(value: Any) -> bool:
    """False for None and NaN."""
    return value is not None and not (isinstance(value, float) and pd.isna(value))


def trial_meta(trial: Mapping[str, Any], scores: Sequence[str] = ()) -> str:
    """``123 ms · $0.0004 · contains 1 · cached``: a trial's numbers in one line."""
    parts = []
    latency = trial.get("latency_ms")
    if latency is not None and present(latency):
        parts.append(f"{float(latency):,.0f} ms")
    cost = trial.get("cost_usd")
    parts.append(dollars(float(cost)) if cost is not None and present(cost) else "cost ?")
    for column in scores:
        value = trial.get(column)
        if value is not None and present(value):
            parts.append(f"{column.removeprefix(SCORE_PREFIX)} {float(value):.3g}")
    if trial.get("cached"):
        parts.append("cached")
    if trial.get("finish_reason") == "length":
        parts.append("cut at max_tokens")
    return " · ".join(parts)


def trial_text(trial: Mapping[str, Any]) -> tuple[str, bool]:
    """What a trial answered (or its error), and whether it failed."""
    if present(trial.get("error_type")):
        return f"{trial['error_type']}: {trial.get('error') or ''}", True
    return str(trial.get("output") or ""), False


def _more_toggle() -> widgets.ToggleButton:
    return widgets.ToggleButton(description="more", tooltip="show the whole text", layout=widgets.Layout(width="58px"))


class OutputCell(widgets.VBox):
    """One variant's answer to one input: output (or error, in red), numbers, feedback."""

    def __init__(self, trial: Mapping[str, Any], *, lab: Lab | None, scores: Sequence[str] = ()) -> None:
        self.trial_id = str(trial["trial_id"])
        text, self.failed = trial_text(trial)
        short, cut = truncate(text, SHORT)
        color = RED if self.failed else None
        meta = f'<div style="color:{MUTED};font-size:11px">{escape(trial_meta(trial, scores))}</div>'
        self.short_html, self.full_html = block(short, color=color) + meta, block(text, color=color) + meta
        self.body = widgets.HTML(self.short_html)
        self.more = _more_toggle() if cut else None
        if self.more is not None:
            self.more.observe(self._toggle, "value")
        leading = [self.more] if self.more is not None else []
        self.feedback = FeedbackBar(lab, trial, leading=leading) if lab is not None else None
        controls = self.feedback if self.feedback is not None else widgets.HBox(leading)
        border = f"1px solid {RED}" if self.failed else "1px solid #ddd"
        super().__init__([self.body, controls], layout=widgets.Layout(border=border, padding="4px"))

    def _toggle(self, change: Mapping[str, Any]) -> None:
        assert self.more is not None
        self.body.value = self.full_html if change["new"] else self.short_html
        self.more.description = "less" if change["new"] else "more"


class EmptyCell(widgets.HTML):
    """A variant with no trial for this input (yet)."""

    def __init__(self) -> None:
        super().__init__(f'<span style="color:{MUTED}">—</span>')


def input_lines(values: Mapping[str, Any] | Any) -> str:
    """An input row as ``key: value`` lines."""
    if not isinstance(values, Mapping):
        return str(values)
    return "\n".join(f"{key}: {value}" for key, value in values.items())


class InputCell(widgets.VBox):
    """The input a row of the grid answers: its number and its values."""

    def __init__(self, row_index: int, repeat: int, values: Mapping[str, Any], *, show_repeat: bool) -> None:
        title = f"<b>#{row_index}{f' · repeat {repeat}' if show_repeat else ''}</b>"
        text = input_lines(values)
        short, cut = truncate(text, 160)
        self.short_html, self.full_html = title + block(short), title + block(text)
        self.body = widgets.HTML(self.short_html)
        self.more = _more_toggle() if cut else None
        if self.more is not None:
            self.more.observe(self._toggle, "value")
        super().__init__([self.body] + ([self.more] if self.more is not None else []))

    def _toggle(self, change: Mapping[str, Any]) -> None:
        assert self.more is not None
        self.body.value = self.full_html if change["new"] else self.short_html
        self.more.description = "less" if change["new"] else "more"
