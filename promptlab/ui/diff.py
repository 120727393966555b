"""A prompt's two versions side by side (``lab.prompt_diff``), as HTML for a widget."""

from __future__ import annotations

import numpy as np
import pandas as pd

from promptlab.release.diff import PromptDiff
from promptlab.ui.common import escape, muted

_STYLE = """<style>
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


def prompt_diff_html(diff: PromptDiff) -> str:
    """The text diff side by side (changes highlighted) and the score deltas under it."""
    title = f"<b>{escape(diff.a.version[:8])}</b> → <b>{escape(diff.b.version[:8])}</b>"
    if not diff.unified:
        return f"{title}: <i>the same text</i>"
    return f'{_STYLE}{title}<div class="pl-diff">{diff.html()}</div>{_scores_html(diff.scores)}'
