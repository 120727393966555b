"""Moving a label from the Registry: a label, an approver the policy offers,
a note, and Promote or Roll back, each confirmed before it happens
(``production: v3 · 6e1f31c2 → v2 · 1828dd5e``, then Confirm).

The moves are ``lab.promote`` and ``lab.rollback``, and the library enforces
the policy. The approvers offered are ``lab.approvers``: the policy's, minus
the person moving the label and the version's author, so whoever is chosen
may approve. The library words its refusals for code (``pass approved_by=``);
this view says the same thing to a person, without changing the library's
message."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.errors import PolicyError, PromptlabError
from promptlab.ui.common import FITS, catching, escape, set_options, show_error, version_tag

if TYPE_CHECKING:
    from promptlab import Lab


NO_APPROVER = ""
"""The approver list's value for "nobody chosen"."""


def needs_approver(label: str, approvers: Sequence[str]) -> str:
    """``production is protected: choose an approver (lee)``: what a protected
    move without an approver says to a person."""
    if approvers:
        return f"{label} is protected: choose an approver ({', '.join(approvers)})"
    return (
        f"{label} is protected, and the policy names no approver who is neither you nor this version's author: "
        "ask someone else to move it, or add an approver to [labels] approvers in promptlab.toml"
    )


def refusal_text(error: PolicyError, label: str, approver: str, approvers: Sequence[str], protected: bool) -> str:
    """A refused move, said to a person: the library's message, except the one
    that tells code to ``pass approved_by=``."""
    if protected and not approver:
        return needs_approver(label, approvers)
    return str(error)


class LabelMover(widgets.VBox):
    """Label, approver and note; Promote and Roll back, each confirmed first.

    ``name`` and ``version`` are the Registry's own lists: the move is of that
    prompt's label, to that version. A confirmation waiting is dropped as soon
    as any of them changes, so what is confirmed is what was shown."""

    def __init__(
        self,
        lab: Lab,
        name: widgets.Dropdown,
        version: widgets.Dropdown,
        message: widgets.HTML,
        moved: Callable[[], None],
    ) -> None:
        self.lab, self.name, self.version, self.message, self.moved = lab, name, version, message, moved
        self.numbers: Mapping[str, int] = {}
        self.pending: str | None = None
        self.label = widgets.Text(value="production", description="label", layout={"width": "260px"}, style=FITS)
        self.approver = widgets.Dropdown(
            description="approved by", options=[("—", NO_APPROVER)], layout={"width": "300px"}, style=FITS
        )
        self.note = widgets.Text(description="note", layout={"width": "520px"}, style=FITS)
        self.promote_button = widgets.Button(description="Promote", button_style="primary", icon="arrow-up")
        self.rollback_button = widgets.Button(description="Roll back", icon="undo")
        self.approve_button = widgets.Button(
            description="Approve (as me)",
            icon="check-circle",
            tooltip="on a team server: approve moving this label to this version, so someone else may promote it",
        )
        self.approve_button.on_click(lambda _: self.approve())
        self.approve_button.layout.display = None if catching(message, lab.may_approve) else "none"
        self.confirmation = widgets.HTML()
        self.confirm_button = widgets.Button(description="Confirm", button_style="warning", icon="check")
        self.cancel_button = widgets.Button(description="Cancel")
        self.confirm_row = widgets.HBox([self.confirmation, self.confirm_button, self.cancel_button])
        self.promote_button.on_click(lambda _: self.ask("promote"))
        self.rollback_button.on_click(lambda _: self.ask("rollback"))
        self.confirm_button.on_click(lambda _: self.confirm())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.label.observe(lambda _: self.offer_approvers(), names="value")
        self.version.observe(lambda _: self.offer_approvers(), names="value")
        for control in (self.name, self.approver, self.note):
            control.observe(lambda _: self.cancel(), names="value")
        super().__init__(
            [
                widgets.HBox([self.label, self.approver]),
                widgets.HBox([self.note]),
                widgets.HBox([self.promote_button, self.rollback_button, self.approve_button]),
                self.confirm_row,
            ]
        )
        self.cancel()

    def show(self, numbers: Mapping[str, int]) -> None:
        """The prompt shown changed: its versions' ``numbers``, approvers for the version chosen."""
        self.numbers = numbers
        self.offer_approvers()

    def offer_approvers(self) -> None:
        """List who may approve moving the label to the version chosen (and drop a waiting confirmation)."""
        self.cancel()
        name, version = self.name.value, self.version.value
        approvers = catching(self.message, lambda: self.lab.approvers(name, version)) if name and version else []
        protected = self._protected()
        blank = "choose an approver" if protected else "— (not needed)"
        options = [(blank, NO_APPROVER), *((a, a) for a in approvers or [])]
        set_options(self.approver, options, keep=self.approver.value)

    def approve(self) -> None:
        """Record your approval of moving the label to the version shown (team server)."""
        self.cancel()
        name, version, label = self.name.value, self.version.value, self.label.value.strip()
        if not (name and version and label):
            return
        note = self.note.value.strip() or None
        if catching(self.message, lambda: self.lab.approve_promotion(name, version, label, note=note)) is not None:
            self.message.value = (
                f"<b>approved</b>: {escape(label)} of {escape(name)} → {escape(self._tag(version))}; someone else, "
                "who didn't write it, may now promote it with you as the approver"
            )

    def _protected(self) -> bool:
        protected = catching(self.message, self.lab.protected_labels)
        return protected is not None and self.label.value.strip() in protected

    def _tag(self, version: str | None) -> str:
        return "new" if version is None else version_tag(version, self.numbers.get(version))

    def _target(self, action: str) -> str | None:
        """The version ``action`` would move the label to (None, with a message, when there is none)."""
        if action == "promote":
            return str(self.version.value) if self.version.value else None
        name, label = self.name.value, self.label.value.strip()
        found = catching(self.message, lambda: self.lab.previous_version(name, label))
        return None if found is None else str(found)

    def ask(self, action: str) -> None:
        """Show the move ``action`` would make and wait for Confirm; a protected
        label without an approver is refused here, before anything is asked."""
        self.cancel()
        show_error(self.message, None)
        name, label = self.name.value, self.label.value.strip()
        if not (name and label):
            show_error(self.message, "choose a prompt and name a label, such as production or staging")
            return
        if self._protected() and not self.approver.value:
            offered = [value for _, value in self.approver.options if value]
            show_error(self.message, needs_approver(label, offered))
            return
        target = self._target(action)
        if target is None:
            return
        current = self.lab.labels(name)
        current = current.loc[current["label"] == label, "version"]
        before = str(current.iloc[0]) if len(current) else None
        self.confirmation.value = self._confirmation_html(label, before, target, action)
        self.pending = action
        self.confirm_row.layout.display = "flex"

    def _confirmation_html(self, label: str, before: str | None, target: str, action: str) -> str:
        approver = f", approved by {self.approver.value}" if self.approver.value else ""
        same = " (it points there already)" if before == target else ""
        verb = "roll back" if action == "rollback" else "move"
        return (
            f"<b>{escape(verb)} {escape(label)}: {escape(self._tag(before))} → {escape(self._tag(target))}</b>"
            f"{escape(same + approver)}?"
        )

    def cancel(self) -> None:
        """Drop a waiting confirmation."""
        self.pending = None
        self.confirmation.value = ""
        self.confirm_row.layout.display = "none"

    def confirm(self) -> None:
        """Make the move waiting for confirmation."""
        action, self.pending = self.pending, None
        if action is None:
            return
        name, version, label = self.name.value, self.version.value, self.label.value.strip()
        approver, note = self.approver.value or None, self.note.value.strip() or None
        if action == "promote":
            event = self._moving(label, lambda: self.lab.promote(name, version, label, approved_by=approver, note=note))
        else:
            event = self._moving(label, lambda: self.lab.rollback(name, label, approved_by=approver, note=note))
        self.cancel()
        if event is None:
            return
        done = "rolled back to" if action == "rollback" else "→"
        self.approver.value, self.note.value = NO_APPROVER, ""  # an approval is for one move
        self.moved()
        self.message.value = f"✓ {escape(event['label'])} {done} {escape(self._tag(str(event['to_version'])))}"

    def _moving(self, label: str, move: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Run ``move``; a refusal is shown for a person instead of raised."""
        try:
            event = move()
        except PolicyError as exc:
            chosen = self.approver.value
            self.offer_approvers()  # the policy may have changed since they were listed
            offered = [value for _, value in self.approver.options if value]
            show_error(self.message, refusal_text(exc, label, chosen, offered, self._protected()))
            return None
        except PromptlabError as exc:
            show_error(self.message, exc)
            return None
        show_error(self.message, None)
        return event
