"""One cell of the results grid opened whole (``CellDetail``), and the lines
that describe a trial everywhere (its numbers, its text, its input)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.pricing import dollars
from promptlab.ui.common import MUTED, RED, block, escape, present, replace_children
from promptlab.ui.feedback import FeedbackBar
from promptlab.ui.passages import passages_html, prompt_html
from promptlab.ui.scores import JudgeButton, judge_trials, scores_html

if TYPE_CHECKING:
    from promptlab import Lab


def trial_meta(trial: Mapping[str, Any]) -> str:
    """``123 ms · $0.0004 · cached · retriever bm25 k=5``: a trial's numbers in one line
    (its scores: ``scores_html``)."""
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
    if present(trial.get("tier")):
        parts.append(f"tier {trial['tier']}")
    if present(trial.get("retriever")):
        parts.append(f"retriever {trial['retriever']}")
    return " · ".join(parts)


def trial_text(trial: Mapping[str, Any]) -> tuple[str, bool]:
    """What a trial answered (or its error), and whether it failed."""
    if present(trial.get("error_type")):
        return f"{trial['error_type']}: {trial['error'] if present(trial.get('error')) else ''}", True
    return str(trial.get("output") or ""), False


class CellDetail(widgets.VBox):
    """One cell of the grid, whole: the prompt as sent, the raw response (or the
    error), the passages a retriever found for it, every evaluator's verdict with its reason, the numbers, the judge's
    call and the feedback controls. With repeats grouped in the cell, a picker
    chooses the repeat.

    Built only for the cell a person opens, so a page of the grid holds no
    widget per cell. ``on_feedback(trial_id, totals)`` hears each verdict recorded here."""

    children: tuple[widgets.Widget, ...]  # the box's trait, typed for mypy (ipywidgets has no types)

    def __init__(
        self,
        title: str,
        trials: Sequence[Mapping[Any, Any]],
        *,
        lab: Lab | None,
        scores: Sequence[str] = (),
        on_feedback: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.trials = list(trials)
        self.lab, self.scores, self.on_feedback = lab, list(scores), on_feedback
        self.title = widgets.HTML(f"<b>{escape(title)}</b>")
        self.repeat = widgets.ToggleButtons(
            options=[(f"repeat {t.get('repeat', i)}", i) for i, t in enumerate(self.trials)],
            value=0,
            style={"button_width": "auto"},
            layout=widgets.Layout(display=None if len(self.trials) > 1 else "none"),
        )
        self.body = widgets.HTML()
        self.feedback: FeedbackBar | None = None
        self.judge: JudgeButton | None = None
        self.extra = widgets.VBox()
        self.repeat.observe(lambda _: self.show(self.repeat.value), "value")
        super().__init__(
            [self.title, self.repeat, self.body, self.extra],
            layout=widgets.Layout(border="1px solid #bbb", padding="6px", margin="4px 0"),
        )
        self.show(0)

    @property
    def trial(self) -> Mapping[str, Any]:
        """The trial shown."""
        return self.trials[self.repeat.value]

    def show(self, k: int) -> None:
        """Show the cell's k-th trial (a repeat)."""
        trial = self.trials[k]
        text, failed = trial_text(trial)
        self.failed = failed
        """Whether the call shown failed."""
        self.eval_errors = int(trial["eval_errors"]) if present(trial.get("eval_errors")) else 0
        """Evaluators that couldn't score the trial shown."""
        numbers = [trial_meta(trial), f"trial {str(trial['trial_id'])[:8]}"]
        sent, received = trial.get("prompt_tokens"), trial.get("completion_tokens")
        if present(sent) and present(received):
            numbers.append(f"{int(sent)} + {int(received)} tokens")
        self.body.value = (
            f'<div style="color:{MUTED};font-size:11px">{escape(" · ".join(numbers))}</div>'
            f"<i>{'error' if failed else 'response'}</i>{block(text, color=RED if failed else None)}"
            + (f"<i>scores</i>{scores_html(trial, self.scores, full=True)}" if self.scores else "")
            + (f"<i>passages</i>{passages}" if (passages := passages_html(trial)) else "")
            + f"<i>prompt as sent</i>{prompt_html(trial)}"
        )
        judges = judge_trials(trial, self.scores)
        self.judge = JudgeButton(self.lab, judges, place=self._place) if judges and self.lab is not None else None
        """The "judge" button showing the judges' calls behind the scores, when one scored it."""
        leading = [self.judge] if self.judge is not None else []
        self.feedback = (
            FeedbackBar(self.lab, trial, leading=leading, on_change=self.on_feedback) if self.lab is not None else None
        )
        controls = self.feedback if self.feedback is not None else widgets.HBox(leading)
        replace_children(self.extra, [controls])

    def _place(self, widget: widgets.Widget) -> None:
        self.extra.children = (*self.extra.children, widget)


def input_lines(values: Mapping[str, Any] | Any) -> str:
    """An input row as ``key: value`` lines."""
    if not isinstance(values, Mapping):
        return str(values)
    return "\n".join(f"{key}: {value}" for key, value in values.items())
