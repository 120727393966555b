"""What a retriever costs a sweep: ``lab.sweep(..., retrievers=[bm25])`` against the same
retrieval and calls done by hand, and against the same sweep with the passages pasted in.

A corpus of ``--passages`` synthetic passages (2,000; made as in
``retrieval_bm25.py``: made-up words with Zipf-like frequencies) and
``--questions`` questions (200) that share words with some passage. One
prompt uses ``{{ context }}`` and ``{{ question }}``; the model is the fake
provider's ``echo``, which answers at once, so what is left is promptlab's
own work. Each round, on fresh folders, measures in turn:

- **by hand**, the floor (what ``sweep_overhead.py``'s bare loop is to a
  recorded sweep): ``open_bm25`` on the same corpus, chunking and parameters
  as the sweep's retriever, then for each question ``.search(q, 5)``, the
  passages joined as the sweep joins them, ``Prompt.render`` and
  ``FakeProvider.complete``, by ``--concurrency`` workers as the sweep calls;
  nothing recorded. Cold: the index built (and saved, as the sweep does);
  warm: loaded from where cold saved it;
- **sweep with a retriever**, on a fresh history file: cold (the index built,
  every search made, beside the history in ``h.duckdb.retrieval/``); then
  warm, on the same history with ``cache=False`` (the index and the searches
  come from that folder; every call is made again);
- **sweep with the passages pasted**, no retriever: rows carrying the same
  ``context`` the retriever finds, so the messages are the same to the
  byte; cold on a fresh history file, warm again with ``cache=False``. The
  difference to the retriever sweep is what retrieval adds to a sweep.

Each sweep's journal is folded (``lab.fold()``) after it and timed apart, as
``sweep_overhead.py`` does: the fold happens in the background after a sweep
returns. Times are medians of ``--repeat`` rounds with the fastest and slowest
in brackets; "per cell" is (sweep − baseline) / questions, so it spreads a
sweep's fixed costs (opening the history, the run's rows) over the cells.

    python benchmarks/retrieval_sweep.py [--passages 2000] [--questions 200] [--repeat 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from retrieval_bm25 import synthetic  # the same folder: benchmarks/

import promptlab as pl
from promptlab.providers.protocol import Request
from promptlab.retrieval import BM25Params, Chunking, open_bm25
from promptlab.runner.progress import NullDisplay
from promptlab.testing import FakeProvider, fake_model

K = 5
PROMPT = pl.Prompt(
    "Answer the question from the passages; cite them by number.\n\n{{ context }}\n\nQuestion: {{ question }}",
    name="rag",
)


def joined(hits: Sequence[Any]) -> str:
    """The passages as the sweep puts them in ``{{ context }}``: numbered, one paragraph each."""
    return "\n\n".join(f"[{hit.rank}] {hit.text}" for hit in hits)


async def by_hand(
    corpus: pl.Corpus, questions: Sequence[Mapping[str, str]], cache: Path, concurrency: int
) -> dict[str, float]:
    """The floor: open (or build) the index, then search, render and call for every question."""
    provider, model = FakeProvider(), fake_model()
    started = time.perf_counter()
    retriever = open_bm25(corpus, cache, Chunking(), BM25Params())  # the defaults of pl.retrievers.bm25
    opened = time.perf_counter()
    searching = [0.0]
    queue = iter(questions)

    async def worker() -> None:
        for row in queue:
            before = time.perf_counter()
            hits = retriever.search(row["question"], K)
            searching[0] += time.perf_counter() - before
            messages = PROMPT.render({**row, "context": joined(hits)})
            await provider.complete(Request(model, messages))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    ended = time.perf_counter()
    assert provider.calls == len(questions)
    return {"total": ended - started, "open": opened - started, "search": searching[0]}


def swept(lab: pl.Lab, rows: Sequence[Mapping[str, Any]], concurrency: int, **options: Any) -> tuple[float, float]:
    """Seconds for ``lab.sweep`` of the prompt on the fake model, then for the fold it leaves behind."""
    started = time.perf_counter()
    run = lab.sweep(PROMPT, fake_model(), rows, concurrency=concurrency, display=NullDisplay(), **options)
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    lab.fold()
    folded = time.perf_counter() - started
    trials = run.df
    assert len(trials) == len(rows) and trials["error"].isna().all(), "every cell should be a trial without error"
    return elapsed, folded


def one_round(
    corpus: pl.Corpus, questions: list[dict[str, str]], pasted: list[dict[str, str]], concurrency: int
) -> dict[str, float]:
    """Every measurement once, on fresh folders, cold ones first."""
    seconds: dict[str, float] = {}
    retriever = pl.retrievers.bm25(corpus, k=K)
    with tempfile.TemporaryDirectory(prefix="promptlab-retrieval-sweep-") as name:
        folder = Path(name)
        searched, plain = pl.Lab(folder / "h.duckdb"), pl.Lab(folder / "pasted.duckdb")
        for state in ("cold", "warm"):
            hand = asyncio.run(by_hand(corpus, questions, folder / "by-hand", concurrency))
            for part, value in hand.items():
                seconds[f"hand {state} {part}"] = value
            options = {} if state == "cold" else {"cache": False}
            sweep, fold = swept(searched, questions, concurrency, retrievers=[retriever], **options)
            seconds[f"retriever {state}"], seconds[f"retriever {state} fold"] = sweep, fold
            sweep, fold = swept(plain, pasted, concurrency, **options)
            seconds[f"pasted {state}"], seconds[f"pasted {state} fold"] = sweep, fold
    return seconds


def pasted_rows(corpus: pl.Corpus, questions: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The questions with the context the sweep's retriever finds for each, pasted in."""
    with tempfile.TemporaryDirectory(prefix="promptlab-retrieval-sweep-") as name:
        retriever = open_bm25(corpus, Path(name), Chunking(), BM25Params())
        return [{**row, "context": joined(retriever.search(row["question"], K))} for row in questions]


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """``median [fastest–slowest]`` of ``values`` times ``scale``."""
    low, mid, high = (scale * v for v in (min(values), statistics.median(values), max(values)))
    return f"{mid:.{digits}f} [{low:.{digits}f}–{high:.{digits}f}]"


def report(rounds: list[dict[str, float]], cells: int) -> Iterator[str]:
    """The lines printed: times, overheads per cell and ratios, each over the rounds."""

    def of(name: str) -> list[float]:
        return [r[name] for r in rounds]

    def per_cell(sweep: str, base: Callable[[dict[str, float]], float]) -> str:
        return spread([(r[sweep] - base(r)) / cells for r in rounds], 1000, 2)

    def ratio(sweep: str, base: Callable[[dict[str, float]], float]) -> str:
        return spread([r[sweep] / base(r) for r in rounds])

    for state in ("cold", "warm"):
        hand = f"hand {state} total"
        yield f"{state}:"
        yield (
            f"  by hand              {spread(of(hand))} s  (opening the index {spread(of(f'hand {state} open'))} s, "
            f"searching {spread(of(f'hand {state} search'))} s)"
        )
        yield (
            f"  sweep, retriever     {spread(of(f'retriever {state}'))} s  "
            f"(fold after it {spread(of(f'retriever {state} fold'))} s)"
        )
        yield (
            f"  sweep, pasted        {spread(of(f'pasted {state}'))} s  "
            f"(fold after it {spread(of(f'pasted {state} fold'))} s)"
        )
        yield (
            f"  retriever sweep vs. by hand: {ratio(f'retriever {state}', lambda r, h=hand: r[h])}x, "
            f"{per_cell(f'retriever {state}', lambda r, h=hand: r[h])} ms per cell more"
        )
        yield (
            f"  pasted sweep vs. by hand less its searching and index: "
            f"{ratio(f'pasted {state}', lambda r, s=state: _calls_only(r, s))}x, "
            f"{per_cell(f'pasted {state}', lambda r, s=state: _calls_only(r, s))} ms per cell more"
        )
        yield (
            f"  what retrieval adds to a sweep (retriever − pasted): "
            f"{ratio(f'retriever {state}', lambda r, s=state: r[f'pasted {s}'])}x, "
            f"{per_cell(f'retriever {state}', lambda r, s=state: r[f'pasted {s}'])} ms per cell "
            f"(by hand, opening and searching: "
            f"{spread([(r[f'hand {state} open'] + r[f'hand {state} search']) / cells for r in rounds], 1000)} "
            "ms per question)"
        )


def _calls_only(r: dict[str, float], state: str) -> float:
    """The by-hand loop without its index and searches: rendering and calling."""
    return r[f"hand {state} total"] - r[f"hand {state} open"] - r[f"hand {state} search"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    texts, asked = synthetic(args.passages, args.questions, args.seed)
    corpus = pl.Corpus("synthetic", [{"id": f"p{i:05d}", "text": text} for i, text in enumerate(texts)])
    questions = [{"question": q} for q in asked]
    pasted = pasted_rows(corpus, questions)
    rounds = [one_round(corpus, questions, pasted, args.concurrency) for _ in range(args.repeat)]
    print(
        f"{args.passages:,} passages, {args.questions} questions (one cell each), k={K}, concurrency "
        f"{args.concurrency}, fake model; {args.repeat} rounds: median [fastest–slowest]"
    )
    for line in report(rounds, args.questions):
        print(line)


if __name__ == "__main__":
    main()
