"""People's names, found without a language model.

No NER model can be had offline (spaCy's come from GitHub, and Presidio finds
no PERSON without one), so names are found the way a reader skims: a
capitalised word that is a known first name ("Priya", "Jürgen"), with the
capitalised words that follow it ("Priya Raman"); or any capitalised word
after a cue that announces a person ("Dear ...", "Mr. ...", "Name: ...", a
sign-off line). The first and last names are Faker's lists for all its
locales (about 24,000 of each, 85% in the Latin alphabet), the common English
words Faker's English lorem list. First names that are also common words or
places ("Mark the ticket", "Grace period", "Paris office") count only after a
cue or before a last name.

What this misses, measured on the labelled corpus: names in lower case
("ping sam"), names in neither list without a cue ("Oluwaseun Adebayo"),
names in scripts without capitals; and it takes some firms and products named
after people ("Johnson & Johnson", "Meta") for names.
"""

from __future__ import annotations

import calendar
import importlib
import pkgutil
import re
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import faker.providers.address
import faker.providers.person
from faker.providers.address.en_US import Provider as UsAddresses
from faker.providers.color.en_US import Provider as Colours
from faker.providers.company.en_US import Provider as Companies
from faker.providers.lorem.en_US import Provider as EnglishWords

_TITLES = {"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Frau", "Herr", "Mme", "Mlle", "Sr", "Sra", "Srta"}
_GREETINGS = {"Hi", "Hello", "Hey", "Dear", "Thanks", "Thank", "Thx", "Cheers", "Welcome", "Sorry", "Regards", "Please"}
_GREETINGS |= {"Bonjour", "Hallo", "Hola", "Ciao", "Estimado", "Estimada", "Sehr", "Geehrte", "Geehrter", "Good"}
# First names that are as often a word, a month or a place; Faker's word,
# state and country lists catch the rest ("Will", "May", "Georgia").
_AMBIGUOUS = {
    "Mark", "Grace", "Rose", "Joy", "Faith", "Dawn", "Sky", "Hunter", "King", "Love", "Ray", "Sandy", "Crystal",
    "Amber", "Ruby", "Pearl", "Ivy", "Holly", "Iris", "Jade", "Angel", "Autumn", "Winter", "Spring", "Chase",
    "Chance", "Frank", "Grant", "Pat", "Guy", "Art", "Rich", "Sterling", "Violet", "Olive", "Hazel", "Scarlet",
    "River", "Storm", "Sunny", "Honey", "Destiny", "Harmony", "Trinity", "Genesis", "Royal", "Prince", "Princess",
    "Duke", "Earl", "Baron", "Sage", "Bishop", "Mason", "Cooper", "Carter", "Dean", "Case", "Drew", "Lane", "Rocky",
    "Candy", "Cherry", "Ginger", "Paris", "Florence", "Austin", "Victoria", "Sydney", "Lincoln", "Jordan",
    "Madison", "Charlotte", "Dallas", "Houston", "Phoenix", "Chelsea", "Sofia", "Adelaide", "Regina", "Orlando",
    "Denver", "Brooklyn", "Memphis", "Israel", "Asia", "Africa", "America", "Florida",
}  # fmt: skip

_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_STRONG_CUE = re.compile(
    r"(?:\b(?:dear|mr|mrs|ms|miss|mx|dr|prof|frau|herr|mme|mlle|sra?|srta|estimad[oa]|name is|i['’]?m|i am"
    r"|je m['’]appelle|je suis|soy|me llamo|ich bin|holder)\.?"
    r"|\b(?:name|by|from|to|cc|owner|contact|author|reporter|attendees|passenger|holder|customer|agent|assignee)\s*:"
    r"|(?:^|\n)-- ?\n|\b(?:regards|best|cheers|sincerely|thanks|thank you|wishes|grüße|gruß|cordialement|saludos"
    r"|atentamente)[,!.]?[ \t]*\n)[ \t]*\Z",
    re.I,
)
_WEAK_CUE = re.compile(
    r"(?:\b(?:hi|hello|hey|thanks|thank you|thx|cheers|welcome|sorry|morning|afternoon|evening|bonjour|hallo"
    r"|hola|ciao|ask|ping|tell|cc|it['’]s|this is|regards)[,!]?|@)[ \t]*\Z",
    re.I,
)


@cache
def _names() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(first names, last names, first names only Faker's long English list
    knows) of every Faker locale. That list (7,200 names, many rare) is where
    "Berlin" and "Minor" come from, so a name only it knows counts only after
    a cue or before a last name."""
    first: set[str] = set()
    last: set[str] = set()
    tail: set[str] = set()
    for module, attribute, value in _lists(faker.providers.person):
        if attribute.startswith(("first_names", "first_romanized_names")):
            (tail if module == "en" else first).update(n for n in value if _is_word(n))
        elif attribute.startswith(("last_names", "last_romanized_names")):
            last.update(n for n in value if _is_word(n))
    return frozenset(first | tail), frozenset(last), frozenset(tail - first)


@cache
def _places() -> frozenset[str]:
    """Countries, states and provinces of every Faker locale ("Georgia",
    "Jordan"); not its cities, which include every Italian comune ("Amelia")."""
    places: set[str] = set()
    for _, attribute, value in _lists(faker.providers.address):
        if attribute.startswith(("countries", "states", "provinces")):
            places.update(n for n in value if _is_word(n))
    return frozenset(places)


def _lists(package: Any) -> Iterator[tuple[str, str, Sequence[str]]]:
    """(locale, attribute, value) for each list of words in a Faker provider package."""
    for module in pkgutil.iter_modules(package.__path__):
        provider = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "Provider", None)
        for attribute, value in vars(provider).items() if provider else ():
            if isinstance(value, tuple | list | dict):
                yield module.name, attribute, [n for n in value if isinstance(n, str)]


@cache
def _common_words() -> frozenset[str]:
    """Capitalised words that are more often something other than a name."""
    words = {w.capitalize() for w in EnglishWords.word_list} | _TITLES | _GREETINGS
    return frozenset(words | set(calendar.month_name[1:]) | set(calendar.day_name))


@cache
def _ambiguous() -> frozenset[str]:
    first, _, tail = _names()
    words = _common_words() | _places() | set(Colours.all_colors) | _AMBIGUOUS
    return frozenset((first & words) | tail)


@cache
def _place_words() -> frozenset[str]:
    """Words that make the capitalised words before them a place or a firm
    ("Baker Street", "Lincoln Park Zoo", "Wells Fargo Bank")."""
    suffixes = {w for s in (*UsAddresses.street_suffixes, *Companies.company_suffixes) for w in s.split()}
    return frozenset(suffixes | {"Zoo", "Wall", "Station", "Tower", "Airport", "University", "Hospital", "Museum"})


def _is_word(name: str) -> bool:
    return _TOKEN.fullmatch(name) is not None and _capitalised(name)


def _capitalised(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and not word.isupper()


def find_names(text: str) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` that hold a person's name (one or more words)."""
    first, last, _ = _names()
    common, ambiguous = _common_words(), _ambiguous()
    tokens = [_without_possessive(m) for m in _TOKEN.finditer(text)]
    i = 0
    while i < len(tokens):
        start, _, word = tokens[i]
        if not _capitalised(word):
            i += 1
            continue
        before = text[max(0, start - 40) : start]
        following = tokens[i + 1][2] if _joined(text, tokens, i) else ""
        previous = tokens[i - 1][2] if i and _joined(text, tokens, i - 1) else ""
        # "San Diego", "Lincoln Park Zoo": part of a place's name.
        part_of_larger = (_capitalised(previous) and previous not in common) or _before_place(text, tokens, i)
        if _STRONG_CUE.search(before):
            accepted = word in first or word in last or word not in common
        elif _WEAK_CUE.search(before):
            accepted = word in first or word in last
        elif word in first and not part_of_larger:
            known_surname = following in last and following not in common and following not in ambiguous
            accepted = word not in ambiguous or known_surname
        else:
            accepted = False
        if not accepted:
            i += 1
            continue
        j = i  # the name goes on over the capitalised words that follow it
        while j - i < 3 and _joined(text, tokens, j) and _name_part(tokens[j + 1][2], first, last, common):
            j += 1
        yield start, tokens[j][1]
        i = j + 1


def _without_possessive(match: re.Match[str]) -> tuple[int, int, str]:
    word = match.group()
    if word[-2:] in ("'s", "’s"):
        word = word[:-2]
    return match.start(), match.start() + len(word), word


def _before_place(text: str, tokens: list[tuple[int, int, str]], i: int) -> bool:
    """Whether the capitalised words from token ``i`` on end in a place word."""
    while _joined(text, tokens, i) and _capitalised(tokens[i + 1][2]):
        i += 1
        if tokens[i][2] in _place_words():
            return True
    return False


def _joined(text: str, tokens: list[tuple[int, int, str]], i: int) -> bool:
    """Whether token ``i`` is followed by another after a single space."""
    return i + 1 < len(tokens) and text[tokens[i][1] : tokens[i + 1][0]] in (" ", "\u00a0")


def _name_part(word: str, first: frozenset[str], last: frozenset[str], common: frozenset[str]) -> bool:
    return _capitalised(word) and (word in last or word in first or word not in common)
