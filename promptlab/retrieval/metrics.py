"""Retrieval metrics: how good one ranking of ids is, given the ids that are relevant.

Pure functions over a ranking (ids, best first) and the relevant ids: either a
collection (binary relevance, grade 1) or a mapping id → grade (graded
relevance; a grade ≤ 0 means not relevant, as in trec_eval's qrels).

The conventions, the same as trec_eval's (``tests/retrieval/test_metrics.py``
checks them against it on random queries):

- Only the first ``k`` positions count; a ranking shorter than ``k`` is not
  padded, and precision@k still divides by ``k``.
- **Duplicates.** An id seen again further down the ranking keeps its position
  but earns nothing there: the k passages a model was shown are judged as they
  were, and retrieving one document's chunks three times is not three hits.
  (Rankings of document ids made from chunk hits repeat ids this way.)
- **nDCG** uses gain ``grade`` and discount ``log2(rank + 1)`` (rank from 1):
  ``DCG@k = Σ grade(id at rank) / log2(rank + 1)``; the ideal DCG puts the
  relevant ids' grades in descending order at ranks 1..k. (Not the
  ``2**grade - 1`` gain; with binary grades the two agree.)
- **No relevant ids** (an empty set, or every grade ≤ 0): every metric is NaN:
  the query can't be scored either way. ``score_queries`` leaves such queries
  out of its means and says how many it scored.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from promptlab.errors import ConfigError

Relevant = Collection[str] | Mapping[str, float]
"""The relevant ids of one query: a collection (each grade 1) or id → grade."""


def _grades(relevant: Relevant) -> dict[str, float]:
    """Grades of the relevant ids (grade > 0 only)."""
    if isinstance(relevant, str):
        raise ConfigError(f"relevant ids must be a collection of ids, not the string {relevant!r}: use [{relevant!r}]")
    if isinstance(relevant, Mapping):
        return {id_: float(grade) for id_, grade in relevant.items() if float(grade) > 0}
    return dict.fromkeys(relevant, 1.0)


def _check_k(k: int | None) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ConfigError(f"k must be a whole number of at least 1, not {k!r}")


def _judged(ranking: Sequence[str], k: int | None) -> list[str | None]:
    """The first ``k`` ids, each repeat replaced by None (it keeps its place, earns nothing)."""
    if isinstance(ranking, str):
        raise ConfigError(f"a ranking must be a sequence of ids, not the string {ranking!r}")
    seen: set[str] = set()
    judged: list[str | None] = []
    for id_ in ranking[:k] if k is not None else ranking:
        judged.append(None if id_ in seen else id_)
        seen.add(id_)
    return judged


def _found(ranking: Sequence[str], grades: Mapping[str, float], k: int | None) -> int:
    return sum(1 for id_ in _judged(ranking, k) if id_ is not None and id_ in grades)


def recall_at_k(ranking: Sequence[str], relevant: Relevant, k: int) -> float:
    """Share of the relevant ids found in the first ``k`` (NaN without relevant ids)."""
    _check_k(k)
    grades = _grades(relevant)
    return _found(ranking, grades, k) / len(grades) if grades else math.nan


def precision_at_k(ranking: Sequence[str], relevant: Relevant, k: int) -> float:
    """Relevant ids in the first ``k``, divided by ``k`` (NaN without relevant ids)."""
    _check_k(k)
    grades = _grades(relevant)
    return _found(ranking, grades, k) / k if grades else math.nan


def hit_rate_at_k(ranking: Sequence[str], relevant: Relevant, k: int) -> float:
    """1.0 if any relevant id is in the first ``k``, else 0.0 (NaN without relevant ids);
    its mean over queries is the hit rate."""
    _check_k(k)
    grades = _grades(relevant)
    return (1.0 if _found(ranking, grades, k) else 0.0) if grades else math.nan


def mrr(ranking: Sequence[str], relevant: Relevant, k: int | None = None) -> float:
    """Reciprocal rank of the first relevant id (0 if none, within the first ``k``
    when given; NaN without relevant ids); its mean over queries is the MRR."""
    _check_k(k)
    grades = _grades(relevant)
    if not grades:
        return math.nan
    for rank, id_ in enumerate(_judged(ranking, k), start=1):
        if id_ is not None and id_ in grades:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranking: Sequence[str], relevant: Relevant, k: int) -> float:
    """Normalised discounted cumulative gain of the first ``k`` (gain ``grade``,
    discount ``log2(rank + 1)``; NaN without relevant ids)."""
    _check_k(k)
    grades = _grades(relevant)
    if not grades:
        return math.nan
    dcg = sum(
        grades.get(id_, 0.0) / math.log2(rank + 1)
        for rank, id_ in enumerate(_judged(ranking, k), start=1)
        if id_ is not None
    )
    ideal = sorted(grades.values(), reverse=True)[:k]
    return dcg / sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))


@dataclass(frozen=True)
class RetrievalScores:
    """The metrics of one query's ranking at one ``k``."""

    k: int
    """How many positions of the ranking were judged."""

    recall: float
    """``recall_at_k``: share of the relevant ids retrieved."""

    precision: float
    """``precision_at_k``: share of the k positions holding a relevant id."""

    hit_rate: float
    """``hit_rate_at_k``: 1.0 if any relevant id was retrieved, else 0.0."""

    mrr: float
    """``mrr`` cut at k: 1 / rank of the first relevant id, 0 if none."""

    ndcg: float
    """``ndcg_at_k``: discounted gain against the best possible ranking."""


@dataclass(frozen=True)
class RetrievalSummary:
    """Mean metrics over many queries; queries without relevant ids are left out."""

    k: int
    """How many positions of each ranking were judged."""

    queries: int
    """How many queries were given."""

    scored: int
    """How many had relevant ids, so were scored (the means are over these; NaN if none)."""

    recall: float
    """Mean recall@k."""

    precision: float
    """Mean precision@k."""

    hit_rate: float
    """Share of scored queries with a relevant id in the first k."""

    mrr: float
    """Mean reciprocal rank (cut at k)."""

    ndcg: float
    """Mean nDCG@k."""


def score_ranking(ranking: Sequence[str], relevant: Relevant, k: int) -> RetrievalScores:
    """Every metric of one ranking at ``k`` (all NaN without relevant ids)."""
    return RetrievalScores(
        k=k,
        recall=recall_at_k(ranking, relevant, k),
        precision=precision_at_k(ranking, relevant, k),
        hit_rate=hit_rate_at_k(ranking, relevant, k),
        mrr=mrr(ranking, relevant, k),
        ndcg=ndcg_at_k(ranking, relevant, k),
    )


def score_queries(rankings: Sequence[Sequence[str]], relevant: Sequence[Relevant], k: int) -> RetrievalSummary:
    """Mean metrics at ``k`` of many queries: ``rankings[i]`` judged by ``relevant[i]``."""
    if len(rankings) != len(relevant):
        raise ConfigError(
            f"{len(rankings)} rankings but {len(relevant)} sets of relevant ids: give one set per ranking"
        )
    scores = [score_ranking(r, rel, k) for r, rel in zip(rankings, relevant, strict=True)]
    scored = [s for s in scores if not math.isnan(s.recall)]

    def mean(values: list[float]) -> float:
        return math.fsum(values) / len(values) if values else math.nan

    return RetrievalSummary(
        k=k,
        queries=len(scores),
        scored=len(scored),
        recall=mean([s.recall for s in scored]),
        precision=mean([s.precision for s in scored]),
        hit_rate=mean([s.hit_rate for s in scored]),
        mrr=mean([s.mrr for s in scored]),
        ndcg=mean([s.ndcg for s in scored]),
    )
