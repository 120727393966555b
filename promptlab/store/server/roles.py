"""Who may do what on a team server: five group roles, granted to people's
login roles, and the setup an admin runs once (``promptlab db init URL``).

The groups nest, each holding the one before, so a privilege is granted once::

    promptlab_reader      USAGE on schema promptlab, SELECT on every table and view,
                          INSERT on privacy_log (uses, exports, requests)
    promptlab_reviewer    + INSERT on feedback, scores
    promptlab_researcher  + INSERT on experiments, prompts, models, runs, trials,
                            label_events, dataset_changes, corpora,
                            corpus_documents; UPDATE on runs,
                            experiments (upserts)
    promptlab_approver    + INSERT on label_approvals
    promptlab_privacy     a reader who may approve where tiered data goes
                          (its own group, beside the chain)
    promptlab_admin       + owns schema promptlab and everything in it: migrates,
                            manages protected_labels, grants the groups

Privileges say which statements a role may run; the triggers of migration 2
(``migrations.m002_team_rules``) say what those statements may do, for
everyone: a row's user is the login that wrote it (admins copying a history
keep the names it has); label_events and label_approvals are append-only,
for admins too; a run is updated only by the login that started it (or an
admin); any researcher may change an experiment's description and tags, not
its name or creator; a protected label moves only when an approver (not the
version's author, not the mover) has first recorded an approval from their
own session. Nobody but admins may UPDATE, DELETE or TRUNCATE trials,
prompts, models, feedback, scores, label_events or label_approvals, and
nobody but admins may CREATE in schema promptlab or public, so no one can
plant an object that shadows one of promptlab's.

Roles are the cluster's, so ``grant`` works on every database of it; table
privileges, ownership and protected labels are the database's, so ``init``
runs once per database (again after an upgrade: it is idempotent).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from psycopg import errors as pg_errors
from psycopg import sql

from promptlab.errors import ConfigError, StoreError
from promptlab.store.server import migrations
from promptlab.store.server.migrations import Connection

ROLES = ("reader", "researcher", "reviewer", "approver", "privacy", "admin")
"""The role names promptlab grants; each is the group role ``promptlab_<name>``."""

_NESTING = ("reader", "reviewer", "researcher", "approver", "admin")
"""Each group is a member of the one before it here, and holds its privileges."""

_APPEND_ONLY = (
    "trials",
    "prompts",
    "models",
    "feedback",
    "scores",
    "label_events",
    "label_approvals",
    "dataset_changes",
    "privacy_log",
    "corpora",
    "corpus_documents",
)

_INSERTS = {
    "reader": ("privacy_log",),  # everyone's uses, exports and requests are logged
    "reviewer": ("feedback", "scores"),
    "researcher": (
        "experiments",
        "prompts",
        "models",
        "runs",
        "trials",
        "label_events",
        "dataset_changes",
        "corpora",
        "corpus_documents",
    ),
    "approver": ("label_approvals",),
}
_UPDATES = {"researcher": ("runs", "experiments")}

log = logging.getLogger(__name__)


def group_role(role: str) -> str:
    """The group role of ``role`` (``researcher`` → ``promptlab_researcher``)."""
    if role not in ROLES:
        raise ConfigError(f"no promptlab role named {role!r}; the roles are {', '.join(ROLES)}")
    return f"promptlab_{role}"


def _group(role: str) -> sql.Identifier:
    return sql.Identifier(group_role(role))


@contextmanager
def _as_admin(conn: Connection, doing: str) -> Iterator[None]:
    """One transaction; a refusal for want of privileges says who can do it."""
    try:
        with conn.transaction():
            yield
    except pg_errors.InsufficientPrivilege as exc:
        raise StoreError(
            f"can't {doing} ({str(exc).strip()}): that takes a promptlab admin (creating logins and the first "
            "setup take the server's superuser); ask one to do it"
        ) from exc


def _create_groups(conn: Connection) -> None:
    for role in ROLES:
        name = group_role(role)
        if conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
    for held, holder in itertools.pairwise(_NESTING):
        conn.execute(sql.SQL("GRANT {} TO {}").format(_group(held), _group(holder)))
    # a privacy approver reads what they approve, and needs no other privilege
    conn.execute(sql.SQL("GRANT {} TO {}").format(_group("reader"), _group("privacy")))
    # admins grant every group but their own (which only a superuser grants)
    for role in (*_NESTING[:-1], "privacy"):
        conn.execute(sql.SQL("GRANT {} TO promptlab_admin WITH ADMIN OPTION").format(_group(role)))


def _hand_to_admins(conn: Connection) -> None:
    """Make promptlab_admin own the schema and what promptlab made in it (not
    pg_trgm's own objects), whoever ran the migrations."""
    conn.execute("ALTER SCHEMA promptlab OWNER TO promptlab_admin")
    conn.execute("""
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT c.oid::regclass AS relation FROM pg_class c
                     WHERE c.relnamespace = 'promptlab'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
                       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                       AND d.objid = c.oid AND d.deptype = 'e')
            LOOP
                EXECUTE format('ALTER TABLE %s OWNER TO promptlab_admin', r.relation);
            END LOOP;
            FOR r IN SELECT p.oid::regprocedure AS routine FROM pg_proc p
                     WHERE p.pronamespace = 'promptlab'::regnamespace
                       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                       AND d.objid = p.oid AND d.deptype = 'e')
            LOOP
                EXECUTE format('ALTER ROUTINE %s OWNER TO promptlab_admin', r.routine);
            END LOOP;
        END $$""")


def _grant_privileges(conn: Connection) -> None:
    conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    conn.execute("REVOKE ALL ON SCHEMA promptlab FROM PUBLIC")
    conn.execute("GRANT USAGE ON SCHEMA promptlab TO promptlab_reader")
    conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA promptlab TO promptlab_reader")
    conn.execute(
        "ALTER DEFAULT PRIVILEGES FOR ROLE promptlab_admin IN SCHEMA promptlab "
        "GRANT SELECT ON TABLES TO promptlab_reader"
    )
    for privilege, by_role in (("INSERT", _INSERTS), ("UPDATE", _UPDATES)):
        for role, tables in by_role.items():
            conn.execute(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(privilege),
                    sql.SQL(", ").join(sql.Identifier("promptlab", table) for table in tables),
                    _group(role),
                )
            )
    # privileges an earlier grant may have given beyond the above
    conn.execute(
        sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM PUBLIC, {}").format(
            sql.SQL(", ").join(sql.Identifier("promptlab", table) for table in _APPEND_ONLY),
            sql.SQL(", ").join(_group(role) for role in (*_NESTING[:-1], "privacy")),
        )
    )


def _insert_protected(conn: Connection, label: str) -> None:
    if not label or not isinstance(label, str):
        raise ConfigError("a protected label is a name such as 'production'")
    conn.execute(
        "INSERT INTO promptlab.protected_labels (label, protected_by) VALUES (%s, session_user) "
        "ON CONFLICT (label) DO NOTHING",
        [label],
    )


def init(conn: Connection, *, protect: Sequence[str] = ("production",)) -> None:
    """Set a database up as a team server, or bring it up to date: the group
    roles, the schema (``migrations.migrate``), ownership by promptlab_admin,
    the privileges above, and ``protect``'s labels protected. Safe to run again.
    Needs a superuser (or a role that may create roles and owns the database)."""
    if isinstance(protect, str):
        raise ConfigError(f'protect= takes a list of labels, e.g. protect=["{protect}"]')
    with _as_admin(conn, "create promptlab's roles"):
        _create_groups(conn)
    migrations.migrate(conn)
    with _as_admin(conn, "set up promptlab's privileges"):
        _hand_to_admins(conn)
        _grant_privileges(conn)
        for label in protect:
            _insert_protected(conn, label)


def _exists(conn: Connection, user: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [user]).fetchone() is not None


def _checked_user(user: str) -> str:
    if not isinstance(user, str) or not user.strip():
        raise ConfigError("a user is the name of a database login, e.g. 'ana'")
    return user.strip()


def grant(conn: Connection, user: str, role: str) -> None:
    """Give ``user`` the group of ``role``, creating ``user`` as a login role
    (without a password: the server's authentication decides how they log in)
    when the server has no role of that name."""
    group, user = _group(role), _checked_user(user)
    with _as_admin(conn, f"grant {role} to {user}"):
        if not _exists(conn, user):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user)))
            log.info("created the login role %s on the server", user)
        conn.execute(sql.SQL("GRANT {} TO {}").format(group, sql.Identifier(user)))


def revoke(conn: Connection, user: str, role: str) -> None:
    """Take the group of ``role`` from ``user`` (the login role stays)."""
    group, user = _group(role), _checked_user(user)
    with _as_admin(conn, f"revoke {role} from {user}"):
        if not _exists(conn, user):
            raise ConfigError(f"the server has no user named {user!r}")
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(group, sql.Identifier(user)))


def roles_of(conn: Connection, user: str) -> list[str]:
    """The roles granted to ``user`` directly (not those a group holds), in ``ROLES`` order."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT g.rolname FROM pg_catalog.pg_auth_members m "
            "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = %s",
            [user],
        ).fetchall()
    held = {str(row[0]) for row in rows}
    return [role for role in ROLES if group_role(role) in held]


def protect(conn: Connection, label: str) -> None:
    """Protect ``label`` on this database: it moves only with an approval."""
    with _as_admin(conn, f"protect {label!r}"):
        _insert_protected(conn, label)


def protected_labels(conn: Connection) -> list[str]:
    """The labels protected on this database, sorted."""
    with conn.transaction():
        rows = conn.execute("SELECT label FROM promptlab.protected_labels ORDER BY label").fetchall()
    return [str(row[0]) for row in rows]
