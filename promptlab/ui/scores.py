"""What evaluators said about a trial: each score with its explanation, an
evaluator's error in red with its message, and the judge's own recorded call
behind a button (``lab.trial(judge_trial_id)``).

The trial frames carry these as ``score_<label>``, ``passed_<label>``,
``explanation_<label>``, ``eval_error_<label>`` and ``judge_trial_<label>``
(``promptlab.analysis.columns``); a score whose evaluator failed is NaN, so without
its error it would read as if nobody had scored it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.analysis.columns import (
    EVAL_ERROR_PREFIX,
    EXPLANATION_PREFIX,
    JUDGE_TRIAL_PREFIX,
    PASSED_PREFIX,
    SCORE_PREFIX,
)
from promptlab.core.pricing import dollars
from promptlab.errors import PromptlabError
from promptlab.ui.common import MUTED, RED, block, error_html, escape, messages_text, present, truncate

if TYPE_CHECKING:
    from promptlab import Lab

SHORT_EXPLANATION = 90
"""Characters of an explanation or evaluator error shown before "more" (all of it is in the tooltip)."""


def score_labels(columns: Iterable[Any]) -> list[str]:
    """The evaluator labels of a trials frame's columns (``score_<label>``), in order."""
    return [str(c).removeprefix(SCORE_PREFIX) for c in columns if str(c).startswith(SCORE_PREFIX)]


def score_line(trial: Mapping[str, Any], label: str, *, full: bool = False) -> str:
    """One evaluator's verdict as HTML: ``contains 1 ✓ — why``, or its error in red
    (empty when it said nothing). ``full=False`` cuts the text; the tooltip has it all."""
    value, passed = trial.get(SCORE_PREFIX + label), trial.get(PASSED_PREFIX + label)
    explanation, error = trial.get(EXPLANATION_PREFIX + label), trial.get(EVAL_ERROR_PREFIX + label)
    if present(error):
        text = str(error) if full else truncate(str(error), SHORT_EXPLANATION)[0]
        return (
            f'<div style="color:{RED};font-size:11px" title="{escape(error)}" class="pl-eval-error">'
            f"⚠ {escape(label)}: evaluator error: {escape(text)}</div>"
        )
    if not present(value) and not present(explanation):
        return ""
    verdict = f"{float(value):.3g}" if present(value) else "no score"
    if present(passed):
        verdict += " ✓" if bool(passed) else " ✗"
    why = ""
    if present(explanation):
        shown = str(explanation) if full else truncate(str(explanation), SHORT_EXPLANATION)[0]
        why = f" — {escape(shown)}"
    tooltip = escape(explanation) if present(explanation) else ""
    return f'<div style="color:{MUTED};font-size:11px" title="{tooltip}">{escape(label)} {verdict}{why}</div>'


def scores_html(trial: Mapping[str, Any], labels: Sequence[str], *, full: bool = False) -> str:
    """Every evaluator's verdict on ``trial``, a line each."""
    return "".join(score_line(trial, label, full=full) for label in labels)


def judge_trials(trial: Mapping[str, Any], labels: Sequence[str]) -> dict[str, str]:
    """The judges' own trial ids behind ``trial``'s scores, by evaluator label."""
    found = {label: trial.get(JUDGE_TRIAL_PREFIX + label) for label in labels}
    return {label: str(trial_id) for label, trial_id in found.items() if present(trial_id)}


def judge_call_html(label: str, call: Mapping[str, Any]) -> str:
    """A judge's recorded call (``lab.trial(id)``): model, numbers, what it was asked and what it answered."""
    numbers = [f"judged by {call.get('model')}", f"trial {str(call.get('trial_id'))[:8]}"]
    if present(call.get("latency_ms")):
        numbers.append(f"{float(call['latency_ms']):,.0f} ms")
    numbers.append(dollars(float(call["cost_usd"])) if present(call.get("cost_usd")) else "cost ?")
    answer = call.get("output") if present(call.get("output")) else f"{call.get('error_type')}: {call.get('error')}"
    return (
        f'<div style="font-size:11px"><b>{escape(label)}</b> · {escape(" · ".join(numbers))}'
        f"<br><i>asked</i>{block(messages_text(call.get('messages')))}<i>answered</i>{block(str(answer))}</div>"
    )


class JudgeButton(widgets.ToggleButton):
    """A "judge" toggle: pressed, it shows the judges' recorded calls behind a trial's
    scores in ``calls``, an HTML widget made on first use (a page of the grid holds many
    of these buttons and few are pressed) and handed to ``place`` to put on screen."""

    value: bool  # the toggle's trait, typed for mypy (ipywidgets has no types)

    def __init__(self, lab: Lab, judges: Mapping[str, str], place: Callable[[widgets.HTML], None]) -> None:
        super().__init__(
            description="judge",
            tooltip="the judge's call: what it was asked and what it answered",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),  # never squeezed by the votes beside it
        )
        self.lab = lab
        self.judges = dict(judges)
        """Judge trial ids by evaluator label."""
        self.place = place
        self.calls: widgets.HTML | None = None
        """Where the calls are shown, once they have been."""
        self.observe(lambda change: self.show(change["new"]), "value")

    @property
    def shown(self) -> str:
        """The HTML shown (empty while hidden)."""
        return "" if self.calls is None else str(self.calls.value)

    def show(self, show: bool = True) -> str:
        """Show (or hide) the judges' calls, read with ``lab.trial``; the HTML shown."""
        if self.value != show:
            self.value = show  # its observer comes back here
            return self.shown
        if self.calls is None:
            if not show:
                return ""
            self.calls = widgets.HTML()
            self.place(self.calls)
        parts = []
        for label, trial_id in self.judges.items() if show else ():
            try:
                parts.append(judge_call_html(label, self.lab.trial(trial_id)))
            except PromptlabError as exc:
                parts.append(error_html(f"judge {label}: {exc}"))
        self.calls.value = "".join(parts)
        return self.shown
