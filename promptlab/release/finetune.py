"""Fine-tuning sets from recorded trials, in OpenAI's chat format.

Each kept trial becomes one example: the messages it sent, then its answer as
the assistant's turn, ``{"messages": [..., {"role": "assistant", "content": ...}]}``.
Its answer is the output, or a person's correction when one was stored: a
correction is the answer as it should have been, so a corrected trial is kept
even when its original output scored low or was voted down (the score and the
votes judged the output the correction replaces).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypedDict, Unpack

import pandas as pd

from promptlab.analysis.columns import SCORE_PREFIX, metric_column, score_columns
from promptlab.core.hashing import canonical_json
from promptlab.core.redaction import Redactor
from promptlab.errors import ExportError
from promptlab.release.export import (
    ExportedSet,
    TrialFilters,
    check_split,
    left_out_advice,
    require_trials,
    scrub,
    split_examples,
    too_few,
    write_training_set,
)

ROLES = ("system", "user", "assistant")
"""Message roles a chat example may use."""

MESSAGE_KEYS = frozenset({"role", "content", "name", "weight"})
"""Keys OpenAI accepts on a text message of a fine-tuning example."""

MIN_EXAMPLES = 10
"""Fewer examples than this and OpenAI refuses the file."""

RECOMMENDED_EXAMPLES = 50
"""OpenAI's advice for a first fine-tune: at least this many examples."""

VoteFilter = Literal["up", "any"]
"""``up``: more up-votes than down-votes; ``any``: at least one up-vote."""


class FinetuneFilters(TypedDict, total=False):
    """Which trials become examples (the keywords of ``finetune_examples``)."""

    evaluator: str | None
    min_score: float | None
    vote: VoteFilter | None
    exclude_errors: bool
    dedupe_inputs: bool
    use_corrections: bool


class FinetuneSelection(FinetuneFilters, TrialFilters, total=False):
    """``Lab.export_finetune``'s keywords: which trials to read (``TrialFilters``)
    and which of them become examples (``FinetuneFilters``)."""


def split_selection(selection: Mapping[str, Any]) -> tuple[TrialFilters, FinetuneFilters]:
    """The trial filters and the example filters of a ``FinetuneSelection``."""
    trial_keys, example_keys = TrialFilters.__annotations__, FinetuneFilters.__annotations__
    unknown = set(selection) - trial_keys.keys() - example_keys.keys()
    if unknown:
        raise ExportError(
            f"export_finetune takes {', '.join([*example_keys, *trial_keys])}, not {', '.join(sorted(unknown))}"
        )
    trials: TrialFilters = {k: v for k, v in selection.items() if k in trial_keys}  # type: ignore[assignment]
    examples: FinetuneFilters = {k: v for k, v in selection.items() if k in example_keys}  # type: ignore[assignment]
    return trials, examples


def text(value: Any) -> str | None:
    """``value`` when it is text with something other than whitespace, else None."""
    return value if isinstance(value, str) and value.strip() else None


def input_keys(trials: pd.DataFrame) -> pd.Series:
    """What identifies each trial's input: its row of variables (the rendered
    messages when a trial has none)."""
    values = trials["vars"] if "vars" in trials else pd.Series([None] * len(trials), index=trials.index)
    return pd.Series(
        [
            canonical_json(v) if isinstance(v, dict) and v else canonical_json(m)
            for v, m in zip(values, trials["messages"], strict=True)
        ],
        index=trials.index,
        dtype=object,
    )


def ranking_scores(trials: pd.DataFrame, column: str | None) -> pd.Series:
    """Each trial's score: ``column``'s, else the mean of every evaluator's (NaN when none scored it)."""
    names = [column] if column else [SCORE_PREFIX + label for label in score_columns(trials)]
    if not names:
        return pd.Series(math.nan, index=trials.index)
    return trials[names].apply(pd.to_numeric, errors="coerce").mean(axis=1)


def _column(trials: pd.DataFrame, name: str, default: Any) -> pd.Series:
    return trials[name] if name in trials else pd.Series([default] * len(trials), index=trials.index)


def select_trials(
    trials: pd.DataFrame,
    *,
    evaluator: str | None = None,
    min_score: float | None = None,
    vote: VoteFilter | None = None,
    exclude_errors: bool = True,
    dedupe_inputs: bool = True,
    use_corrections: bool = True,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The trials that pass the filters, with their ``answer`` column, and how many
    each filter left out (by the filter's name as given)."""
    if vote not in (None, "up", "any"):
        raise ExportError(f"vote must be 'up' (more up-votes than down) or 'any' (at least one up-vote), got {vote!r}")
    frame = trials.reset_index(drop=True)
    column = (
        metric_column(frame, evaluator, plain=False, error=ExportError)
        if min_score is not None or evaluator is not None
        else None
    )
    corrections = _column(frame, "correction", None).map(text) if use_corrections else pd.Series(None, frame.index)
    corrected = corrections.notna()
    frame = frame.assign(answer=corrections.where(corrected, frame["output"].map(text)))
    keep = pd.Series(True, index=frame.index)
    dropped: dict[str, int] = {}

    def apply(name: str, passes: pd.Series) -> None:
        nonlocal keep
        dropped[name] = int((keep & ~passes).sum())
        keep = keep & passes

    if exclude_errors:
        apply("exclude_errors", _column(frame, "error_type", None).isna() | corrected)
    apply("trials without an output", frame["answer"].notna())
    scores = ranking_scores(frame, column)
    if min_score is not None:
        apply(f"min_score={min_score} on {column}", (scores >= min_score) | corrected)
    votes_up = _column(frame, "votes_up", 0).fillna(0)
    net_votes = votes_up - _column(frame, "votes_down", 0).fillna(0)
    if vote is not None:
        apply(f"vote={vote!r}", (net_votes > 0 if vote == "up" else votes_up > 0) | corrected)
    kept = frame[keep]
    if dedupe_inputs and len(kept):
        # best first: a person's correction, then the highest score, the most net up-votes, the newest
        ranked = kept.assign(
            _input=input_keys(kept),
            _corrected=corrected[keep],
            _score=scores[keep].fillna(-math.inf),
            _votes=net_votes[keep],
            _when=_column(kept, "created_at", pd.NaT),
        ).sort_values(["_corrected", "_score", "_votes", "_when"], ascending=False, kind="stable")
        deduped = ranked.drop_duplicates("_input").sort_index()
        dropped["dedupe_inputs"] = len(kept) - len(deduped)
        kept = deduped.drop(columns=["_input", "_corrected", "_score", "_votes", "_when"])
    return kept, dropped


def plain_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The role and content of each message (nothing else the store may keep)."""
    return [{"role": m.get("role"), "content": m.get("content")} for m in messages]


def finetune_examples(trials: pd.DataFrame, **filters: Unpack[FinetuneFilters]) -> list[dict[str, Any]]:
    """OpenAI chat examples from a trials DataFrame (``lab.trials(...)``).

    ``min_score`` keeps trials whose ``score_<evaluator>`` is at least that
    (``evaluator`` may be left out when one evaluator scored the trials);
    ``vote="up"`` keeps trials with more up-votes than down-votes, ``"any"``
    those with at least one up-vote; failed calls are left out unless
    ``exclude_errors=False``; ``dedupe_inputs`` keeps one trial per input row
    (a corrected one, else the best scored by ``evaluator``, or on the mean of
    every evaluator's scores, then the most up-voted, then the newest). Trials
    without an answer are always left out.
    """
    kept, _ = select_trials(trials, **filters)
    return examples_of(kept)


def examples_of(kept: pd.DataFrame) -> list[dict[str, Any]]:
    """Chat examples of selected trials (with their ``answer``), secrets masked."""
    redactor = Redactor()
    return [
        scrub({"messages": [*plain_messages(messages), {"role": "assistant", "content": answer}]}, redactor)
        for messages, answer in zip(kept["messages"], kept["answer"], strict=True)
    ]


def message_problem(message: Any) -> str | None:
    """What is wrong with one chat message, or None."""
    if not isinstance(message, Mapping):
        return f"a message is {type(message).__name__}, not an object with role and content"
    extra = set(message) - MESSAGE_KEYS
    if extra:
        return f"a message has keys {sorted(extra)} (allowed: {', '.join(sorted(MESSAGE_KEYS))})"
    if message.get("role") not in ROLES:
        return f"role {message.get('role')!r} is not one of {', '.join(ROLES)}"
    if text(message.get("content")) is None:
        return f"a {message['role']} message has no text (content {message.get('content')!r})"
    return None


def messages_problem(messages: Any, where: str = "") -> str | None:
    """What is wrong with a list of chat messages (``where``: whose, for the text), or None."""
    if not isinstance(messages, list) or not messages:
        return f"{where or 'it'} has no messages list"
    for position, message in enumerate(messages):
        problem = message_problem(message)
        if problem:
            return f"{where + ' ' if where else ''}message {position}: {problem}"
    return None


def chat_example_problem(example: Any) -> str | None:
    """What is wrong with one chat example, or None."""
    messages = example.get("messages") if isinstance(example, Mapping) else None
    problem = messages_problem(messages)
    if problem:
        return problem
    assert isinstance(messages, list)
    if messages[-1]["role"] != "assistant":
        return f"the last message is {messages[-1]['role']!r}; it must be the assistant's answer"
    return None


def check_count(kind: str, n: int, advice: str) -> None:
    """Raise below ``MIN_EXAMPLES`` (with ``advice``); warn below ``RECOMMENDED_EXAMPLES``."""
    if n < MIN_EXAMPLES:
        raise ExportError(too_few(kind, n, MIN_EXAMPLES, advice))
    if n < RECOMMENDED_EXAMPLES:
        warnings.warn(
            f"only {n} {kind}; fine-tuning works, but OpenAI advises at least {RECOMMENDED_EXAMPLES}",
            UserWarning,
            stacklevel=3,
        )


def validate_chat_examples(examples: Sequence[Any], *, left_out: Iterable[str] = ()) -> None:
    """Check examples against OpenAI's chat fine-tuning format: each has messages
    with roles system/user/assistant and text content, the last the assistant's;
    at least ``MIN_EXAMPLES`` of them (``left_out`` names what filters left out,
    for the message when too few), and a warning under ``RECOMMENDED_EXAMPLES``. Raises ``ExportError``
    naming the first bad example."""
    validate_items(examples, chat_example_problem, "example", "examples", left_out_advice(left_out))


def validate_items(
    items: Sequence[Any], problem_of: Callable[[Any], str | None], one: str, many: str, advice: str
) -> None:
    """Raise ``ExportError`` naming the first item ``problem_of`` finds wrong,
    then check there are enough (``check_count``)."""
    for index, item in enumerate(items):
        problem = problem_of(item)
        if problem:
            raise ExportError(f"{one} {index} is malformed: {problem}")
    check_count(many, len(items), advice)


def left_out_reasons(dropped: Mapping[str, int]) -> list[str]:
    """``min_score=0.8 on score_x: 12``, ... for the filters that left trials out."""
    return [f"{name}: {n}" for name, n in dropped.items() if n]


def export_finetune(
    trials: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    validation_split: float = 0.0,
    seed: int = 0,
    mkdir: bool = False,
    **filters: Unpack[FinetuneFilters],
) -> ExportedSet:
    """Write ``finetune_examples(trials, **filters)`` as JSONL to ``path``, and with
    ``validation_split`` that share of them to ``<stem>.val.jsonl`` (the same
    seed and examples always split the same way). Everything is validated before
    anything is written."""
    check_split(validation_split)
    require_trials(trials)
    kept, dropped = select_trials(trials, **filters)
    examples = examples_of(kept)
    validate_chat_examples(examples, left_out=left_out_reasons(dropped))
    train, validation = split_examples(examples, validation_split, seed)
    if len(train) < MIN_EXAMPLES:
        advice = left_out_advice(
            [f"validation_split={validation_split}: {len(validation)}", *left_out_reasons(dropped)]
        )
        raise ExportError(too_few("training examples after the validation split", len(train), MIN_EXAMPLES, advice))
    return write_training_set(train, validation, path, mkdir=mkdir)
