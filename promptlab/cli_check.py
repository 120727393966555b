"""``promptlab check``: the regression gate for CI (see ``promptlab.gate``).

Exit codes: 0 the candidate passed; 1 a regression or a score below the
threshold; 2 a usage or setup error (no such label, no evaluator, ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from promptlab.endpoints import Endpoint, allowed_endpoints, parse_entry
from promptlab.errors import ConfigError
from promptlab.gate import check

EXIT_PASS, EXIT_REGRESSION = 0, 1


def _endpoint(text: str) -> Endpoint:
    try:
        return parse_entry(text, "--allow-endpoint")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-endpoint URL[=KEY_VAR]`` (repeatable), for commands that call models."""
    parser.add_argument(
        "--allow-endpoint", action="append", default=[], type=_endpoint, metavar="URL[=KEY_VAR]",
        help="trust this endpoint (base URL, or HOST[:PORT]) for models from files and the history, and with "
        "=KEY_VAR send it that variable's key; repeatable (see promptlab.endpoints)",
    )  # fmt: skip


def add_check_command(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``check`` subcommand to the CLI's subparsers."""
    gate = commands.add_parser(
        "check", parents=parents, help="regression gate: candidate prompt vs a labelled one (exit 0/1/2)"
    )
    gate.add_argument("--prompt", required=True, help="prompt name")
    gate.add_argument("--against", default="production", help="label of the baseline (default: production)")
    gate.add_argument("--candidate", help="version prefix or exported prompt file (default: the newest version)")
    gate.add_argument("--data", required=True, help="data file (CSV, JSONL, Parquet)")
    gate.add_argument("--evaluators", required=True,
                      help="comma-separated evaluators, e.g. contains:expected,json_valid")  # fmt: skip
    gate.add_argument("--metric", help="evaluator label to judge on (default: the first)")
    gate.add_argument("--min-score", type=float, help="lowest mean score the candidate may have")
    gate.add_argument("--max-drop", type=float, help="how far below the baseline the candidate may fall")
    gate.add_argument("--model", help="model to run both on (default: the label's recommended model)")
    gate.add_argument("--junit", metavar="FILE.xml", help="also write the result as JUnit XML")
    add_endpoint_option(gate)


def check_command(args: argparse.Namespace, lab: Any) -> int:
    """Run the gate, print the table, write JUnit XML on request."""
    from promptlab.model import Model

    evaluators = [e.strip() for e in args.evaluators.split(",") if e.strip()]
    with allowed_endpoints(*args.allow_endpoint):
        result = check(
            args.prompt, lab=lab, data=args.data, evaluators=evaluators, against=args.against,
            candidate=args.candidate, metric=args.metric, min_score=args.min_score, max_drop=args.max_drop,
            model=Model(args.model) if args.model else None,
        )  # fmt: skip
    print(result.table())
    if args.junit:
        Path(args.junit).write_text(result.junit_xml(), encoding="utf-8")
    return EXIT_PASS if result.passed else EXIT_REGRESSION
