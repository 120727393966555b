"""The ``promptlab`` command: run experiment files and browse the history.

The same library underneath: every command is a few calls on ``Lab``, and
``render.py`` turns what comes back into text. This is the only module that
catches ``PromptlabError``: it prints ``error: <message>`` and exits 2.

Exit codes: 0 done; 1 a run in which every trial failed, a ``check`` that
found a regression, or a ``db doctor``/``db verify`` that found something
needing a person; 2 usage or setup errors (bad arguments, a malformed
experiment file, an unknown id, a damaged history file); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from promptlab import Run
from promptlab.analysis import stats
from promptlab.analysis.columns import EVAL_ERRORS
from promptlab.cli import render, show
from promptlab.cli.check import add_check_command, add_endpoint_option, check_command, junit_on_usage_error
from promptlab.cli.db import SERVER_ACTIONS, add_db_commands, db_command, server_command
from promptlab.cli.evaluate import add_evaluate_command, evaluate_command
from promptlab.cli.experiment_file import load_experiment
from promptlab.cli.export import add_export_commands, run_export
from promptlab.cli.monitor import add_monitor_command, monitor_command
from promptlab.errors import PromptlabError, StoreError
from promptlab.lab import Lab, default_db_path
from promptlab.providers.endpoints import allowed_endpoints, check_endpoints
from promptlab.providers.model_files import KNOWN_MODELS, pull
from promptlab.release import datasets
from promptlab.runner.estimate import estimate_without_writing
from promptlab.store import Store
from promptlab.store.server.connection import is_server
from promptlab.store.server.opening import server_store

EXIT_OK, EXIT_ALL_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands run, history, show, experiments, runs, pull, check, export, report, db,
    monitor, evaluate)."""
    parser = argparse.ArgumentParser(
        prog="promptlab",
        description="Run declarative prompt experiments and browse the trials they recorded.",
        epilog="The history file is --db, else $PROMPTLAB_DB, else ./promptlab.duckdb.",
    )
    parser.add_argument("--db", metavar="PATH", help="history file (default: $PROMPTLAB_DB or ./promptlab.duckdb)")
    # Also accepted after the subcommand (`promptlab history --db x`); SUPPRESS keeps the global value otherwise.
    db_after = argparse.ArgumentParser(add_help=False)
    db_after.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="history file")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", parents=[db_after], help="run an experiment file and summarise it")
    run.add_argument("file", metavar="FILE.yaml", help="experiment file (see promptlab.cli.experiment_file)")
    run.add_argument("--repeats", type=_positive, help="calls per prompt, model and row (overrides the file)")
    run.add_argument("--concurrency", type=_positive, help="calls in flight (overrides the file)")
    run.add_argument("--no-cache", action="store_true", help="call the model even when history has the answer")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the estimate (calls, tokens, cost) and stop: nothing called or written",
    )
    run.add_argument(
        "--allow-outside",
        action="append",
        default=[],
        metavar="PATH",
        help="let the file's data: read PATH (a file or folder) outside the file's own folder; repeatable",
    )
    add_endpoint_option(run)

    history = commands.add_parser("history", parents=[db_after], help="recent trials, newest first")
    history.add_argument("--experiment", help="only this experiment")
    history.add_argument("--prompt", help="only this prompt name")
    history.add_argument("--model", help="only this model name")
    history.add_argument("--user", help="only trials run by this user")
    history.add_argument("--run", metavar="RUN_ID", help="only this run's trials (a unique prefix of its id is enough)")
    history.add_argument("--search", metavar="TEXT", help="text to find in inputs or outputs (any case)")
    history.add_argument("--errors", action="store_true", help="only failed trials")
    history.add_argument("--limit", type=_positive, default=20, help="how many trials (default 20)")

    show = commands.add_parser("show", parents=[db_after], help="everything about one trial")
    show.add_argument("trial_id", metavar="TRIAL_ID", help="trial id, or a unique prefix of it")

    commands.add_parser("experiments", parents=[db_after], help="experiments and their activity")
    runs = commands.add_parser("runs", parents=[db_after], help="runs, newest first")
    runs.add_argument("--experiment", help="only this experiment")

    add_check_command(commands, [db_after])
    add_export_commands(commands, [db_after])
    add_db_commands(commands, [db_after])
    add_monitor_command(commands, [db_after])
    add_evaluate_command(commands, [db_after])

    pull = commands.add_parser("pull", help="fetch an embedded model into the local cache")
    pull.add_argument("model", choices=sorted(KNOWN_MODELS), help="model name")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return value


def _width() -> int:
    return shutil.get_terminal_size((120, 24)).columns


def _open(args: argparse.Namespace, *, create: bool = False) -> Lab:
    if is_server(args.db or default_db_path()):
        return Lab(args.db or default_db_path())
    path = Path(args.db or default_db_path())
    if not create and not path.exists():
        # Opening would create an empty file at a mistyped path; browsing one is never what was meant.
        raise StoreError(
            f"no history file at {path}; run an experiment first (promptlab run FILE.yaml) "
            "or point at an existing file with --db PATH or $PROMPTLAB_DB"
        )
    return Lab(path)


def _db_option(args: argparse.Namespace) -> str:
    """The ``--db`` to repeat in suggested commands: only when it was given."""
    return f" --db {shlex.quote(args.db)}" if args.db else ""


def run_command(args: argparse.Namespace) -> int:
    """``promptlab run FILE.yaml`` (``--dry-run``: only the estimate)."""
    experiment = load_experiment(args.file, allow_outside=args.allow_outside)
    arguments = experiment.sweep_arguments()
    if args.repeats is not None:
        arguments["repeats"] = args.repeats
    if args.concurrency is not None:
        arguments["concurrency"] = args.concurrency
    arguments["cache"] = not args.no_cache
    with allowed_endpoints(*args.allow_endpoint):
        check_endpoints(experiment.models)  # before the history file is created or anything runs
        if args.dry_run:
            arguments["data"] = _dataset_rows(args, arguments["data"])
            found = estimate_without_writing(args.db or default_db_path(), **arguments)
            print(f"estimate: {found}\ndry run: nothing was called or recorded; run without --dry-run to run it")
            return EXIT_OK
        lab = _open(args, create=True)
        print(f"estimate: {lab.estimate(**arguments)}", flush=True)
        # Trials record the experiment file as their source, not the promptlab executable.
        os.environ.setdefault("PROMPTLAB_SOURCE", str(Path(args.file).resolve()))
        run = lab.sweep(**arguments)
    return _report_run(args, lab, run, [prompt.version for prompt in experiment.prompts])


def _dataset_rows(args: argparse.Namespace, data: Any) -> Any:
    """``data``, or the rows of the dataset it names, read without writing (a dry run)."""
    if not datasets.is_reference(data):
        return data
    location = args.db or default_db_path()
    if is_server(location):
        store = server_store(location, read_only=True)
    elif Path(location).is_file():
        store = Store(Path(location), read_only=True)
    else:
        raise StoreError(f"no history file at {location}, so no dataset {data!r} in it")
    return datasets.resolve(store, *datasets.parse_reference(data))[0]


def _report_run(args: argparse.Namespace, lab: Lab, run: Run, versions: list[str]) -> int:
    """The finished run's summary, verdict and where to look next; the exit code."""
    trials = run.df
    prompt_order = {version: position for position, version in enumerate(versions)}
    failed = int(trials["error_type"].notna().sum())
    cached = int(trials["cached"].sum())
    promptlab = "promptlab" + _db_option(args)
    print(f"\nexperiment {run.experiment}, run {run.run_id} ({run.status})")
    print(
        f"{len(trials)} trials: {len(trials) - failed} ok, {failed} failed, {cached} from cache"
        f"{_evaluator_errors(trials, promptlab)}\n"
    )
    in_file_order = trials.sort_values("prompt_version", key=lambda v: v.map(prompt_order), kind="stable")
    meanings = lab.meanings(trials)
    print("\n".join(render.summary_lines(stats.summary(in_file_order), meanings)))
    print("".join(f"\n{line}" for line in render.verdict_lines(in_file_order, meanings)))
    print(f"\nrecorded in {lab.location}")
    # Point at a failure when there is one: that is what the user will want to read first.
    shown = trials[trials["error_type"].notna()] if failed else trials
    example = render.short_id(shown["trial_id"].iloc[0]) if len(shown) else "TRIAL_ID"
    print("\nwhere to look next:")
    print(f"  {promptlab} history --experiment {shlex.quote(run.experiment)}" + (" --errors" if failed else ""))
    print(f"  {promptlab} show {example}")
    print(f'  python: pl.Lab("{lab.location}").trials(run="{run.run_id}")')
    if trials.empty or failed == len(trials):
        print(f"\nevery trial failed; `{promptlab} show {example}` shows why", file=sys.stderr)
        return EXIT_ALL_FAILED
    return EXIT_OK


def _evaluator_errors(trials: pd.DataFrame, promptlab: str) -> str:
    """``, 2 evaluator errors (...)`` when evaluators couldn't score some trials, else ''."""
    unscored = trials[trials[EVAL_ERRORS] > 0] if EVAL_ERRORS in trials else trials.iloc[:0]
    if unscored.empty:
        return ""
    example = render.short_id(unscored["trial_id"].iloc[0])
    errors = int(unscored[EVAL_ERRORS].sum())
    return f", {errors} evaluator error{'' if errors == 1 else 's'} (`{promptlab} show {example}` says why)"


def history_command(args: argparse.Namespace) -> int:
    """``promptlab history``."""
    lab = _open(args)
    run = None if args.run is None else str(lab.run_info(args.run)["run_id"])
    trials = lab.trials(
        experiment=args.experiment,
        prompt=args.prompt,
        model=args.model,
        user=args.user,
        run=run,
        search=args.search,
        errors=True if args.errors else None,
        limit=args.limit + 1,
        newest_first=True,  # one more than shown tells whether there are more
    )
    if trials.empty:
        print(f"no trials match in {lab.location}")
        return EXIT_OK
    newest = trials.head(args.limit)
    print("\n".join(render.history_lines(newest, _width())))
    if len(trials) > len(newest):
        print(f"({len(newest)} newest shown; --limit N shows more)")
    return EXIT_OK


def show_command(args: argparse.Namespace) -> int:
    """``promptlab show TRIAL_ID``: the trial, its scores and its feedback."""
    lab = _open(args)
    trial = lab.trial(args.trial_id)
    # lab.trial is the stored row; the scores come with the trial's row of a trials frame.
    scored = lab.trials(trial_ids=[str(trial["trial_id"])], kind=None)
    feedback = lab.feedback_for(str(trial["trial_id"]))
    row = {str(k): v for k, v in scored.iloc[0].items()} if len(scored) else {}
    print("\n".join(show.trial_lines(trial, row, feedback, promptlab="promptlab" + _db_option(args))))
    return EXIT_OK


def experiments_command(args: argparse.Namespace) -> int:
    """``promptlab experiments``."""
    lab = _open(args)
    experiments = lab.experiments()
    if experiments.empty:
        print(f"no experiments yet in {lab.location}; start one with `promptlab run FILE.yaml`")
        return EXIT_OK
    print("\n".join(render.experiments_lines(experiments, _width())))
    return EXIT_OK


def runs_command(args: argparse.Namespace) -> int:
    """``promptlab runs``."""
    lab = _open(args)
    runs = lab.runs(experiment=args.experiment)
    if runs.empty:
        print(f"no runs{f' of experiment {args.experiment!r}' if args.experiment else ''} in {lab.location}")
        return EXIT_OK
    print("\n".join(render.runs_lines(runs)))
    return EXIT_OK


def pull_command(args: argparse.Namespace) -> int:
    """``promptlab pull MODEL``."""
    path = pull(args.model)
    print(f"{args.model}: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    return EXIT_OK


def gate_command(args: argparse.Namespace) -> int:
    """``promptlab check`` (the regression gate)."""
    return check_command(args, lambda: _open(args))


def database_command(args: argparse.Namespace) -> int:
    """``promptlab db ACTION``: ``init``, ``grant`` and ``revoke`` speak to a team
    server as its admin; the others look after any history."""
    if args.db_command in SERVER_ACTIONS:
        return server_command(args, args.db or default_db_path())
    return db_command(args, _open(args))


def production_command(args: argparse.Namespace) -> int:
    """``promptlab monitor NAME``: a prompt's production metrics."""
    return monitor_command(args, lambda: _open(args))


def online_command(args: argparse.Namespace) -> int:
    """``promptlab evaluate --source production``: score a sample of the calls apps logged."""
    return evaluate_command(args, lambda: _open(args))


def export_command(args: argparse.Namespace) -> int:
    """``promptlab export KIND ...`` and ``promptlab report``."""
    return run_export(args, _open(args))


COMMANDS = {
    "run": run_command,
    "history": history_command,
    "show": show_command,
    "experiments": experiments_command,
    "runs": runs_command,
    "pull": pull_command,
    "check": gate_command,
    "export": export_command,
    "report": export_command,
    "db": database_command,
    "monitor": production_command,
    "evaluate": online_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``promptlab`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with junit_on_usage_error(argv):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help exits 0, a usage error 2; return it rather than exit
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except PromptlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        resume = "; finished trials are kept and the same command resumes the run" if args.command == "run" else ""
        print(f"\ninterrupted{resume}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `promptlab history | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
