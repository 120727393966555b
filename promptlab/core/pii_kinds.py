"""How each kind of personal data is found, and what makes two mentions one value.

Well-kept libraries do the judging wherever one fits offline: Google's
libphonenumber (``phonenumberslite``) finds phone numbers in prose and says
whether they could be dialled, ``python-stdnum`` checks Luhn digits and IBANs
(country lengths and formats as well as the check digits), the standard
library's ``ipaddress`` says what is an address. Regular expressions here
only propose candidates for them, except for e-mail addresses (a pattern is
the whole test) and API keys (the shapes :mod:`promptlab.core.redaction`
already masks). Names are in :mod:`promptlab.core.pii_names`.

Importing this module needs the ``privacy`` extra; :mod:`promptlab.core.pii`
imports it only when something is looked for.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn

from promptlab.core.pii_names import find_names
from promptlab.core.redaction import _CREDENTIAL_SHAPES

Span = tuple[int, int]

PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IN", "AU")
"""Where a number written without its country code is tried, in this order (one
with a ``+`` or ``00`` prefix is found whatever its country)."""


@dataclass(frozen=True)
class Detector:
    find: Callable[[str], Iterator[Span]]
    """The spans of ``text`` that hold this kind, possibly overlapping."""
    key: Callable[[str], str]
    """What two mentions of one value share (``A@X.com`` and ``a@x.com``)."""


_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][\w.%+-]*(?:@|%40)"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.([A-Za-z]{2,})\b"
)
# File extensions that are no top-level domain: ``banner@2x.png`` is an image.
_FILE_SUFFIXES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "json", "html", "htm", "txt", "pdf"}


def _emails(text: str) -> Iterator[Span]:
    for match in _EMAIL.finditer(text):
        if match.group(1).lower() in _FILE_SUFFIXES:
            continue
        if re.search(r"//[^\s/@]*:$", text[max(0, match.start() - 200) : match.start()]):
            continue  # the password of https://user:pass@host
        if re.match(r":[\w~/]", text[match.end() :]):
            continue  # an scp-style remote: git@github.com:org/repo.git
        yield match.span()


_DIGIT = re.compile(r"\d")
# What comes before a number that is an identifier, not a phone number.
_ID_BEFORE = re.compile(
    r"(?:\b(?:isbn|issn|ean|upc|sku|imei|order|invoice|inv|ref|reference|ticket|case|po|serial|tracking|account|acct)"
    r"|\b(?:no|nr)\.|#)\W{0,3}$|\w[-./]$",  # the last: "INV-2024-000318" goes on from a word
    re.I,
)


# A person's number has seven digits or more with its trunk or country code
# (libphonenumber also knows service and pager numbers of four: "1640" is a
# German pager, and a year).
_SHORTEST_PHONE = 7


def _phones(text: str) -> Iterator[Span]:
    if len(_DIGIT.findall(text)) < _SHORTEST_PHONE:
        return  # the matcher is most of the time spent
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            if len(_DIGIT.findall(match.raw_string)) < _SHORTEST_PHONE:
                continue
            if phonenumbers.number_type(match.number) == phonenumbers.PhoneNumberType.PAGER:
                continue  # "revenue 1640 1700"
            if re.fullmatch(r"\d+[.,]\d+", match.raw_string):
                continue  # a decimal number: "13.4050"
            if _ID_BEFORE.search(text[max(0, match.start - 20) : match.start]):
                continue
            yield match.start, match.end


def _phone_key(value: str) -> str:
    for region in PHONE_REGIONS:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return re.sub(r"\D", "", value)


# Runs of digit groups split by single spaces or dashes; a card is 12 to 19 digits of one.
_DIGIT_GROUPS = re.compile(r"(?<![\w-])\d+(?:[ -]\d+)*(?![\w-])")
# (first digits, lengths) of the card networks: a Luhn-valid number of another
# shape (an IMEI, an EAN) is not a card.
_CARD_NETWORKS = (
    (r"4", (13, 16, 19)),  # Visa
    (r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)", (16,)),  # Mastercard
    (r"3[47]", (15,)),  # American Express
    (r"6(?:011|4[4-9]|5)", (16, 19)),  # Discover
    (r"3(?:0[0-5]|[689])", (14, 16, 19)),  # Diners Club
    (r"35(?:2[89]|[3-8])", (16, 17, 18, 19)),  # JCB
    (r"62", (16, 17, 18, 19)),  # UnionPay
    (r"5018|5020|5038|5893|6304|6759|676[1-3]", tuple(range(12, 20))),  # Maestro
)


def _is_card(digits: str) -> bool:
    shaped = any(re.match(prefix, digits) and len(digits) in lengths for prefix, lengths in _CARD_NETWORKS)
    return shaped and luhn.is_valid(digits)


def _cards(text: str) -> Iterator[Span]:
    for match in _DIGIT_GROUPS.finditer(text):
        # From each group on, the longest run of whole groups that is a card:
        # "card 4111 1111 1111 1111 123" holds a card and its security code.
        groups = [(m.start() + match.start(), m.end() + match.start()) for m in re.finditer(r"\d+", match.group())]
        if len(groups) > 1 and any(not 3 <= end - start <= 6 for start, end in groups[:-1]):
            continue  # cards are printed in groups of three to six, but the last ("2 3 4 ... 13" is a list)
        i = 0
        while i < len(groups):
            runs, digits = [], ""
            for j in range(i, len(groups)):
                digits += text[groups[j][0] : groups[j][1]]
                if len(digits) > 19:
                    break
                runs.append((j, digits))
            card = next((j for j, digits in reversed(runs) if _is_card(digits)), None)
            if card is None:
                i += 1
                continue
            yield groups[i][0], groups[card][1]
            i = card + 1


_IBAN_START = re.compile(r"\b[A-Z]{2}\d{2}(?=[ ]?[A-Z0-9])")


def _ibans(text: str) -> Iterator[Span]:
    for match in _IBAN_START.finditer(text):
        # Groups of up to four after the check digits, spaced or not; the longest
        # stretch that ends a word and is a valid IBAN.
        tail = re.match(r"(?:[ ]?[A-Z0-9]{1,4}){3,8}", text[match.end() :])
        if tail is None:
            continue
        candidate = match.group() + tail.group()
        for end in range(len(candidate), 14, -1):
            if (end == len(candidate) or candidate[end] == " ") and iban.is_valid(candidate[:end]):
                yield match.start(), match.start() + end
                break


_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*")
# "version 1.2.3.4", "release 1.2.3.4 works", "parse_version("1.2.3.4")": a version.
_VERSION_BEFORE = re.compile(r"(?:version|release|build|firmware|\bv)\W{0,3}$", re.I)
_VERSION_AFTER = re.compile(r"^\W{0,3}(?:version|release|build|firmware)", re.I)


def _ips(text: str) -> Iterator[Span]:
    for match in _IPV4.finditer(text):
        if _VERSION_BEFORE.search(text[max(0, match.start() - 20) : match.start()]) or _VERSION_AFTER.search(
            text[match.end() : match.end() + 20]
        ):
            continue
        if _is_address(match.group()):
            yield match.span()
    for match in _IPV6.finditer(text):
        candidate = match.group().rstrip(".:")
        # "[::1]:8080" and "fe80::1 port" come whole; "::" and times (12:30:45) are no address.
        while candidate and not (_is_address(candidate) and re.search(r"[0-9A-Fa-f]", candidate)):
            candidate = candidate[:-1].rstrip(".:")
        if candidate:
            yield match.start(), match.start() + len(candidate)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _api_keys(text: str) -> Iterator[Span]:
    for match in _CREDENTIAL_SHAPES.finditer(text):
        yield match.span()


def _name_key(value: str) -> str:
    return " ".join(value.split()).casefold()


DETECTORS = {
    "email": Detector(_emails, lambda value: value.replace("%40", "@").casefold()),
    "phone": Detector(_phones, _phone_key),
    "card": Detector(_cards, lambda value: re.sub(r"\D", "", value)),
    "iban": Detector(_ibans, iban.compact),
    "ip": Detector(_ips, lambda value: ipaddress.ip_address(value).compressed),
    "api_key": Detector(_api_keys, lambda value: value),
    "name": Detector(find_names, _name_key),
}
"""Each kind's detector, by the kind's name."""
