"""Evaluators: the protocol and its registry by name (``protocol.py``), the
built-ins (``builtin.py``) and the model-graded judges (``judges.py``), all
reached through this namespace: ``pl.evals.icontains("expected")``.

An evaluator turns one trial into a ``Score`` (a number, optionally pass or
fail, a label and an explanation). Built in: ``exact``, ``contains``,
``icontains``, ``not_contains``, ``regex``, ``json_valid``, ``json_schema``,
``one_of``, ``max_length``, ``word_count``, ``latency_under``, ``cost_under``,
``similarity`` (token F1 or ROUGE-L, computed locally), ``code`` (any Python
callable), ``judge`` and ``pairwise_judge``. For trials made with a retriever:
``retrieval_recall``, ``retrieval_precision``, ``retrieval_hit_rate``,
``retrieval_mrr`` and ``retrieval_ndcg`` against a ``relevant_ids`` column
(``retrieval.py``), and the judges ``context_relevance``, ``faithfulness``
and ``answer_relevance`` (``rag_judges.py``).

Each declares what its scores mean (``Meaning``): the text, format, length,
latency and cost evaluators are checks (compared on how often they pass),
``similarity`` and ``judge`` are scores, higher better, and ``code`` says
what the user tells it. ``meaning(name, args)`` reads it back from a stored
score's ``evaluator_name`` and ``args``; ``recorded_meanings`` does so for a
set of stored trials.
"""

from promptlab.evals.builtin import (
    code,
    coerce,
    contains,
    cost_under,
    exact,
    icontains,
    json_schema,
    json_valid,
    latency_under,
    max_length,
    not_contains,
    one_of,
    parse,
    regex,
    rouge_l,
    similarity,
    token_f1,
    word_count,
)
from promptlab.evals.judges import PairwiseJudge, judge, pairwise_judge
from promptlab.evals.protocol import (
    REGISTRY,
    CheckEvaluator,
    Evaluator,
    JudgeCalls,
    Meaning,
    Score,
    TrialView,
    as_score,
    from_spec,
    meaning,
    meaning_of,
    register,
    spec,
)
from promptlab.evals.rag_judges import answer_relevance, context_relevance, faithfulness
from promptlab.evals.recorded import recorded_meanings
from promptlab.evals.retrieval import (
    RETRIEVAL_EVALUATORS,
    retrieval_hit_rate,
    retrieval_mrr,
    retrieval_ndcg,
    retrieval_precision,
    retrieval_recall,
)

__all__ = [
    "REGISTRY",
    "RETRIEVAL_EVALUATORS",
    "CheckEvaluator",
    "Evaluator",
    "JudgeCalls",
    "Meaning",
    "PairwiseJudge",
    "Score",
    "TrialView",
    "answer_relevance",
    "as_score",
    "code",
    "coerce",
    "contains",
    "context_relevance",
    "cost_under",
    "exact",
    "faithfulness",
    "from_spec",
    "icontains",
    "json_schema",
    "json_valid",
    "judge",
    "latency_under",
    "max_length",
    "meaning",
    "meaning_of",
    "not_contains",
    "one_of",
    "pairwise_judge",
    "parse",
    "recorded_meanings",
    "regex",
    "register",
    "retrieval_hit_rate",
    "retrieval_mrr",
    "retrieval_ndcg",
    "retrieval_precision",
    "retrieval_recall",
    "rouge_l",
    "similarity",
    "spec",
    "token_f1",
    "word_count",
]
