"""The Monitor view: a prompt's production calls per period, label and
version, as a table and a plot, and two versions or labels compared. A thin
adapter over ``lab.monitor`` (and ``Monitor.compare``): pick a prompt that
applications logged calls for, a period and optionally a label, press Show."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.lab_monitor import EVERY
from promptlab.ui.common import FITS, button, catching, error_label, escape, muted, set_options

if TYPE_CHECKING:
    from promptlab import Lab, Monitor

ALL_LABELS = "(every label)"


class MonitorView(widgets.VBox):
    """Production metrics of one prompt: ``name``, ``every`` and ``label``
    choose, Show reads (``lab.monitor``) into ``table`` and ``plot``; A, B and
    Compare put ``Monitor.compare`` in words into ``verdict``."""

    def __init__(self, lab: Lab, *, listed: bool = True) -> None:
        """``listed=False``: list the prompts only on ``refresh()`` (the app does when its tab opens)."""
        self.lab = lab
        self.monitor: Monitor | None = None
        """What Show read last."""
        self.name = widgets.Dropdown(description="prompt", options=[], style=FITS)
        self.every = widgets.Dropdown(description="per", options=list(EVERY), value="day", style=FITS)
        self.label = widgets.Dropdown(description="label", options=[ALL_LABELS], style=FITS)
        self.refresh_button = button("↻", "list the prompts applications logged calls for again")
        self.show_button = button("Show", "read this prompt's production metrics", style="primary")
        self.headline = widgets.HTML()
        self.table = widgets.HTML()
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="900px"))
        self.a = widgets.Dropdown(description="A", options=[], style=FITS)
        self.b = widgets.Dropdown(description="B", options=[], style=FITS)
        self.compare_button = button("Compare", "compare B with A on their production calls (unpaired tests)")
        self.verdict = widgets.HTML()
        self.error = error_label()
        self.refresh_button.on_click(lambda _: self.refresh())
        self.show_button.on_click(lambda _: self.show())
        self.compare_button.on_click(lambda _: self.compare())
        controls = widgets.HBox([self.name, self.refresh_button, self.every, self.label, self.show_button])
        comparing = widgets.HBox([self.a, self.b, self.compare_button])
        super().__init__([controls, self.error, self.headline, self.table, self.plot, comparing, self.verdict])
        if listed:
            self.refresh()

    def refresh(self) -> None:
        """List the prompts with production calls again (most recently called first)."""
        names = catching(self.error, self.lab.production_prompts)
        if names is None:
            return
        set_options(self.name, [str(name) for name in names["prompt_name"]], keep=self.name.value)
        if not len(names):
            self.headline.value = muted("no production calls yet: applications log them with pl.logger(db)")

    def show(self) -> None:
        """Read the chosen prompt's metrics and show them (``lab.monitor``)."""
        if not self.name.value:
            self.headline.value = muted("no prompt chosen")
            return
        label = None if self.label.value in (ALL_LABELS, None) else self.label.value
        found = catching(self.error, lambda: self.lab.monitor(self.name.value, every=self.every.value, label=label))
        if found is None:
            return
        self.monitor = found
        self.headline.value = f"<b>{escape(str(found).splitlines()[0])}</b>"
        self.table.value = found.df.to_html(index=False, max_rows=60, float_format=lambda v: f"{v:.4g}")
        image = io.BytesIO()
        found.plot().savefig(image, format="png", dpi=80)
        self.plot.value = image.getvalue()
        if label is None:  # the labels this prompt was served by, to narrow the next Show
            set_options(self.label, [ALL_LABELS, *(x for x in found.labels if x)], keep=self.label.value)
        sides = [*(x for x in found.labels if x), *(str(v)[:12] for v in found.versions)]
        set_options(self.a, sides, keep=self.a.value)
        set_options(self.b, sides, keep=self.b.value if self.b.value else sides[-1] if sides else None)
        self.verdict.value = ""

    def compare(self) -> None:
        """B against A (``Monitor.compare``), in words."""
        if self.monitor is None:
            self.show()
        monitor = self.monitor
        if monitor is None or not self.a.value or not self.b.value:
            return
        compared = catching(self.error, lambda: monitor.compare(self.a.value, self.b.value))
        if compared is not None:
            self.verdict.value = compared._repr_html_()


def monitor(lab: Lab | None = None) -> MonitorView:
    """The Monitor view alone (``lab`` defaults to ``pl.Lab()``)."""
    if lab is None:
        from promptlab import Lab

        lab = Lab()
    return MonitorView(lab)
