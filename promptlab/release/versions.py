"""A prompt name's versions as people refer to them: numbered in the order
they were first run (``v1``, ``v2``, …, beside the content hash), with the
labels on each, and per model every config it ran with and each evaluator's
mean and count over all of them.

A version's score is never one (model, params) slice: a grid run at two
temperatures gives one mean per model over both, and says which configs and
how many scored trials it covers, so a number can be checked against
``lab.trials``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from promptlab.analysis import columns
from promptlab.store import Store, prompt_reads


def version_table(store: Store, name: str) -> pd.DataFrame:
    """Every version of ``name``, oldest first, with its labels, trials, authorship and scores.

    ``number`` counts the versions from 1 in the order they were first
    recorded (``prompt_reads.version_numbers``: ``v2`` is the second one run);
    ties in time go by version, so the same history always numbers alike.
    ``by_model`` gives, per model, every parameter config the version ran
    with (``configs``), ``n_trials``, ``n_errors`` and each evaluator's
    ``mean`` and ``n`` (scored trials) over all of those trials, never one
    config's; ``scores`` keeps only the means (rounded to 4 places); ``message``
    is what the version changes, as its first run recorded it (None when none)."""
    versions = prompt_reads.prompt_versions(store, name)
    if versions.empty:
        return versions
    numbers = prompt_reads.version_numbers(store, [name]).set_index("version")["number"]
    versions.insert(0, "number", versions["version"].map(numbers).astype("int64"))
    versions = versions.sort_values("number", kind="stable", ignore_index=True)
    for column in ("template", "variables"):
        versions[column] = versions[column].map(columns.decode_json)
    with store.reading() as reader:
        current = prompt_reads.labels(reader, name)
        messages = prompt_reads.version_messages(reader, name)
        by_version = _per_model(prompt_reads.version_configs(reader, name), prompt_reads.version_scores(reader, name))
    versions["labels"] = versions["version"].map(
        lambda v: sorted(current.loc[current["version"] == v, "label"]) if len(current) else []
    )
    versions["message"] = versions["version"].map(lambda v: messages.get(str(v)))
    versions["by_model"] = versions["version"].map(lambda v: by_version.get(v, {}))
    versions["scores"] = versions["by_model"].map(
        lambda models: {
            model: {label: round(s["mean"], 4) for label, s in seen["scores"].items()}
            for model, seen in models.items()
            if seen["scores"]
        }
    )
    return versions


def _per_model(configs: pd.DataFrame, scores: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """``{version: {model: {configs, n_trials, n_errors, scores: {evaluator: {mean, n}}}}}``
    from ``prompt_reads.version_configs`` and ``version_scores``."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for row in configs.to_dict("records"):
        seen = found.setdefault(str(row["prompt_version"]), {}).setdefault(
            str(row["model"]), {"configs": [], "n_trials": 0, "n_errors": 0, "scores": {}}
        )
        seen["configs"].append(columns.decode_json(row["params"]) or {})
        seen["n_trials"] += int(row["n_trials"])
        seen["n_errors"] += int(row["n_errors"])
    for row in scores.to_dict("records"):
        seen = found[str(row["prompt_version"])][str(row["model"])]  # a scored trial was run: listed above
        seen["scores"][str(row["evaluator"])] = {"mean": float(row["mean"]), "n": int(row["n"])}
    return found
