"""The privacy policy: which tiers data comes in, where each may go, who
approves exceptions, how long production logs of a tier are kept, and what
is redacted.

It is the ``[privacy]`` section of ``promptlab.toml`` beside the history file
(the same file that protects labels, found the same way); a team server's
comes from ``promptlab.toml`` in the working directory, and the server
itself decides who approves (its ``promptlab_privacy`` role)::

    [privacy]
    tiers = ["public", "internal", "restricted"]  # lowest first (this is the default)
    default = "internal"          # the tier of anything nobody labelled
    remote_endpoints = "internal" # the highest tier an endpoint not listed below receives
    exports = "internal"          # the highest tier an export holds without an approval

    [privacy.endpoints]           # base URL or host = the highest tier it may receive
    "https://gpu-box.internal:8000/v1" = "restricted"

    [privacy.approvers]           # who may approve uses of each tier
    restricted = ["pat", "sam"]

    [privacy.data]                # data files and datasets, by name pattern
    "experiments/data/support*" = "restricted"
    [privacy.experiments]
    "support-*" = "restricted"
    [privacy.sources]             # applications that log (pl.logger's source)
    "support-app" = "restricted"

    [privacy.retention]           # days production calls of a tier are kept
    restricted = 30

    [privacy.redact]              # personal data replaced by placeholders, per tier
    restricted = { before_call = ["email", "phone"], before_storage = ["email", "phone", "card"] }

The embedded model, the fake provider and servers on this machine receive
every tier: the data doesn't leave it. Without a policy file every rule
still holds with these defaults, so a restricted row labelled in code (a
``tier`` column, ``tier=`` on a sweep, a dataset or a logger) is kept from
remote models from the first day.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from promptlab.core.files import read_policy_file
from promptlab.core.lineage import person
from promptlab.core.model import Model
from promptlab.errors import ConfigError
from promptlab.providers.endpoints import OPENAI_URL, is_loopback, parse_entry

POLICY_FILE = "promptlab.toml"
DEFAULT_TIERS = ("public", "internal", "restricted")
LOCAL_PROVIDERS = frozenset({"llamacpp", "fake"})
"""Providers whose calls never leave this machine."""

_KEYS = {"tiers", "default", "remote_endpoints", "endpoints", "approvers", "data", "experiments", "sources"}
_KEYS |= {"retention", "redact", "exports"}
_EXAMPLE = '[privacy] tiers = ["public", "internal", "restricted"], default = "internal"'


@dataclass(frozen=True)
class PrivacyPolicy:
    """Tiers and the rules that keep data in them."""

    tiers: tuple[str, ...] = DEFAULT_TIERS
    """Tier names, lowest first."""

    default: str = "internal"
    """The tier of data nobody labelled."""

    remote_endpoints: str = "internal"
    """The highest tier a remote endpoint not listed in ``endpoints`` receives."""

    exports: str = "internal"
    """The highest tier an export holds without an approval for it."""

    endpoints: tuple[tuple[str, str], ...] = ()
    """Endpoints (a base URL or a host, as ``[endpoints] allow`` takes them) and
    the highest tier each may receive."""

    approvers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Who may approve uses of data of each tier."""

    patterns: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """For ``data``, ``experiments`` and ``sources``: (name pattern, tier) pairs."""

    retention_days: Mapping[str, int] = field(default_factory=dict)
    """Days production calls of a tier are kept."""

    redact: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    """Per tier, ``before_call`` and ``before_storage``: the kinds of personal data replaced."""

    source: Path | None = None
    """The file it came from, when there was one."""

    digest: str | None = None
    """SHA-256 of that file's text."""

    def rank(self, tier: str | None) -> int:
        """The position of ``tier`` (None: the default's); unknown names are refused."""
        name = self.default if tier is None or (isinstance(tier, float) and math.isnan(tier)) else tier
        if name not in self.tiers:
            raise ConfigError(f"no data tier named {name!r}; the tiers are {', '.join(self.tiers)} ({self.where})")
        return self.tiers.index(name)

    def highest(self, *tiers: str | None) -> str:
        """The highest of ``tiers`` (each None counts as the default)."""
        return self.tiers[max((self.rank(tier) for tier in tiers), default=self.rank(None))]

    def checked(self, tier: str | None) -> str | None:
        """``tier`` if it is one of the tiers (None passes), else a ``ConfigError``."""
        if tier is not None:
            self.rank(tier)
        return tier

    @property
    def top(self) -> str:
        """The highest tier."""
        return self.tiers[-1]

    @property
    def where(self) -> str:
        """Where the policy came from, for messages."""
        return f"policy: {self.source}" if self.source else "no [privacy] policy file, so the defaults"

    def tier_of(self, kind: str, name: str | None) -> str | None:
        """The tier the policy gives a ``data`` file or dataset, an ``experiments``
        name or a ``sources`` app (the highest pattern that matches; None: none)."""
        if not name:
            return None

        def matches(pattern: str) -> bool:  # a data pattern matches the file's path from any folder above it
            return fnmatch.fnmatchcase(name, pattern) or (kind == "data" and fnmatch.fnmatchcase(name, f"*/{pattern}"))

        matched = [tier for pattern, tier in self.patterns.get(kind, ()) if matches(pattern)]
        return self.highest(*matched) if matched else None

    def endpoint_tier(self, model: Model) -> str:
        """The highest tier ``model``'s endpoint may receive."""
        if model.provider in LOCAL_PROVIDERS:
            return self.top
        url = urlsplit(model.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL)
        for entry, tier in self.endpoints:
            if parse_entry(entry, "[privacy.endpoints]").matches(url):
                return tier
        return self.top if is_loopback(url) else self.remote_endpoints

    def approvers_of(self, tier: str) -> frozenset[str]:
        """Who may approve uses of ``tier`` (names as ``person`` compares them)."""
        return frozenset(person(name) for name in self.approvers.get(tier, frozenset()))

    def redaction(self, tier: str, stage: str) -> tuple[str, ...]:
        """The kinds of personal data redacted from ``tier``'s data at ``stage``
        (``before_call`` or ``before_storage``)."""
        return tuple(self.redact.get(tier, {}).get(stage, ()))

    def stored_redaction(self) -> dict[str, tuple[str, ...]]:
        """Per tier that asks for it, the kinds redacted before storage."""
        return {tier: kinds for tier in self.tiers if (kinds := self.redaction(tier, "before_storage"))}

    @classmethod
    def beside(cls, database: Path) -> PrivacyPolicy:
        """The policy in ``promptlab.toml`` next to the real file ``database``
        names (symlinks resolved); none there: the defaults."""
        return cls.read(database.expanduser().resolve().parent / POLICY_FILE)

    @classmethod
    def read(cls, path: Path) -> PrivacyPolicy:
        """The ``[privacy]`` section of the TOML file ``path`` (absent: the defaults)."""
        if not path.exists():
            return cls()
        document, text = read_policy_file(path)
        section = document.get("privacy")
        if section is None:
            return cls()
        return _parsed(section, path, hashlib.sha256(text).hexdigest())


def policy_for(history: Path | None) -> PrivacyPolicy:
    """The policy over a history file (the file beside it), or over a team
    server (``history`` None: the working directory's ``promptlab.toml``)."""
    return PrivacyPolicy.beside(history) if history is not None else PrivacyPolicy.read(Path.cwd() / POLICY_FILE)


def _table(section: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = section.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [privacy.{key}] must be a table of name = value")
    return value


def _names(value: Any, path: Path, what: str) -> list[str]:
    # a bare string would be read letter by letter
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise ConfigError(f'{path}: {what} must be a list of names, e.g. ["pat", "sam"]')
    return value


def _parsed(section: Any, path: Path, digest: str) -> PrivacyPolicy:
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [privacy] must be a table, e.g. {_EXAMPLE}")
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} in [privacy]; the keys are {', '.join(sorted(_KEYS))}")
    tiers = tuple(_names(section.get("tiers", list(DEFAULT_TIERS)), path, "[privacy] tiers"))
    if len(set(tiers)) != len(tiers) or not tiers:
        raise ConfigError(f"{path}: [privacy] tiers must name each tier once, lowest first")
    draft = PrivacyPolicy(tiers=tiers, default=tiers[min(1, len(tiers) - 1)], source=path, digest=digest)
    default = draft.checked(section.get("default", draft.default)) or draft.default
    draft = PrivacyPolicy(tiers=tiers, default=default, source=path, digest=digest)
    tier = _tier_reader(draft, path)
    listed = _table(section, "endpoints", path)
    for entry in listed:
        parse_entry(entry, f"{path} [privacy.endpoints]")  # refused now, not at the first sweep
    endpoints = tuple((entry, tier(value, f"endpoint {entry}")) for entry, value in listed.items())
    approvers = {
        tier(name, "[privacy.approvers]"): frozenset(_names(people, path, f"approvers of {name}"))
        for name, people in _table(section, "approvers", path).items()
    }
    patterns = {
        kind: tuple((pattern, tier(value, f"[privacy.{kind}] {pattern}")) for pattern, value in table.items())
        for kind in ("data", "experiments", "sources")
        for table in [_table(section, kind, path)]
    }
    retention = {}
    for name, days in _table(section, "retention", path).items():
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError(f"{path}: [privacy.retention] {name} must be a number of days ≥ 1")
        retention[tier(name, "[privacy.retention]")] = days
    return PrivacyPolicy(
        tiers=tiers,
        default=default,
        remote_endpoints=tier(section.get("remote_endpoints", default), "remote_endpoints"),
        exports=tier(section.get("exports", default), "exports"),
        endpoints=endpoints,
        approvers=approvers,
        patterns=patterns,
        retention_days=retention,
        redact=_redaction(_table(section, "redact", path), tier, path),
        source=path,
        digest=digest,
    )


def _tier_reader(policy: PrivacyPolicy, path: Path) -> Any:
    def tier(value: Any, what: str) -> str:
        if not isinstance(value, str) or value not in policy.tiers:
            raise ConfigError(f"{path}: {what} = {value!r} is not a tier; the tiers are {', '.join(policy.tiers)}")
        return value

    return tier


def _redaction(table: Mapping[str, Any], tier: Any, path: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    if not table:
        return {}
    from promptlab.core import pii  # the kinds, without the detectors' libraries

    stages = {"before_call", "before_storage"}
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, spec in table.items():
        if not isinstance(spec, dict) or set(spec) - stages:
            raise ConfigError(
                f'{path}: [privacy.redact] {name} = {{ before_call = ["email"], before_storage = [...] }}'
            )
        result[tier(name, "[privacy.redact]")] = {
            stage: tuple(pii.checked_kinds(_names(kinds, path, f"redact {name} {stage}")))
            for stage, kinds in spec.items()
        }
    return result
