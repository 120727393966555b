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
  cache (``open_bm25``: build and save, then load in a new retriever).

Each timing is the best of ``--repeat`` rounds; ratios are wrapper / direct.

    python benchmarks/retrieval_bm25.py [--passages 100000] [--queries 1000] [--k 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
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


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeat`` runs of ``work``, in seconds, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def best_of_each(repeat: int, direct: Callable[[], Any], wrapper: Callable[[], Any]) -> tuple[float, float, Any, Any]:
    """``best_of`` for two pieces of work run in turn, so a busy moment of the machine hits both."""
    direct_times, wrapper_times, results = [], [], [None, None]
    for _ in range(repeat):
        for times, work, slot in ((direct_times, direct, 0), (wrapper_times, wrapper, 1)):
            started = time.perf_counter()
            results[slot] = work()
            times.append(time.perf_counter() - started)
    return min(direct_times), min(wrapper_times), results[0], results[1]


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
    corpus_time, corpus = best_of(args.repeat, lambda: Corpus("synthetic", records))
    print(f"{args.passages:,} passages, {args.queries:,} queries, k={args.k}, bm25s {bm25s.__version__}")
    print(f"Corpus (content version): {corpus_time:.2f} s")

    build_direct, build_ours, model, retriever = best_of_each(
        args.repeat, lambda: direct_build(texts), lambda: BM25Retriever.build(corpus, Chunking(by="document"))
    )
    print(
        f"build    direct {build_direct:6.2f} s   wrapper {build_ours:6.2f} s   ratio {build_ours / build_direct:.2f}"
    )
    windows, _ = best_of(args.repeat, lambda: BM25Retriever.build(corpus, Chunking()))
    print(
        f"         wrapper, default chunking (200-word windows) {windows:6.2f} s   ratio {windows / build_direct:.2f}"
    )

    one_by_one, ours, _, _ = best_of_each(
        args.repeat,
        lambda: direct_one_by_one(model, queries, args.k),
        lambda: retriever.search_many(queries, args.k),
    )
    batch, _ = best_of(args.repeat, lambda: direct_batch(model, queries, args.k))
    per = 1000 / len(queries)
    print(
        f"queries  direct one by one {one_by_one * per:6.3f} ms/query   direct batch {batch * per:6.3f} ms/query   "
        f"wrapper {ours * per:6.3f} ms/query"
    )
    print(f"         ratio to one by one {ours / one_by_one:.2f}   ratio to batch {ours / batch:.2f}")

    cache = Path(tempfile.mkdtemp(prefix="promptlab-bm25-"))
    try:
        started = time.perf_counter()
        open_bm25(corpus, cache, Chunking(by="document"))
        saved = time.perf_counter() - started
        loaded_time, loaded = best_of(args.repeat, lambda: open_bm25(corpus, cache, Chunking(by="document")))
        assert loaded.reused
        warm, _ = best_of(args.repeat, lambda: loaded.search_many(queries, args.k))
        print(
            f"cache    build and save {saved:.2f} s   load {loaded_time:.2f} s   "
            f"queries on the loaded (memory-mapped) index {warm * per:.3f} ms/query"
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
