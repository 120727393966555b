"""The Registry view: prompt names, their labels and numbered versions
(``v2 · 1828dd5e``), diffs, and buttons to promote or roll back (with an
approver, confirmed first: ``promotion.py``) and export. Every action is a
``Lab`` method (``promote``, ``rollback``, ``export_prompt``,
``prompt_diff``); the policy is enforced there, so a refusal shows here as a
red message.

A version's scores are shown per model over every config it ran with, each
mean beside its n and the configs named (``echo · temperature 0.0, 0.7 · 16
trials``): one (model, params) slice standing for a version misled the people
choosing what to promote."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.ui.common import FITS, catching, escape, listed, muted, present, set_options, show_error, version_tag
from promptlab.ui.diff import VersionPair
from promptlab.ui.promotion import LabelMover

if TYPE_CHECKING:
    import pandas as pd

    from promptlab import Lab

EXPORT_FORMATS = (".json", ".yaml", ".py")
CELL = '<td style="padding:1px 8px;vertical-align:top">{}</td>'


def value_text(value: object) -> str:
    """A parameter's value as people write it: ``0.7``, ``0.0``, ``0.2295`` (not ``0.22950000000000004``)."""
    if isinstance(value, float):
        text = f"{value:.4g}"
        return text if any(c in text for c in ".en") else text + ".0"
    return str(value)


def configs_text(configs: list[dict[str, Any]]) -> str:
    """``temperature 0.0, 0.7``: the parameter configs a mean covers, each
    parameter's values together (``default`` where a config didn't set it)."""
    keys = sorted({key for config in configs for key in config})
    if not keys:
        return "default params"
    parts = []
    for key in keys:
        values = sorted({value_text(c[key]) if key in c else "default" for c in configs})
        parts.append(f"{key} {', '.join(values)}")
    return " · ".join(parts)


def model_scores_html(model: str, seen: Mapping[str, Any]) -> str:
    """``echo · temperature 0.0, 0.7 · 16 trials: contains 1.000 (n=16), …``: one
    model's means over every config it ran with, each with its n."""
    failed = f", {seen['n_errors']} failed" if seen.get("n_errors") else ""
    head = f"{configs_text(seen['configs'])} · {seen['n_trials']} trials{failed}"
    scores = seen.get("scores") or {}
    shown = ", ".join(f"{label} {s['mean']:.3f} (n={s['n']})" for label, s in sorted(scores.items()))
    return f"<b>{escape(model)}</b> · {escape(head)}: " + (escape(shown) if shown else muted("not scored"))


def scores_html(by_model: object) -> str:
    """A line per model (``model_scores_html``); ``not scored`` for a version never scored or run."""
    if not isinstance(by_model, dict) or not by_model:
        return muted("not scored")
    return "<br>".join(model_scores_html(model, seen) for model, seen in sorted(by_model.items()))


def numbers_of(versions: pd.DataFrame) -> dict[str, int]:
    """Each version's number (``lab.prompt_versions``), by version."""
    if versions.empty or "number" not in versions:
        return {}
    return {str(v): int(n) for v, n in zip(versions["version"], versions["number"], strict=True)}


def _version_option(version: Mapping[str, Any]) -> str:
    """``v2 · 1828dd5e (production, staging) — terser``: a version in the lists beside the versions table."""
    labels = listed(version.get("labels"))
    message = f" — {version['message']}" if present(version.get("message")) else ""
    return (
        version_tag(version["version"], version.get("number")) + (f" ({', '.join(labels)})" if labels else "") + message
    )


def _label_pointer(row: Mapping[Any, Any], numbers: Mapping[str, int]) -> str:
    """``production → v2 · 1828dd5e, loads with echo · temperature 0.7``: where a
    label points, and the model recorded with it for application code."""
    version = str(row["version"])
    model = row.get("model")
    loads = ""
    if isinstance(model, dict) and model.get("name"):
        params = model.get("params") or {}
        loads = f", loads with {model['name']}" + (f" · {configs_text([params])}" if params else "")
    return f"{row['label']} → {version_tag(version, numbers.get(version))}{loads}"


def versions_html(versions: pd.DataFrame, labels: pd.DataFrame) -> str:
    """Where the labels point, then a row per version: number and hash, labels,
    first seen, author, trials, models and the scores per model."""
    if versions.empty:
        return muted("no versions")
    numbers = numbers_of(versions)
    head = [
        "version",
        "message",
        "labels",
        "first seen",
        "by",
        "trials",
        "models",
        "scores per model, over all its configs",
    ]
    rows = []
    for row in versions.to_dict("records"):
        texts = (
            version_tag(row["version"], row.get("number")),
            row.get("message") if present(row.get("message")) else "",
            ", ".join(listed(row["labels"])),
            str(row["first_seen"])[:16],
            row["created_by"],
            row["n_trials"],
            ", ".join(listed(row["models"])),
        )
        cells = [escape(text) for text in texts] + [scores_html(row.get("by_model"))]
        rows.append("<tr>" + "".join(CELL.format(c) for c in cells) + "</tr>")
    header = "".join(f'<th style="padding:1px 8px;text-align:left">{h}</th>' for h in head)
    pointers = [_label_pointer(r, numbers) for r in labels.to_dict("records")]
    current = escape("; ".join(pointers) or "no labels yet")
    table = f"<table style='font-size:12px'><tr>{header}</tr>{''.join(rows)}</table>"
    return f"<div><b>labels:</b> {current}</div>{table}"


def history_html(events: pd.DataFrame, numbers: Mapping[str, int]) -> str:
    """The label audit log, newest first: ``production: v3 · 6e1f31c2 → v2 · 1828dd5e
    (rollback by ana, approved by lee) — note``; a first move comes from ``new``."""
    if events.empty:
        return muted("no label has moved yet")
    lines = []
    for event in events.to_dict("records"):
        approved = f", approved by {event['approved_by']}" if present(event["approved_by"]) else ""
        note = f" — {event['note']}" if present(event["note"]) else ""
        before, after = (str(event[k]) if present(event[k]) else None for k in ("from_version", "to_version"))
        before_text = "new" if before is None else version_tag(before, numbers.get(before))
        lines.append(
            escape(
                f"{str(event['created_at'])[:16]} · {event['label']}: {before_text} → "
                f"{version_tag(after, numbers.get(str(after)))} ({event['action']} by {event['user']}{approved}){note}"
            )
        )
    return "<b>label history</b><br>" + "<br>".join(reversed(lines))


class RegistryPanel(widgets.VBox):
    """Prompt names, labels, versions; diff two versions; promote, roll back, export."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.name = widgets.Dropdown(description="prompt", options=[], layout={"width": "360px"}, style=FITS)
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.versions = widgets.HTML()
        self.message = widgets.HTML()
        self.pair = VersionPair(
            lab, self.message, _version_option, old="diff with", new="version", width="360px", auto=False
        )
        self.version, self.compare_to, self.diff = self.pair.new, self.pair.old, self.pair.diff
        self.diff_button = widgets.Button(description="Show diff")
        self.mover = LabelMover(lab, self.name, self.version, self.message, moved=self.show_name)
        self.label, self.approver, self.note = self.mover.label, self.mover.approver, self.mover.note
        self.promote_button, self.rollback_button = self.mover.promote_button, self.mover.rollback_button
        self.approve_button = self.mover.approve_button
        self.confirmation, self.confirm_button = self.mover.confirmation, self.mover.confirm_button
        self.cancel_button, self.confirm_row = self.mover.cancel_button, self.mover.confirm_row
        self.export_path = widgets.Text(description="export to", layout={"width": "420px"}, style=FITS)
        self.export_button = widgets.Button(description="Export", icon="download")
        self.history = widgets.HTML()
        self.name.observe(lambda _: self.show_name(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.diff_button.on_click(lambda _: self.pair.show_diff())
        self.export_button.on_click(lambda _: self.export())
        super().__init__(
            [
                widgets.HBox([self.name, self.refresh_button]),
                self.versions,
                widgets.HBox([self.version, self.compare_to, self.diff_button]),
                self.diff,
                self.mover,
                widgets.HBox([self.export_path, self.export_button]),
                self.message,
                self.history,
            ]
        )
        self.refresh()

    def refresh(self) -> None:
        """Reload the prompt names (keeping the one shown)."""
        names = list(self.lab.prompt_names()["name"])
        set_options(self.name, names, keep=self.name.value)
        self.show_name()

    def show_name(self) -> None:
        """Show the chosen prompt's labels, versions and label history."""
        name = self.name.value
        if not name:
            self.versions.value = muted("no prompts recorded yet")
            return
        versions = self.lab.prompt_versions(name)
        self.versions.value = versions_html(versions, self.lab.labels(name))
        self.pair.show(name, versions)
        self.mover.show(numbers_of(versions))
        self._default_export_path(name)
        self.history.value = history_html(self.lab.label_history(name), numbers_of(versions))

    def _default_export_path(self, name: str) -> None:
        """``summarize.prompt.json`` for the prompt shown, unless a path of one's own was typed."""
        default = f"{name}.prompt.json"
        if not self.export_path.value.strip() or self.export_path.value == self.export_path.placeholder:
            self.export_path.value = default
        self.export_path.placeholder = default

    def export(self) -> None:
        """Write the chosen version to the file named (.json, .yaml or .py)."""
        target = self.export_path.value.strip()
        if not target or Path(target).suffix not in EXPORT_FORMATS:
            show_error(self.message, f"name a file ending in {', '.join(EXPORT_FORMATS)}")
            return
        name, version = self.name.value, self.version.value
        path = catching(self.message, lambda: self.lab.export_prompt(name, target, version=version))
        if path is None:
            return
        self.message.value = f"✓ wrote {escape(path)}; load it with pl.load_prompt(path={escape(repr(str(path)))})"

    def __repr__(self) -> str:
        where = self.lab.path.name if self.lab.location == str(self.lab.path) else self.lab.location
        return f"RegistryPanel({where})"


def registry(lab: Lab) -> RegistryPanel:
    """The Registry view on its own."""
    return RegistryPanel(lab)
