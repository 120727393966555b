"""The experiment a sweep records into, and its tags.

Tags belong to the experiment, not to a run, and a sweep adds to them
(``SweepOptions.tags``). So the field shows the experiment's tags as the
history has them: what the user types is added, what they delete is removed
(``remove_tags``), and a blank field leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab import SweepOptions
from promptlab.errors import ConfigError, PromptlabError
from promptlab.ui.common import FITS, listed

if TYPE_CHECKING:
    from promptlab import Lab


def parse_tags(text: str) -> list[str]:
    """``"news, draft,"`` → ``["news", "draft"]`` (each once, in order)."""
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


def experiment_tags(lab: Lab, name: str) -> list[str]:
    """The tags experiment ``name`` has in the history (none when it is new or can't be read)."""
    try:
        experiments = lab.experiments()
    except PromptlabError:
        return []
    mine = experiments[experiments["experiment"] == name]
    return listed(mine["tags"].iloc[0]) if len(mine) else []


def tag_options(typed: str, known: list[str]) -> SweepOptions:
    """The sweep's tag options for the ``typed`` text, given the experiment's ``known`` tags:
    blank changes nothing; otherwise the typed tags are added and the known ones
    deleted from the text are removed."""
    tags = parse_tags(typed)
    if not tags:
        return {"tags": None}
    removed = [tag for tag in known if tag not in tags]
    return {"tags": tags, "remove_tags": removed} if removed else {"tags": tags}


class ExperimentFields(widgets.HBox):
    """The experiment's name and its tags, filled in when the name is one the history has."""

    def __init__(self, lab: Lab, name: str = "playground", on_change: Callable[[], None] | None = None) -> None:
        self.lab = lab
        self.on_change = on_change
        self.known: list[str] = []
        """The experiment's tags in the history, as last filled in."""
        self.name = widgets.Text(
            value=name, description="experiment", continuous_update=False, style=FITS, layout={"width": "300px"}
        )
        self.tags = widgets.Text(
            description="tags",
            placeholder="comma-separated, e.g. summaries, draft (blank: leave them as they are)",
            style=FITS,
            layout={"width": "520px"},
        )
        self.fill_tags()
        self.name.observe(self._name_changed, "value")
        self.tags.observe(self._changed, "value")
        super().__init__([self.name, self.tags], layout={"flex_flow": "row wrap"})

    def _changed(self, _: Any = None) -> None:
        if self.on_change is not None:
            self.on_change()

    def _name_changed(self, _: Any) -> None:
        before = self.tags.value
        self.fill_tags()
        if self.tags.value == before:  # else the tags field has said so already
            self._changed()

    def fill_tags(self) -> None:
        """Show the named experiment's tags; tags the user typed for another are kept, added to them."""
        typed = parse_tags(self.tags.value)
        edited = typed != self.known
        self.known = experiment_tags(self.lab, self.name.value.strip())
        shown = list(dict.fromkeys([*self.known, *typed])) if edited else self.known
        self.tags.value = ", ".join(shown)

    def experiment(self) -> str:
        """The experiment's name (raises ConfigError when blank)."""
        name = self.name.value.strip()
        if not name:
            raise ConfigError("name the experiment, e.g. summaries")
        return name

    def options(self) -> SweepOptions:
        """``experiment``, ``tags`` and, when some were deleted, ``remove_tags``."""
        return {"experiment": self.experiment(), **tag_options(self.tags.value, self.known)}
