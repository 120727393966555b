"""Labels and promotion: which version of a prompt is ``production``, who
moved it there, who approved, on what evidence, and how application code
loads it.

Every move is an event appended to ``label_events``; a label points at the
version of its newest event, so the history is never rewritten. A policy
file ``promptlab.toml`` beside the database can protect labels::

    [labels]
    protected = ["production"]
    approvers = ["lee", "kim"]

A protected label moves only with ``approved_by`` naming someone in
``approvers`` who is neither the version's author nor the person moving it
(names compared without regard to case or surrounding spaces: ``Lee`` is
``lee``). The library enforces this, not only the UI.

The rules are hard to walk around by accident: the policy file is looked for
beside the real database file (a symlink can't hide it); every event records
the policy in force (its file, a hash of its text, what it protected), and a
label a recorded policy protected doesn't move once that file is gone. Events
are ordered by a sequence number taken under a lock, not by the clock, and
chained by hashes (``audit.py``), so a mis-set clock or an event dated in
the future can't pin a label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from promptlab import evals
from promptlab.analysis import columns, stats
from promptlab.core.files import read_policy_file
from promptlab.core.hashing import new_id
from promptlab.core.lineage import current_user, person, utcnow
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.errors import ConfigError, DamagedStoreError, NotFoundError, PolicyError, StoreError
from promptlab.release import audit
from promptlab.store import Store, prompt_reads, reads, run_reads

POLICY_FILE = "promptlab.toml"
"""The policy file's name, looked for beside the database."""

EVIDENCE_RUNS = 10
"""How many of a version's most recent runs a promotion cites."""


@dataclass(frozen=True)
class Policy:
    """Which labels are protected and who may approve moving them."""

    protected: frozenset[str] = frozenset()
    """Labels that need an approver."""

    approvers: frozenset[str] = frozenset()
    """People who may approve moving a protected label."""

    source: Path | None = None
    """The file it came from, when there was one."""

    digest: str | None = None
    """SHA-256 of the file's text, recorded with every label event."""

    server: str | None = None
    """The team server it came from (its URL without a password), when it did:
    there the server itself enforces it, whatever this library does."""

    @classmethod
    def of(cls, store: Any) -> Policy:
        """The policy that governs ``store``: a team server's own (its protected
        labels, and the members of its approver role), else the file beside the history."""
        served = store.server_policy()
        if served is None:
            return cls.beside(store.path)
        protected, approvers = served
        return cls(frozenset(protected), frozenset(approvers), server=store.location)

    @classmethod
    def beside(cls, database: Path) -> Policy:
        """The policy in ``promptlab.toml`` next to the real file ``database`` names
        (symlinks resolved); none there: nothing protected."""
        path = database.expanduser().resolve().parent / POLICY_FILE
        if not path.exists():
            return cls()
        document, text = read_policy_file(path)
        section = document.get("labels", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [labels] must be a table: [labels] protected = [...], approvers = [...]")
        # [endpoints] is the running user's endpoint allow-list (promptlab.providers.endpoints), read there;
        # [privacy] the privacy policy (promptlab.privacy.policy)
        unknown = set(document) - {"labels", "endpoints", "privacy"} | set(section) - {"protected", "approvers"}
        if unknown:
            raise ConfigError(
                f"{path}: unknown key {sorted(unknown)[0]!r}; use [labels] protected = [...], approvers = [...]"
            )
        protected, approvers = section.get("protected", []), section.get("approvers", [])
        # a bare string would be taken letter by letter: protected = "production" must not unprotect it
        if not isinstance(protected, list) or not isinstance(approvers, list):
            raise ConfigError(f'{path}: protected and approvers must be lists, e.g. protected = ["production"]')
        if not all(isinstance(x, str) for x in [*protected, *approvers]):
            raise ConfigError(f"{path}: protected and approvers must be lists of names")
        return cls(frozenset(protected), frozenset(approvers), path, hashlib.sha256(text).hexdigest())

    def record(self) -> dict[str, Any] | None:
        """What a label event records of this policy (None: there was no file)."""
        if self.server is not None:
            return {"server": self.server, "protected": sorted(self.protected), "approvers": sorted(self.approvers)}
        if self.source is None:
            return None
        return {
            "file": str(self.source),
            "sha256": self.digest,
            "protected": sorted(self.protected),
            "approvers": sorted(self.approvers),
        }

    def authorize(self, label: str, *, author: str | None, mover: str, approved_by: str | None) -> None:
        """Raise ``PolicyError`` unless this move of ``label`` is allowed."""
        if label not in self.protected:
            return
        where = f" (policy: {self.source or self.server})" if self.source or self.server else ""
        approver = person(approved_by)
        if not approver:
            raise PolicyError(f"{label!r} is protected{where}: pass approved_by= one of {sorted(self.approvers)}")
        if approver == person(author):
            raise PolicyError(
                f"{approved_by} wrote this version and can't approve it for {label!r}; ask another approver"
            )
        if approver == person(mover):
            raise PolicyError(f"{approved_by} can't approve their own move of {label!r}; ask another approver")
        if approver not in {person(name) for name in self.approvers}:
            raise PolicyError(
                f"{approved_by} is not an approver for {label!r}{where}; approvers: {sorted(self.approvers) or 'none'}"
            )


def evidence_for(store: Store, name: str, version: str) -> dict[str, Any]:
    """What justifies a version: its recent runs, trial and error counts, and the
    mean of each evaluator's newest scores over all its trials."""
    with store.reading() as reader:
        evidence = prompt_reads.version_evidence(reader, name, version, EVIDENCE_RUNS)
        scores = prompt_reads.version_scores(reader, name, version)
    totals = scores.assign(total=scores["mean"] * scores["n"]).groupby("evaluator", sort=True)[["total", "n"]].sum()
    headline = {str(label): round(float(row.total / row.n), 4) for label, row in totals.iterrows()}
    return {**evidence, "scores": headline}


def _recommended_model(store: Store, name: str, version: str) -> Model | None:
    usage = prompt_reads.model_usage(store, name, version)
    if usage.empty:
        return None
    top = usage.iloc[0]
    # The models table keeps what identifies a config; its price and key variable
    # live in the config of the run that used it.
    config = columns.decode_json(run_reads.run(store, str(top["last_run"]))["config"]) or {}
    recorded: dict[str, Any] = next(
        (
            m
            for m in config.get("models", [])
            if (m["provider"], m["name"], m["base_url"]) == (top["provider"], top["name"], top["base_url"] or None)
        ),
        {},
    )
    # Built by from_dict like every model read back from a history: no way around its checks.
    return Model.from_dict(
        {
            "name": str(top["name"]),
            "provider": str(top["provider"]),
            "base_url": top["base_url"] or None,
            "params": columns.decode_json(top["params"]) or {},
            "price": recorded.get("price"),
            "api_key_env": recorded.get("api_key_env"),
        }
    )


def current_version(store: Store, name: str, label: str) -> str | None:
    """The version ``label`` points at now, or None."""
    found = prompt_reads.labels(store, name)
    found = found[found["label"] == label]
    return None if found.empty else str(found.iloc[0]["version"])


def move_label(
    store: Store,
    name: str,
    version: str,
    label: str,
    *,
    action: str,
    approved_by: str | None,
    note: str | None,
    evidence: Mapping[str, Any] | None,
    model: Model | None,
) -> dict[str, Any]:
    """Check the policy and append the event, numbered and chained; the event's row.

    Reading the log, checking and appending happen under one lock, so two
    processes moving labels at once never take the same ``seq``."""
    if not label or not isinstance(label, str):
        raise ConfigError("label must be a name such as 'production' or 'staging'")
    if store.read_only:
        raise StoreError(f"{store.path} was opened read-only; open it with pl.Lab(path) to move a label")
    stored = prompt_reads.prompt_template(store, name, version)
    version = str(stored["version"])
    checked_template(stored, name)  # never promote a template that no longer hashes to its version
    mover = store.identity or current_user()  # on a server: who it authenticated
    with store.labels_locked():
        events = prompt_reads.label_events(store)
        policy = Policy.of(store)
        if policy.server is None:
            _refuse_if_policy_vanished(policy, events, label)
        policy.authorize(label, author=stored["created_by"], mover=mover, approved_by=approved_by)
        chosen = model or _recommended_model(store, name, version)
        seq, prev_hash = audit.chain_link(events)
        row = {
            "event_id": new_id(),
            "name": name,
            "label": label,
            "action": action,
            "from_version": _pointed_at(events, name, label),
            "to_version": version,
            "model": None if chosen is None else chosen.to_dict(),
            "user": mover,
            "approved_by": approved_by,
            "note": note,
            "evidence": dict(evidence) if evidence is not None else evidence_for(store, name, version),
            "created_at": utcnow().isoformat(),
            "seq": seq,
            "policy": policy.record(),
            "prev_hash": prev_hash,
        }
        row["hash"] = audit.event_hash(row)
        store.append({"label_events": [row]})
    store.fold_soon()
    return row


def _pointed_at(events: pd.DataFrame, name: str, label: str) -> str | None:
    """The version ``label`` points at in ``events`` (in log order), or None."""
    if events.empty:
        return None
    mine = events[(events["name"] == name) & (events["label"] == label)]
    return None if mine.empty else str(mine.iloc[-1]["to_version"])


def _refuse_if_policy_vanished(policy: Policy, events: pd.DataFrame, label: str) -> None:
    """Refuse to move ``label`` when the newest recorded policy protected it and
    its file is gone: deleting the file must not lift the protection."""
    if policy.source is not None or events.empty:
        return
    recorded = events[events["policy"].map(columns.decode_json).notna()]
    if recorded.empty:
        return
    last = recorded.iloc[-1]
    was = columns.decode_json(last["policy"])
    if not isinstance(was, dict) or label not in (was.get("protected") or []):
        return
    raise PolicyError(
        f"{label!r} is protected by {was.get('file')}, as recorded with label event {last['event_id']} "
        f"(seq {last['seq']}, {last['name']}/{last['label']}), and that file is gone. Restore it (from version "
        f"control or a backup); to lift the protection, keep the file and take {label!r} out of its protected list"
    )


def previous_version(store: Store, name: str, label: str) -> str:
    """The version ``label`` pointed at before its current one."""
    events = prompt_reads.label_events(store, name, label)
    if events.empty:
        raise NotFoundError(f"prompt {name!r} has no label {label!r}; promote a version first")
    versions = list(events["to_version"])
    current = versions[-1]
    earlier = [v for v in versions[:-1] if v != current]
    if not earlier:
        raise NotFoundError(f"{label!r} of {name!r} has never pointed at another version; nothing to roll back to")
    return str(earlier[-1])


def prompt_at(store: reads.Source, name: str, version: str, model: Any = None, *, label: str | None = None) -> Prompt:
    """The ``Prompt`` of a stored version, with its recommended model when known.

    The stored template must hash to its version, and, for the version
    ``label`` points at, the stored row must be that version exactly: anything
    else means the file was edited behind promptlab's back (``DamagedStoreError``)."""
    stored = prompt_reads.prompt_template(store, name, version)
    template = checked_template(stored, name, label=label, labelled=version if label is not None else None)
    decoded = columns.decode_json(model)
    return Prompt(template, name=name, model=Model.from_dict(decoded) if decoded else None)


def checked_template(
    stored: Mapping[str, Any], name: str, *, label: str | None = None, labelled: str | None = None
) -> Any:
    """The template of a stored prompts row, refused (``DamagedStoreError``) unless it
    hashes to the row's version and, when ``label`` points at ``labelled``, the
    row is that version exactly."""
    template = columns.decode_json(stored["template"])
    actual = Prompt(template, name=name).version
    expected = labelled if labelled is not None else str(stored["version"])
    if actual == expected == str(stored["version"]):
        return template
    pointer = f"label {label!r} points at" if label is not None else "its stored row is"
    raise DamagedStoreError(
        f"prompt {name!r}: {pointer} version {expected}, but the stored template hashes to {actual} "
        f"(its row says {stored['version']}). The history may have been tampered with: don't use it; run "
        "`promptlab db verify`, compare the file with a backup, and promote a known-good version again"
    )


def shared_input_deltas(
    trials_a: pd.DataFrame, trials_b: pd.DataFrame, meanings: Mapping[str, evals.Meaning] | None = None
) -> pd.DataFrame:
    """Per evaluator: mean on the inputs both versions saw with the same model
    config, and B − A, judged by what its scores mean (``meanings`` by label,
    as ``evals.recorded_meanings`` reads them; a label missing counts as a
    score, higher better): a check's ``a`` and ``b`` are its pass rates, and
    its verdict counts passes."""
    rows = []
    for label in sorted(set(columns.score_columns(trials_a)) & set(columns.score_columns(trials_b))):
        higher, on = (meanings or {}).get(label, evals.Meaning()).compared()
        comparison = stats.compare(trials_a, trials_b, label, higher_is_better=higher, on=on, by=("model", "params"))
        rows.append(
            {
                "evaluator": label,
                "n_shared": comparison.n,
                "a": comparison.mean_a,
                "b": comparison.mean_b,
                "delta": comparison.difference,
                "verdict": comparison.verdict,
            }
        )
    return pd.DataFrame(rows, columns=["evaluator", "n_shared", "a", "b", "delta", "verdict"])


COMPARED_COLUMNS = ["trial_id", "prompt_name", "prompt_version", "model", "params", "vars", "repeat", "created_at"]
"""What pairing two versions' scores needs: not their outputs or messages."""


def versions_trials(store: Store, name: str, versions: Sequence[str]) -> list[pd.DataFrame]:
    """The trials of each of ``versions`` of ``name``, with the scores of the
    evaluators that scored every one of the versions: what pairing them
    needs (none when no evaluator did). ``params`` and ``vars`` stay the
    stored JSON text, which pairing only compares."""
    frames = []
    with store.reading() as reader:
        wheres = [reads.TrialFilter(prompt=name, prompt_version=version) for version in versions]
        shared = set.intersection(*(set(reads.scored_evaluators(reader, where)) for where in wheres))
        for where in wheres:
            if not shared:
                frames.append(columns.trial_frame(pd.DataFrame(columns=COMPARED_COLUMNS)))
                continue
            trials = reads.trials(reader, COMPARED_COLUMNS, where)
            scores = reads.latest_scores(reader, where)
            frames.append(columns.trial_frame(trials, scores[scores["evaluator"].isin(shared)], decode=False))
    return frames
