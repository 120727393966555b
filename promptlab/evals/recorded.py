"""What recorded evaluators' scores mean, read back from the history.

A history is shared and compared long after it was scored, by people who
don't hold the evaluator objects: only each score's ``evaluator_name`` and
``args`` are stored. Those are enough, since a factory's declared meaning
and the arguments that override it (``code``'s) are all a ``Meaning`` is
made of, so no column had to be added to the ``scores`` table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from promptlab.evals.protocol import Meaning, meaning
from promptlab.store import reads


def recorded_meanings(store: reads.Source, trial_ids: Sequence[str]) -> dict[str, Meaning]:
    """The meaning of every evaluator label that scored these trials, from its
    newest score (an evaluator unknown here counts as higher is better, not a check)."""
    if not len(trial_ids):
        return {}
    specs = reads.evaluator_specs(store, reads.TrialFilter(trial_ids=list(trial_ids), kind=None))
    return {
        str(evaluator): meaning(str(name), _arguments(args))
        for evaluator, name, args in zip(specs["evaluator"], specs["evaluator_name"], specs["args"], strict=True)
    }


def _arguments(stored: object) -> dict[str, object]:
    """A score's stored ``args`` as a dict (empty when missing or not an object)."""
    decoded = json.loads(stored) if isinstance(stored, str) else stored
    return decoded if isinstance(decoded, dict) else {}
