"""Which evaluators score a sweep: rows of a registered evaluator and its
arguments (fields made from the factory's signature, ``evaluator_arguments.py``),
the data's columns offered for column arguments and the builder's models for a
judge's. With no row the sweep is recorded unscored, and the picker says so."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab import evals
from promptlab.core.model import Model
from promptlab.errors import ConfigError, PromptlabError
from promptlab.evals import Evaluator
from promptlab.ui.common import FITS, button, error_label, muted, replace_children, show_error
from promptlab.ui.evaluator_arguments import (
    PLACEHOLDERS,
    Argument,
    factory_arguments,
    format_argument,
    offered_evaluators,
    parse_argument,
)
from promptlab.ui.model_picker import model_description

DEFAULT_EVALUATOR = "contains"


class ArgumentField:
    """The control for one argument: read, set, and kept up to date with the data and models.
    ``on_change`` hears what the user changes, not what ``offer`` does."""

    def __init__(self, argument: Argument, on_change: Callable[[], None]) -> None:
        self.argument = argument
        self.on_change = on_change
        self._offering = False
        kind, name = argument.kind, argument.name
        shown = None if argument.required else argument.default
        self.control: widgets.ValueWidget
        if kind == "flag":
            self.control = widgets.Checkbox(value=bool(shown), description=name, indent=False)
            self.control.layout.width = "auto"
        elif kind == "model":
            self.control = widgets.Dropdown(description=name, options=[], style=FITS)
        elif kind == "column":
            self.control = widgets.Combobox(
                value=format_argument(argument, shown), description=name, placeholder="a column", style=FITS
            )
            self.control.layout.width = "220px"
        else:
            wide = name in ("rubric", "pattern", "schema", "function")
            placeholder = PLACEHOLDERS.get(kind, "required" if argument.required else "")
            self.control = widgets.Text(
                value=format_argument(argument, shown), description=name, placeholder=placeholder, style=FITS
            )
            self.control.layout.width = "420px" if wide else "220px"
        self.control.observe(self._changed, "value")

    def _changed(self, _: Any) -> None:
        if not self._offering:
            self.on_change()

    def value(self) -> Any:
        """The argument's value (raises ConfigError naming it)."""
        if self.argument.kind == "flag":
            return bool(self.control.value)
        if self.argument.kind == "model":
            if self.control.value is None:
                raise ConfigError(f"{self.argument.name}: pick the model that answers (tick or add one above)")
            return self.control.value
        return parse_argument(self.argument, str(self.control.value))

    def set_value(self, value: Any) -> None:
        """Show ``value`` (a recorded judge's model may be given as its dict)."""
        if self.argument.kind == "flag":
            self.control.value = bool(value)
        elif self.argument.kind == "model":
            model = Model.from_dict(value) if isinstance(value, Mapping) else value
            self.offer([model])
            self.control.value = model
        else:
            self.control.value = format_argument(self.argument, value)

    def offer(self, models: Sequence[Model] = (), columns: Sequence[str] | None = None) -> None:
        """Offer ``columns`` (for a column) or ``models`` (for a model), keeping what is picked."""
        if self.argument.kind == "column" and columns is not None:
            self.control.options = tuple(columns)
        elif self.argument.kind == "model" and models:
            picked = self.control.value
            offered = list(dict.fromkeys([*models, *([picked] if picked is not None else [])]))
            options = [(model_description(m), m) for m in offered]
            if options != list(self.control.options):
                self._offering = True  # new options are no edit of the user's
                try:
                    self.control.options = options
                    self.control.value = picked if picked is not None else offered[0]
                finally:
                    self._offering = False


class EvaluatorRow(widgets.VBox):
    """One evaluator: which one, its arguments, and what is wrong with them."""

    def __init__(self, name: str, on_change: Callable[[], None], on_remove: Callable[[EvaluatorRow], None]) -> None:
        self.on_change = on_change
        self.label: str | None = None
        """A restored evaluator's recorded label, kept until its arguments change."""
        self.name = widgets.Dropdown(options=offered_evaluators(), value=name, layout=widgets.Layout(width="150px"))
        self.fields: list[ArgumentField] = []
        self.arguments = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        self.remove = button("×", "don't score with this evaluator", width="32px")
        self.remove.on_click(lambda _: on_remove(self))
        self.error = error_label()
        self.name.observe(self._name_changed, "value")
        self._make_fields()
        super().__init__([widgets.HBox([self.name, self.arguments, self.remove]), self.error])

    def _make_fields(self) -> None:
        self.fields = [ArgumentField(argument, self._changed) for argument in factory_arguments(str(self.name.value))]
        replace_children(self.arguments, [field.control for field in self.fields])

    def _name_changed(self, _: Any) -> None:
        self._make_fields()
        self._changed()

    def _changed(self) -> None:
        self.label = None
        self.on_change()

    def set_arguments(self, args: Mapping[str, Any], label: str | None = None) -> None:
        """Fill the fields from recorded ``args``; ``label`` is kept while they stay as they are."""
        for field in self.fields:
            if field.argument.name in args:
                field.set_value(args[field.argument.name])
        self.label = label

    def evaluator(self) -> Evaluator:
        """The evaluator these fields describe (raises ConfigError)."""
        name = str(self.name.value)
        kwargs = {field.argument.name: field.value() for field in self.fields}
        try:
            made = evals.REGISTRY[name](**kwargs, label=self.label)
        except (TypeError, ValueError) as exc:  # a team's own factory may refuse arguments its own way
            raise ConfigError(f"{name} refused these arguments: {exc}") from None
        if not isinstance(made, Evaluator):
            raise ConfigError(f"{name} makes no evaluator of single trials; pick another")
        return made


class EvaluatorPicker(widgets.VBox):
    """The evaluators scoring every trial of the sweep, as rows to add and remove."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.on_change = on_change
        self.rows = widgets.VBox(layout=widgets.Layout(width="100%"))
        self.add_button = button("+ evaluator", "score every trial with a registered evaluator")
        self.add_button.on_click(lambda _: self.add())
        self.hint = widgets.HTML()
        self.error = error_label()
        self.columns: list[str] | None = None
        self.models: list[Model] = []
        super().__init__([self.rows, widgets.HBox([self.add_button, self.hint]), self.error])
        self._show_hint()

    def _changed(self) -> None:
        self._show_hint()
        if self.on_change is not None:
            self.on_change()

    def _show_hint(self) -> None:
        self.hint.value = "" if self.rows.children else muted("none: the sweep's trials will be unscored")

    def _rows(self) -> list[EvaluatorRow]:
        return list(self.rows.children)

    def add(self, name: str | None = None, *, notify: bool = True) -> EvaluatorRow:
        """Add an evaluator row (``contains`` unless ``name`` is given)."""
        offered = offered_evaluators()
        row = EvaluatorRow(
            name or (DEFAULT_EVALUATOR if DEFAULT_EVALUATOR in offered else offered[0]), self._changed, self._remove
        )
        self.rows.children = [*self.rows.children, row]
        self._offer(row)
        if notify:
            self._changed()
        return row

    def _remove(self, row: EvaluatorRow) -> None:
        replace_children(self.rows, [r for r in self._rows() if r is not row])
        self._changed()

    def _offer(self, row: EvaluatorRow) -> None:
        for field in row.fields:
            field.offer(self.models, self.columns)

    def offer(self, columns: Sequence[str] | None, models: Sequence[Model]) -> None:
        """Offer the data's ``columns`` and the builder's ``models`` to every row's fields."""
        self.columns, self.models = (None if columns is None else list(columns)), list(models)
        for row in self._rows():
            self._offer(row)

    def set_evaluators(self, evaluators: Sequence[Evaluator]) -> None:
        """Show exactly ``evaluators`` (e.g. a recorded run's), with their arguments and labels."""
        replace_children(self.rows, [])
        for evaluator in evaluators:
            recorded = evals.spec(evaluator)
            if recorded["name"] in offered_evaluators():
                self.add(recorded["name"], notify=False).set_arguments(recorded["args"], recorded["label"])
        self._changed()

    def evaluators(self) -> list[Evaluator]:
        """The evaluators picked, in order (raises ConfigError naming the row)."""
        made = []
        for i, row in enumerate(self._rows(), start=1):
            try:
                made.append(row.evaluator())
            except PromptlabError as exc:
                raise ConfigError(f"evaluator {i} ({row.name.value}): {exc}") from None
        return evals.coerce(made)

    def check(self, columns: Sequence[str] | None, *, show: bool = True) -> str | None:
        """What is wrong with the evaluators given the data's ``columns`` (None: unknown),
        shown beside each row (or under them all) unless ``show=False``; None when nothing is."""
        problems = [self._problem(row, columns) for row in self._rows()]
        for row, problem in zip(self._rows(), problems, strict=True):
            show_error(row.error, problem if show else None)
        together = None
        if not any(problems):
            try:
                self.evaluators()
            except ConfigError as exc:  # e.g. two rows scoring under one label
                together = str(exc)
        show_error(self.error, together if show else None)
        return next((p for p in problems if p), together)

    @staticmethod
    def _problem(row: EvaluatorRow, columns: Sequence[str] | None) -> str | None:
        try:
            evaluator = row.evaluator()
        except PromptlabError as exc:
            return str(exc)
        missing = sorted(evaluator.required_columns() - set(columns)) if columns is not None else []
        if missing:
            have = ", ".join(columns or []) or "none"
            return f"{missing[0]!r} is not a column of the data (columns: {have}); pick one"
        return None
