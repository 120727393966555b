"""Run against run: two runs, or one variant of each, compared on a metric
both have. It shows ``lab.compare``'s paired verdict (inputs paired, B's
wins, losses and ties, the mean difference with its 95% CI, the p-values) and
``lab.diff_runs``' cells that regressed, got fixed or answered differently,
each with its input, both outputs and both scores.

Pick the runs with the A and B buttons of the history's runs list (or type a
run id); the comparison redraws on every change, since both reads are of
runs already picked and the statistics take milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]
import pandas as pd

from promptlab.analysis.columns import metric_column, score_columns
from promptlab.analysis.plots import variant_labels
from promptlab.analysis.stats import Comparison, params_label
from promptlab.core.pricing import dollars
from promptlab.ui.common import FITS, MUTED, RED, catching, error_label, escape, muted, present, set_options, truncate
from promptlab.ui.listing import milliseconds
from promptlab.ui.run_filters import ANY

if TYPE_CHECKING:
    from promptlab import Lab

LOWER_IS_BETTER = {"latency_ms": "latency (lower is better)", "cost_usd": "cost (lower is better)"}
"""Metrics every trial has besides its scores, where less is better."""

CHANGES_SHOWN = 50
"""Changed cells listed at the most."""

GREEN = "#2e7d32"
CHANGE_COLOURS = {"regression": RED, "fix": GREEN, "changed": MUTED}
CHANGE_WORDS = {"regression": "regressed", "fix": "fixed", "changed": "answered differently"}


def amount(value: Any, metric: str) -> str:
    """A metric's value as people read it: dollars, milliseconds, else three figures."""
    if not present(value):
        return "—"
    if metric == "cost_usd":
        return dollars(float(value))
    return milliseconds(float(value)) if metric == "latency_ms" else f"{float(value):.3g}"


def difference_text(comparison: Comparison) -> str:
    """``+0.25 (95% CI 0.1 to 0.4)``, in the metric's units."""
    sign = "+" if comparison.difference >= 0 else "-"
    metric = comparison.metric
    low, high = amount(comparison.ci_low, metric), amount(comparison.ci_high, metric)
    return f"{sign}{amount(abs(comparison.difference), metric)} (95% CI {low} to {high})"


def verdict_html(comparison: Comparison) -> str:
    """``lab.compare``'s result: a headline in colour and its numbers."""
    if comparison.n == 0:
        return muted(comparison.verdict)
    headline, colour = "no clear difference between A and B", MUTED
    if comparison.clearly_better:
        headline, colour = "B is better than A", GREEN
    elif comparison.clearly_worse:
        headline, colour = "B is worse than A", RED
    metric = comparison.metric
    numbers = [
        ("inputs paired", str(comparison.n)),
        ("B wins / loses / ties", f"{comparison.wins} / {comparison.losses} / {comparison.ties}"),
        ("mean A → B", f"{amount(comparison.mean_a, metric)} → {amount(comparison.mean_b, metric)}"),
        ("difference B − A", difference_text(comparison)),
        ("sign test p", f"{comparison.p_value:.3g}"),
        ("bootstrap p", f"{comparison.p_value_bootstrap:.3g}"),
    ]
    cells = "".join(f'<td style="padding:1px 10px 1px 0">{escape(n)}: <b>{escape(v)}</b></td>' for n, v in numbers)
    return (
        f'<div style="color:{colour};font-weight:bold">{escape(headline)} on {escape(metric)}</div>'
        f'<table style="font-size:12px"><tr>{cells}</tr></table>'
    )


def _side_text(row: Mapping[Any, Any], side: str) -> str:
    output, error = row.get(f"output_{side}"), row.get(f"error_{side}")
    if present(output):
        return escape(truncate(str(output), 160)[0])
    text = f"error: {error}" if present(error) else "no output"
    return f'<span style="color:{RED}">{escape(truncate(text, 160)[0])}</span>'


def changes_html(changes: pd.DataFrame, scores: Mapping[str, Any], metric: str) -> str:
    """``lab.diff_runs``' rows as a table: change, variant, input, both outputs and
    both scores (``scores`` by trial id), regressions first."""
    if changes.empty:
        return muted("no cell changed: each cell both have (same prompt, model, params and input) kept its outcome")
    counts = changes["change"].value_counts()
    said = " · ".join(f"{counts[c]} {CHANGE_WORDS[c]}" for c in CHANGE_WORDS if c in counts)
    more = f" (the first {CHANGES_SHOWN} shown)" if len(changes) > CHANGES_SHOWN else ""
    head = ["change", "variant", "input", "output A", "output B", f"{metric} A", f"{metric} B"]
    rows = [_change_row(row, scores, metric) for row in changes.head(CHANGES_SHOWN).to_dict("records")]
    header = "".join(f'<th style="text-align:left;padding:1px 6px">{escape(h)}</th>' for h in head)
    return (
        f"<div><b>{escape(said)}</b>{escape(more)}</div>"
        f'<table style="font-size:12px;border-collapse:collapse"><tr>{header}</tr>{"".join(rows)}</table>'
    )


def _change_row(row: Mapping[Any, Any], scores: Mapping[str, Any], metric: str) -> str:
    values = row.get("vars")
    text = " · ".join(f"{k}: {v}" for k, v in values.items()) if isinstance(values, Mapping) else str(values)
    params = row.get("params")  # diff_runs gives them as text already
    params = params if isinstance(params, str) else params_label(params)
    variant = f"{row.get('prompt_name')} · {row.get('model')}" + (f" ({params})" if params else "")
    variant += f" · {row['retriever']}" if present(row.get("retriever")) else ""
    colour = CHANGE_COLOURS.get(str(row["change"]), MUTED)
    cells = [
        f'<span style="color:{colour}">{escape(CHANGE_WORDS.get(str(row["change"]), row["change"]))}</span>',
        escape(variant),
        escape(truncate(text, 100)[0]),
        _side_text(row, "before"),
        _side_text(row, "after"),
        escape(amount(scores.get(str(row["trial_id_before"])), metric)),
        escape(amount(scores.get(str(row["trial_id_after"])), metric)),
    ]
    tds = "".join(f'<td style="padding:2px 6px;vertical-align:top">{cell}</td>' for cell in cells)
    return f'<tr style="border-top:1px solid #eee">{tds}</tr>'


def shared_metrics(a: pd.DataFrame, b: pd.DataFrame) -> list[tuple[str, str]]:
    """What A and B can be compared on: each evaluator that scored some of both, then latency and cost."""
    scored = [
        label for label in score_columns(a) if label in score_columns(b) and _scored(a, label) and _scored(b, label)
    ]
    return [*((label, label) for label in scored), *((words, m) for m, words in LOWER_IS_BETTER.items())]


def _scored(frame: pd.DataFrame, label: str) -> bool:
    return bool(frame[metric_column(frame, label)].notna().any())


class RunSide:
    """One side of the comparison: a run id box, its line, and a variant picker."""

    def __init__(self, name: str, meaning: str) -> None:
        self.run = widgets.Text(
            description=f"run {name}",
            placeholder=f"the {name} button of a run ({meaning}), or its id",
            continuous_update=False,
            style=FITS,
            layout=widgets.Layout(width="360px"),
        )
        self.variant = widgets.Dropdown(
            description="variant", options=[("all variants", ANY)], style=FITS, layout=widgets.Layout(width="460px")
        )
        self.about = widgets.HTML()
        self.error = error_label()
        """Why the run couldn't be read."""
        self.trials = pd.DataFrame()
        """The run's trials, as ``lab.trials(run=...)`` read them."""
        self.box = widgets.VBox([widgets.HBox([self.run, self.variant]), self.about, self.error])

    def clear(self) -> None:
        """Hold no run (none picked, or its id found nothing)."""
        self.trials = pd.DataFrame()
        self.about.value = ""
        set_options(self.variant, [("all variants", ANY)], keep=ANY)

    def chosen(self) -> pd.DataFrame:
        """The trials of the variant picked (all of the run's for "all variants")."""
        if not self.variant.value or self.trials.empty:
            return self.trials
        return self.trials[variant_labels(self.trials) == self.variant.value]

    def show(self, run_id: str, info: Mapping[str, Any], trials: pd.DataFrame) -> None:
        """Hold ``trials`` of the run ``info`` describes and offer its variants."""
        self.trials = trials
        started = (
            pd.Timestamp(info["started_at"]).strftime("%Y-%m-%d %H:%M") if present(info.get("started_at")) else "?"
        )
        self.about.value = muted(
            f"{run_id[:8]} · {info.get('user')} · {info.get('experiment')} · {started} UTC · "
            f"{info.get('status')} · {len(trials)} trials"
        )
        labels = list(dict.fromkeys(variant_labels(trials))) if not trials.empty else []
        set_options(self.variant, [("all variants", ANY), *((label, label) for label in labels)], keep=ANY)


class RunComparison(widgets.VBox):
    """Two runs (or a variant of each) compared: ``lab.compare`` and ``lab.diff_runs``."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.a = RunSide("A", "before")
        self.b = RunSide("B", "after")
        self.metric = widgets.Dropdown(
            description="compare on", options=[], style=FITS, layout=widgets.Layout(width="420px")
        )
        self.error = error_label()
        self.verdict = widgets.HTML()
        self.changes = widgets.HTML()
        self.comparison: Comparison | None = None
        """What ``lab.compare`` said last (None before two runs are picked)."""
        self.differences = pd.DataFrame()
        """What ``lab.diff_runs`` said last."""
        self._updating = False
        for side in (self.a, self.b):
            side.run.observe(lambda _, side=side: self._load(side), "value")
            side.variant.observe(lambda _: self._choices_changed(), "value")
        self.metric.observe(lambda _: None if self._updating else self.compare(), "value")
        super().__init__([self.a.box, self.b.box, self.metric, self.error, self.verdict, self.changes])

    def pick(self, run_a: str | None = None, run_b: str | None = None) -> None:
        """Compare ``run_a`` with ``run_b`` (either may stay as it is)."""
        if run_a is not None:
            self.a.run.value = run_a
        if run_b is not None:
            self.b.run.value = run_b

    def _load(self, side: RunSide) -> None:
        run_id = str(side.run.value).strip()
        self._updating = True
        try:
            read = catching(side.error, lambda: self._read(run_id)) if run_id else None
            if read is None:
                side.clear()
            else:
                side.show(*read)
        finally:
            self._updating = False
        self._choices_changed()

    def _read(self, run_id: str) -> tuple[str, dict[str, Any], pd.DataFrame]:
        info = self.lab.run_info(run_id)  # an id prefix is enough: this finds the whole id
        full = str(info["run_id"])
        return full, info, self.lab.trials(run=full)

    def _choices_changed(self) -> None:
        if self._updating:
            return
        options = shared_metrics(self.a.chosen(), self.b.chosen())
        if list(self.metric.options) != options:
            # latency was only the choice while no evaluator was there to pick: now the first one is
            chose = any(value not in LOWER_IS_BETTER for _, value in self.metric.options)
            keep = self.metric.value if chose else options[0][1]
            self._updating = True
            try:
                set_options(self.metric, options, keep=keep)
            finally:
                self._updating = False
        self.compare()

    def compare(self) -> Comparison | None:
        """Compare the picks on the metric chosen and show the verdict and the changed cells."""
        a, b, metric = self.a.chosen(), self.b.chosen(), self.metric.value
        self.comparison, self.differences = None, pd.DataFrame()
        if a.empty or b.empty or not metric:
            self.verdict.value = muted("pick two runs with trials: the A and B buttons in the runs list")
            self.changes.value = ""
            return None
        lower = metric in LOWER_IS_BETTER
        self.comparison = catching(self.error, lambda: self._compared(a, b, metric))
        # a cell's latency or cost is no outcome: those cells are judged by their errors
        found = catching(self.error, lambda: self.lab.diff_runs(a, b, None if lower else metric))
        self.differences = found if found is not None else pd.DataFrame()
        self.verdict.value = verdict_html(self.comparison) if self.comparison is not None else ""
        self.changes.value = changes_html(self.differences, self._scores(a, b, metric), metric)
        return self.comparison

    def _compared(self, a: pd.DataFrame, b: pd.DataFrame, metric: str) -> Comparison:
        # an evaluator's direction is the library's to know: only latency and cost say theirs
        if metric in LOWER_IS_BETTER:
            return self.lab.compare(a, b, metric, higher_is_better=False)
        return self.lab.compare(a, b, metric)

    @staticmethod
    def _scores(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> dict[str, Any]:
        both = pd.concat([frame.set_index("trial_id")[metric_column(frame, metric)] for frame in (a, b)])
        return {str(trial_id): value for trial_id, value in both.items()}

    def __repr__(self) -> str:
        return f"RunComparison({self.a.run.value[:8] or '?'} vs {self.b.run.value[:8] or '?'})"
