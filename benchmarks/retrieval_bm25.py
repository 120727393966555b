"""What promptlab's BM25 wrapper costs: index build and queries against bm25s used directly.

Makes N synthetic passages (default 100,000) from a seeded vocabulary of
made-up words with Zipf-like frequencies, 40-120 words each, and 1,000
queries of 2-5 words (most drawn from one passage, as real questions share
words with their answer). Then, in the same run and on the same passages:

- build: ``bm25s.tokenize`` + ``BM25.index`` against ``BM25Retriever.build``
  (one chunk per passage, so the same index; the wrapper also chunks), and
  with the default chunking (200-word windows: here one per passage too);
- queries: ``BM25.retrieve`` one query at a time and all at once, against
  ``BM25Retriever.search`` one query at a time (the wrapper also drops
  passages that match no query term and ranks ties in corpus order);
- on its own: making the ``Corpus`` (its content version), and the on-disk
  cache (``open_bm25``: build and save, then load in a new retriever);
- peak memory: each build once more in a forked child, which reports how far
  its peak resident set rose above what it started with (``VmHWM`` − ``VmRSS``
  in ``/proc/self/status``; Linux only, skipped elsewhere).

Direct and wrapper run in turn within each of ``--repeat`` rounds, so a busy
moment of the machine hits both; a time is the median of the rounds with the
fastest and slowest in brackets, a ratio (wrapper / direct) the median of the
rounds' own ratios, with theirs in brackets.

    python benchmarks/retrieval_bm25.py [--passages 100000] [--queries 1000] [--k 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bm25s

from promptlab.retrieval import BM25Retriever, Chunking, Corpus, open_bm25


def made_up_words(count: int, rng: random.Random) -> list[str]:
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choices(syllables, k=rng.randint(1, 4))))
    return sorted(words)


def synthetic(passages: int, queries: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    vocabulary = made_up_words(30_000, rng)
    rng.shuffle(vocabulary)
    zipf = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))  # cumulative weights
    texts = [" ".join(rng.choices(vocabulary, cum_weights=zipf, k=rng.randint(40, 120))) for _ in range(passages)]
    asked = []
    for _ in range(queries):
        source = rng.choice(texts).split()
        words = rng.sample(source, rng.randint(1, 4)) + rng.choices(vocabulary, k=1)
        asked.append(" ".join(words))
    return texts, asked


def rounds(repeat: int, work: Callable[[], Any]) -> tuple[list[float], Any]:
    """The seconds of each of ``repeat`` runs of ``work``, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return times, result


def paired_rounds(
    repeat: int, direct: Callable[[], Any], wrapper: Callable[[], Any]
) -> tuple[list[float], list[float], Any, Any]:
    """``rounds`` for two pieces of work run in turn, so a busy moment of the machine hits both.

    Which goes first alternates from round to round, and the last result of the
    side about to run is dropped (and collected) first: the second of two big
    builds otherwise runs with the first's index still in memory, and paid for
    it (1.16x measured one way round, 0.89x the other)."""
    direct_times, wrapper_times, results = [], [], [None, None]
    sides = [(direct_times, direct, 0), (wrapper_times, wrapper, 1)]
    for turn in range(repeat):
        for times, work, slot in sides if turn % 2 == 0 else sides[::-1]:
            results[slot] = None
            gc.collect()
            started = time.perf_counter()
            results[slot] = work()
            times.append(time.perf_counter() - started)
    return direct_times, wrapper_times, results[0], results[1]


def spread(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """``median [fastest–slowest]`` of ``values`` times ``scale``."""
    low, mid, high = (scale * v for v in (min(values), statistics.median(values), max(values)))
    return f"{mid:.{digits}f} [{low:.{digits}f}–{high:.{digits}f}]"


def ratios(wrapper: list[float], direct: list[float]) -> str:
    """The rounds' wrapper / direct ratios, as ``spread`` shows them."""
    return spread([w / d for w, d in zip(wrapper, direct, strict=True)])


def peak_added_mb(work: Callable[[], Any]) -> float | None:
    """How many MB ``work``'s peak resident set rose above the process's, measured in a
    forked child so the parent's own peak doesn't hide it; None where there is no /proc."""
    status = Path("/proc/self/status")
    if not status.exists() or not hasattr(os, "fork"):
        return None
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: run, report, leave without running the parent's clean-up
        os.close(read)
        try:
            before = _status_kb(status, "VmRSS")
            work()
            os.write(write, str(_status_kb(status, "VmHWM") - before).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = pipe.read()
    os.waitpid(child, 0)
    return int(reported) / 1024 if reported else None


def _status_kb(status: Path, field: str) -> int:
    line = next(line for line in status.read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1])


def direct_build(texts: list[str]) -> Any:
    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    return model


def direct_one_by_one(model: Any, queries: list[str], k: int) -> None:
    for query in queries:
        terms = bm25s.tokenize(query, stopwords="en", return_ids=False, show_progress=False)
        model.retrieve(terms, k=k, show_progress=False)


def direct_batch(model: Any, queries: list[str], k: int) -> None:
    terms = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
    model.retrieve(terms, k=k, show_progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()

    texts, queries = synthetic(args.passages, args.queries, args.seed)
    records = [{"id": f"p{i:07d}", "text": text} for i, text in enumerate(texts)]  # ids sort as made
    corpus_times, corpus = rounds(args.repeat, lambda: Corpus("synthetic", records))
    print(
        f"{args.passages:,} passages, {args.queries:,} queries, k={args.k}, bm25s {bm25s.__version__}, "
        f"{args.repeat} rounds: median [fastest–slowest]"
    )
    print(f"Corpus (content version): {spread(corpus_times)} s")

    by_document = Chunking(by="document")
    build_direct, build_ours, model, retriever = paired_rounds(
        args.repeat, lambda: direct_build(texts), lambda: BM25Retriever.build(corpus, by_document)
    )
    print(f"build    direct {spread(build_direct)} s   wrapper {spread(build_ours)} s")
    print(f"         ratio wrapper / direct {ratios(build_ours, build_direct)}")
    windows, _ = rounds(args.repeat, lambda: BM25Retriever.build(corpus, Chunking()))
    print(
        f"         wrapper, default chunking (200-word windows) {spread(windows)} s   "
        f"ratio to direct's median {statistics.median(windows) / statistics.median(build_direct):.2f}"
    )

    one_by_one, ours, _, _ = paired_rounds(
        args.repeat,
        lambda: direct_one_by_one(model, queries, args.k),
        lambda: retriever.search_many(queries, args.k),
    )
    batch, _ = rounds(args.repeat, lambda: direct_batch(model, queries, args.k))
    per = 1000 / len(queries)
    print(
        f"queries  direct one by one {spread(one_by_one, per, 3)} ms/query   "
        f"direct batch {spread(batch, per, 3)} ms/query   wrapper {spread(ours, per, 3)} ms/query"
    )
    print(
        f"         ratio to one by one {ratios(ours, one_by_one)}   "
        f"ratio to batch's median {statistics.median(ours) / statistics.median(batch):.2f}"
    )

    cache = Path(tempfile.mkdtemp(prefix="promptlab-bm25-"))
    try:
        started = time.perf_counter()
        open_bm25(corpus, cache, by_document)
        saved = time.perf_counter() - started
        loaded_times, loaded = rounds(args.repeat, lambda: open_bm25(corpus, cache, by_document))
        assert loaded.reused
        warm, _ = rounds(args.repeat, lambda: loaded.search_many(queries, args.k))
        print(
            f"cache    build and save {saved:.2f} s   load {spread(loaded_times)} s   "
            f"queries on the loaded (memory-mapped) index {spread(warm, per, 3)} ms/query"
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    held = _status_kb(Path("/proc/self/status"), "VmRSS") / 1024 if Path("/proc/self/status").exists() else 0
    direct_mb = peak_added_mb(lambda: direct_build(texts))
    ours_mb = peak_added_mb(lambda: BM25Retriever.build(corpus, by_document))
    if direct_mb is not None and ours_mb is not None:
        print(
            f"memory   peak added by a build: direct {direct_mb:.0f} MB   wrapper {ours_mb:.0f} MB   "
            f"ratio {ours_mb / direct_mb:.2f}   (above the {held:.0f} MB the process held)"
        )


if __name__ == "__main__":
    main()
