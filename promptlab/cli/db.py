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
- ``promptlab db copy SRC DST``: every row of one history into another (a
  file into a team server as its admin, a server into a file, each
  teammate's file into one server), ids, lineage and the label log as
  recorded; counts per table as it goes; run it again to resume or to copy
  what is new (nothing is copied twice); ``Lab.copy_to()``.
- ``promptlab db prune [--dry-run] [DB]``: production calls kept longer than
  their tier's retention (``[privacy.retention]``) deleted, until their bytes
  are gone from the files; ``--dry-run`` says what would go and changes
  nothing (``promptlab.privacy.erasure.prune``).

Exit codes: 0 all well; 1 something needs a person (a break in the chain,
lines in quarantine); 2 the file can't be used at all, or wasn't compacted
(it is left as it was), and usage errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_ATTENTION = 0, 1

SERVER_ACTIONS = ("init", "grant", "revoke", "copy")
"""``db`` actions run without opening a ``Lab`` on ``--db``: the team server's
set-up, as its admin, and a copy between two named histories."""

EXIT_INTERRUPTED = 130


def add_db_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``db doctor``, ``verify``, ``stats``, ``compact``, ``prune``, ``init``, ``grant``, ``revoke``, ``copy``."""
    db = commands.add_parser("db", help="look after the history: doctor, verify, stats, compact, prune, copy")
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
    prune = actions.add_parser(
        "prune", parents=parents, help="delete production calls older than their tier's retention ([privacy.retention])"
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would be deleted; change nothing")
    prune.add_argument(
        "db", nargs="?", default=argparse.SUPPRESS, metavar="DB", help="the history (default: --db or $PROMPTLAB_DB)"
    )
    init = actions.add_parser(
        "init", parents=parents, help="set up a team server: schema, roles and the rules it enforces (as its admin)"
    )
    init.add_argument("url", nargs="?", help="postgresql://ADMIN@HOST/DATABASE (default: --db or $PROMPTLAB_DB)")
    init.add_argument(
        "--protect", metavar="LABEL", action="append", help="a label only approvers may move (default: production)"
    )
    for verb, says in (("grant", "give USER a role on the team server"), ("revoke", "take a role from USER")):
        action = actions.add_parser(verb, parents=parents, help=says)
        action.add_argument("user", help="the database role (login) of a teammate")
        action.add_argument("role", help="reader, researcher, reviewer, approver or admin")
    copy = actions.add_parser(
        "copy", help="copy a history into another: file → server (as its admin), server → file; again resumes"
    )
    copy.add_argument("source", metavar="SRC", help="a history file or a postgresql:// URL")
    copy.add_argument("destination", metavar="DST", help="a history file (created if new) or postgresql://ADMIN@…")
    copy.add_argument("--without-labels", action="store_true", help="leave the label audit log out")
    copy.add_argument("--batch-rows", type=int, default=None, metavar="N", help="rows per transaction (5000)")


def db_command(args: argparse.Namespace, lab: Any) -> int:
    """Run ``promptlab db ACTION`` on an open ``Lab``."""
    if args.db_command == "stats":
        print(lab.db_stats())
        return EXIT_OK
    if args.db_command == "compact":
        print(lab.compact())
        return EXIT_OK
    if args.db_command == "prune":
        print(lab.prune(dry_run=args.dry_run))
        return EXIT_OK
    if args.db_command == "doctor":
        checkup = lab.doctor(salvage=args.salvage)
        print(checkup)
        return EXIT_OK if checkup.ok else EXIT_ATTENTION
    from promptlab.store.server.connection import is_server

    # a file's tables are checked here; a server's are its migrations' (the triggers keep them)
    problems = [] if is_server(lab.location) else lab.doctor().problems
    chain = lab.verify()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print(chain)
    return EXIT_OK if chain.ok and not problems else EXIT_ATTENTION


def server_command(args: argparse.Namespace, location: str) -> int:
    """``promptlab db init [URL]``, ``db grant USER ROLE``, ``db revoke USER ROLE``, ``db copy SRC DST``."""
    from promptlab.errors import ConfigError

    if args.db_command == "copy":
        return copy_command(args)
    from promptlab.store.server.connection import connect, is_server, shown

    url = getattr(args, "url", None) or location
    if not is_server(url):
        raise ConfigError(f"db {args.db_command} sets up a team server: give a postgresql:// URL, not {url!r}")
    from promptlab.store.server import roles

    with connect(url) as connection:
        if args.db_command == "init":
            protect = tuple(args.protect or ("production",))
            roles.init(connection, protect=protect)
            print(f"{shown(url)}: promptlab's schema, roles and rules are in place; protected: {', '.join(protect)}")
            print("next: promptlab db grant USER ROLE (roles: " + ", ".join(roles.ROLES) + ")")
        elif args.db_command == "grant":
            roles.grant(connection, args.user, args.role)
            print(f"{args.user} is now {args.role} on {shown(url)}")
        else:
            roles.revoke(connection, args.user, args.role)
            print(f"{args.user} is no longer {args.role} on {shown(url)}")
    return EXIT_OK


def copy_command(args: argparse.Namespace) -> int:
    """``promptlab db copy SRC DST``: a line per page copied, then the counts per table."""
    from promptlab.store import copy
    from promptlab.store.server.connection import shown

    source = copy.open_source(args.source)
    destination = shown(args.destination)
    print(f"copying {copy.location_of(source)} → {destination}", flush=True)

    def report(progress: copy.TableCopy) -> None:
        print(
            f"  {progress.table}: {progress.read:,}/{progress.total:,} read, {progress.copied:,} copied, "
            f"{progress.skipped:,} already there",
            flush=True,
        )

    try:
        result = copy.copy_history(
            source,
            args.destination,
            labels=not args.without_labels,
            batch_rows=args.batch_rows or copy.BATCH_ROWS,
            progress=report,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: what was copied to {destination} is kept; the same command carries on", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(result)
    return EXIT_OK
