"""The cells of the results grid: an input, and one variant's output on it.

Each is a handful of widgets (an HTML body, a "more" toggle when the text
is long, a "judge" toggle when a judge scored it, the feedback buttons),
since a page holds rows × variants of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.pricing import dollars
from promptlab.ui.common import MUTED, RED, block, escape, present, truncate
from promptlab.ui.feedback import FeedbackBar
from promptlab.ui.scores import JudgeButton, judge_trials, scores_html

if TYPE_CHECKING:
    from promptlab import Lab

SHORT = 240
"""Characters of an output shown before "more"."""


def trial_meta(trial: Mapping[str, Any]) -> str:
    """``123 ms · $0.0004 · cached``: a trial's numbers in one line (its scores: ``scores_html``)."""
    parts = []
    latency = trial.get("latency_ms")
    if present(latency):
        parts.append(f"{float(latency):,.0f} ms")
    cost = trial.get("cost_usd")
    parts.append(dollars(float(cost)) if present(cost) else "cost ?")
    if present(trial.get("cached")) and bool(trial.get("cached")):
        parts.append("cached")
    if trial.get("finish_reason") == "length":
        parts.append("cut at max_tokens")
    return " · ".join(parts)


def trial_text(trial: Mapping[str, Any]) -> tuple[str, bool]:
    """What a trial answered (or its error), and whether it failed."""
    if present(trial.get("error_type")):
        return f"{trial['error_type']}: {trial['error'] if present(trial.get('error')) else ''}", True
    return str(trial.get("output") or ""), False


def _more_toggle() -> widgets.ToggleButton:
    return widgets.ToggleButton(description="more", tooltip="show the whole text", layout=widgets.Layout(width="58px"))


def _has_long_verdicts(trial: Mapping[str, Any], labels: Sequence[str]) -> bool:
    return scores_html(trial, labels) != scores_html(trial, labels, full=True)


class OutputCell(widgets.VBox):
    """One variant's answer to one input: output (or error, in red), numbers, each
    evaluator's verdict with its explanation (an evaluator error in red), the
    judge's call behind a "judge" button, and feedback.

    ``scores`` are the evaluator labels to show (``score_<label>`` columns);
    ``on_feedback(trial_id, totals)`` hears each verdict recorded here."""

    children: tuple[widgets.Widget, ...]  # the box's trait, typed for mypy (ipywidgets has no types)

    def __init__(
        self,
        trial: Mapping[str, Any],
        *,
        lab: Lab | None,
        scores: Sequence[str] = (),
        on_feedback: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.trial_id = str(trial["trial_id"])
        text, self.failed = trial_text(trial)
        self.eval_errors = int(trial["eval_errors"]) if present(trial.get("eval_errors")) else 0
        """Evaluators that couldn't score this trial."""
        short, cut = truncate(text, SHORT)
        color = RED if self.failed else None
        meta = f'<div style="color:{MUTED};font-size:11px">{escape(trial_meta(trial))}</div>'
        self.short_html = block(short, color=color) + meta + scores_html(trial, scores)
        self.full_html = block(text, color=color) + meta + scores_html(trial, scores, full=True)
        self.body = widgets.HTML(self.short_html)
        self.more = _more_toggle() if cut or _has_long_verdicts(trial, scores) else None
        if self.more is not None:
            self.more.observe(self._toggle, "value")
        judges = judge_trials(trial, scores)
        self.judge = JudgeButton(lab, judges, place=self._add) if judges and lab is not None else None
        """The "judge" button showing the judges' calls behind the scores (``judge.show()``), when one scored it."""
        leading = [w for w in (self.more, self.judge) if w is not None]
        self.feedback = FeedbackBar(lab, trial, leading=leading, on_change=on_feedback) if lab is not None else None
        controls = self.feedback if self.feedback is not None else widgets.HBox(leading)
        border = f"1px solid {RED}" if self.failed else "1px solid #ddd"
        super().__init__([self.body, controls], layout=widgets.Layout(border=border, padding="4px"))

    def _add(self, widget: widgets.Widget) -> None:
        self.children = (*self.children, widget)

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
