"""Which models a sweep runs on: the embedded ones, any passed in, any used
before in this history, and any name typed in (OpenAI-compatible, with an
optional endpoint)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.model import EMBEDDED_MODELS, Model
from promptlab.errors import ConfigError
from promptlab.providers import registered_providers
from promptlab.ui.common import button, catching, error_label, replace_children, show_error

AUTO = "(from name)"


def model_description(model: Model) -> str:
    """``gpt-4o-mini (temperature=0) · openai @ http://localhost:11434/v1``."""
    where = f" @ {model.base_url}" if model.base_url else ""
    return f"{model.label} · {model.provider}{where}"


def model_from_fields(name: str, base_url: str = "", provider: str = AUTO) -> Model:
    """A ``Model`` from what was typed: a name, an optional endpoint and provider."""
    if not name.strip():
        raise ConfigError("type a model name first, e.g. gpt-4o-mini or llama3.2")
    return Model(name.strip(), base_url=base_url.strip() or None, provider=None if provider == AUTO else provider)


class ModelChoice(widgets.HBox):
    """A checkbox for one model config."""

    def __init__(self, model: Model, checked: bool, on_remove: Callable[[ModelChoice], None]) -> None:
        self.model = model
        self.checkbox = widgets.Checkbox(
            value=checked, description=model_description(model), indent=False, layout=widgets.Layout(width="auto")
        )
        self.remove = button("×", "forget this model", width="32px")
        self.remove.on_click(lambda _: on_remove(self))
        super().__init__([self.checkbox, self.remove])


class ModelPicker(widgets.VBox):
    """Checkboxes of model configs, and fields to add another."""

    def __init__(self, models: Iterable[tuple[Model, bool]] = (), on_change: Callable[[], None] | None = None) -> None:
        self.on_change = on_change
        self.choices = widgets.VBox()
        self.name = widgets.Text(placeholder="model name, e.g. gpt-4o-mini", layout=widgets.Layout(width="220px"))
        self.base_url = widgets.Text(
            placeholder="base_url (optional), e.g. http://localhost:11434/v1", layout=widgets.Layout(width="300px")
        )
        self.provider = widgets.Dropdown(
            options=[AUTO, *registered_providers()], value=AUTO, layout=widgets.Layout(width="130px")
        )
        self.add_button = button("Add model", "add this model and tick it")
        self.add_button.on_click(lambda _: self.add_from_fields())
        self.error = error_label()
        self.add_error = error_label()
        for model, checked in models:
            self.add(model, checked=checked, notify=False)
        super().__init__(
            [
                self.choices,
                self.error,
                widgets.HBox([self.name, self.base_url, self.provider, self.add_button, self.add_error]),
            ]
        )

    def _changed(self, _: Any = None) -> None:
        if self.on_change is not None:
            self.on_change()

    def _choices(self) -> list[ModelChoice]:
        return list(self.choices.children)

    def add(self, model: Model, *, checked: bool = True, notify: bool = True) -> ModelChoice:
        """Offer ``model`` (ticked unless ``checked=False``); an offered config is ticked again instead."""
        for choice in self._choices():
            if choice.model == model:
                choice.checkbox.value = choice.checkbox.value or checked
                return choice
        choice = ModelChoice(model, checked, self._remove)
        choice.checkbox.observe(self._changed, "value")
        self.choices.children = [*self.choices.children, choice]
        if notify:
            self._changed()
        return choice

    def _remove(self, choice: ModelChoice) -> None:
        replace_children(self.choices, [c for c in self._choices() if c is not choice])
        self._changed()

    def add_from_fields(self) -> Model | None:
        """Add the model typed in the fields (errors shown beside them)."""
        model = catching(
            self.add_error, lambda: model_from_fields(self.name.value, self.base_url.value, self.provider.value)
        )
        if model is not None:
            self.add(model)
            self.name.value = ""
        return model

    def selected(self) -> list[Model]:
        """The ticked models, in order."""
        return [c.model for c in self._choices() if c.checkbox.value]

    def select(self, models: Sequence[Model]) -> None:
        """Tick exactly ``models`` (offering those not offered yet)."""
        for choice in self._choices():
            choice.checkbox.value = False
        for model in models:
            self.add(model, notify=False)
        self._changed()

    def check(self) -> str | None:
        """What is wrong with the choice (shown beside it), or None."""
        problem = None if self.selected() else "pick at least one model"
        show_error(self.error, problem)
        return problem


def offered_models(extra: Sequence[Model] = (), used: Sequence[Model] = ()) -> list[tuple[Model, bool]]:
    """The models a builder offers: ``extra`` (ticked), the embedded ones, then ones used before."""
    offered: dict[Model, bool] = dict.fromkeys(extra, True)
    for name in EMBEDDED_MODELS:
        offered.setdefault(Model(name), False)
    for model in used:
        offered.setdefault(model, False)
    return list(offered.items())
