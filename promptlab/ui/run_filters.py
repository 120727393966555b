"""The history browser's filters: who ran it, experiment, tag, prompt, model,
status, when (a preset such as "last 7 days", or dates) and text in the
trials. They say what ``lab.runs(...)`` is asked, keep their choices when the
history is read again, and name themselves in one line under the filters, so
a selection shows even if a browser redraws a dropdown blank."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.ui.common import FITS, listed, present, set_options
from promptlab.ui.listing import experiment_choice

ANY = ""
"""A filter's value for "any": not None, since ipywidgets reads a value of None as no
choice at all and the browser then shows an empty box once "any" is picked again."""

PERIODS = [("any time", ANY), ("today", "today"), ("last 7 days", "7d"), ("last 30 days", "30d")]
"""The time presets: label and value."""

PERIOD_DAYS = {"7d": 7, "30d": 30}


def period_start(period: str, now: dt.datetime) -> dt.datetime | None:
    """When a time preset begins: ``today`` at midnight (UTC, as runs are shown),
    ``7d`` seven days before ``now``; None for any time."""
    if period == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = PERIOD_DAYS.get(period)
    return now - dt.timedelta(days=days) if days else None


def choices(values: Iterable[Any], anyone: str) -> list[tuple[str, str]]:
    """A filter's choices: "any" first, then each value once, sorted."""
    found = sorted({str(v) for v in values if present(v) and str(v) != ANY})
    return [(anyone, ANY), *((v, v) for v in found)]


def _dropdown(description: str, anyone: str, width: str = "250px") -> widgets.Dropdown:
    return widgets.Dropdown(
        description=description, options=[(anyone, ANY)], style=FITS, layout=widgets.Layout(width=width)
    )


class RunFilters(widgets.VBox):
    """The filters of the runs list; ``on_change()`` hears every change a person makes.

    ``actions`` (Refresh, auto-refresh) go at the end of the first row.
    """

    def __init__(self, on_change: Callable[[], None], actions: Sequence[widgets.Widget] = ()) -> None:
        self.search = widgets.Text(
            description="search",
            placeholder="text in inputs or outputs (Enter)",
            continuous_update=False,
            style=FITS,
            layout=widgets.Layout(width="380px"),
        )
        self.period = widgets.Dropdown(description="when", options=PERIODS, value=ANY, style=FITS)
        self.period.layout.width = "200px"
        self.user = _dropdown("user", "anyone")
        self.experiment = _dropdown("experiment", "any", width="300px")
        self.tag = _dropdown("tag", "any", width="200px")
        self.status = _dropdown("status", "any", width="200px")
        self.prompt = _dropdown("prompt", "any")
        self.model = _dropdown("model", "any")
        self.since = widgets.DatePicker(description="since", style=FITS, layout=widgets.Layout(width="230px"))
        self.until = widgets.DatePicker(description="until", style=FITS, layout=widgets.Layout(width="230px"))
        self.updating = False
        """True while the choices are set from the history (not a person's change)."""
        for control in self.controls:
            control.observe(lambda _: None if self.updating else on_change(), "value")
        super().__init__(
            [
                widgets.HBox([self.search, self.period, *actions]),
                widgets.HBox([self.user, self.experiment, self.tag, self.status]),
                widgets.HBox([self.prompt, self.model, self.since, self.until]),
            ]
        )

    @property
    def controls(self) -> tuple[widgets.Widget, ...]:
        """Every filter control."""
        dropdowns = (self.user, self.experiment, self.tag, self.prompt, self.model, self.status)
        return (self.search, self.period, *dropdowns, self.since, self.until)

    def runs_filter(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """The ``lab.runs(...)`` keyword arguments the filters describe (``status`` too).
        A preset and a "since" date both given: the later start wins."""
        starts = [period_start(self.period.value, now or dt.datetime.now(dt.UTC))]
        if self.since.value:
            starts.append(dt.datetime.combine(self.since.value, dt.time(), tzinfo=dt.UTC))
        since = max((start for start in starts if start is not None), default=None)
        until = self.until.value + dt.timedelta(days=1) if self.until.value else None  # through that whole day
        given = {
            "experiment": self.experiment.value or None,
            "user": self.user.value or None,
            "tag": self.tag.value or None,
            "prompt": self.prompt.value or None,
            "model": self.model.value or None,
            "status": self.status.value or None,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "search": self.search_text or None,
        }
        return {key: value for key, value in given.items() if value is not None}

    @property
    def search_text(self) -> str:
        """The text searched for ("" when none)."""
        return str(self.search.value).strip()

    def set_choices(
        self, runs: pd.DataFrame, experiments: pd.DataFrame, prompts: Iterable[Any], models: Iterable[Any]
    ) -> None:
        """Offer what the history holds (``lab.runs(totals=False)``, ``lab.experiments()``,
        prompt and model names), keeping each selection and showing it again."""
        records = experiments.to_dict("records")
        named = sorted((experiment_choice(e) for e in records), key=lambda choice: choice[1])
        tags = [tag for tags in experiments.get("tags", []) for tag in listed(tags)]
        self.updating = True
        try:
            self._offer(self.user, choices(runs.get("user", []), "anyone"))
            self._offer(self.experiment, [("any", ANY), *named])
            self._offer(self.tag, choices(tags, "any"))
            self._offer(self.prompt, choices(prompts, "any"))
            self._offer(self.model, choices(models, "any"))
            self._offer(self.status, choices(runs.get("status", []), "any"))
        finally:
            self.updating = False

    @staticmethod
    def _offer(control: widgets.Dropdown, options: list[tuple[str, str]]) -> None:
        if list(control.options) != options:
            set_options(control, options, keep=control.value)
        else:
            control.send_state("index")  # a front end that redrew the list shows the selection again
        # A filter with nothing to choose but "any" (no tags yet) is hidden until there is.
        control.layout.display = None if len(options) > 1 else "none"

    def summary(self) -> str:
        """The filters in effect in words: ``user kim · last 7 days · "kettle"`` ("" for none)."""
        picked = [
            f"{control.description} {control.value}"
            for control in (self.user, self.experiment, self.tag, self.prompt, self.model, self.status)
            if control.value
        ]
        if self.period.value:
            picked.append(str(self.period.label))
        picked += [f"{d.description} {d.value.isoformat()}" for d in (self.since, self.until) if d.value]
        if self.search_text:
            picked.append(f"“{self.search_text}”")
        return " · ".join(picked)
