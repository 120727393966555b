"""Evaluators: the protocol and its registry by name (``protocol.py``), the
built-ins (``builtin.py``) and the model-graded judges (``judges.py``), all
reached through this namespace: ``pl.evals.icontains("expected")``.

An evaluator turns one trial into a ``Score`` (a number, optionally pass or
fail, a label and an explanation). Built in: ``exact``, ``contains``,
``icontains``, ``not_contains``, ``regex``, ``json_valid``, ``json_schema``,
``one_of``, ``max_length``, ``word_count``, ``latency_under``, ``cost_under``,
``similarity`` (token F1 or ROUGE-L, computed locally), ``code`` (any Python
callable), ``judge`` and ``pairwise_judge``.
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
    Score,
    TrialView,
    as_score,
    from_spec,
    register,
    spec,
)

__all__ = [
    "REGISTRY",
    "CheckEvaluator",
    "Evaluator",
    "JudgeCalls",
    "PairwiseJudge",
    "Score",
    "TrialView",
    "as_score",
    "code",
    "coerce",
    "contains",
    "cost_under",
    "exact",
    "from_spec",
    "icontains",
    "json_schema",
    "json_valid",
    "judge",
    "latency_under",
    "max_length",
    "not_contains",
    "one_of",
    "pairwise_judge",
    "parse",
    "regex",
    "register",
    "rouge_l",
    "similarity",
    "spec",
    "token_f1",
    "word_count",
]
