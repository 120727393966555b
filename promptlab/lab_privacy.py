"""The Lab's privacy methods: the policy in force, approvals, the audit log,
and the checks every sweep, evaluation and export passes before data moves
(``promptlab.privacy`` says what each enforces)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from promptlab.analysis.columns import decode_json
from promptlab.core.grid import expand, fingerprint
from promptlab.core.lineage import utcnow
from promptlab.core.model import Model
from promptlab.core.rows import Data
from promptlab.evals.protocol import Evaluator
from promptlab.privacy import approvals, erasure, exports, guard
from promptlab.privacy.approvals import Expiry
from promptlab.privacy.policy import PrivacyPolicy, policy_for
from promptlab.runner.plan import PlannedSweep
from promptlab.runner.retrieve import BeforeSearch
from promptlab.store import Store, privacy_reads

LOG_COLUMNS = (
    "event_id",
    "action",
    "tier",
    "use",
    "model",
    "export",
    "requested_by",
    "approved_by",
    "reason",
    "expires_at",
    "approval_id",
    "detail",
    "user",
    "created_at",
)
"""The columns of ``lab.privacy_log()``."""


def policy_of(store: Store) -> PrivacyPolicy:
    """The privacy policy over ``store``: the file beside a history file, the
    working directory's for a team server."""
    return policy_for(store.path if store.identity is None else None)


def data_name(data: Data | str) -> str | None:
    """How the policy's ``[privacy.data]`` patterns see ``data``: a file's path
    as given (patterns such as ``"*support*"`` match it wherever it is run
    from); rows given in code have none (their ``tier`` column, or ``tier=``, labels them)."""
    if isinstance(data, (str, Path)):
        return str(data)
    return None


def tiered(
    store: Store, plan: PlannedSweep, source: str | None, declared: str | None, *, clear: bool = False
) -> PlannedSweep:
    """``plan`` with the tier of each of its rows, and the personal data the
    policy takes out of each tier: from the rows before any call
    (``before_call``: the cells are made again from the redacted rows, so what
    is sent, cached and recorded is the redacted text), and from the trials
    before they are stored (``before_storage``). With ``clear``, a
    ``PrivacyError`` before any call if a row (or a judge's view of it) would
    reach a model its tier may not go to without an approval
    (``promptlab.privacy.guard``)."""
    policy = policy_of(store)
    tiers = guard.row_tiers(policy, plan.sweep.rows, declared=declared, data=source, experiment=plan.experiment)
    plan = replace(plan, tiers=tiers, tier=policy.highest(*tiers) if tiers else None)
    plan = replace(plan, scrub=policy.stored_redaction())
    if clear:
        calls = [(cell.model, cell.row_index) for cell in plan.cells]
        calls += [(model, row) for model in judge_models(plan.evaluators) for row in range(len(tiers))]
        guard.clear_calls(store, policy, use=plan.experiment, calls=calls, tiers=tiers)
    kinds = [policy.redaction(tier, "before_call") for tier in tiers]
    if not any(kinds):
        return plan
    rows = tuple(redacted_row(row, k) if k else row for row, k in zip(plan.sweep.rows, kinds, strict=True))
    sweep = replace(plan.sweep, rows=rows)
    cells = expand(sweep, plan.variants)
    return replace(plan, sweep=sweep, cells=cells, fingerprint=fingerprint(cells))


def cleared_search(
    store: Store, source: str | None, declared: str | None, experiment: str, *, clear: bool
) -> BeforeSearch:
    """What a sweep's retrievers do before sending its rows' queries to a model (an
    embeddings endpoint): with ``clear``, refuse rows whose tier may not go there
    (as for the sweep's own calls), and take queries from the rows as redacted
    before a call."""

    def before_search(rows: Sequence[Mapping[str, Any]], models: Sequence[Model]) -> Sequence[Mapping[str, Any]]:
        policy = policy_of(store)
        tiers = guard.row_tiers(policy, rows, declared=declared, data=source, experiment=experiment)
        if clear:
            calls = [(model, row) for model in dict.fromkeys(models) for row in range(len(rows))]
            guard.clear_calls(store, policy, use=experiment, calls=calls, tiers=tiers, what="retrieval")
        kinds = [policy.redaction(tier, "before_call") for tier in tiers]
        return [redacted_row(row, k) if k else row for row, k in zip(rows, kinds, strict=True)]

    return before_search


def redacted_row(row: Mapping[str, Any], kinds: Sequence[str]) -> dict[str, Any]:
    """``row`` with the personal data of ``kinds`` replaced in its values (its
    ``tier`` label kept), one pseudonym per value throughout the row."""
    from promptlab.core.pii import Pseudonyms

    names = Pseudonyms(kinds)
    return {key: value if key == guard.ROW_TIER else names.redact_value(value) for key, value in row.items()}


def judge_models(evaluators: Iterable[Evaluator]) -> list[Model]:
    """The models the evaluators call (judges)."""
    return [model for e in evaluators if isinstance(model := getattr(e, "model", None), Model)]


def cleared(
    store: Store, trials: pd.DataFrame, export: str, destination: Any, reason: str | None, *, mask: bool = False
) -> pd.DataFrame:
    """``trials`` as they may leave in ``export`` (``promptlab.privacy.exports``)."""
    return exports.clear_export(
        store, policy_of(store), trials, export=export, destination=str(destination), reason=reason, mask=mask
    )


class PrivacyMethods:
    """Mixed into ``Lab``."""

    store: Store

    @property
    def privacy_policy(self) -> PrivacyPolicy:
        """The ``[privacy]`` policy in force (``promptlab.privacy.policy``)."""
        return policy_of(self.store)

    def _clear_grading(
        self, trials: pd.DataFrame, evaluators: Sequence[Evaluator], policy: PrivacyPolicy
    ) -> dict[str, str]:
        """Refuse grading stored ``trials`` with judges that may not receive their
        tier; the tier each run's judge trials get (the highest they grade)."""
        models = judge_models(evaluators)
        labels = trials["tier"] if "tier" in trials.columns else [None] * len(trials)
        tiers = [policy.highest(guard.label(t)) for t in labels]
        experiments = [str(e) for e in trials["experiment"]]
        for experiment in dict.fromkeys(experiments):
            calls = [(model, i) for i, e in enumerate(experiments) if e == experiment for model in models]
            guard.clear_calls(self.store, policy, use=experiment, calls=calls, tiers=tiers, what="evaluation")
        by_run: dict[str, str] = {}
        for run_id, tier in zip(trials["run_id"].astype(str), tiers, strict=True):
            by_run[run_id] = policy.highest(by_run.get(run_id, tier), tier)
        return by_run

    def approve(
        self,
        *,
        use: str,
        tier: str,
        approved_by: str,
        reason: str,
        model: str | Model | None = None,
        export: str | None = None,
        expires: Expiry = None,
        requested_by: str | None = None,
    ) -> str:
        """Let data of ``tier`` (and below) go to ``model`` (a name, or a
        ``Model``), or leave in ``export`` (``trials``, ``finetune``,
        ``preferences``, ``report``), for ``use`` (an experiment, or an app's
        name), until ``expires``; ``approved_by`` a privacy approver who is not
        the requester. Returns the approval's id; refusals raise
        ``PrivacyError`` and are logged (``promptlab.privacy.approvals``)."""
        name = model.name if isinstance(model, Model) else model
        return approvals.approve(
            self.store,
            self.privacy_policy,
            use=use,
            tier=tier,
            approved_by=approved_by,
            reason=reason,
            model=name,
            export=export,
            expires=expires,
            requested_by=requested_by,
        )

    def approvals(self) -> pd.DataFrame:
        """Every approval, with ``active`` (not expired) — newest last."""
        found = approvals.approvals(self.store)
        frame = pd.DataFrame(
            [vars(a) for a in found], columns=list(approvals.Approval.__dataclass_fields__), dtype=object
        )
        now = utcnow()
        frame["active"] = [a.expires_at is None or a.expires_at > now for a in found]
        return frame

    def privacy_log(self, action: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The privacy audit log, oldest first: every request, approval, refusal,
        use, export, erasure and prune (``LOG_COLUMNS``; ``detail`` decoded).
        ``action`` keeps only those actions."""
        actions = [action] if isinstance(action, str) else list(action or ())
        frame = privacy_reads.privacy_events(self.store, actions)
        frame["detail"] = pd.Series([decode_json(d) or {} for d in frame["detail"]], index=frame.index, dtype=object)
        return frame.reindex(columns=list(LOG_COLUMNS))

    def forget(
        self,
        *,
        value: str | None = None,
        end_user: str | None = None,
        trial_ids: str | Sequence[str] | None = None,
        reason: str,
        by: str,
    ) -> erasure.ErasureReport:
        """Erase a person's data: every occurrence of ``value``, an app's calls
        for ``end_user`` (and their verdicts), or ``trial_ids``, from trials,
        feedback, scores, datasets, the cache and the journal, until the bytes
        are gone from the files; the audit log records why and by whom, never
        what (``promptlab.privacy.erasure``). On a team server, admins only."""
        return erasure.forget(self.store, value=value, end_user=end_user, trial_ids=trial_ids, reason=reason, by=by)

    def prune(self, *, dry_run: bool = False) -> erasure.PruneReport:
        """Delete the production calls kept longer than their tier's retention
        (``[privacy.retention]``); ``dry_run`` says what would go and changes nothing."""
        return erasure.prune(self.store, self.privacy_policy, dry_run=dry_run)
