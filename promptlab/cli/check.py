"""``promptlab check``: the regression gate for CI (see ``promptlab.gate``).

Exit codes: 0 the candidate passed; 1 it failed a rule (failed calls, a
clear regression, a threshold); 2 a usage or setup error (no such label, no
evaluator, ...). With ``--junit FILE`` every outcome writes the file, a setup
or usage error too (as a test case with an error), so CI shows why rather
than "no tests".
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from promptlab.errors import ConfigError, PromptlabError
from promptlab.gate import check
from promptlab.providers.endpoints import Endpoint, allowed_endpoints, parse_entry
from promptlab.release.junit import setup_error_junit

EXIT_PASS, EXIT_REGRESSION = 0, 1


def _endpoint(text: str) -> Endpoint:
    try:
        return parse_entry(text, "--allow-endpoint")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {text!r}")
    return value


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-endpoint URL[=KEY_VAR]`` (repeatable), for commands that call models."""
    parser.add_argument(
        "--allow-endpoint",
        action="append",
        default=[],
        type=_endpoint,
        metavar="URL[=KEY_VAR]",
        help="trust this endpoint (base URL, or HOST[:PORT]) for models from files and the history, and with "
        "=KEY_VAR send it that variable's key; repeatable (see promptlab.providers.endpoints)",
    )


def add_check_command(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``check`` subcommand to the CLI's subparsers."""
    gate = commands.add_parser(
        "check",
        parents=parents,
        help="regression gate: candidate prompt vs a labelled one (exit 0/1/2)",
        description="Fails (exit 1) on failed candidate calls (beyond --max-errors), on a statistically clear "
        "regression (unless --allow-regression), and on the thresholds given.",
    )
    gate.add_argument("--prompt", required=True, help="prompt name")
    gate.add_argument("--against", default="production", help="label of the baseline (default: production)")
    gate.add_argument("--candidate", help="version prefix or exported prompt file (default: the newest version)")
    gate.add_argument(
        "--data", required=True, help="data file (CSV, JSONL, Parquet), or a dataset: dataset:NAME[@VERSION]"
    )
    gate.add_argument(
        "--evaluators", required=True, help="comma-separated evaluators, e.g. contains:expected,json_valid"
    )
    gate.add_argument("--metric", help="evaluator label to judge on (default: the first)")
    gate.add_argument("--min-score", type=float, help="lowest mean score the candidate may have")
    gate.add_argument("--max-drop", type=float, help="how far below the baseline the candidate may fall")
    gate.add_argument(
        "--max-errors", type=_count, default=0, help="candidate cells that may fail, calls or scores (default 0)"
    )
    gate.add_argument(
        "--allow-regression",
        action="store_true",
        help="don't fail on a statistically clear regression (the thresholds still apply)",
    )
    gate.add_argument("--model", help="model to run both on (default: the label's recommended model)")
    gate.add_argument("--junit", metavar="FILE.xml", help="also write the result as JUnit XML")
    add_endpoint_option(gate)


def check_command(args: argparse.Namespace, open_lab: Callable[[], Any]) -> int:
    """Run the gate on the lab ``open_lab`` opens, print the table, write JUnit XML
    on request (a setup error included, before it propagates to exit 2)."""
    from promptlab.core.model import Model

    evaluators = [e.strip() for e in args.evaluators.split(",") if e.strip()]
    try:
        with allowed_endpoints(*args.allow_endpoint):
            result = check(
                args.prompt,
                lab=open_lab(),
                data=args.data,
                evaluators=evaluators,
                against=args.against,
                candidate=args.candidate,
                metric=args.metric,
                min_score=args.min_score,
                max_drop=args.max_drop,
                max_errors=args.max_errors,
                allow_regression=args.allow_regression,
                model=Model(args.model) if args.model else None,
            )
    except PromptlabError as exc:
        if args.junit:
            Path(args.junit).write_text(setup_error_junit(args.prompt, f"error: {exc}"), encoding="utf-8")
        raise
    print(result.table())
    if args.junit:
        Path(args.junit).write_text(result.junit_xml(), encoding="utf-8")
    return EXIT_PASS if result.passed else EXIT_REGRESSION


def _option(argv: Sequence[str], flag: str) -> str | None:
    for position, word in enumerate(argv):
        if word == flag and position + 1 < len(argv):
            return argv[position + 1]
        if word.startswith(flag + "="):
            return word.partition("=")[2]
    return None


def _junit_target(argv: Sequence[str]) -> tuple[str, str] | None:
    """(prompt, junit file) when ``argv`` is a ``check`` asking for JUnit XML (read
    by hand: these are the arguments that didn't parse)."""
    junit = _option(argv, "--junit")
    return (_option(argv, "--prompt") or "?", junit) if junit and "check" in argv else None


@contextlib.contextmanager
def junit_on_usage_error(argv: Sequence[str]) -> Iterator[None]:
    """Around argument parsing: a ``check --junit FILE`` whose arguments don't parse
    (exit 2) still writes FILE, with argparse's message as the error."""
    target = _junit_target(argv)
    if target is None:
        yield
        return
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            yield
    except SystemExit as exc:
        if exc.code not in (0, None):
            lines = captured.getvalue().strip().splitlines()
            Path(target[1]).write_text(
                setup_error_junit(target[0], lines[-1] if lines else "usage error"), encoding="utf-8"
            )
        raise
    finally:
        sys.stderr.write(captured.getvalue())
