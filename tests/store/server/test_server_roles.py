"""The team server's roles and rules, checked with raw SQL as each person:
what a client leaves out or gets wrong, the server refuses or corrects."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors as pg_errors
from support.postgres import TEMPLATE, Cluster, remove_cluster, start_cluster

from promptlab.errors import ConfigError, StoreError
from promptlab.store.server import roles

Connection = psycopg.Connection[tuple[object, ...]]
Connect = Callable[..., Connection]
"""Opens a connection to the test's database as a user (default the superuser)."""

PEOPLE = {"ana": "researcher", "lee": "approver", "kim": "reader", "ada": "admin", "rev": "reviewer"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = start_cluster()
    try:
        started.psql(f'CREATE DATABASE "{TEMPLATE}"')
        with psycopg.connect(started.url(TEMPLATE), autocommit=True) as conn:
            roles.init(conn)
            for user, role in PEOPLE.items():
                roles.grant(conn, user, role)
        yield started
    finally:
        remove_cluster(started)


@pytest.fixture
def database(cluster: Cluster) -> str:
    return cluster.new_database(TEMPLATE)


@pytest.fixture
def connect(cluster: Cluster, database: str) -> Iterator[Connect]:
    opened: list[Connection] = []

    def as_user(user: str = "postgres") -> Connection:
        conn = psycopg.connect(cluster.url(database, user), autocommit=True)
        opened.append(conn)
        return conn

    yield as_user
    for conn in opened:
        conn.close()


def add_prompt(conn: Connection, version: str) -> None:
    conn.execute("INSERT INTO promptlab.prompts (name, version) VALUES ('summarize', %s)", [version])


def move(conn: Connection, version: str, approved_by: str | None, event_id: str = "e1") -> None:
    conn.execute(
        'INSERT INTO promptlab.label_events (event_id, name, label, action, to_version, "user", approved_by) '
        "VALUES (%s, 'summarize', 'production', 'promote', %s, 'whoever', %s)",
        [event_id, version, approved_by],
    )


def approve(conn: Connection, version: str, approval_id: str = "a1") -> None:
    conn.execute(
        "INSERT INTO promptlab.label_approvals (approval_id, name, version, label, approved_by) "
        "VALUES (%s, 'summarize', %s, 'production', 'not_me')",
        [approval_id, version],
    )


def test_people_hold_the_roles_granted(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url(TEMPLATE), autocommit=True) as conn:
        assert roles.roles_of(conn, "ana") == ["researcher"]
        with pytest.raises(ConfigError, match="reader, researcher, reviewer, approver, privacy, admin"):
            roles.grant(conn, "ana", "owner")
        roles.grant(conn, "max", "reviewer")
        roles.grant(conn, "max", "reader")
        assert roles.roles_of(conn, "max") == ["reader", "reviewer"]
        roles.revoke(conn, "max", "reviewer")
        assert roles.roles_of(conn, "max") == ["reader"]
        roles.grant(conn, 'odd"name; DROP', "reader")
        assert roles.roles_of(conn, 'odd"name; DROP') == ["reader"]
        assert roles.protected_labels(conn) == ["production"]


def test_init_again_changes_nothing(connect: Connect) -> None:
    admin = connect()
    roles.init(admin, protect=("production", "staging"))
    assert roles.protected_labels(admin) == ["production", "staging"]
    assert roles.roles_of(admin, "lee") == ["approver"]
    owners = admin.execute(
        "SELECT DISTINCT relowner::regrole::text FROM pg_class WHERE relnamespace = 'promptlab'::regnamespace "
        "AND relkind IN ('r', 'v') UNION SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'promptlab'"
    ).fetchall()
    assert owners == [("promptlab_admin",)]


def test_a_trial_is_recorded_as_its_writers_and_never_changed(connect: Connect) -> None:
    ana = connect("ana")
    ana.execute("INSERT INTO promptlab.trials (trial_id, \"user\") VALUES ('t1', 'someone_else')")
    assert ana.execute('SELECT "user" FROM promptlab.trials').fetchone() == ("ana",)
    with pytest.raises(pg_errors.InsufficientPrivilege):
        ana.execute("UPDATE promptlab.trials SET output = 'better'")
    with pytest.raises(pg_errors.InsufficientPrivilege):
        ana.execute("DELETE FROM promptlab.trials")
    ada = connect("ada")  # an admin copying a history keeps its names
    ada.execute("INSERT INTO promptlab.trials (trial_id, \"user\") VALUES ('t2', 'someone_else')")
    assert ada.execute("SELECT \"user\" FROM promptlab.trials WHERE trial_id = 't2'").fetchone() == ("someone_else",)


def test_readers_and_reviewers_write_only_what_they_may(connect: Connect) -> None:
    kim, rev = connect("kim"), connect("rev")
    assert kim.execute("SELECT count(*) FROM promptlab.trials_view").fetchone() == (0,)
    with pytest.raises(pg_errors.InsufficientPrivilege):
        kim.execute("INSERT INTO promptlab.trials (trial_id) VALUES ('t1')")
    with pytest.raises(pg_errors.InsufficientPrivilege):
        kim.execute("INSERT INTO promptlab.feedback (feedback_id) VALUES ('f1')")
    rev.execute("INSERT INTO promptlab.feedback (feedback_id, \"user\") VALUES ('f1', 'kim')")
    assert rev.execute('SELECT "user" FROM promptlab.feedback').fetchone() == ("rev",)
    with pytest.raises(pg_errors.InsufficientPrivilege):
        rev.execute("INSERT INTO promptlab.trials (trial_id) VALUES ('t1')")


def test_nobody_but_admins_creates_objects(connect: Connect) -> None:
    ana = connect("ana")
    for name in ("public.trials", "promptlab.shadow"):
        with pytest.raises(pg_errors.InsufficientPrivilege):
            ana.execute(f"CREATE TABLE {name} (x int)")
    with pytest.raises(StoreError, match="admin"):
        roles.protect(ana, "staging")


def test_the_label_log_is_append_only_for_admins_too(connect: Connect) -> None:
    ana, ada, admin = connect("ana"), connect("ada"), connect()
    ana.execute(
        "INSERT INTO promptlab.label_events (event_id, name, label, to_version) VALUES ('e1', 'p', 'dev', 'v1')"
    )
    with pytest.raises(pg_errors.InsufficientPrivilege):
        ana.execute("DELETE FROM promptlab.label_events")
    for conn in (ada, admin):
        with pytest.raises(pg_errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE promptlab.label_events SET to_version = 'v0'")
        with pytest.raises(pg_errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM promptlab.label_events")
        with pytest.raises(pg_errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE promptlab.label_events")
    assert admin.execute('SELECT "user", to_version FROM promptlab.label_events').fetchall() == [("ana", "v1")]


def test_a_protected_label_moves_after_an_approval_from_the_approvers_session(connect: Connect) -> None:
    ana, lee, kim = connect("ana"), connect("lee"), connect("kim")
    add_prompt(ana, "v1")
    with pytest.raises(pg_errors.InsufficientPrivilege, match="lee must approve summarize version v1"):
        move(ana, "v1", "lee")
    with pytest.raises(pg_errors.InsufficientPrivilege, match="name an approver"):
        move(ana, "v1", None)
    with pytest.raises(pg_errors.InsufficientPrivilege):
        approve(ana, "v1")  # a researcher can't record an approval
    approve(lee, "v1")
    assert lee.execute("SELECT approved_by FROM promptlab.label_approvals").fetchone() == ("lee",)
    with pytest.raises(pg_errors.InsufficientPrivilege, match="kim is not an approver"):
        move(ana, "v1", "kim")
    move(ana, "v1", "lee")
    assert kim.execute("SELECT version, moved_by, approved_by FROM promptlab.labels").fetchall() == [
        ("v1", "ana", "lee")
    ]
    with pytest.raises(pg_errors.InsufficientPrivilege, match="append-only"):
        connect().execute("DELETE FROM promptlab.label_approvals")


def test_an_approver_cant_approve_their_own_move_or_version(connect: Connect) -> None:
    ana, lee = connect("ana"), connect("lee")
    add_prompt(ana, "v1")
    approve(lee, "v1")
    with pytest.raises(pg_errors.InsufficientPrivilege, match="can't approve their own move"):
        move(lee, "v1", "lee")
    add_prompt(lee, "v2")
    approve(lee, "v2", "a2")
    with pytest.raises(pg_errors.InsufficientPrivilege, match="lee wrote summarize version v2"):
        move(ana, "v2", "lee")
    assert ana.execute("SELECT count(*) FROM promptlab.label_events").fetchone() == (0,)


def test_an_admin_copying_a_history_keeps_its_approved_moves(connect: Connect) -> None:
    ada = connect("ada")
    with pytest.raises(pg_errors.InsufficientPrivilege):
        move(ada, "v1", "lee")
    with ada.transaction():
        ada.execute("SET LOCAL promptlab.copying_history = 'on'")
        move(ada, "v1", "lee")
    ana = connect("ana")
    with ana.transaction(), pytest.raises(pg_errors.InsufficientPrivilege):
        ana.execute("SET LOCAL promptlab.copying_history = 'on'")
        move(ana, "v1", "lee", "e2")
    assert ada.execute('SELECT "user" FROM promptlab.label_events').fetchall() == [("whoever",)]


def test_a_run_is_updated_only_by_its_owner_and_never_backwards(connect: Connect) -> None:
    ana, lee = connect("ana"), connect("lee")
    upsert = (
        "INSERT INTO promptlab.runs (run_id, status, revision, \"user\") VALUES ('r1', %s, %s, 'x') "
        "ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, revision = excluded.revision, "
        '"user" = excluded."user"'
    )
    ana.execute(upsert, ["running", 1])
    ana.execute(upsert, ["done", 3])
    ana.execute(upsert, ["running", 2])  # a stale state arriving late is skipped
    assert ana.execute('SELECT status, revision, "user" FROM promptlab.runs').fetchone() == ("done", 3, "ana")
    with pytest.raises(pg_errors.InsufficientPrivilege, match="run r1 belongs to ana"):
        lee.execute(upsert, ["failed", 4])
    with pytest.raises(pg_errors.InsufficientPrivilege, match="run r1 belongs to ana"):
        lee.execute("UPDATE promptlab.runs SET status = 'failed'")


def test_teammates_tag_an_experiment_but_its_creator_stays(connect: Connect) -> None:
    ana, lee = connect("ana"), connect("lee")
    ana.execute("INSERT INTO promptlab.experiments (name, tags, created_by) VALUES ('x', '[\"a\"]', 'nobody')")
    lee.execute("UPDATE promptlab.experiments SET tags = '[\"a\", \"b\"]', created_by = 'lee', name = 'y'")
    row = ana.execute("SELECT name, tags::text, created_by FROM promptlab.experiments").fetchone()
    assert row == ("x", '["a", "b"]', "ana")
