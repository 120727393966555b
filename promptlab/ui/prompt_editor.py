"""One prompt variant in the builder: its name and its messages, with the
template variables it uses and what is wrong with it shown beside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.grid import CONTEXT_VARIABLES
from promptlab.core.prompt import ROLES, Prompt
from promptlab.errors import ConfigError
from promptlab.ui.common import button, error_label, escape, muted, replace_children, show_error

PLACEHOLDERS = {
    "system": "system message (optional), e.g. You are a careful editor.",
    "user": "user message with {{ variables }}, e.g. Summarize in one sentence:\n{{ text }}",
    "assistant": "an example answer (few-shot)",
}


class MessageRow(widgets.HBox):
    """A role and its text."""

    def __init__(self, role: str, content: str = "", on_remove: Callable[[MessageRow], None] | None = None) -> None:
        self.role = widgets.Dropdown(options=list(ROLES), value=role, layout=widgets.Layout(width="105px"))
        self.content = widgets.Textarea(
            value=content, placeholder=PLACEHOLDERS.get(role, ""), layout=widgets.Layout(width="100%", height="70px")
        )
        self.remove = button("×", "remove this message", width="32px")
        if on_remove is not None:
            self.remove.on_click(lambda _: on_remove(self))
        super().__init__([self.role, self.content, self.remove], layout=widgets.Layout(width="100%"))


class PromptEditor(widgets.VBox):
    """Edits one ``Prompt``: a name and chat messages (system + user by default)."""

    def __init__(
        self,
        name: str = "",
        messages: Sequence[Mapping[str, str]] = ({"role": "system", "content": ""}, {"role": "user", "content": ""}),
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.on_change = on_change
        self.name = widgets.Text(
            value=name,
            description="name",
            placeholder="prompt name (versions group under it)",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="360px"),
        )
        self.commit_message = widgets.Text(
            description="what changed",
            placeholder="optional, like a commit message: shown beside the version's number",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="480px"),
        )
        self.duplicate = button("Duplicate", "add a copy of this variant to edit")
        self.remove = button("Remove", "drop this variant")
        self.add_message = button("+ message", "add a message (e.g. a few-shot example)")
        self.rows = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.variables = widgets.HTML()
        self.error = error_label()
        self.name.observe(self._changed, "value")
        self.add_message.on_click(lambda _: self._add_row("assistant" if self._last_role() == "user" else "user"))
        self.set_messages(messages)
        header = widgets.HBox([self.name, self.commit_message, self.duplicate, self.remove])
        super().__init__(
            [header, self.rows, widgets.HBox([self.add_message, self.variables]), self.error],
            layout=widgets.Layout(border="1px solid #ddd", padding="6px", margin="0 0 6px 0", width="100%"),
        )

    def _last_role(self) -> str:
        return str(self.rows.children[-1].role.value) if self.rows.children else "system"

    def _changed(self, _: Any = None) -> None:
        self.show_variables()
        if self.on_change is not None:
            self.on_change()

    def _add_row(self, role: str, content: str = "", *, notify: bool = True) -> MessageRow:
        row = MessageRow(role, content, on_remove=self._remove_row)
        row.role.observe(self._changed, "value")
        row.content.observe(self._changed, "value")
        self.rows.children = [*self.rows.children, row]
        if notify:
            self._changed()
        return row

    def _remove_row(self, row: MessageRow) -> None:
        replace_children(self.rows, [r for r in self.rows.children if r is not row])
        self._changed()

    def set_messages(self, messages: Sequence[Mapping[str, str]]) -> None:
        """Replace the messages (a text prompt is one user message)."""
        replace_children(self.rows, [])
        for message in messages:
            self._add_row(str(message.get("role", "user")), str(message.get("content", "")), notify=False)
        self._changed()

    def set_prompt(self, prompt: Prompt) -> None:
        """Show ``prompt`` (its name, what it changed and its messages)."""
        self.name.value = prompt.name
        self.commit_message.value = prompt.message or ""
        messages = [{"role": role, "content": content} for role, content in prompt.messages]
        if not prompt.is_chat:
            messages.insert(0, {"role": "system", "content": ""})
        self.set_messages(messages)

    def rows_as_typed(self) -> list[dict[str, str]]:
        """Every message row, empty ones included."""
        return [{"role": str(row.role.value), "content": str(row.content.value)} for row in self.rows.children]

    def messages(self) -> list[dict[str, str]]:
        """The messages that have text."""
        return [message for message in self.rows_as_typed() if message["content"].strip()]

    def prompt(self) -> Prompt:
        """The ``Prompt`` this editor describes; raises ConfigError/TemplateError when it can't be one."""
        messages = self.messages()
        if not messages:
            raise ConfigError("the prompt is empty: write a user message, e.g. Summarize: {{ text }}")
        if not any(m["role"] == "user" for m in messages):
            raise ConfigError("the prompt has no user message: add one (the model answers it)")
        name, note = self.name.value.strip() or None, self.commit_message.value
        if len(messages) == 1 and messages[0]["role"] == "user":
            return Prompt(messages[0]["content"], name=name, message=note)
        return Prompt(messages, name=name, message=note)

    def show_variables(self) -> None:
        """Show the ``{{ variables }}`` the messages use (as far as they parse)."""
        try:
            found = sorted(self.prompt().variables)
        except ConfigError:
            found = []
        names = ", ".join("{{ " + escape(v) + " }}" for v in found)
        self.variables.value = muted("variables: ") + (names or muted("none"))

    def check(self, columns: Sequence[str] | None, *, show: bool = True) -> str | None:
        """What is wrong with this variant given the data's ``columns`` (None: data unknown),
        shown beside it unless ``show=False``."""
        problem = None
        try:
            prompt = self.prompt()
        except ConfigError as exc:
            problem = str(exc)
        else:
            if columns is not None:
                missing = sorted(prompt.variables - set(columns))
                have = ", ".join(columns) or "no columns"
                if missing and set(missing) <= CONTEXT_VARIABLES:
                    problem = (
                        f"{{{{ {missing[0]} }}}} is what a retriever finds: add one under Retrieval "
                        "(or give the data a column of that name)"
                    )
                elif missing:
                    problem = (
                        f"{{{{ {missing[0]} }}}} is not a column of the data (columns: {have}); "
                        "fix the placeholder or pick other data"
                        if len(missing) == 1
                        else f"{', '.join(missing)} are not columns of the data (columns: {have})"
                    )
        show_error(self.error, problem if show else None)
        return problem
