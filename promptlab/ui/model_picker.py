"""Which models a sweep runs on: the embedded ones, any passed in, any used
before in this history that can run here, and any name typed in
(OpenAI-compatible, with an optional endpoint). Each shows its price per
million tokens; past the first few, a search finds the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.core.model import EMBEDDED_MODELS, Model
from promptlab.core.pricing import dollars
from promptlab.errors import ConfigError, PromptlabError
from promptlab.providers import registered_providers
from promptlab.ui.common import button, catching, error_label, replace_children, show_error

if TYPE_CHECKING:
    from promptlab import Lab

AUTO = "(from name)"

TEST_PROVIDERS = frozenset({"fake"})
"""Providers for tests and docs: their configs in a history are not offered again."""

RECENT_RUNS = 200
"""Runs read for the models they used (a page: only its trials are summed)."""

SHOWN = 8
"""Model choices listed before "show all" (ticked ones are always listed)."""


def price_text(model: Model) -> str:
    """``$0.15 / $0.60 per 1M tokens`` (input / output), ``free``, or ``price unknown``."""
    price = model.price
    if price is None:
        return "price unknown"
    if price.input == price.output == 0:
        return "free"
    return f"{_per_million(price.input)} / {_per_million(price.output)} per 1M tokens"


def _per_million(usd: float) -> str:
    # in cents, as price lists show them ($0.50, not $0.5), unless that would round it
    return f"${usd:,.2f}" if round(usd, 2) == usd else dollars(usd)


def model_description(model: Model) -> str:
    """``gpt-4o-mini (temperature=0) · openai @ http://localhost:11434/v1 · $0.15 / $0.60 per 1M tokens``."""
    where = f" @ {model.base_url}" if model.base_url else ""
    return f"{model.label} · {model.provider}{where} · {price_text(model)}"


def runs_here(model: Model) -> bool:
    """Whether a config read from a history can be offered: its provider is
    known in this kernel and is not one for tests (``TEST_PROVIDERS``)."""
    return model.provider not in TEST_PROVIDERS and model.provider in registered_providers()


def models_used(lab: Lab, limit: int = 100) -> list[Model]:
    """Model configs of the latest runs in the history that can run here, newest first (at most ``limit``)."""
    found: dict[Model, None] = {}
    try:
        configs = lab.runs(limit=RECENT_RUNS)["config"]
    except PromptlabError:
        return []
    for config in configs:
        for described in (config or {}).get("models", []):
            try:
                model = Model.from_dict(described)
            except (PromptlabError, KeyError, TypeError):
                continue  # written by another version: skip rather than fail the builder
            if runs_here(model):
                found.setdefault(model, None)
            if len(found) >= limit:
                return list(found)
    return list(found)


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
        self.search = widgets.Text(placeholder="search models", layout=widgets.Layout(width="220px"))
        self.search.observe(lambda _: self.show_choices(), "value")
        self.expanded = False
        self.more = button("show all", "list every model offered")
        self.more.on_click(lambda _: self.show_all())
        self.finder = widgets.HBox([self.search, self.more])
        self.error = error_label()
        self.add_error = error_label()
        for model, checked in models:
            self.add(model, checked=checked, notify=False)
        self.show_choices()
        super().__init__(
            [
                self.finder,
                self.choices,
                self.error,
                widgets.HBox([self.name, self.base_url, self.provider, self.add_button, self.add_error]),
            ]
        )

    def _changed(self, _: Any = None) -> None:
        self.show_choices()
        if self.on_change is not None:
            self.on_change()

    def show_choices(self) -> None:
        """List the ticked models, then the first ``SHOWN`` others (all of them once
        "show all" is pressed) that match the search."""
        choices = self._choices()
        query = self.search.value.strip().casefold()
        matching = [c for c in choices if query in model_description(c.model).casefold()]
        listed = matching if self.expanded or query else matching[:SHOWN]
        shown = {id(c) for c in listed} | {id(c) for c in choices if c.checkbox.value}
        for choice in choices:
            choice.layout.display = None if id(choice) in shown else "none"
        self.more.description = f"show all {len(choices)}"
        self.more.layout.display = None if len(shown) < len(choices) and not query else "none"
        self.finder.layout.display = None if len(choices) > SHOWN else "none"

    def show_all(self) -> None:
        """List every model offered."""
        self.expanded = True
        self.show_choices()

    def shown(self) -> list[Model]:
        """The models listed now (the others are hidden by the search or the "show all" cap)."""
        return [c.model for c in self._choices() if c.layout.display != "none"]

    def offered(self) -> list[Model]:
        """Every model offered, ticked or not, listed or not."""
        return [c.model for c in self._choices()]

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
        """Tick exactly ``models`` (offering those not offered yet), listed first in their order."""
        for choice in self._choices():
            choice.checkbox.value = False
        chosen = [self.add(model, notify=False) for model in models]
        self.choices.children = [*dict.fromkeys(chosen), *(c for c in self._choices() if c not in chosen)]
        self._changed()

    def check(self, *, show: bool = True) -> str | None:
        """What is wrong with the choice (shown beside it unless ``show=False``), or None."""
        problem = None if self.selected() else "pick at least one model"
        show_error(self.error, problem if show else None)
        return problem


def offered_models(extra: Sequence[Model] = (), used: Sequence[Model] = ()) -> list[tuple[Model, bool]]:
    """The models a builder offers: ``extra`` (ticked, whatever their provider), the
    embedded ones, then ones used before (``models_used`` keeps those that run here)."""
    offered: dict[Model, bool] = dict.fromkeys(extra, True)
    for name in EMBEDDED_MODELS:
        offered.setdefault(Model(name), False)
    for model in used:
        offered.setdefault(model, False)
    return list(offered.items())
