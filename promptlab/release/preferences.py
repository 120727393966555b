"""Preference pairs from recorded verdicts, in OpenAI's DPO fine-tuning format.

One pair is an input (the messages a trial sent) with a preferred and a
non-preferred answer to it, one JSON object per line::

    {"input": {"messages": [...]},
     "preferred_output": [{"role": "assistant", "content": "..."}],
     "non_preferred_output": [{"role": "assistant", "content": "..."}]}

Pairs come from three kinds of verdict, strongest first: a person's
correction is preferred over the output it corrects; for the same messages,
an up-voted output over a down-voted one; and a pairwise judge's winner over
its loser (``Lab.compare_pairwise``; ties give no pair), with the winner's
messages as the input. A pair that contradicts an earlier, stronger one is
left out, as is any pair whose two answers are the same text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from promptlab.core.feedback import current_votes
from promptlab.core.hashing import canonical_json
from promptlab.core.redaction import Redactor
from promptlab.errors import ExportError
from promptlab.release.export import (
    ExportedSet,
    check_split,
    require_trials,
    scrub,
    split_examples,
    too_few,
    write_training_set,
)
from promptlab.release.finetune import (
    MIN_EXAMPLES,
    message_problem,
    messages_problem,
    plain_messages,
    text,
    validate_items,
)

PAIR_SOURCES = (
    "Pairs come from corrections, from up- and down-votes on answers to the same messages, and from pairwise "
    "judge verdicts (lab.compare_pairwise): record more of those, or widen the trial filters"
)
"""Where more pairs come from, for the message when there are too few."""

PAIRWISE_EVALUATOR = "pairwise_judge"
"""``scores.evaluator_name`` of pairwise judge verdicts."""


class _Pairs:
    """Pairs in the order found; the first verdict on two answers stands."""

    def __init__(self) -> None:
        self.pairs: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, messages: Any, preferred: Any, non_preferred: Any) -> None:
        better, worse = text(preferred), text(non_preferred)
        if not isinstance(messages, list) or not messages or better is None or worse is None or better == worse:
            return
        prompt = canonical_json(plain_messages(messages))
        if (prompt, better, worse) in self._seen or (prompt, worse, better) in self._seen:
            return
        self._seen.add((prompt, better, worse))
        self.pairs.append(
            {
                "input": {"messages": plain_messages(messages)},
                "preferred_output": [{"role": "assistant", "content": better}],
                "non_preferred_output": [{"role": "assistant", "content": worse}],
            }
        )


def _verdicts(trials: pd.DataFrame, feedback: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """(net votes, latest correction) per trial id, from feedback rows when given,
    else from the trials' own ``votes_up`` / ``votes_down`` / ``correction``."""
    ids = trials["trial_id"]
    if feedback is None:

        def column(name: str, default: Any) -> pd.Series:
            values = trials[name] if name in trials else pd.Series([default] * len(trials), index=trials.index)
            return pd.Series(values.to_numpy(), index=ids.to_numpy())

        return column("votes_up", 0).fillna(0) - column("votes_down", 0).fillna(0), column("correction", None)
    ordered = feedback.sort_values("created_at", kind="stable") if "created_at" in feedback else feedback
    net = current_votes(ordered).groupby("trial_id")["vote"].sum() if "vote" in ordered else pd.Series(dtype=float)
    corrected = ordered[ordered["correction"].map(text).notna()] if "correction" in ordered else ordered.iloc[:0]
    latest = corrected.groupby("trial_id")["correction"].last() if len(corrected) else pd.Series(dtype=object)
    return net.reindex(ids.to_numpy()).fillna(0), latest.reindex(ids.to_numpy())


def _opponent(row: Mapping[Any, Any]) -> str | None:
    if isinstance(row.get("opponent"), str):
        return str(row["opponent"])
    args = row.get("args")
    if isinstance(args, str):
        args = json.loads(args)
    return str(args["opponent"]) if isinstance(args, Mapping) and args.get("opponent") else None


def _judge_wins(scores: pd.DataFrame) -> list[tuple[str, str]]:
    """(winner, loser) trial ids from pairwise verdict rows, the newest verdict per pair."""
    rows = scores
    if "evaluator_name" in rows:
        rows = rows[rows["evaluator_name"] == PAIRWISE_EVALUATOR]
    if "created_at" in rows:
        rows = rows.sort_values("created_at", kind="stable")
    newest: dict[tuple[str, str, str], str] = {}
    for row in rows.to_dict("records"):
        opponent = _opponent(row)
        if opponent is not None:
            newest[(str(row["trial_id"]), opponent, str(row.get("evaluator", "")))] = str(row.get("label"))
    return [(winner, loser) for (winner, loser, _), label in newest.items() if label == "win"]


def preference_pairs(
    trials: pd.DataFrame, feedback: pd.DataFrame | None = None, scores: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """DPO pairs from corrections, votes and pairwise judge verdicts on ``trials``
    (``lab.trials(...)``; both trials of a pair must be in it).

    ``feedback`` (``lab.feedback_for()``) replaces the trials' vote and correction
    columns when given; ``scores`` holds pairwise verdict rows (``trial_id``,
    ``label`` win/loss/tie, and ``opponent`` or ``args`` with it), as the
    ``scores`` table stores them.
    """
    frame = trials.reset_index(drop=True)
    net, corrections = _verdicts(frame, feedback)
    by_id = {str(row["trial_id"]): row for row in frame.to_dict("records")}
    pairs = _Pairs()
    for trial_id, row in by_id.items():
        pairs.add(row["messages"], corrections.get(trial_id), row["output"])
    prompts = frame["messages"].map(lambda m: canonical_json(plain_messages(m)) if isinstance(m, list) else None)
    for _, group in frame.groupby(prompts, sort=False):
        ids = [str(i) for i in group["trial_id"]]
        liked = [by_id[i] for i in ids if net.get(i, 0) > 0]
        disliked = [by_id[i] for i in ids if net.get(i, 0) < 0]
        for good in liked:
            for bad in disliked:
                pairs.add(good["messages"], good["output"], bad["output"])
    for winner, loser in _judge_wins(scores) if scores is not None and len(scores) else []:
        if winner in by_id and loser in by_id:
            pairs.add(by_id[winner]["messages"], by_id[winner]["output"], by_id[loser]["output"])
    redactor = Redactor()
    return [scrub(pair, redactor) for pair in pairs.pairs]


def _answer_problem(name: str, answer: Any) -> str | None:
    if not isinstance(answer, list) or len(answer) != 1:
        return f"{name} must be a list of exactly one assistant message"
    problem = message_problem(answer[0])
    if problem:
        return f"{name}: {problem}"
    return None if answer[0]["role"] == "assistant" else f"{name} is a {answer[0]['role']!r} message, not assistant"


def preference_pair_problem(pair: Any) -> str | None:
    """What is wrong with one DPO pair, or None."""
    if not isinstance(pair, Mapping):
        return "it is not an object"
    prompt = pair.get("input")
    problem = messages_problem(prompt.get("messages") if isinstance(prompt, Mapping) else None, "input")
    if problem:
        return problem
    for name in ("preferred_output", "non_preferred_output"):
        problem = _answer_problem(name, pair.get(name))
        if problem:
            return problem
    if pair["preferred_output"][0]["content"] == pair["non_preferred_output"][0]["content"]:
        return "the preferred and non-preferred outputs are the same text"
    return None


def validate_preference_pairs(pairs: Sequence[Any]) -> None:
    """Check pairs against OpenAI's DPO format (input messages, one assistant
    message each side, different texts) and their number (at least
    ``MIN_EXAMPLES``; a warning under the recommended 50). Raises ``ExportError``
    naming the first bad pair."""
    validate_items(pairs, preference_pair_problem, "preference pair", "preference pairs", PAIR_SOURCES)


def export_preferences(
    trials: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    feedback: pd.DataFrame | None = None,
    scores: pd.DataFrame | None = None,
    validation_split: float = 0.0,
    seed: int = 0,
    mkdir: bool = False,
) -> ExportedSet:
    """Write ``preference_pairs(trials, feedback, scores)`` as JSONL to ``path``
    (a ``validation_split`` share to ``<stem>.val.jsonl``), validated first."""
    check_split(validation_split)
    require_trials(trials)
    pairs = preference_pairs(trials, feedback, scores)
    validate_preference_pairs(pairs)
    train, validation = split_examples(pairs, validation_split, seed)
    if len(train) < MIN_EXAMPLES:
        advice = f"The validation split took {len(validation)}; lower validation_split. {PAIR_SOURCES}"
        raise ExportError(too_few("training pairs after the validation split", len(train), MIN_EXAMPLES, advice))
    return write_training_set(train, validation, path, mkdir=mkdir)
