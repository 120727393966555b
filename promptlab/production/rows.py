"""A batch of queued calls and verdicts, as the rows of the tables they go to."""

from __future__ import annotations

import collections
from typing import Any

from promptlab.core.lineage import Lineage
from promptlab.core.redaction import Redactor
from promptlab.core.scrub import scrubbed
from promptlab.production.calls import AppFeedback, Call, Models, feedback_row, model_row, prompt_row, trial_row

KNOWN_IDS = 100_000
"""Recent (app id → trial id) pairs kept, so feedback naming a call this process
logged is recorded against its trial directly (older ones are resolved by reads)."""


class RowMaker:
    """Turns one logger's batches into rows: its trials, their feedback, and the
    prompts and models each first uses."""

    def __init__(
        self,
        run_id: str,
        source: str,
        lineage: Lineage,
        redactor: Redactor,
        *,
        tier: str | None = None,
        scrub: tuple[str, ...] = (),
    ) -> None:
        self.tier = tier
        """The data tier of every call."""
        self.scrub = scrub
        """Kinds of personal data replaced before a call is stored (``promptlab.core.pii``)."""
        self.run_id = run_id
        self.source = source
        self.lineage = lineage
        self.redactor = redactor
        self._known: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._seen_prompts: set[tuple[str, str]] = set()
        self._seen_models: set[str] = set()
        self._models = Models()

    def rows(self, batch: list[Call | AppFeedback]) -> dict[str, list[dict[str, Any]]]:
        """The rows of ``batch``, by table."""
        rows: dict[str, list[dict[str, Any]]] = {"prompts": [], "models": [], "trials": [], "feedback": []}
        for item in batch:
            if isinstance(item, AppFeedback):
                known = self._known.get(item.ref)
                rows["feedback"].append(
                    feedback_row(item, known, source=self.source, user=self.lineage.user, redactor=self.redactor)
                )
                continue
            trial, model = trial_row(
                item,
                run_id=self.run_id,
                experiment=self.source,
                lineage=self.lineage,
                redactor=self.redactor,
                models=self._models,
            )
            trial["tier"] = self.tier
            rows["trials"].append(scrubbed(trial, self.scrub) if self.scrub else trial)
            self._remember(item)
            if (item.prompt.name, item.prompt.version) not in self._seen_prompts:
                self._seen_prompts.add((item.prompt.name, item.prompt.version))
                rows["prompts"].append(prompt_row(item.prompt, self.lineage.user, trial["created_at"]))
            if model is not None and trial["model_id"] not in self._seen_models:
                self._seen_models.add(trial["model_id"])
                rows["models"].append(model_row(model, trial["created_at"]))
        return rows

    def _remember(self, call: Call) -> None:
        self._known[call.trial_id] = call.trial_id
        if call.external_id is not None:
            self._known[str(call.external_id)] = call.trial_id
        while len(self._known) > KNOWN_IDS:
            self._known.popitem(last=False)
