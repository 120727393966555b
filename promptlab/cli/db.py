"""``promptlab db``: looking after a shared history.

- ``promptlab db doctor [--salvage]``: the file's schema, objects in it that
  promptlab didn't make, rows waiting in the journal, and journal segments
  set aside in quarantine (``--salvage`` records what can be repaired);
  ``Lab.doctor()``.
- ``promptlab db verify``: the file's tables are the ones promptlab made and
  the label audit log's hash chain is unbroken; ``Lab.verify()``.
- ``promptlab db stats``: the file's size, the share of it earlier folds left
  free, rows per table, segments waiting in the journal; ``Lab.db_stats()``.
- ``promptlab db compact``: the file rewritten without its free blocks, every
  row checked before the copy replaces it; prints before → after;
  ``Lab.compact()``.

Exit codes: 0 all well; 1 something needs a person (a break in the chain,
lines in quarantine); 2 the file can't be used at all, or wasn't compacted
(it is left as it was), and usage errors.
"""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK, EXIT_ATTENTION = 0, 1


def add_db_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``db doctor``, ``db verify``, ``db stats`` and ``db compact`` to the CLI's subparsers."""
    db = commands.add_parser("db", help="look after the history: doctor, verify, stats, compact")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    doctor = actions.add_parser(
        "doctor", parents=parents, help="schema, foreign objects, journal and quarantined segments (exit 0/1/2)"
    )
    doctor.add_argument(
        "--salvage", action="store_true", help="record the lines of quarantined segments that can be repaired"
    )
    actions.add_parser("verify", parents=parents, help="the tables and the label log's hash chain (exit 0/1/2)")
    actions.add_parser("stats", parents=parents, help="size, free share, rows per table, journal waiting")
    actions.add_parser("compact", parents=parents, help="rewrite the file without its free blocks (exit 0/2)")


def db_command(args: argparse.Namespace, lab: Any) -> int:
    """Run ``promptlab db ACTION`` on an open ``Lab``."""
    if args.db_command == "stats":
        print(lab.db_stats())
        return EXIT_OK
    if args.db_command == "compact":
        print(lab.compact())
        return EXIT_OK
    if args.db_command == "doctor":
        checkup = lab.doctor(salvage=args.salvage)
        print(checkup)
        return EXIT_OK if checkup.ok else EXIT_ATTENTION
    checkup = lab.doctor()
    chain = lab.verify()
    for problem in checkup.problems:
        print(f"PROBLEM: {problem}")
    print(chain)
    return EXIT_OK if chain.ok and not checkup.problems else EXIT_ATTENTION
