"""``promptlab export trials|finetune|preferences|report``: files out of the history.

Each export subcommand sets ``export_handler`` (called with the parsed
arguments and the opened ``Lab``), so more kinds of export can join the
``export`` group without touching the dispatch. ``promptlab report`` is the
same as ``promptlab export report``. Warnings (a small fine-tuning set) are
printed as ``warning: ...``; errors reach ``cli.main`` like any other.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from promptlab import Lab
from promptlab.lab_privacy import cleared
from promptlab.release import export
from promptlab.release.export import TrialFilters


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a share from 0 up to (not including) 1, e.g. 0.1; got {text!r}")
    return value


def _filters_parser() -> argparse.ArgumentParser:
    filters = argparse.ArgumentParser(add_help=False)
    group = filters.add_argument_group("which trials")
    group.add_argument("--experiment", help="only this experiment")
    group.add_argument("--prompt", help="only this prompt name")
    group.add_argument("--model", help="only this model name")
    group.add_argument("--run", metavar="RUN_ID", help="only this run")
    group.add_argument("--user", help="only trials run by this user")
    filters.add_argument("--reason", help="why it is exported (kept in the privacy log with who, what and where)")
    return filters


def _split_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--split",
        type=_fraction,
        default=0.0,
        metavar="SHARE",
        help="share of the examples for a validation file OUT.val.jsonl, e.g. 0.1 (default 0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split (default 0)")


def add_report_arguments(report: argparse.ArgumentParser) -> None:
    """The arguments of ``export report`` (and of its alias ``report``)."""
    report.add_argument("out", metavar="OUT.html", help="file to write")
    report.add_argument("--experiment", required=True, help="the experiment to report on")
    report.add_argument("--title", help="title (default: the experiment's name)")
    report.add_argument("--samples", type=int, default=5, help="inputs shown with every variant's output (default 5)")
    report.add_argument("--reason", help="why it is exported (kept in the privacy log)")
    report.set_defaults(export_handler=report_export)


def add_export_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> Any:
    """Add ``export`` (and ``report``) to the CLI's subparsers; returns the
    ``export`` group's subparsers, to add more kinds of export to."""
    group = commands.add_parser("export", parents=parents, help="write trials, fine-tuning sets or a report to a file")
    kinds = group.add_subparsers(dest="export_kind", metavar="KIND", required=True)
    filters = [*parents, _filters_parser()]

    trials = kinds.add_parser("trials", parents=filters, help="trials as CSV, Parquet or JSONL (by the suffix)")
    trials.add_argument("out", metavar="OUT", help="file to write: .csv, .parquet or .jsonl")
    trials.add_argument("--format", choices=["csv", "parquet", "jsonl"], help="format, whatever the suffix")
    trials.set_defaults(export_handler=trials_export)

    finetune = kinds.add_parser("finetune", parents=filters, help="OpenAI chat fine-tuning set (JSONL)")
    finetune.add_argument("out", metavar="OUT.jsonl", help="training file to write")
    finetune.add_argument("--min-score", type=float, help="keep trials scoring at least this")
    finetune.add_argument("--evaluator", help="whose score --min-score reads (needed when several scored)")
    finetune.add_argument(
        "--vote", choices=["up", "any"], help="up: more up-votes than down-votes; any: at least one up-vote"
    )
    finetune.add_argument("--keep-errors", action="store_true", help="keep failed calls that still returned text")
    finetune.add_argument("--no-dedupe", action="store_true", help="keep every trial of an input, not the best one")
    finetune.add_argument("--no-corrections", action="store_true", help="use outputs even where people corrected them")
    _split_options(finetune)
    finetune.set_defaults(export_handler=finetune_export)

    preferences = kinds.add_parser("preferences", parents=filters, help="DPO preference pairs (JSONL)")
    preferences.add_argument("out", metavar="OUT.jsonl", help="training file to write")
    _split_options(preferences)
    preferences.set_defaults(export_handler=preferences_export)

    prompt = kinds.add_parser("prompt", parents=parents, help="a prompt for application code (.json, .yaml, .py)")
    prompt.add_argument("name", help="prompt name")
    prompt.add_argument("out", metavar="OUT", help="file to write: .json, .yaml or .py")
    pick = prompt.add_mutually_exclusive_group()
    pick.add_argument("--label", default="production", help="export the version this label points at (default)")
    pick.add_argument("--version", help="export this version (a unique prefix is enough)")
    prompt.set_defaults(export_handler=prompt_export)

    add_report_arguments(kinds.add_parser("report", parents=parents, help="self-contained HTML report"))
    add_report_arguments(commands.add_parser("report", parents=parents, help="same as `export report`"))
    return kinds


def _filters(args: argparse.Namespace) -> TrialFilters:
    return TrialFilters(experiment=args.experiment, prompt=args.prompt, model=args.model, run=args.run, user=args.user)


def trials_export(args: argparse.Namespace, lab: Lab) -> None:
    """``promptlab export trials OUT``."""
    trials = cleared(lab.store, lab.trials(**_filters(args)), "trials", args.out, args.reason)  # as lab.export_trials
    path = export.export_trials(trials, args.out, args.format)
    print(f"wrote {len(trials)} trials to {path}")


def finetune_export(args: argparse.Namespace, lab: Lab) -> None:
    """``promptlab export finetune OUT.jsonl``."""
    written = lab.export_finetune(
        args.out,
        min_score=args.min_score,
        evaluator=args.evaluator,
        vote=args.vote,
        exclude_errors=not args.keep_errors,
        dedupe_inputs=not args.no_dedupe,
        use_corrections=not args.no_corrections,
        validation_split=args.split,
        seed=args.seed,
        reason=args.reason,
        **_filters(args),
    )
    print(f"wrote {written}")


def preferences_export(args: argparse.Namespace, lab: Lab) -> None:
    """``promptlab export preferences OUT.jsonl``."""
    written = lab.export_preferences(
        args.out, validation_split=args.split, seed=args.seed, reason=args.reason, **_filters(args)
    )
    print(f"wrote {written}")


def prompt_export(args: argparse.Namespace, lab: Lab) -> None:
    """``promptlab export prompt NAME OUT``."""
    path = lab.export_prompt(args.name, args.out, label=None if args.version else args.label, version=args.version)
    print(f"wrote prompt {args.name!r} to {path}; load it with pl.load_prompt(path={str(path)!r})")


def report_export(args: argparse.Namespace, lab: Lab) -> None:
    """``promptlab export report OUT.html --experiment NAME``."""
    path = lab.report(args.out, args.experiment, title=args.title, samples=args.samples, reason=args.reason)
    print(f"wrote the report of {args.experiment!r} to {path}")


def run_export(args: argparse.Namespace, lab: Lab) -> int:
    """Run the chosen export; warnings are shown as ``warning: ...`` lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        args.export_handler(args, lab)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return 0  # cli.EXIT_OK
