"""A prompt's two versions side by side (``lab.prompt_diff``): picking the two
(``VersionPair``, shared by the History and Registry views) and the diff as HTML."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import numpy as np
import pandas as pd

from promptlab.release.diff import PromptDiff
from promptlab.ui.common import catching, escape, muted, set_options, version_tag

if TYPE_CHECKING:
    from promptlab import Lab

_STYLE = """<style>
.pl-diff {max-width: 100%; overflow-x: auto}
.pl-diff table.diff {font-family: var(--jp-code-font-family, monospace); font-size: 12px; border-collapse: collapse}
.pl-diff td {padding: 0 4px; vertical-align: top}
.pl-diff .diff_header {color: #888; text-align: right}
.pl-diff .diff_next {display: none}
.pl-diff .diff_add {background: #c8f0c8}
.pl-diff .diff_chg {background: #f5eea0}
.pl-diff .diff_sub {background: #f5c0c0}
</style>"""


def _cell(column: str, value: object) -> str:
    """A score delta table's cell: numbers to three decimals (a mean is 0.455, not
    0.45454545454545453), the delta with its sign."""
    if isinstance(value, float | np.floating):
        return "—" if np.isnan(value) else f"{value:+.3f}" if column == "delta" else f"{value:.3f}"
    return escape(value)


def _scores_html(scores: pd.DataFrame) -> str:
    if scores.empty:
        return muted("no evaluator scored both versions on the same inputs")
    head = "".join(f'<th style="padding:1px 8px;text-align:left">{escape(c)}</th>' for c in scores.columns)
    rows = "".join(
        "<tr>"
        + "".join(f'<td style="padding:1px 8px">{_cell(c, v)}</td>' for c, v in zip(scores.columns, row, strict=True))
        + "</tr>"
        for row in scores.itertuples(index=False)
    )
    return f'<table style="font-size:12px"><tr>{head}</tr>{rows}</table>'


def prompt_diff_html(diff: PromptDiff, numbers: Mapping[str, int] | None = None) -> str:
    """The text diff side by side (changes highlighted; it scrolls sideways
    rather than run past the app's edge) and the score deltas under it.
    ``numbers``: the versions' numbers, for a title such as ``v2 · 1828dd5e``."""
    known = numbers or {}
    a, b = (version_tag(p.version, known.get(p.version)) for p in (diff.a, diff.b))
    title = f"<b>{escape(a)}</b> → <b>{escape(b)}</b>"
    if not diff.unified:
        return f"{title}: <i>the same text</i>"
    return f'{_STYLE}{title}<div class="pl-diff">{diff.html()}</div>{_scores_html(diff.scores)}'


class VersionPair:
    """Two versions of one prompt, newest first in both lists, and their diff.

    ``show(name, versions)`` fills the lists from ``lab.prompt_versions(name)``:
    versions still listed stay chosen, else the newest (``new``) is set against
    the one before (``old``). With ``auto`` the diff follows every change of
    either list; otherwise the view calls ``show_diff`` (a button).
    """

    def __init__(
        self,
        lab: Lab,
        errors: widgets.HTML,
        label: Callable[[Mapping[str, Any]], str],
        *,
        old: str = "old",
        new: str = "new",
        width: str = "420px",
        auto: bool = True,
    ) -> None:
        self.lab = lab
        self.errors = errors
        self.label = label
        self.name: str | None = None
        labels = {"description_width": "initial"}  # "diff with" must not be cut
        self.old = widgets.Dropdown(description=old, options=[], layout={"width": width}, style=labels)
        self.new = widgets.Dropdown(description=new, options=[], layout={"width": width}, style=labels)
        self.diff = widgets.HTML(layout={"max_width": "100%"})
        self.numbers: dict[str, int] = {}
        self._filling = False
        if auto:
            for control in (self.old, self.new):
                control.observe(lambda _: None if self._filling else self.show_diff(), "value")

    def show(self, name: str, versions: pd.DataFrame) -> None:
        """List ``versions`` (oldest first, as ``prompt_versions`` returns them) for ``name``."""
        newest_first = list(reversed(versions.to_dict("records")))
        self.numbers = {str(v["version"]): int(v["number"]) for v in newest_first if "number" in v}
        options = [(self.label(version), str(version["version"])) for version in newest_first]
        values = [value for _, value in options]
        same_prompt = name == self.name
        kept_new = self.new.value if same_prompt and self.new.value in values else None
        kept_old = self.old.value if same_prompt and self.old.value in values else None
        self.name = name
        self._filling = True
        try:
            set_options(self.new, options, keep=kept_new)
            set_options(self.old, options, keep=kept_old or (values[1] if len(values) > 1 else None))
        finally:
            self._filling = False

    def show_diff(self) -> None:
        """The old version against the new: text side by side, score deltas."""
        name, old, new = self.name, self.old.value, self.new.value
        if not (name and old and new):
            self.diff.value = ""
            return
        diff = catching(self.errors, lambda: self.lab.prompt_diff(name, old, new))
        self.diff.value = "" if diff is None else prompt_diff_html(diff, self.numbers)
