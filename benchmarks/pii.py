"""What personal-data redaction costs, against one regular expression.

Redacts 1,000 snippets of the labelled corpus (cycled), each with a fresh
``Pseudonyms`` as a trial would, and times in the same run ``re.sub`` of the
e-mail pattern alone over the same snippets; then finds each kind alone, to
show where the time goes. The first call (loading Faker's name lists) is
timed apart. Prints figures and ratios; asserts nothing about time.

    python benchmarks/pii.py [--snippets 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from promptlab.core.pii import KINDS, Pseudonyms, find_pii
from promptlab.core.pii_kinds import _EMAIL

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "core" / "data" / "pii_corpus.jsonl"


def seconds(work: Callable[[], object], rounds: int) -> float:
    """Median wall time of ``work`` over ``rounds`` runs."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def find_each(texts: list[str], kind: str) -> None:
    for text in texts:
        find_pii(text, [kind])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snippets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in itertools.islice(itertools.cycle(lines), args.snippets)]
    characters = sum(map(len, texts))

    started = time.perf_counter()
    find_pii("Hi Maria")
    print(f"first call (loads the libraries and name lists): {time.perf_counter() - started:.3f} s")

    baseline = seconds(lambda: [_EMAIL.sub("<EMAIL>", t) for t in texts], args.rounds)
    redacting = seconds(lambda: [Pseudonyms().redact(t) for t in texts], args.rounds)
    print(f"{len(texts)} snippets, {characters:,} characters, median of {args.rounds} rounds")
    print(f"re.sub of the e-mail pattern: {baseline * 1000:8.1f} ms")
    print(f"Pseudonyms().redact, all kinds: {redacting * 1000:8.1f} ms  ({redacting / baseline:,.0f}× the re.sub)")
    print(f"  per snippet: {redacting / len(texts) * 1e6:.0f} µs")
    for kind in KINDS:
        alone = seconds(functools.partial(find_each, texts, kind), args.rounds)
        print(f"  find_pii, {kind:<8} alone: {alone * 1000:8.1f} ms  ({alone / redacting:.0%} of all kinds)")


if __name__ == "__main__":
    main()
