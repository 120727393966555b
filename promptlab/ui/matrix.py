"""A page of the results grid as one HTML table: inputs down, variants across,
each cell coloured by pass or fail.

One HTML value per page (not a widget per cell) is what keeps a page of 100
cells drawing in milliseconds in the browser; a cell's whole text, its
scores' reasons and its feedback controls open in the detail view below the
grid (``promptlab.ui.cells``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from promptlab.analysis.columns import EVAL_ERROR_PREFIX, EXPLANATION_PREFIX, PASSED_PREFIX, SCORE_PREFIX
from promptlab.core.pricing import dollars
from promptlab.ui.cells import input_lines, trial_meta, trial_text
from promptlab.ui.common import MUTED, RED, escape, present, truncate
from promptlab.ui.table import ERROR, FAIL, PASS, STATUS_NAMES, ResultsTable

SHORT = 220
"""Characters of an output shown in a cell (the detail view has it all)."""
REASON = 60
"""Characters of an evaluator's reason shown in a cell."""

BACKGROUNDS = {PASS: "#eaf7ee", FAIL: "#fdecea", ERROR: "#fff3e0"}

STYLE = f"""<style>
.pl-matrix {{border-collapse: collapse; table-layout: fixed; font-size: 12px; line-height: 1.35}}
.pl-matrix th, .pl-matrix td {{border: 1px solid #ddd; padding: 4px 6px; vertical-align: top;
  text-align: left; width: 260px; min-width: 220px; font-weight: normal}}
.pl-matrix th {{position: sticky; top: 0; background: #f7f7f7; z-index: 1}}
.pl-matrix th.pl-input, .pl-matrix td.pl-input {{width: 180px; min-width: 150px}}
.pl-matrix .pl-text {{white-space: pre-wrap; word-break: break-word;
  font-family: var(--jp-code-font-family, monospace)}}
.pl-matrix .pl-meta {{color: {MUTED}; font-size: 11px}}
.pl-matrix .pl-ref {{float: right; color: {MUTED}; font-size: 10px}}
.pl-matrix .pl-ok {{color: #1e7e34}} .pl-matrix .pl-no {{color: {RED}}}
.pl-matrix .pl-repeat + .pl-repeat {{border-top: 1px dashed #ccc; margin-top: 3px; padding-top: 3px}}
</style>"""


def number(value: Any) -> str:
    """A score for people: three significant digits (``0.23``, not ``0.22950000000000004``)."""
    return f"{float(value):.3g}" if present(value) else "—"


def _badges(trial: Mapping[str, Any], labels: Sequence[str]) -> str:
    """Each evaluator's verdict in a few characters, a line each: ``✓ contains``,
    ``✗ word_count 23``, ``judge 0.8 — fine, one sentence`` (the reason cut; whole on hover)."""
    shown = []
    for label in labels:
        value, passed = trial.get(SCORE_PREFIX + label), trial.get(PASSED_PREFIX + label)
        error, why = trial.get(EVAL_ERROR_PREFIX + label), trial.get(EXPLANATION_PREFIX + label)
        if present(error):
            shown.append(f'<div class="pl-no" title="{escape(error)}">⚠ {escape(label)}: evaluator error</div>')
            continue
        if not present(passed) and not present(value):
            continue
        mark, css = (
            ("✓ ", "pl-ok") if present(passed) and bool(passed) else ("✗ ", "pl-no") if present(passed) else ("", "")
        )
        score = "" if not present(value) or (present(passed) and float(value) in (0.0, 1.0)) else f" {number(value)}"
        reason = f" — {escape(truncate(str(why), REASON)[0])}" if present(why) else ""
        tooltip = f' title="{escape(why)}"' if present(why) else ""
        shown.append(f'<div class="{css}"{tooltip}>{mark}{escape(label)}{score}{reason}</div>')
    return "".join(shown)


def feedback_note(trial: Mapping[str, Any]) -> str:
    """``▲ 2 ▼ 1 · corrected``: what people said of a trial (empty when nothing)."""
    up, down = (int(trial[k]) if present(trial.get(k)) else 0 for k in ("votes_up", "votes_down"))
    parts = [f"▲ {up} ▼ {down}"] if up or down else []
    return " · ".join(parts + (["corrected"] if present(trial.get("correction")) else []))


def _trial_html(trial: Mapping[str, Any], labels: Sequence[str], repeat: int | None) -> str:
    text, failed = trial_text(trial)
    short, _ = truncate(text, SHORT)
    tint = f' style="color:{RED}"' if failed else ""
    prefix = f"<b>r{repeat}</b> " if repeat is not None else ""
    badges = _badges(trial, labels)
    return (
        f'<div class="pl-repeat">{prefix}<div class="pl-text"{tint}>{escape(short)}</div>'
        f'<div class="pl-meta">{escape(" · ".join(filter(None, (trial_meta(trial), feedback_note(trial)))))}</div>'
        + (f'<div class="pl-meta">{badges}</div>' if badges else "")
        + "</div>"
    )


def _header_html(table: ResultsTable, variant: int, stats: pd.DataFrame, labels: Sequence[str]) -> str:
    row = table.variants.frame.iloc[variant]
    figures = stats.iloc[variant] if variant < len(stats) else pd.Series(dtype=object)
    lines = []
    for label in labels:
        rate, mean = figures.get(f"{label}_pass"), figures.get(f"{label}_mean")
        if present(rate):
            lines.append(f"{escape(label)} <b>{rate:.0%}</b> pass · mean {number(mean)}")
        elif present(mean):
            lines.append(f"{escape(label)} mean <b>{number(mean)}</b>")
    n, errors = figures.get("n"), figures.get("errors")
    counts = f"n {int(n)}" if present(n) else ""
    if present(errors) and errors:
        counts += f' · <span class="pl-no">{int(errors)} errors</span>'
    if present(figures.get("cost_usd")):
        counts += f" · {dollars(float(figures['cost_usd']))}"
    hover = escape(row["differs"] or row["name"])
    return (
        f'<th title="{hover}"><b style="font-size:14px">{escape(row["letter"])}</b> '
        f'<span class="pl-meta">{escape(row["name"])}</span>'
        + "".join(f'<div class="pl-meta">{line}</div>' for line in lines)
        + f'<div class="pl-meta">{counts}</div></th>'
    )


def input_html(row: Mapping[Any, Any], *, show_repeat: bool) -> str:
    """The input cell: its number (and repeat) and its values."""
    short, _ = truncate(input_lines(row["vars"]), 160)
    repeat = f" · repeat {int(row['repeat'])}" if show_repeat else ""
    return (
        f'<td class="pl-input"><b>#{int(row["row_index"])}{repeat}</b><div class="pl-text">{escape(short)}</div></td>'
    )


def page_html(
    table: ResultsTable,
    on_page: np.ndarray,
    columns: Sequence[int],
    stats: pd.DataFrame,
    labels: Sequence[str],
) -> str:
    """The page's rows (``on_page``) × the chosen variants (``columns``) as one table."""
    head = '<th class="pl-input">input</th>' + "".join(_header_html(table, j, stats, labels) for j in columns)
    status = table.status()
    show_repeat = not table.grouped and bool(table.rows["repeat"].max() > 0)
    on_cells = table.cells[on_page][:, list(columns)].ravel() if len(on_page) else np.zeros(0, dtype=np.int64)
    wanted = np.unique(on_cells[on_cells >= 0])
    records = dict(zip(wanted.tolist(), table.trials.iloc[wanted].to_dict("records"), strict=True))
    letters = table.variants.letters
    body = []
    for i, row in zip(on_page, table.rows.iloc[on_page].to_dict("records"), strict=True):
        cells = [input_html(row, show_repeat=show_repeat)]
        for j in columns:
            positions = table.positions(int(i), j)
            ref = f'<span class="pl-ref">#{int(row["row_index"])} {escape(letters[j])}</span>'
            if not positions:
                cells.append(f'<td>{ref}<span class="pl-meta">—</span></td>')
                continue
            tint = BACKGROUNDS.get(int(status[i, j]))
            style = f' style="background:{tint}"' if tint else ""
            repeats = [
                _trial_html(records[p], labels, int(records[p]["repeat"]) if table.grouped else None) for p in positions
            ]
            css = f"pl-{STATUS_NAMES[int(status[i, j])]}"
            cells.append(f'<td class="{css}"{style}>{ref}{"".join(repeats)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'{STYLE}<table class="pl-matrix"><tr>{head}</tr>{"".join(body)}</table>'
