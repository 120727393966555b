"""Erasure and retention: ``forget`` takes a person's data out of a
history, ``prune`` the production calls kept longer than their tier's
retention; both until the bytes are gone from the files, both leaving a
row in the privacy audit log that says what was done, by whom and why,
never what was erased.

``forget`` takes exactly one of:

- ``value=``: every occurrence of the text, in any case ("Ana Lima" takes
  "ANA LIMA" too), as written plainly or JSON-escaped, in the trials'
  inputs, messages, outputs, responses, errors, params and metadata, in
  feedback (corrections, comments), scores' explanations, dataset rows and
  runs' configs; each becomes ``[erased]`` and the rows stay. A value
  shorter than ``MIN_VALUE_LENGTH`` characters is refused: it would take
  unrelated text with it ("Ann" inside "Annual"). A trial changed is never
  served from the cache again;
- ``end_user=``: an application's calls for that end user, and what hangs
  off them (scores, the judges' trials that graded them, feedback, dataset
  rows made from them), and every verdict they gave;
- ``trial_ids=``: those trials and what hangs off them (their cached copies too).

Rows not folded yet are folded first; a live process still writing some
of them is waited for (``wait`` seconds), then named in the error.
Quarantined journal segments are scrubbed too. Only an admin erases on a
team server. Where the value also sits somewhere an erasure doesn't
change (a prompt's template, a label move's note, the audit log itself),
the report's ``remaining`` says so, with a ``HistoryWarning``.

``prune`` deletes, with what hangs off them, the production calls
(``kind = 'production'``) of each tier the policy keeps for N days
(``[privacy.retention]``) that are older than that; a trial with no tier
has the policy's default. ``dry_run=True`` counts and changes nothing.
Both are in ``promptlab.store.erasure`` (a file) and
``promptlab.store.server.erasure`` (a team server) underneath.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from promptlab.core.lineage import utcnow
from promptlab.errors import ConfigError, HistoryWarning
from promptlab.privacy.log import record_event
from promptlab.privacy.policy import PrivacyPolicy
from promptlab.store import Store, erasure
from promptlab.store.erasable import PLACEHOLDER, Erased, Selection
from promptlab.store.journal_erasure import LIVE_WAIT
from promptlab.store.server.connection import is_server

MIN_VALUE_LENGTH = 4
"""The shortest value ``forget(value=...)`` erases."""


@dataclass(frozen=True)
class ErasureReport:
    """What ``forget`` did."""

    selector: str
    """How it chose: ``value``, ``end_user`` or ``trial_ids``."""

    changed: Mapping[str, int] = field(default_factory=dict)
    """Rows whose text was scrubbed, per table."""

    deleted: Mapping[str, int] = field(default_factory=dict)
    """Rows deleted, per table."""

    files_rewritten: tuple[str, ...] = ()
    """The history file rewritten without free blocks (a server: the tables vacuumed)."""

    segments_scrubbed: tuple[str, ...] = ()
    """Journal (spool) files scrubbed or removed, relative to its folder."""

    remaining: Mapping[str, int] = field(default_factory=dict)
    """``table.column``: rows that still hold the value, where erasure doesn't reach."""

    event_id: str | None = None
    """The ``privacy_log`` event that records it."""

    seconds: float = 0.0
    """How long it took."""

    def __str__(self) -> str:
        lines = [f"forget (by {self.selector}) in {self.seconds:.1f} s"]
        if self.changed:
            lines.append(f"scrubbed: {_counts(self.changed)}")
        if self.deleted:
            lines.append(f"deleted: {_counts(self.deleted)}")
        if not any(self.changed.values()) and not any(self.deleted.values()):
            lines.append("no row held it")
        lines += _files(self.files_rewritten, self.segments_scrubbed)
        if self.remaining:
            lines.append(f"STILL HELD where erasure doesn't reach: {_counts(self.remaining)}")
        lines.append(f"audit event: {self.event_id} (privacy_log)")
        return "\n".join(lines)


@dataclass(frozen=True)
class PruneReport:
    """What ``prune`` did (or, a dry run, would do)."""

    dry_run: bool
    """Whether nothing was changed."""

    retention: Mapping[str, int] = field(default_factory=dict)
    """Days kept, per tier with a limit."""

    before: Mapping[str, datetime] = field(default_factory=dict)
    """Per tier, the time before which its production calls go."""

    by_tier: Mapping[str, int] = field(default_factory=dict)
    """Production trials taken, per tier."""

    deleted: Mapping[str, int] = field(default_factory=dict)
    """Rows deleted (a dry run: that would be), per table."""

    files_rewritten: tuple[str, ...] = ()
    """The history file rewritten (a server: the tables vacuumed)."""

    segments_scrubbed: tuple[str, ...] = ()
    """Journal (spool) files scrubbed or removed."""

    event_id: str | None = None
    """The ``privacy_log`` event that records it (None: a dry run, or nothing to delete)."""

    seconds: float = 0.0
    """How long it took."""

    def __str__(self) -> str:
        if not self.retention:
            return "prune: the policy keeps every tier's production calls ([privacy.retention] is empty)"
        would = "would delete" if self.dry_run else "deleted"
        lines = [f"prune{' (dry run: nothing changed)' if self.dry_run else ''} in {self.seconds:.1f} s"]
        for tier, days in sorted(self.retention.items()):
            since = self.before[tier].strftime("%Y-%m-%d %H:%M")
            lines.append(f"  {tier}: kept {days} days; {self.by_tier.get(tier, 0):,} calls from before {since} UTC")
        lines.append(f"{would}: {_counts(self.deleted) or 'nothing'}")
        lines += _files(self.files_rewritten, self.segments_scrubbed)
        if self.event_id:
            lines.append(f"audit event: {self.event_id} (privacy_log)")
        return "\n".join(lines)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in counts.items() if n)


def _files(rewritten: Sequence[str], scrubbed: Sequence[str]) -> list[str]:
    lines = [f"rewritten without the old bytes: {', '.join(rewritten)}"] if rewritten else []
    return lines + ([f"journal files scrubbed: {', '.join(scrubbed)}"] if scrubbed else [])


def forget(
    store: Store,
    *,
    value: str | None = None,
    end_user: str | None = None,
    trial_ids: str | Sequence[str] | None = None,
    reason: str,
    by: str,
    wait: float = LIVE_WAIT,
) -> ErasureReport:
    """Erase a person's data from the history (see the module docstring) and
    record why and by whom; ``wait``: seconds to wait for live writers."""
    started = time.monotonic()
    selection = _selection(value, end_user, trial_ids, reason, by)
    erased = _erase(store, selection, dry_run=False, wait=wait)
    detail: dict[str, Any] = {"selector": selection.kind, **_detail(erased)}
    if selection.trial_ids:
        detail["trial_ids"] = list(selection.trial_ids)
    event = record_event(store, "forget", reason=reason.strip(), requested_by=by.strip(), detail=detail)
    store.fold(wait=store.busy_timeout)  # the event in the file now, not in the journal
    if erased.remaining:
        warnings.warn(
            f"the erased value is still in {', '.join(erased.remaining)}, which forget doesn't change; "
            "remove it there by hand if it must go",
            HistoryWarning,
            stacklevel=2,
        )
    return ErasureReport(
        selection.kind,
        erased.changed,
        erased.deleted,
        erased.files_rewritten,
        erased.segments_scrubbed,
        erased.remaining,
        event,
        time.monotonic() - started,
    )


def prune(
    store: Store, policy: PrivacyPolicy, *, dry_run: bool = False, now: datetime | None = None, wait: float = LIVE_WAIT
) -> PruneReport:
    """Delete production calls kept longer than their tier's retention (see
    the module docstring); ``now``: UTC, without a zone (default: now)."""
    started = time.monotonic()
    retention = dict(policy.retention_days)
    if not retention:
        return PruneReport(dry_run)
    moment = now or utcnow()
    before = {tier: moment - timedelta(days=days) for tier, days in retention.items()}
    erased = _erase(store, Selection(retention=before, default_tier=policy.default), dry_run=dry_run, wait=wait)
    event = None
    if not dry_run and any(erased.deleted.values()):
        detail = {
            "retention": retention,
            "before": {tier: when.isoformat() for tier, when in before.items()},
            "by_tier": dict(erased.by_tier),
            **_detail(erased),
        }
        event = record_event(store, "prune", reason=f"retention ({policy.where})", detail=detail)
        store.fold(wait=store.busy_timeout)
    return PruneReport(
        dry_run,
        retention,
        before,
        erased.by_tier,
        erased.deleted,
        erased.files_rewritten,
        erased.segments_scrubbed,
        event,
        time.monotonic() - started,
    )


def _detail(erased: Erased) -> dict[str, Any]:
    """What the audit log keeps of an erasure: counts and files, no data."""
    return {
        "changed": dict(erased.changed),
        "deleted": dict(erased.deleted),
        "files_rewritten": list(erased.files_rewritten),
        "segments_scrubbed": len(erased.segments_scrubbed),
        "remaining": dict(erased.remaining),
    }


def _erase(store: Store, selection: Selection, *, dry_run: bool, wait: float) -> Erased:
    if is_server(store.location):
        from promptlab.store.server import erasure as server_erasure  # psycopg: only once a server is named

        return server_erasure.erase(cast(Any, store), selection, dry_run=dry_run, wait=wait)
    return erasure.erase(store, selection, dry_run=dry_run, wait=wait)


def _selection(
    value: str | None, end_user: str | None, trial_ids: str | Sequence[str] | None, reason: str, by: str
) -> Selection:
    """The checked selection: exactly one selector, a reason and a person."""
    given = [name for name, v in (("value", value), ("end_user", end_user), ("trial_ids", trial_ids)) if v is not None]
    if len(given) != 1:
        raise ConfigError(
            "forget takes exactly one of value=, end_user= or trial_ids= "
            f"({'none' if not given else ' and '.join(given)} given); call it once per selection"
        )
    for name, text in (("reason", reason), ("by", by)):
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"forget needs {name}= (the audit log keeps why an erasure was made and who asked)")
    if value is not None:
        if not isinstance(value, str) or len(value.strip()) < MIN_VALUE_LENGTH:
            raise ConfigError(
                f"forget(value=...) erases every occurrence of the text, in any case, everywhere; one shorter "
                f"than {MIN_VALUE_LENGTH} characters ({value!r}) would take unrelated text with it. Give the "
                "whole value (a full name, an email), or erase the person's rows with end_user= or trial_ids="
            )
        if value.lower() in PLACEHOLDER.lower():
            raise ConfigError(f"{value!r} is part of the placeholder erased text becomes ({PLACEHOLDER!r})")
        return _not_in_audit(Selection(value=value), value, reason, by)
    if end_user is not None:
        if not isinstance(end_user, str) or not end_user.strip():
            raise ConfigError("forget(end_user=...) takes the application's id of the end user (a non-empty text)")
        return _not_in_audit(Selection(end_user=end_user), end_user, reason, by)
    ids = (trial_ids,) if isinstance(trial_ids, str) else tuple(trial_ids or ())
    if not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise ConfigError("forget(trial_ids=...) takes one trial id or a list of them (non-empty texts)")
    return Selection(trial_ids=tuple(dict.fromkeys(i.strip() for i in ids)))


def _not_in_audit(selection: Selection, erased: str, reason: str, by: str) -> Selection:
    """Refuse a reason or name that repeats what is erased: the audit log keeps them."""
    if erased.lower() in reason.lower() or erased.lower() in by.lower():
        raise ConfigError(
            "the reason and by= are kept in the audit log, so they must not repeat what is erased; "
            "describe it instead (e.g. 'customer request #123')"
        )
    return selection
