"""Retrieval scored apart from generation: how good the passages a retriever
found for a trial were, against the documents the row names as relevant.

Each trial made with a retriever carries what it found (``TrialView.retrieval``);
each data row may name the documents that answer it in a ``relevant_ids``
column (a list, a JSON list, or ids separated by commas or semicolons; a JSON
object of id → grade gives graded relevance for nDCG). The metrics are
``promptlab.retrieval.metrics``, checked against trec_eval, applied to the
hits' document ids, best first.

**Chunks of one document count once, at its best rank.** A retriever returns
passages; ``relevant_ids`` names documents. Each hit becomes its document's
id; a document found again further down keeps the rank of its best chunk and
its later chunks earn nothing, though they keep their places: ``@k`` counts
the passages the model was shown, as the retrieval's own ``k`` does (so
hits ``d1, d1#2, d9`` with ``d1, d9`` relevant have recall@2 = 0.5).

**What can't be scored scores None, with the reason**, as a failed call does
for the text checks: a trial made without retrieval (a baseline arm of a
sweep compared with retrieval arms), and a row whose ``relevant_ids`` is
blank (an unjudged query: neither good nor bad, so left out of the means, as
``score_queries`` and trec_eval leave it). A sweep whose rows lack the column
altogether fails before any call (``required_columns``). A trial whose model
call failed is still scored: its retrieval happened and is judged on its own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptlab.errors import ConfigError, EvaluatorError
from promptlab.evals.protocol import CheckEvaluator, Evaluator, JudgeCalls, Score, TrialView, as_score, register
from promptlab.retrieval.metrics import hit_rate_at_k, mrr, ndcg_at_k, precision_at_k, recall_at_k

RETRIEVAL_EVALUATORS = frozenset(
    {
        "retrieval_recall",
        "retrieval_precision",
        "retrieval_hit_rate",
        "retrieval_mrr",
        "retrieval_ndcg",
        "context_relevance",
    }
)
"""The evaluators that score the search rather than the answer (``Run.plot_retrieval``'s left side)."""

RELEVANT_COLUMN = "relevant_ids"
"""The data column naming the documents that answer a row's query."""

Relevant = list[str] | dict[str, float]
Measure = Callable[[Sequence[str], Relevant, int], float]


def retrieval_of(trial: TrialView) -> Mapping[str, Any] | None:
    """The trial's retrieval, None without one (``TrialView.from_row`` decodes stored JSON)."""
    return trial.retrieval or None


def no_retrieval(what: str) -> Score:
    """The verdict on a trial made without a retriever."""
    return Score(None, explanation=f"no retrieval in this trial: {what}; sweep with retrievers=[...] to score it")


def _id(value: Any) -> str:
    """An id as text: a number read from a CSV cell (``3``, ``3.0``) as ``"3"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().strip("'\"")


def relevant_ids(value: Any) -> Relevant | None:
    """The relevant document ids in a row's ``relevant_ids`` cell: a list of ids,
    a JSON list, ids separated by commas or semicolons, or id → grade (a mapping
    or a JSON object); None when the cell is blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{":
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = text.strip("[]{}")  # [d1, d2] typed without quotes
        else:
            value = text
    if isinstance(value, str):
        value = [part for chunk in value.split(";") for part in chunk.split(",")]
    if isinstance(value, Mapping):
        try:
            return {_id(k): float(grade) for k, grade in value.items()} or None
        except (TypeError, ValueError) as exc:
            raise EvaluatorError(f"relevant_ids grades must be numbers: {dict(value)!r}") from exc
    if hasattr(value, "tolist"):  # a numpy array (a Parquet list column) or scalar
        value = value.tolist()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [_id(value)]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise EvaluatorError(f"relevant_ids must be a list of document ids, not {type(value).__name__}: {value!r}")
    ids = [_id(v) for v in value if v is not None]
    return [i for i in ids if i] or None


def _explained(ranking: Sequence[str], relevant: Relevant, k: int) -> str:
    """Which relevant documents the first ``k`` passages found (at their best rank) and which they missed."""
    first: dict[str, int] = {}
    for rank, doc_id in enumerate(ranking[:k], start=1):
        first.setdefault(doc_id, rank)
    wanted = [d for d in relevant if not isinstance(relevant, dict) or relevant[d] > 0]
    found = [f"{doc_id} (rank {first[doc_id]})" for doc_id in wanted if doc_id in first]
    missed = [doc_id for doc_id in wanted if doc_id not in first]
    parts = [f"found {', '.join(found)}" if found else "found none of the relevant documents"]
    if missed:
        parts.append(f"missed {', '.join(missed)}")
    where = f"the first {k} passages" if k > 1 else "the first passage"
    return f"in {where}: " + "; ".join(parts)


def score_retrieval(trial: TrialView, measure: Measure, k: int | None) -> Score:
    """``measure`` of the trial's hits (as document ids) against the row's ``relevant_ids``,
    cut at ``k`` (the retrieval's own ``k`` when None)."""
    retrieval = retrieval_of(trial)
    if retrieval is None:
        return no_retrieval("nothing was retrieved to compare with relevant_ids")
    relevant = relevant_ids(trial.vars.get(RELEVANT_COLUMN))
    hits = list(retrieval.get("hits") or [])
    ranking = [str(hit["doc_id"]) for hit in hits]
    cut = k or int(retrieval.get("k") or len(hits) or 1)
    value = measure(ranking, relevant, cut) if relevant else math.nan
    if relevant is None or math.isnan(value):
        return Score(
            None,
            explanation="no relevant_ids in this row; an unjudged query is left out, not counted as a miss: "
            "add the ids of the documents that answer it, or judge the passages with context_relevance",
        )
    return Score(value, explanation=_explained(ranking, relevant, cut))


class RetrievalMetric(CheckEvaluator):
    """A retrieval metric: scored from the trial's retrieval even when its model
    call failed, since the retrieval is judged apart from the answer."""

    async def score(self, trial: TrialView, judges: JudgeCalls) -> Score:
        """The metric of the trial's retrieval."""
        return as_score(self._check(trial))


def _metric(name: str, default: str, measure: Measure, k: int | None, label: str | None) -> Evaluator:
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ConfigError(f"{name} takes k, a whole number of at least 1 (or None: the retrieval's own k), not {k!r}")

    def check(trial: TrialView) -> Score:
        return score_retrieval(trial, measure, k)

    return RetrievalMetric(name, check, {"k": k}, label=label or default, columns={RELEVANT_COLUMN})


def _at(metric: str, k: int | None) -> str:
    """A metric's default label: ``recall@5``, or ``recall@k`` at the retrieval's own k."""
    return f"{metric}@{k if k is not None else 'k'}"


@register("retrieval_recall")
def retrieval_recall(k: int | None = None, *, label: str | None = None) -> Evaluator:
    """Share of the row's relevant documents among the first ``k`` passages
    retrieved (the retrieval's own ``k`` when None); label ``recall@k``. Chunks
    of one document count once, at its best rank."""
    return _metric("retrieval_recall", _at("recall", k), recall_at_k, k, label)


@register("retrieval_precision")
def retrieval_precision(k: int | None = None, *, label: str | None = None) -> Evaluator:
    """Share of the first ``k`` passages that bring a relevant document not
    already brought by a better one (divided by ``k`` even when fewer were
    found); label ``precision@k``. Chunks of one document count once, at its best rank."""
    return _metric("retrieval_precision", _at("precision", k), precision_at_k, k, label)


@register("retrieval_hit_rate")
def retrieval_hit_rate(k: int | None = None, *, label: str | None = None) -> Evaluator:
    """1.0 when any relevant document is among the first ``k`` passages, else 0.0
    (its mean over rows is the hit rate); label ``hit_rate@k``."""
    return _metric("retrieval_hit_rate", _at("hit_rate", k), hit_rate_at_k, k, label)


@register("retrieval_mrr")
def retrieval_mrr(k: int | None = None, *, label: str | None = None) -> Evaluator:
    """1 / rank of the first passage from a relevant document (0 if none; its mean
    over rows is the MRR), over every passage retrieved or the first ``k``; label ``mrr``."""

    def measure(ranking: Sequence[str], relevant: Relevant, cut: int) -> float:
        return mrr(ranking, relevant, k)

    return _metric("retrieval_mrr", "mrr" if k is None else f"mrr@{k}", measure, k, label)


@register("retrieval_ndcg")
def retrieval_ndcg(k: int | None = None, *, label: str | None = None) -> Evaluator:
    """nDCG of the first ``k`` passages (gain = the document's grade, 1 for a
    listed id; discount log2(rank + 1)); label ``ndcg@k``. Chunks of one
    document count once, at its best rank."""
    return _metric("retrieval_ndcg", _at("ndcg", k), ndcg_at_k, k, label)
