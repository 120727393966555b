"""Review mode: one output at a time, with its input and the prompt as sent,
voted on with buttons or single keys. The output and the votes come first;
the prompt as sent waits, collapsed, below them.

Notebooks give widgets no global key events, so the keys go to a small text
box: click into it, then type ``j``/``n`` (next), ``k``/``p`` (previous),
``u`` (thumbs up), ``d`` (thumbs down). Each key acts at once and the box
clears itself. Only the last character of each change counts, so keys
typed faster than the kernel answers are never acted on twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab import Run
from promptlab.analysis.plots import variant_labels
from promptlab.errors import ConfigError
from promptlab.ui.cells import input_lines, trial_meta, trial_text
from promptlab.ui.common import (
    MUTED,
    RED,
    block,
    button,
    catching,
    error_label,
    escape,
    present,
    replace_children,
)
from promptlab.ui.feedback import FeedbackBar, remember_totals
from promptlab.ui.passages import passages_html, prompt_html
from promptlab.ui.scores import JudgeButton, judge_trials, score_labels, scores_html

if TYPE_CHECKING:
    from promptlab import Lab

KEYS = {"j": "next", "n": "next", "k": "previous", "p": "previous", "u": "up", "d": "down"}
"""Single-key commands of the key box."""

KEY_HELP = "keys: j/n next · k/p previous · u up · d down"

INPUT_HEIGHT = "180px"
"""How tall the input may grow before it scrolls: with the controls above it, the
output under it starts within a 1280×800 window's first screen."""


def review_order(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials in review order: input by input, each input's variants side by side in turn
    (in the results grid's order and under its names, ``B · summarize@1828dd · echo``,
    when the trials come from the grid: ``variant_label``)."""
    if trials.empty:
        return trials.assign(variant=pd.Series(dtype=object))
    if "variant_label" in trials:  # the grid's column positions and names
        frame = trials.assign(_variant_rank=trials["variant"], variant=trials["variant_label"])
    else:
        frame = trials.assign(variant=variant_labels(trials))
        rank = {label: i for i, label in enumerate(dict.fromkeys(frame["variant"]))}
        frame = frame.assign(_variant_rank=frame["variant"].map(rank))
    ordered = frame.sort_values(["row_index", "repeat", "_variant_rank", "created_at"], kind="stable")
    return ordered.drop(columns="_variant_rank").reset_index(drop=True)


class ReviewPanel(widgets.VBox):
    """Steps through a run's outputs one at a time for voting and corrections."""

    def __init__(
        self,
        source: Run | str | pd.DataFrame | None = None,
        *,
        lab: Lab | None = None,
        on_feedback: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.lab = lab
        self.on_feedback = on_feedback
        """Called with ``(trial_id, totals)`` after feedback is recorded here."""
        self.trials = review_order(pd.DataFrame())
        self.position = widgets.BoundedIntText(
            value=1,
            min=1,
            max=1,
            description="output",
            style={"description_width": "initial"},
            layout={"width": "150px"},
        )
        self.count = widgets.HTML()
        self.previous = button("◀ previous", "previous output (k or p)")
        self.next = button("next ▶", "next output (j or n)")
        self.up = button("up", "thumbs up (u)", icon="thumbs-up")
        self.down = button("down", "thumbs down (d)", icon="thumbs-down")
        self.advance = widgets.Checkbox(value=True, description="next after a vote", indent=False)
        self.key_box = widgets.Text(placeholder="click here, then type keys", layout={"width": "190px"})
        self.key_help = widgets.HTML(f'<span style="color:{MUTED};font-size:12px">{escape(KEY_HELP)}</span>')
        self.header = widgets.HTML()
        # a long input scrolls in its box, so the output stays above the fold at 1280×800
        self.input = widgets.HTML(layout=widgets.Layout(max_height=INPUT_HEIGHT, overflow="auto"))
        self.prompt = widgets.HTML()
        self.passages = widgets.HTML()
        self.output = widgets.HTML()
        self.feedback_box = widgets.VBox()
        self.error = error_label()
        self.previous.on_click(lambda _: self.step(-1))
        self.next.on_click(lambda _: self.step(1))
        self.up.on_click(lambda _: self.vote(1))
        self.down.on_click(lambda _: self.vote(-1))
        self.position.observe(lambda _: self.render(), "value")
        self.key_box.observe(self._key, "value")
        self.details = widgets.Accordion([self.prompt], titles=("prompt as sent",))
        self.details.selected_index = None  # collapsed: the output is what a reviewer came for
        self.found = widgets.Accordion([self.passages], titles=("passages found",), selected_index=None)
        super().__init__(
            [
                widgets.HBox([self.previous, self.position, self.count, self.next]),
                widgets.HBox([self.up, self.down, self.advance, self.key_box, self.key_help]),
                self.error,
                self.header,
                self.input,
                self.output,
                self.feedback_box,
                self.found,
                self.details,
            ]
        )
        if isinstance(source, pd.DataFrame):
            self.show_trials(source)
        elif source is not None:
            self.show_run(source)
        else:
            self.render()

    # -- what is reviewed --------------------------------------------------------------

    def show_trials(self, trials: pd.DataFrame) -> None:
        """Review these trials (input by input)."""
        self.trials = review_order(trials)
        self.position.max = max(len(self.trials), 1)
        if self.position.value != 1:
            self.position.value = 1  # renders
        else:
            self.render()

    def show_run(self, run: Run | str) -> None:
        """Review a recorded run's trials."""
        if isinstance(run, Run):
            self.lab = self.lab or run.lab
            run = run.run_id
        if self.lab is None:
            raise ConfigError("a run id needs its lab: review(run_id, lab=lab), or pass the Run itself")
        lab, run_id = self.lab, run
        trials = catching(self.error, lambda: lab.trials(run=run_id))
        if trials is not None:
            self.show_trials(trials)

    @property
    def current(self) -> dict[str, Any] | None:
        """The trial shown, as a dict (None when there are none)."""
        if self.trials.empty:
            return None
        return {str(k): v for k, v in self.trials.iloc[self.position.value - 1].to_dict().items()}

    # -- moving and voting -------------------------------------------------------------

    def step(self, by: int) -> None:
        """Move ``by`` outputs (clamped to the first and last)."""
        self.position.value = min(max(self.position.value + by, 1), self.position.max)

    def vote(self, vote: int) -> None:
        """Thumbs up (1) or down (-1) on the output shown, then move on if so set."""
        bar = self._feedback_bar()
        if bar is None:
            return
        if bar.vote(vote) and self.advance.value:
            self.step(1)

    def press(self, key: str) -> None:
        """Act on one key: j/n next, k/p previous, u up, d down (others are ignored)."""
        action = KEYS.get(key.lower())
        if action == "next":
            self.step(1)
        elif action == "previous":
            self.step(-1)
        elif action in ("up", "down"):
            self.vote(1 if action == "up" else -1)

    def _key(self, change: Mapping[str, Any]) -> None:
        typed = change["new"]
        if not typed:
            return  # our own clearing
        self.key_box.value = ""
        self.press(typed[-1])

    def _feedback_bar(self) -> FeedbackBar | None:
        children = self.feedback_box.children
        return children[0] if children and isinstance(children[0], FeedbackBar) else None

    # -- drawing -------------------------------------------------------------------------

    def render(self) -> None:
        """Show the output at ``position``."""
        trial = self.current
        total = len(self.trials)
        self.count.value = f"of {total}"
        self.previous.disabled = self.position.value <= 1
        self.next.disabled = self.position.value >= total
        self.up.disabled = self.down.disabled = trial is None or self.lab is None
        if trial is None:
            self.header.value = f'<span style="color:{MUTED}">nothing to review</span>'
            for part in (self.input, self.prompt, self.output, self.passages):
                part.value = ""
            self.found.layout.display = "none"
            replace_children(self.feedback_box, [])
            return
        retriever = trial.get("retriever")  # the grid's variant names have it already; plots' don't
        searched = f" · {retriever}" if present(retriever) and str(retriever) not in str(trial["variant"]) else ""
        self.header.value = f"<b>{escape(str(trial['variant']) + searched)}</b> · input #{trial['row_index']}" + (
            f" · repeat {trial['repeat']}" if trial.get("repeat") else ""
        )
        self.input.value = "<b>input</b>" + block(input_lines(trial.get("vars")))
        self.prompt.value = prompt_html(trial)
        self.passages.value = passages_html(trial)
        self.found.layout.display = None if self.passages.value else "none"
        text, failed = trial_text(trial)
        labels = score_labels(self.trials.columns)
        meta = f'<div style="color:{MUTED};font-size:12px">{escape(trial_meta(trial))}</div>'
        verdicts = scores_html(trial, labels, full=True)
        self.output.value = "<b>output</b>" + block(text, color=RED if failed else None) + meta + verdicts
        judges = judge_trials(trial, labels)
        place = self._below_feedback
        judge = JudgeButton(self.lab, judges, place=place) if judges and self.lab is not None else None
        leading = [judge] if judge is not None else []
        bar = [FeedbackBar(self.lab, trial, leading=leading, on_change=self._feedback_here)] if self.lab else []
        replace_children(self.feedback_box, bar)

    def _below_feedback(self, widget: widgets.Widget) -> None:
        self.feedback_box.children = (*self.feedback_box.children, widget)

    def remember_feedback(self, trial_id: str, totals: Mapping[str, Any]) -> None:
        """Keep a trial's new feedback ``totals`` (recorded here or in the results grid),
        so stepping back to it shows them; redraws the output shown when it is that trial."""
        remember_totals(self.trials, trial_id, totals)
        bar = self._feedback_bar()
        if bar is not None and bar.trial_id == trial_id:
            bar.show_totals(totals)

    def _feedback_here(self, trial_id: str, totals: dict[str, Any]) -> None:
        remember_totals(self.trials, trial_id, totals)
        if self.on_feedback is not None:
            self.on_feedback(trial_id, totals)

    @property
    def judge(self) -> JudgeButton | None:
        """The "judge" button of the output shown (``judge.show()``), when a judge scored it."""
        bar = self._feedback_bar()
        found = [child for child in bar.controls.children if isinstance(child, JudgeButton)] if bar else []
        return found[0] if found else None

    def __repr__(self) -> str:
        return f"ReviewPanel({len(self.trials)} outputs)"


def review(source: Run | str | pd.DataFrame, *, lab: Lab | None = None) -> ReviewPanel:
    """Review mode over a run (``Run``, or run id with ``lab=``) or a trials DataFrame.

    Buttons, or keys typed into the key box: j/n next, k/p previous, u up, d down.
    """
    return ReviewPanel(source, lab=lab)
