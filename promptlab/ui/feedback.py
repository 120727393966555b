"""Thumbs up / down, corrections and comments on one trial.

Every control calls ``lab.feedback(...)`` (the user is ``PROMPTLAB_USER``,
else the login name, as the library decides) and then shows what the
history now holds for the trial.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.core.feedback import current_votes
from promptlab.errors import PromptlabError
from promptlab.ui.common import button, error_html, escape

if TYPE_CHECKING:
    from promptlab import Lab


FEEDBACK_COLUMNS = ("votes_up", "votes_down", "correction", "n_comments")
"""The trials frame's feedback columns (current votes, as ``promptlab.feedback.current_votes`` counts them)."""


def feedback_state(votes_up: int, votes_down: int, correction: str | None, n_comments: int) -> str:
    """One line saying what people recorded: ``▲ 2 ▼ 1 · corrected · 1 comment``."""
    parts = [f"▲ {int(votes_up)} ▼ {int(votes_down)}"]
    if correction:
        parts.append("corrected")
    if n_comments:
        parts.append(f"{int(n_comments)} comment{'s' if n_comments != 1 else ''}")
    return " · ".join(parts)


def feedback_totals(rows: pd.DataFrame) -> dict[str, Any]:
    """Votes each way, the latest correction and the comment count of ``lab.feedback_for`` rows."""
    if rows.empty:
        return {"votes_up": 0, "votes_down": 0, "correction": None, "n_comments": 0}
    votes = current_votes(rows)["vote"]
    corrections = rows["correction"].dropna()
    return {
        "votes_up": int((votes > 0).sum()),
        "votes_down": int((votes < 0).sum()),
        "correction": str(corrections.iloc[-1]) if len(corrections) else None,
        "n_comments": int(rows["comment"].notna().sum()),
    }


def _value(trial: Mapping[str, Any], key: str) -> Any:
    value = trial.get(key)
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def remember_totals(trials: pd.DataFrame, trial_id: str, totals: Mapping[str, Any]) -> None:
    """Write a trial's feedback ``totals`` into its row of ``trials`` (in place), so
    widgets drawn from that frame again show what was just recorded."""
    if "trial_id" not in trials.columns:
        return
    rows = trials.index[trials["trial_id"] == trial_id]
    for column, value in totals.items():
        if column in trials.columns:
            if isinstance(value, str) and trials[column].dtype != object:
                trials[column] = trials[column].astype(object)  # a first correction in an all-empty column
            trials.loc[rows, column] = value


def trial_totals(trial: Mapping[str, Any]) -> dict[str, Any]:
    """The feedback totals a trials DataFrame row already carries."""
    counts = {k: int(_value(trial, k) or 0) for k in ("votes_up", "votes_down", "n_comments")}
    return {**counts, "correction": _value(trial, "correction")}


class FeedbackBar(widgets.VBox):
    """Thumbs up, down and "correct" for one trial, and what is recorded; "correct" opens
    a correction and comment editor.

    Errors from the library show in red in place of the recorded state.
    ``on_change(trial_id, totals)`` hears what the history holds after each
    recorded verdict, so a grid or a review keeps its trials up to date.
    """

    def __init__(
        self,
        lab: Lab,
        trial: Mapping[str, Any],
        *,
        leading: Sequence[widgets.Widget] = (),
        on_change: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.lab = lab
        self.on_change = on_change
        self.trial_id = str(trial["trial_id"])
        self.output_text = str(_value(trial, "output") or "")
        self.totals = trial_totals(trial)
        self.up = button("up", "thumbs up: a good output", icon="thumbs-up")
        self.down = button("down", "thumbs down: a bad output", icon="thumbs-down")
        self.edit = widgets.ToggleButton(
            description="correct",
            icon="pencil",
            tooltip="correct the output or leave a comment",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
        )
        self.state = widgets.HTML()
        self.editor: widgets.VBox | None = None
        self.correction: widgets.Textarea | None = None
        self.comment: widgets.Text | None = None
        self.up.on_click(lambda _: self.vote(1))
        self.down.on_click(lambda _: self.vote(-1))
        self.edit.observe(lambda change: self.show_editor(change["new"]), "value")
        self.controls = widgets.HBox([*leading, self.up, self.down, self.edit, self.state])
        self._show_state()
        super().__init__([self.controls])

    @property
    def error(self) -> str | None:
        """The last error shown, if the last action failed."""
        return self._error

    def _show_state(self, error: PromptlabError | str | None = None) -> None:
        self._error = None if error is None else str(error)
        if self._error:
            self.state.value = error_html(self._error)
        else:
            text = escape(feedback_state(**self.totals))
            self.state.value = f'<span style="font-size:12px" title="recorded feedback">{text}</span>'

    def show_totals(self, totals: Mapping[str, Any]) -> None:
        """Show these feedback totals (read elsewhere: the trial's row in a fresh frame)."""
        self.totals = {**self.totals, **totals}
        self._show_state()

    def refresh(self) -> None:
        """Read the trial's feedback again and show it."""
        try:
            self.totals = feedback_totals(self.lab.feedback_for(self.trial_id))
        except PromptlabError as exc:
            self._show_state(exc)
            return
        self._show_state()

    def _record(self, **verdict: Any) -> bool:
        try:
            self.lab.feedback(self.trial_id, **verdict)
        except PromptlabError as exc:
            self._show_state(exc)
            return False
        self.refresh()
        if self.on_change is not None and self._error is None:
            self.on_change(self.trial_id, dict(self.totals))
        return True

    def vote(self, vote: int) -> bool:
        """Record a thumbs up (1) or down (-1); True when recorded."""
        return self._record(vote=1 if vote > 0 else -1)

    def show_editor(self, show: bool = True) -> None:
        """Show (or hide) the correction and comment editor."""
        if show and self.editor is None:
            self.correction = widgets.Textarea(
                value=self.totals.get("correction") or self.output_text,
                placeholder="the output as it should have been",
                layout=widgets.Layout(width="100%", height="80px"),
            )
            self.comment = widgets.Text(placeholder="comment (optional)", layout=widgets.Layout(width="100%"))
            save = button("Save", "record the correction and/or comment", style="primary")
            save.on_click(lambda _: self.save_editor())
            self.editor = widgets.VBox([self.correction, self.comment, save])
        self.edit.value = show
        self.children = [self.controls, self.editor] if show and self.editor is not None else [self.controls]

    def save_editor(self) -> bool:
        """Record what the editor holds: the correction if it changed, the comment if any."""
        if self.correction is None or self.comment is None:
            self.show_editor()
        assert self.correction is not None and self.comment is not None
        corrected = self.correction.value
        unchanged = (self.totals.get("correction") or self.output_text, self.output_text)
        correction = corrected if corrected.strip() and corrected not in unchanged else None
        comment = self.comment.value if self.comment.value.strip() else None
        if correction is None and comment is None:
            self._show_state("nothing to save: edit the output or write a comment")
            return False
        if not self._record(correction=correction, comment=comment):
            return False
        self.comment.value = ""
        return True
