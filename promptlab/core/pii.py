"""Personal data kept out of model calls and the history (issue 17, point 5).

Where :mod:`promptlab.core.redaction` masks *secrets* wholesale, this replaces
personal data with typed placeholders (``<EMAIL_1>``, ``<PHONE_2>``,
``<NAME_1>``) so that a redacted prompt and its output still read: one
``Pseudonyms`` per trial gives the same value the same placeholder, however it
is written (an e-mail address in any case, a phone number in any format).

The finding is done by small well-kept libraries (``phonenumberslite``,
``python-stdnum``, Faker's name lists; about 37 MB installed, the
``privacy`` extra) rather than by Presidio or scrubadub: each pulls in
370-390 MB (spaCy; scikit-learn and NLTK), Presidio's pattern recognizers
are built on the same libphonenumber, Luhn and IBAN checks, and neither
finds a name offline, where no NER model can be fetched. Measured on the labelled corpus
in ``tests/core/data/pii_corpus.jsonl`` (see the README): the structured kinds
are found nearly always; names are the weak spot.

Importing this module needs nothing; the extra is needed when something is
looked for.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptlab.errors import ConfigError

if TYPE_CHECKING:
    from promptlab.core.pii_kinds import Detector

KINDS: tuple[str, ...] = ("email", "phone", "card", "iban", "ip", "api_key", "name")
"""Every kind of personal data that can be redacted."""

# A span two kinds claim goes to the first here: an e-mail address holds what
# looks like a name, an IBAN and a card hold what looks like a phone number.
_PRECEDENCE = ("api_key", "email", "iban", "card", "ip", "phone", "name")
_PLACEHOLDER = re.compile(r"<(?:EMAIL|PHONE|CARD|IBAN|IP|API_KEY|NAME)_\d+>")
_EXTRA = ("phonenumbers", "stdnum", "faker")


@dataclass(frozen=True)
class Finding:
    """One piece of personal data in a text."""

    kind: str
    """One of ``KINDS``."""
    start: int
    """Offset of its first character in the text."""
    end: int
    """Offset just past its last character."""
    text: str
    """The text itself, ``text[start:end]``."""


def find_pii(text: str, kinds: Iterable[str] = KINDS) -> list[Finding]:
    """The personal data of the given kinds in ``text``, in order, none
    overlapping another. Placeholders left by an earlier redaction are never
    found again."""
    wanted = checked_kinds(kinds)
    detectors = _detectors()
    taken = [m.span() for m in _PLACEHOLDER.finditer(text)]  # sorted, none overlapping
    findings = []
    for kind in _PRECEDENCE:
        if kind not in wanted:
            continue
        for start, end in sorted(set(detectors[kind].find(text)), key=lambda span: (span[0], -span[1])):
            i = bisect.bisect_left(taken, (start, start))
            if (i == len(taken) or taken[i][0] >= end) and (i == 0 or taken[i - 1][1] <= start):
                taken.insert(i, (start, end))
                findings.append(Finding(kind, start, end, text[start:end]))
    return sorted(findings, key=lambda finding: finding.start)


class Pseudonyms:
    """Placeholders for the personal data of one trial: the same value gets
    the same placeholder every time it is met, a new value the next number."""

    def __init__(self, kinds: Iterable[str] = KINDS) -> None:
        self.kinds = checked_kinds(kinds)
        """The kinds this replaces; the rest is left as it is."""
        self.counts: dict[str, int] = {}
        """How many mentions of each kind were replaced (kinds with none are absent)."""
        self._placeholders: dict[tuple[str, str], str] = {}
        self._numbers: dict[str, int] = {}

    def placeholder(self, finding: Finding) -> str:
        """The placeholder for ``finding``'s value, numbered on first sight."""
        key = (finding.kind, _detectors()[finding.kind].key(finding.text))
        if key not in self._placeholders:
            self._numbers[finding.kind] = self._numbers.get(finding.kind, 0) + 1
            self._placeholders[key] = f"<{finding.kind.upper()}_{self._numbers[finding.kind]}>"
        return self._placeholders[key]

    def redact(self, text: str) -> str:
        """``text`` with its personal data replaced by placeholders."""
        parts, position = [], 0
        for finding in find_pii(text, self.kinds):
            parts += [text[position : finding.start], self.placeholder(finding)]
            self.counts[finding.kind] = self.counts.get(finding.kind, 0) + 1
            position = finding.end
        return "".join([*parts, text[position:]])

    def redact_value(self, value: Any) -> Any:
        """Every string inside ``value`` redacted (through dicts, lists and
        tuples; keys and other scalars are left as they are)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        if isinstance(value, tuple):
            items = [self.redact_value(v) for v in value]
            return tuple(items) if type(value) is tuple else type(value)(*items)  # a named tuple
        return value


def redact(text: str, kinds: Iterable[str] = KINDS) -> str:
    """``text`` with its personal data of the given kinds replaced by placeholders."""
    return Pseudonyms(kinds).redact(text)


def checked_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """``kinds`` in their order, once each, after checking every one is known
    (a policy file can be checked with this before any detector is loaded)."""
    if isinstance(kinds, str):
        kinds = (kinds,)
    chosen = tuple(dict.fromkeys(kinds))
    if unknown := [kind for kind in chosen if kind not in KINDS]:
        raise ConfigError(f"Unknown kind of personal data {', '.join(unknown)}: choose from {', '.join(KINDS)}.")
    return chosen


def _detectors() -> Mapping[str, Detector]:
    try:
        from promptlab.core.pii_kinds import DETECTORS
    except ImportError as error:
        if (error.name or "").split(".")[0] not in _EXTRA:
            raise
        raise ConfigError(
            f"Finding personal data needs the privacy extra ({error.name} is not installed): "
            "pip install 'promptlab[privacy]'"
        ) from error
    return DETECTORS
