"""The Lab's release side, from a winning variant to production: prompt
versions and diffs, labels moved with an audit log (and its check,
``verify``), prompts exported for application code, trials exported as
tables and training sets, and the HTML report."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

import pandas as pd
from tqdm.auto import tqdm

from promptlab import evals
from promptlab.analysis import columns, frames
from promptlab.core.lineage import current_user, person, utcnow
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.errors import NotFoundError
from promptlab.lab_privacy import cleared
from promptlab.release import audit, export, finetune, labels, preferences
from promptlab.release.diff import PromptDiff
from promptlab.release.export import ExportedSet, TrialFilters
from promptlab.release.prompt_files import forget_served, prompt_document, write_prompt_file
from promptlab.release.report import ReportData, experiment_row, write_report
from promptlab.release.versions import version_table
from promptlab.store import Store, copy, prompt_reads, reads, run_reads


class ReleaseMethods:
    """``Lab`` methods that take results to production (a mixin: ``Lab`` provides ``store``)."""

    store: Store

    def _trials(self, **filters: Unpack[TrialFilters]) -> pd.DataFrame:
        return frames.read_trials(self.store, frames.trial_filter(**filters))

    def prompt_names(self) -> pd.DataFrame:
        """Prompt names ever run, with version and trial counts, most recently used first."""
        return prompt_reads.prompt_names(self.store)

    def prompt_versions(self, name: str) -> pd.DataFrame:
        """Every version ever run under ``name``, oldest first and numbered
        (``number``: 2 is ``v2``): template, who wrote it, when it first ran,
        trials, runs, models, the labels on it and per model its configs, trial
        counts and each evaluator's mean and n over all of them (``by_model``;
        ``scores``: the means alone)."""
        return version_table(self.store, name)

    def version_numbers(self, *names: str) -> dict[tuple[str, str], int]:
        """The number of every version of ``names`` (``v2`` is 2), by (name, version):
        what ``prompt_versions`` numbers them, read from the prompts alone (cheap)."""
        found = prompt_reads.version_numbers(self.store, names)
        return {(str(n), str(v)): int(k) for n, v, k in found[["name", "version", "number"]].itertuples(index=False)}

    def prompt(self, name: str, version: str | None = None, *, label: str | None = None) -> Prompt:
        """A stored prompt: a version (prefix), the one a label points at, or the newest."""
        if label is not None:
            version = labels.current_version(self.store, name, label)
            if version is None:
                raise NotFoundError(f"prompt {name!r} has no label {label!r}")
        if version is None:
            versions = prompt_reads.prompt_versions(self.store, name)
            if versions.empty:
                raise NotFoundError(f"no prompt named {name!r} has been run; `lab.prompt_names()` lists them")
            version = str(versions.iloc[-1]["version"])
        model = None
        if label is not None:
            current = prompt_reads.labels(self.store, name)
            model = current.loc[current["label"] == label, "model"].iloc[0]
        return labels.prompt_at(self.store, name, version, model, label=label)

    def prompt_diff(self, name: str, a: str, b: str) -> PromptDiff:
        """Versions ``a`` and ``b`` (prefixes or labels) of ``name``: the text diff
        next to the score deltas on the inputs both were run on."""
        first, second = (self._version_or_label(name, v) for v in (a, b))
        trials_a, trials_b = labels.versions_trials(self.store, name, [first.version, second.version])
        meanings = evals.recorded_meanings(self.store, [*trials_a["trial_id"], *trials_b["trial_id"]])
        return PromptDiff(first, second, labels.shared_input_deltas(trials_a, trials_b, meanings))

    def _version_or_label(self, name: str, ref: str) -> Prompt:
        if labels.current_version(self.store, name, ref) is not None:
            return self.prompt(name, label=ref)
        return self.prompt(name, ref)

    # -- labels ----------------------------------------------------------------------

    def promote(
        self,
        name: str,
        version: str,
        label: str = "production",
        *,
        approved_by: str | None = None,
        note: str | None = None,
        evidence: Mapping[str, Any] | None = None,
        model: Model | None = None,
    ) -> dict[str, Any]:
        """Point ``label`` of prompt ``name`` at ``version`` (a unique prefix is
        enough), appending the move to the audit log with who, the approver, a
        note and the evidence (by default: the version's recent runs and mean
        scores). The recommended model defaults to the one it ran with most.
        Protected labels (``promptlab.toml``) need an approver who is neither
        the author nor you. Returns the recorded event."""
        event = labels.move_label(
            self.store,
            name,
            version,
            label,
            action="promote",
            approved_by=approved_by,
            note=note,
            evidence=evidence,
            model=model,
        )
        forget_served()  # this process's load_prompt asks a team server again
        return event

    def rollback(
        self, name: str, label: str = "production", *, approved_by: str | None = None, note: str | None = None
    ) -> dict[str, Any]:
        """Move ``label`` back to the version it pointed at before; audited like a promotion."""
        previous = labels.previous_version(self.store, name, label)
        events = prompt_reads.label_events(self.store, name, label)
        earlier = events[events["to_version"] == previous].iloc[-1]
        model = columns.decode_json(earlier["model"])
        event = labels.move_label(
            self.store,
            name,
            previous,
            label,
            action="rollback",
            approved_by=approved_by,
            note=note,
            evidence=None,
            model=Model.from_dict(model) if model else None,
        )
        forget_served()
        return event

    def export_prompt(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        label: str | None = "production",
        version: str | None = None,
        mkdir: bool = False,
    ) -> Path:
        """Write a prompt (the version ``label`` points at, or ``version``) to .json,
        .yaml or .py for application code: template, variables, model config,
        version, label and the evidence behind it. ``pl.load_prompt(path=...)``
        loads it with no database."""
        prompt = self.prompt(name, version) if version is not None else self.prompt(name, label=label)
        events = prompt_reads.label_events(self.store, name, label) if version is None and label else pd.DataFrame()
        evidence = columns.decode_json(events.iloc[-1]["evidence"]) if len(events) else None
        document = prompt_document(
            prompt,
            label=label if version is None else None,
            evidence=evidence,
            exported_at=utcnow().isoformat(timespec="seconds"),
            exported_by=current_user(),
        )
        return write_prompt_file(Path(path), document, mkdir=mkdir)

    def protected_labels(self) -> list[str]:
        """The labels the policy protects (``promptlab.toml`` beside the history
        file; none there: none), sorted: moving one needs an approver."""
        return sorted(labels.Policy.of(self.store).protected)

    def approvers(self, name: str, version: str) -> list[str]:
        """The policy's approvers who may approve moving a label of ``name`` to
        ``version``: everyone listed but you (the one moving it) and the
        version's author, sorted. Whether a label needs one at all:
        ``protected_labels()``."""
        author = person(prompt_reads.prompt_template(self.store, name, version)["created_by"])
        barred = {person(self.store.identity or current_user()), author}
        return sorted(a for a in labels.Policy.of(self.store).approvers if person(a) not in barred)

    def may_approve(self) -> bool:
        """Whether you may approve label moves here: on a team server, when your
        login has its approver role (in a history file approvals are named, not given)."""
        identity = self.store.identity
        return bool(identity) and identity in labels.Policy.of(self.store).approvers

    def approve_promotion(self, name: str, version: str, label: str = "production", *, note: str | None = None) -> str:
        """Approve moving ``label`` of ``name`` to ``version``, as yourself, on a
        team server (whose approver role you must have): then someone else, who
        neither wrote the version nor is you, may ``promote`` it with
        ``approved_by=`` your name. The approval's id. In a history file there is
        no one to vouch for an approver, so ``approved_by=`` alone records it."""
        stored = prompt_reads.prompt_template(self.store, name, version)
        return str(self.store.approve(name, str(stored["version"]), label, note=note))

    def previous_version(self, name: str, label: str = "production") -> str:
        """The version ``rollback(name, label)`` would move ``label`` back to."""
        return labels.previous_version(self.store, name, label)

    def labels(self, name: str | None = None) -> pd.DataFrame:
        """Where each label points now."""
        frame = prompt_reads.labels(self.store, name)
        frame["model"] = frame["model"].map(columns.decode_json)
        return frame

    def label_history(self, name: str | None = None, label: str | None = None) -> pd.DataFrame:
        """The audit log of label moves, oldest first (by ``seq``): each with the
        policy in force when it was made (``policy``) and its place in the hash chain."""
        frame = prompt_reads.label_events(self.store, name, label)
        for column in ("model", "evidence", "policy"):
            frame[column] = frame[column].map(columns.decode_json)
        return frame

    def verify(self) -> audit.ChainReport:
        """Walk the label audit log's hash chain and report every break: an event
        edited, deleted, inserted or forged, or one recorded without a hash
        after the chain began (``report.ok``, ``print(report)``). Events from
        before promptlab kept a chain are counted as unchained, not as breaks."""
        return audit.verify_label_log(self.store)

    # -- moving ----------------------------------------------------------------------

    def copy_to(
        self, destination: str | os.PathLike[str], *, labels: bool = True, progress: bool = True
    ) -> copy.CopyResult:
        """Copy this history into another (``promptlab db copy``): a history file
        (created if new) or a team server (``postgresql://ADMIN@HOST/DB``: as its
        admin, since the copy keeps who recorded each row). Ids, lineage,
        feedback, scores and the label log (its hash chain intact) go as they
        are; what the destination has is skipped, so running it again resumes
        an interrupted copy or brings over what is new, never a row twice.
        Teammates each copy their file into one server. ``labels=False``
        leaves the label log out; ``progress`` shows a bar."""
        self.store.fold(wait=self.store.busy_timeout)  # on a server: what waits in the spool goes first
        bar = tqdm(unit="row", disable=not progress, dynamic_ncols=True)
        shown: list[str] = []

        def advance(step: copy.TableCopy) -> None:
            if shown[-1:] != [step.table]:  # a bar per table, as the CLI prints a line per table
                shown.append(step.table)
                bar.reset(total=step.total)
                bar.set_description(step.table)
            bar.update(step.read - bar.n)

        with bar:
            return copy.copy_history(self.store, destination, labels=labels, progress=advance)

    # -- exporting -----------------------------------------------------------------

    def export_trials(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        mkdir: bool = False,
        reason: str | None = None,
        **trial_filters: Unpack[TrialFilters],
    ) -> Path:
        """Write the trials ``trials(**trial_filters)`` returns to CSV, Parquet or
        JSONL, by ``path``'s suffix unless ``format`` says (``promptlab.release.export``).
        The folder must exist unless ``mkdir=True`` (as for every export). Data
        above the policy's export tier needs an approval (``promptlab.privacy``);
        every export is logged, with ``reason``."""
        trials = cleared(self.store, self._trials(**trial_filters), "trials", path, reason)
        return export.export_trials(trials, path, format, mkdir=mkdir)

    def export_finetune(
        self,
        path: str | os.PathLike[str],
        *,
        validation_split: float = 0.0,
        seed: int = 0,
        mkdir: bool = False,
        reason: str | None = None,
        **selection: Unpack[finetune.FinetuneSelection],
    ) -> ExportedSet:
        """Write the matching trials as an OpenAI chat fine-tuning set (JSONL), a
        ``validation_split`` share to ``<stem>.val.jsonl``; validated before anything
        is written. ``selection``: the ``trials`` filters and the example
        filters (``min_score`` needs ``evaluator`` unless one evaluator scored
        the trials; ``vote="up"`` keeps net up-voted ones; errors excluded,
        inputs deduplicated and corrections used unless told otherwise). Guarded
        and logged as ``export_trials`` is."""
        trial_filters, example_filters = finetune.split_selection(selection)
        return finetune.export_finetune(
            cleared(self.store, self._trials(**trial_filters), "finetune", path, reason),
            path,
            validation_split=validation_split,
            seed=seed,
            mkdir=mkdir,
            **example_filters,
        )

    def export_preferences(
        self,
        path: str | os.PathLike[str],
        *,
        validation_split: float = 0.0,
        seed: int = 0,
        mkdir: bool = False,
        reason: str | None = None,
        **trial_filters: Unpack[TrialFilters],
    ) -> ExportedSet:
        """Write DPO preference pairs (OpenAI's format) from the matching trials'
        corrections, votes and pairwise judge verdicts (``promptlab.release.preferences``).
        Guarded and logged as ``export_trials`` is."""
        trials = cleared(self.store, self._trials(**trial_filters), "preferences", path, reason)
        verdicts = reads.pairwise_verdicts(self.store, list(trials["trial_id"]))
        return preferences.export_preferences(
            trials, path, scores=verdicts, validation_split=validation_split, seed=seed, mkdir=mkdir
        )

    def report(
        self,
        path: str | os.PathLike[str],
        experiment: str,
        *,
        title: str | None = None,
        samples: int = 5,
        mkdir: bool = False,
        reason: str | None = None,
    ) -> Path:
        """Write a self-contained HTML report of ``experiment`` (summary with CIs,
        plots, sample outputs, prompts and their diffs, feedback, runs) to ``path``.
        Trials above the policy's export tier show masked unless an approval
        for a ``report`` export of the experiment covers them; the export is logged."""
        data = self.report_data(experiment)
        trials = cleared(self.store, data.trials, "report", path, reason, mask=True)
        return write_report(replace(data, trials=trials), path, title=title, samples=samples, mkdir=mkdir)

    def report_data(self, experiment: str) -> ReportData:
        """What the report of ``experiment`` shows: its row, runs, trials and the
        versions of each prompt its trials used."""
        row = experiment_row(frames.read_experiments(self.store), experiment, self.store.location)
        trials = self._trials(experiment=experiment)
        names = [str(name) for name in dict.fromkeys(trials["prompt_name"])]
        return ReportData(
            row,
            frames.read_runs(self.store, run_reads.RunFilter(experiment=experiment)),
            trials,
            {name: self.prompt_versions(name) for name in names},
        )
