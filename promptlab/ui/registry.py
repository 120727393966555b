"""The Registry view: prompt names, their labels and versions, diffs, and
buttons to promote (with an approver) and export. Every action is a ``Lab``
method (``promote``, ``rollback``, ``export_prompt``, ``prompt_diff``); the
policy is enforced there, so a refusal shows here as a red message."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from promptlab.analysis.stats import params_label
from promptlab.ui.common import catching, escape, listed, muted, present, set_options, show_error
from promptlab.ui.diff import VersionPair

if TYPE_CHECKING:
    import pandas as pd

    from promptlab import Lab

EXPORT_FORMATS = (".json", ".yaml", ".py")


def _scores_html(scores: object) -> str:
    """``echo: contains 1.000, judge 0.800`` a line per model: a version's mean scores."""
    if not isinstance(scores, dict):
        return ""
    per_model = []
    for model, means in scores.items():
        values = means.items() if isinstance(means, dict) else ()
        shown = ", ".join(f"{label} {float(v):.3f}" if present(v) else f"{label} —" for label, v in values)
        per_model.append(f"<b>{escape(model)}</b>: {escape(shown)}")
    return "<br>".join(per_model)


def _model_text(model: object) -> str:
    """`` (on echo, temperature=0.7)``: the model a label recommends, when it names one."""
    if not isinstance(model, dict) or not model.get("name"):
        return ""
    params = params_label(model.get("params"))
    return f" (on {model['name']}{', ' + params if params else ''})"


def _version_option(version: Mapping[str, Any]) -> str:
    """``3f2a9c0e1b7d (production, staging)``: a version in a list beside the versions table."""
    labels = listed(version.get("labels"))
    return str(version["version"])[:12] + (f" ({', '.join(labels)})" if labels else "")


def _versions_html(versions: pd.DataFrame, labels: pd.DataFrame) -> str:
    if versions.empty:
        return muted("no versions")
    head = ["version", "labels", "first seen", "by", "trials", "models", "scores"]
    rows = []
    for row in versions.to_dict("records"):
        cells = [
            escape(c)
            for c in (
                str(row["version"])[:12],
                ", ".join(listed(row["labels"])),
                str(row["first_seen"])[:16],
                row["created_by"],
                row["n_trials"],
                ", ".join(listed(row["models"])),
            )
        ]
        cells.append(_scores_html(row.get("scores")))
        rows.append("<tr>" + "".join(f'<td style="padding:1px 8px">{c}</td>' for c in cells) + "</tr>")
    header = "".join(f'<th style="padding:1px 8px;text-align:left">{h}</th>' for h in head)
    pointers = [
        f"{r['label']} → {str(r['version'])[:8]}{_model_text(r.get('model'))}" for r in labels.to_dict("records")
    ]
    current = escape(", ".join(pointers) or "no labels yet")
    table = f"<table style='font-size:12px'><tr>{header}</tr>{''.join(rows)}</table>"
    return f"<div><b>labels:</b> {current}</div>{table}"


class RegistryPanel(widgets.VBox):
    """Prompt names, labels, versions; diff two versions; promote, roll back, export."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.name = widgets.Dropdown(description="prompt", options=[], layout=widgets.Layout(width="360px"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.versions = widgets.HTML()
        self.message = widgets.HTML()
        self.pair = VersionPair(
            lab, self.message, _version_option, old="diff with", new="version", width="360px", auto=False
        )
        self.version, self.compare_to, self.diff = self.pair.new, self.pair.old, self.pair.diff
        self.diff_button = widgets.Button(description="Show diff")
        self.label = widgets.Text(value="production", description="label", layout=widgets.Layout(width="260px"))
        self.approver = widgets.Text(
            description="approved by",
            placeholder="an approver (protected labels)",
            layout=widgets.Layout(width="380px"),
            style={"description_width": "initial"},
        )
        self.note = widgets.Text(description="note", layout=widgets.Layout(width="520px"))
        self.promote_button = widgets.Button(description="Promote", button_style="primary", icon="arrow-up")
        self.rollback_button = widgets.Button(description="Roll back", icon="undo")
        self.export_path = widgets.Text(
            description="export to", placeholder="summarize.prompt.json", layout=widgets.Layout(width="420px")
        )
        self.export_button = widgets.Button(description="Export", icon="download")
        self.history = widgets.HTML()
        self.name.observe(lambda _: self.show_name(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.diff_button.on_click(lambda _: self.pair.show_diff())
        self.promote_button.on_click(lambda _: self.promote())
        self.rollback_button.on_click(lambda _: self.rollback())
        self.export_button.on_click(lambda _: self.export())
        super().__init__(
            [
                widgets.HBox([self.name, self.refresh_button]),
                self.versions,
                widgets.HBox([self.version, self.compare_to, self.diff_button]),
                self.diff,
                widgets.HBox([self.label, self.approver]),
                widgets.HBox([self.note]),
                widgets.HBox([self.promote_button, self.rollback_button]),
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
        labels = self.lab.labels(name)
        self.versions.value = _versions_html(versions, labels)
        self.pair.show(name, versions)
        self.export_path.placeholder = f"{name}.prompt.json"
        self.show_history()

    def show_history(self) -> None:
        """The audit log of the chosen prompt's labels."""
        events = self.lab.label_history(self.name.value)
        if events.empty:
            self.history.value = muted("no label has moved yet")
            return
        lines = []
        for event in events.to_dict("records"):
            approved = f", approved by {event['approved_by']}" if present(event["approved_by"]) else ""
            note = f" — {event['note']}" if present(event["note"]) else ""
            before = str(event["from_version"])[:8] if present(event["from_version"]) else "—"
            lines.append(
                escape(
                    f"{str(event['created_at'])[:16]} · {event['label']}: {before} → "
                    f"{str(event['to_version'])[:8]} ({event['action']} by {event['user']}{approved}){note}"
                )
            )
        self.history.value = "<b>label history</b><br>" + "<br>".join(reversed(lines))

    def _approval(self) -> tuple[str | None, str | None]:
        """The approver and the note as typed (None when blank)."""
        return self.approver.value.strip() or None, self.note.value.strip() or None

    def promote(self) -> None:
        """Point the label at the chosen version (the library checks the policy)."""
        name, version, label = self.name.value, self.version.value, self.label.value.strip()
        approver, note = self._approval()
        event = catching(self.message, lambda: self.lab.promote(name, version, label, approved_by=approver, note=note))
        if event is None:
            return
        self.message.value = f"✓ {escape(event['label'])} → {escape(event['to_version'][:8])}"
        self.show_name()

    def rollback(self) -> None:
        """Move the label back to its previous version."""
        name, label = self.name.value, self.label.value.strip()
        approver, note = self._approval()
        event = catching(self.message, lambda: self.lab.rollback(name, label, approved_by=approver, note=note))
        if event is None:
            return
        self.message.value = f"✓ rolled {escape(event['label'])} back to {escape(event['to_version'][:8])}"
        self.show_name()

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
        return f"RegistryPanel({self.lab.path.name})"


def registry(lab: Lab) -> RegistryPanel:
    """The Registry view on its own."""
    return RegistryPanel(lab)
