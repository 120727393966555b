"""Applying evaluators to trials: at sweep time as trials finish, or later to
stored trials (``Lab.evaluate``) without calling the scored model again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptlab.core.hashing import new_id
from promptlab.core.lineage import utcnow
from promptlab.errors import ConfigError
from promptlab.evals.protocol import Described, Evaluator, JudgeCalls, Score, TrialView, spec


def require_columns(evaluators: Sequence[Evaluator], rows: Sequence[Mapping[str, Any]]) -> None:
    """Raise before any call when an evaluator needs a column some row lacks."""
    for evaluator in evaluators:
        for column in sorted(evaluator.required_columns()):
            missing = [i for i, row in enumerate(rows) if column not in row]
            if missing:
                more = f" (and {len(missing) - 1} more rows)" if len(missing) > 1 else ""
                remedy = (
                    "or compare with a literal (literal=True)"
                    if getattr(evaluator, "args", {}).get("literal") is not None
                    else "(an empty value leaves a row unscored)"
                )
                raise ConfigError(
                    f"evaluator {evaluator.label!r} compares with the column {column!r}, but row "
                    f"{missing[0]}{more} has no {column!r}; add it to the data {remedy}"
                )


def score_row(
    trial_id: str, run_id: str, evaluator: Described, score: Score, *, error: str | None, user: str
) -> dict[str, Any]:
    """The ``scores`` row for one verdict."""
    recorded = spec(evaluator)
    return {
        "score_id": new_id(),
        "trial_id": trial_id,
        "run_id": run_id,
        "evaluator": evaluator.label,
        "evaluator_name": recorded["name"],
        "args": recorded["args"],
        "value": score.value,
        "passed": score.passed,
        "label": score.label,
        "explanation": score.explanation,
        "error": error,
        "judge_trial_id": score.judge_trial_id,
        "created_at": utcnow().isoformat(),
        "user": user,
    }


class Scorer:
    """Scores trials with a set of evaluators; an evaluator that raises records
    an error for that score and the others carry on."""

    def __init__(self, evaluators: Sequence[Evaluator], judges: JudgeCalls, user: str) -> None:
        self.evaluators = list(evaluators)
        self.judges = judges
        self.user = user

    async def score(self, trial: TrialView, run_id: str) -> list[dict[str, Any]]:
        """Every evaluator's score row for ``trial``."""
        rows = []
        for evaluator in self.evaluators:
            try:
                verdict, error = await evaluator.score(trial, self.judges), None
            except Exception as exc:  # an evaluator's bug or a bad output: recorded, never a crash
                verdict, error = Score(None), f"{type(exc).__name__}: {exc}"
            rows.append(score_row(trial.trial_id, run_id, evaluator, verdict, error=error, user=self.user))
        return rows
