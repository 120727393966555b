"""A self-contained HTML report of an experiment, for readers without Jupyter.

One file that opens from an email attachment with no network: the
per-variant summary with confidence intervals, plots embedded as PNG data,
outputs side by side for a sample of inputs, each variant's prompt with the
changes between versions, people's feedback, and the runs. The template
(``promptlab/release/templates/report.html.j2``) escapes every value, after masking
the environment's secrets in it (masking after escaping missed a secret
containing ``& < > " '``); styles are inline.
"""

from __future__ import annotations

import base64
import difflib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from promptlab.analysis import plots, stats
from promptlab.analysis.columns import PASSED_PREFIX, score_columns
from promptlab.core.files import write_atomically
from promptlab.core.hashing import canonical_json
from promptlab.core.lineage import current_user, promptlab_version, utcnow
from promptlab.core.pricing import dollars
from promptlab.core.prompt import template_text
from promptlab.core.redaction import Redactor
from promptlab.errors import NotFoundError
from promptlab.release.export import scrub

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SAMPLE_INPUTS = 5
"""Inputs whose outputs the report shows side by side."""

LONGEST_TEXT = 2000
"""Characters of an output shown before it is cut (the full text stays in the history)."""


@dataclass(frozen=True)
class ReportData:
    """What a report shows, read from the history."""

    experiment: dict[str, Any]
    """The experiment's row (``Lab.experiments``)."""

    runs: pd.DataFrame
    """Its runs (``Lab.runs``)."""

    trials: pd.DataFrame
    """Its trials (``Lab.trials``)."""

    prompt_versions: dict[str, pd.DataFrame]
    """Every version of each prompt name its trials used (``Lab.prompt_versions``)."""


def experiment_row(experiments: pd.DataFrame, experiment: str, where: Path | str) -> dict[str, Any]:
    """The row of ``experiment`` among ``experiments`` (``Lab.experiments()``)."""
    found = experiments[experiments["experiment"] == experiment]
    if found.empty:
        known = ", ".join(map(str, experiments["experiment"].head(10))) or "none yet"
        raise NotFoundError(f"no experiment named {experiment!r} in {where}; experiments: {known}")
    return {str(k): v for k, v in found.iloc[0].to_dict().items()}


# -- formatting ----------------------------------------------------------------------


def _number(value: Any, digits: int = 3) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.{digits}g}"


def _ms(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.0f} ms" if value >= 10 else f"{float(value):.2g} ms"


def _usd(value: Any) -> str:
    return "unknown" if value is None or pd.isna(value) else dollars(float(value))


def _when(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")


def _cut(value: str) -> str:
    return value if len(value) <= LONGEST_TEXT else value[:LONGEST_TEXT] + f"… ({len(value) - LONGEST_TEXT} more)"


def png_data_uri(figure: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# -- sections ------------------------------------------------------------------------


def _variant_keys(trials: pd.DataFrame) -> pd.Series:
    return pd.Series(
        [
            (p, v, m, stats.params_label(a))
            for p, v, m, a in zip(
                trials["prompt_name"], trials["prompt_version"], trials["model"], trials["params"], strict=True
            )
        ],
        index=trials.index,
        dtype=object,
    )


def summary_section(trials: pd.DataFrame, labels: dict[Any, str]) -> dict[str, Any]:
    """Header and rows of the per-variant table (scores with 95% CIs)."""
    summary = stats.summary(trials)
    metrics = score_columns(trials)
    header = ["variant", "trials", "errors", *(f"{m} (95% CI)" for m in metrics)]
    header += [f"{m} pass rate" for m in metrics if PASSED_PREFIX + m in trials]
    repeated = "repeat_agreement" in summary
    header += [*(["repeats agree"] if repeated else []), "latency p50", "latency p95", "cost"]
    rows = []
    for record in summary.to_dict("records"):
        row = {str(name): value for name, value in record.items()}
        key = (row["prompt_name"], row["prompt_version"], row["model"], row["params"])
        cells = [labels.get(key, stats.variant_name(row)), str(row["n"]), f"{row['errors']} ({row['error_rate']:.0%})"]
        cells += [
            f"{_number(row[f'{m}_mean'])} [{_number(row[f'{m}_ci_low'])}, {_number(row[f'{m}_ci_high'])}]"
            for m in metrics
        ]
        cells += [
            f"{row[f'{m}_pass_rate']:.0%}" if not pd.isna(row[f"{m}_pass_rate"]) else "—"
            for m in metrics
            if PASSED_PREFIX + m in trials
        ]
        if repeated:  # how often a variant's repeats of one input gave the same output
            agreement = row["repeat_agreement"]
            cells.append("—" if pd.isna(agreement) else f"{agreement:.0%}")
        cells += [_ms(row["latency_p50_ms"]), _ms(row["latency_p95_ms"]), _usd(row["cost_usd"])]
        rows.append(cells)
    return {"header": header, "rows": rows}


def plot_section(trials: pd.DataFrame) -> list[dict[str, str]]:
    """Titled PNG data URIs: each score per variant with CI bars, latency, cost."""
    if trials.empty:
        return []
    figures = [(f"{m} by variant", plots.score_by_variant(trials, m)) for m in score_columns(trials)]
    figures.append(("Latency by variant", plots.latency_by_variant(trials)))
    figures.append(("Cost by variant", plots.cost_by_variant(trials)))
    return [{"title": title, "src": png_data_uri(figure)} for title, figure in figures]


def samples_section(
    trials: pd.DataFrame, variants: Sequence[str], n: int, redactor: Redactor | None = None
) -> list[dict[str, Any]]:
    """The first ``n`` inputs, each with every variant's output (or error);
    secrets in nested inputs masked before they are shown as text."""
    redactor = redactor or Redactor()
    frame = trials.assign(_input=trials["vars"].map(canonical_json))
    inputs = list(dict.fromkeys(frame.sort_values(["row_index", "created_at"], kind="stable")["_input"]))[:n]
    samples = []
    for key in inputs:
        rows = frame[frame["_input"] == key]
        outputs = {}
        for variant, row in zip(rows["variant"], rows.to_dict("records"), strict=True):
            if variant not in outputs:
                failed = isinstance(row["error_type"], str)
                shown = f"{row['error_type']}: {row['error']}" if failed else str(row["output"] or "")
                outputs[variant] = {"text": _cut(shown), "failed": failed}
        variables = scrub(rows["vars"].iloc[0] or {}, redactor)  # str() of a dict escapes quotes
        samples.append(
            {
                "input": [(str(k), _cut(str(v))) for k, v in variables.items()],
                "outputs": [outputs.get(v, {"text": "(not run)", "failed": True}) for v in variants],
            }
        )
    return samples


def _diff_kind(line: str) -> str:
    """The style of a unified diff line."""
    if line.startswith(("+++", "---")):
        return "file"
    return {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "same")


def prompts_section(trials: pd.DataFrame, versions: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """Per prompt name: the text of each version used, and the diff from the version before."""
    sections = []
    for name, history in versions.items():
        used = set(trials.loc[trials["prompt_name"] == name, "prompt_version"])
        shown = history[history["version"].isin(used)]
        texts = [(str(v), template_text(t)) for v, t in zip(shown["version"], shown["template"], strict=True)]
        entries = []
        for index, (version, text) in enumerate(texts):
            diff: list[tuple[str, str]] = []
            if index:
                before_version, before = texts[index - 1]
                lines = difflib.unified_diff(
                    before.splitlines(),
                    text.splitlines(),
                    f"{name}@{before_version[:6]}",
                    f"{name}@{version[:6]}",
                    lineterm="",
                )
                diff = [(_diff_kind(line), line) for line in lines]
            entries.append({"version": version, "text": text, "diff": diff})
        sections.append({"name": name, "versions": entries})
    return sections


def feedback_section(trials: pd.DataFrame, variants: Sequence[str]) -> list[list[str]]:
    """Per variant: up-votes, down-votes, corrections, comments."""
    grouped = trials.assign(_corrected=trials["correction"].notna()).groupby("variant", sort=False)
    counts = grouped[["votes_up", "votes_down", "_corrected", "n_comments"]].sum().reindex(list(variants)).fillna(0)
    return [[str(variant), *map(str, values)] for variant, *values in counts.astype(int).itertuples()]


def runs_section(runs: pd.DataFrame) -> list[list[str]]:
    """One row per run: id, started, by, status, trials, errors, cached, cost."""
    return [
        [
            str(r["run_id"])[:8],
            _when(r["started_at"]),
            str(r["user"]),
            str(r["status"]),
            str(r["n_trials"]),
            str(r["n_errors"]),
            str(r["n_cached"]),
            _usd(r["cost_usd"]),
        ]
        for r in runs.to_dict("records")
    ]


# -- the report ------------------------------------------------------------------------


def _environment(redactor: Redactor) -> jinja2.Environment:
    # finalize runs on every {{ value }} before it is escaped: a secret is masked
    # as written, not after escaping has turned its & < > " ' into entities.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("promptlab.release", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda value: redactor.values(value) if isinstance(value, str) else value,
    )


def render_report(
    data: ReportData, *, title: str | None = None, samples: int = SAMPLE_INPUTS, now: datetime | None = None
) -> str:
    """The report's HTML."""
    info = data.experiment
    trials = data.trials.assign(variant=plots.variant_labels(data.trials))
    labels = dict(zip(_variant_keys(trials), trials["variant"], strict=True))
    variants = list(dict.fromkeys(trials["variant"]))
    users = sorted({str(u) for u in trials["user"].dropna()})
    redactor = Redactor()
    html = (
        _environment(redactor)
        .get_template("report.html.j2")
        .render(
            title=title or f"Experiment: {info['experiment']}",
            experiment=info["experiment"],
            description=info.get("description") or "",
            tags=info.get("tags") or [],
            created=_when(info.get("created_at")),
            created_by=info.get("created_by") or "unknown",
            users=users,
            first=_when(trials["created_at"].min()),
            last=_when(trials["created_at"].max()),
            n_trials=len(trials),
            n_errors=int(trials["error_type"].notna().sum()),
            n_variants=len(variants),
            total_cost=_usd(trials["cost_usd"].sum(min_count=1)),
            summary=summary_section(trials, labels),
            plots=plot_section(trials),
            variants=variants,
            samples=samples_section(trials, variants, samples, redactor),
            prompts=prompts_section(trials, data.prompt_versions),
            feedback=feedback_section(trials, variants),
            runs=runs_section(data.runs),
            generated=_when(now or utcnow()),
            generated_by=current_user(),
            version=promptlab_version(),
        )
    )
    # the last guard before the file leaves: no secret value from this environment in it, escaped or not
    return redactor.html(html)


def write_report(
    data: ReportData,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    samples: int = SAMPLE_INPUTS,
    mkdir: bool = False,
) -> Path:
    """Write the HTML report of ``data`` to ``path``; returns the path."""
    html = render_report(data, title=title, samples=samples)
    target = Path(path)

    def write(temporary: Path) -> None:
        temporary.write_text(html, encoding="utf-8")

    write_atomically({target: write}, mkdir=mkdir)
    return target
