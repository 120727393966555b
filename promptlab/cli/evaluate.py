"""``promptlab evaluate --source production``: score a sample of the calls
applications logged, for a cron job (``promptlab.runner.online``).

Run every hour with ``--since 1d``, it scores each sampled call once: the
sample is stable per call, and calls these evaluators already scored are
left out. Exit 0 when done (nothing to score included), 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pandas as pd

from promptlab import evals
from promptlab.analysis import columns
from promptlab.lab import Lab
from promptlab.runner.online import select_production

DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_value(text: str) -> timedelta | str:
    """``--since``: a duration ago (``30m``, ``12h``, ``1d``, ``2w``) as a timedelta,
    else the text itself, an ISO date or time that the Lab reads (and refuses clearly)."""
    found = DURATION.fullmatch(text.strip())
    if found is None:
        return text
    return timedelta(**{UNITS[found.group(2)]: float(found.group(1))})


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction above 0 and at most 1 (0.1: 10%), got {text!r}")
    return value


def add_evaluate_command(commands: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """The ``evaluate`` subcommand's arguments."""
    evaluate = commands.add_parser(
        "evaluate",
        parents=list(parents),
        help="score a sample of production calls not yet scored (for a cron job)",
        description="Scores the calls applications logged (kind production) with the evaluators given, "
        "without calling their model again; a call already scored by them is left out.",
    )
    evaluate.add_argument(
        "--source", choices=["production"], required=True, help="what to score: production (the calls apps logged)"
    )
    evaluate.add_argument(
        "--since",
        type=since_value,
        metavar="WHEN",
        help="calls logged in the last 30m/12h/1d/2w, or since an ISO date or time (UTC)",
    )
    evaluate.add_argument("--until", metavar="DATE", help="calls logged before (ISO date or time, UTC)")
    evaluate.add_argument("--sample", type=_fraction, default=1.0, help="fraction of calls to score (default 1: all)")
    evaluate.add_argument("--prompt", metavar="NAME", help="only calls of this prompt")
    evaluate.add_argument("--label", metavar="L", help="only calls served by this label")
    evaluate.add_argument("--app", metavar="NAME", help="only calls this application logged")
    evaluate.add_argument(
        "--evaluators",
        nargs="+",
        required=True,
        metavar="SPEC",
        help="evaluators, as check takes them: icontains:expected max_length:200 (commas also separate)",
    )
    evaluate.add_argument("--seed", type=int, help="pick another (equally stable) sample")
    evaluate.add_argument("--rescore", action="store_true", help="score calls these evaluators scored already, too")


def evaluate_command(args: argparse.Namespace, open_lab: Callable[[], Lab]) -> int:
    """``promptlab evaluate --source production --evaluators SPEC ...``: what was selected, scored, and the means."""
    specs = [part.strip() for spec in args.evaluators for part in spec.split(",") if part.strip()]
    chosen = evals.coerce([evals.parse(spec) for spec in specs])
    lab = open_lab()
    found = select_production(
        lab.store,
        chosen,
        since=args.since,
        until=args.until,
        sample=args.sample,
        prompt=args.prompt,
        label=args.label,
        app=args.app,
        seed=args.seed,
        unscored_only=not args.rescore,
    )
    already = found.sampled - len(found.trials)
    print(
        f"selected {found.sampled} of {found.matched} production calls ({args.sample:.0%} sample)"
        + (f", {already} already scored" if already else "")
    )
    if found.trials.empty:
        print("scored 0: nothing new to score")
        return 0
    scored = lab.evaluate(found.trials, chosen)
    print(f"scored {len(scored)}")
    for evaluator in chosen:
        print(f"  {evaluator.label}: {_mean(scored, evaluator.label)}")
    return 0


def _mean(scored: pd.DataFrame, label: str) -> str:
    """``mean 0.83 (n=40)``, and how many the evaluator couldn't score."""
    nothing = pd.Series(dtype=float)
    values = scored.get(f"{columns.SCORE_PREFIX}{label}", nothing)
    n = int(values.notna().sum())
    errors = int(scored.get(f"{columns.EVAL_ERROR_PREFIX}{label}", nothing).notna().sum())
    text = f"mean {values.mean():.3f} (n={n})" if n else "no scores"
    return text + (f", {errors} evaluator error{'' if errors == 1 else 's'}" if errors else "")
