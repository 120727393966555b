"""The parameter grid of a sweep as fields: temperature, max tokens and seed,
each a comma-separated list of values (one run each), and any other parameter
as ``name=v1, v2; name=v``. Parsing lives in ``arguments.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.errors import ConfigError
from promptlab.ui.arguments import format_param_grid, format_values, parse_param_grid, parse_values
from promptlab.ui.common import FITS, error_label, show_error

NAMED = (("temperature", float), ("max_tokens", int), ("seed", int))
"""The parameters with a field of their own, and their kind of value."""


class ParamFields(widgets.VBox):
    """A field per named parameter, one for the others, and what is wrong with them."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.on_change = on_change
        self.temperature = widgets.Text(description="temperature", placeholder="e.g. 0, 0.7 (one run each)", style=FITS)
        self.max_tokens = widgets.Text(description="max tokens", placeholder="e.g. 256", style=FITS)
        self.seed = widgets.Text(description="seed", placeholder="e.g. 1", style=FITS)
        self.other = widgets.Text(description="other", placeholder="e.g. top_p=0.9, 1; stop='###'", style=FITS)
        self.error = error_label()
        for field in (self.temperature, self.max_tokens, self.seed, self.other):
            field.observe(self._changed, "value")
        super().__init__(
            [widgets.HBox([self.temperature, self.max_tokens]), widgets.HBox([self.seed, self.other]), self.error]
        )

    def _changed(self, _: Any) -> None:
        if self.on_change is not None:
            self.on_change()

    def params(self) -> dict[str, list[Any]]:
        """The parameter grid typed in (raises ConfigError naming the field)."""
        grid: dict[str, list[Any]] = {}
        for key, kind in NAMED:
            values = parse_values(getattr(self, key).value, key.replace("_", " "), kind)
            if values:
                grid[key] = values
        grid.update(parse_param_grid(self.other.value))
        return grid

    def set_params(self, grid: Mapping[str, Any]) -> None:
        """Show ``grid`` (a value that is no list is one value)."""
        lists = {key: list(v) if isinstance(v, (list, tuple)) else [v] for key, v in grid.items()}
        for key, _ in NAMED:
            getattr(self, key).value = format_values(lists.pop(key, []))
        self.other.value = format_param_grid(lists)

    def check(self, *, show: bool = True) -> str | None:
        """What is wrong with the values (shown under them unless ``show=False``), or None."""
        try:
            self.params()
        except ConfigError as exc:
            show_error(self.error, exc if show else None)
            return str(exc)
        show_error(self.error, None)
        return None
