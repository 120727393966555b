"""The team server's schema: a blank PostgreSQL database migrates to exactly
the file's tables, once, whoever migrates and however many at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import duckdb
import psycopg
import pytest
from support.postgres import Cluster, remove_cluster, start_cluster

from promptlab.errors import NewerSchemaError, StoreError
from promptlab.store.schema import TABLES
from promptlab.store.server import migrations
from promptlab.store.totals import TRIAL_TOTALS

PG_TYPES = {
    "VARCHAR": "text",
    "JSON": "jsonb",
    "TIMESTAMP": "timestamp without time zone",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
}

SERVER_ONLY = {
    "schema_migrations": [("version", "integer"), ("applied_at", "timestamp without time zone")],
    "protected_labels": [("label", "text"), ("protected_by", "text"), ("created_at", "timestamp without time zone")],
    "label_approvals": [
        ("approval_id", "text"),
        ("name", "text"),
        ("version", "text"),
        ("label", "text"),
        ("approved_by", "text"),
        ("note", "text"),
        ("created_at", "timestamp without time zone"),
    ],
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = start_cluster()
    try:
        yield started
    finally:
        remove_cluster(started)


@pytest.fixture
def blank(cluster: Cluster) -> str:
    """A database promptlab never touched."""
    return cluster.new_database("template1")


def connect(cluster: Cluster, database: str, user: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(cluster.url(database, user), autocommit=True)


def columns(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in conn.execute("""
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relnamespace = 'promptlab'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum"""):
        found.setdefault(str(table), []).append((str(column), str(kind)))
    return found


def file_totals_columns() -> list[tuple[str, str]]:
    """The columns of the file's ``trial_totals`` view, in the server's types."""
    con = duckdb.connect()
    con.execute("CREATE TABLE trials (" + ", ".join(f'"{c}" {kind}' for c, kind in TABLES["trials"].columns) + ")")
    con.execute(f"CREATE VIEW trial_totals AS {TRIAL_TOTALS}")
    return [(str(name), PG_TYPES[str(kind)]) for name, kind, *_ in con.execute("DESCRIBE trial_totals").fetchall()]


def test_a_blank_database_migrates_to_the_files_tables(cluster: Cluster, blank: str) -> None:
    with connect(cluster, blank) as conn:
        assert migrations.applied_version(conn) == 0
        assert migrations.migrate(conn) == list(range(1, migrations.LATEST + 1))
        found = columns(conn)
        views = {row[0] for row in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'promptlab'")}
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'promptlab'")}
    expected = {
        name: [(column, PG_TYPES[kind]) for column, kind in table.columns] for name, table in TABLES.items()
    } | SERVER_ONLY
    assert found.pop("trial_totals") == file_totals_columns()
    assert found == expected
    assert views == {"trials_view", "labels"}
    assert {"trials_output_trgm", "trials_vars_trgm", "trials_experiment_created", "runs_started_at"} <= indexes


def test_migrating_again_changes_nothing(cluster: Cluster, blank: str) -> None:
    with connect(cluster, blank) as conn:
        migrations.migrate(conn)
        assert migrations.migrate(conn) == []
        assert migrations.applied_version(conn) == migrations.LATEST


def test_clients_migrating_at_once_apply_each_migration_once(cluster: Cluster, blank: str) -> None:
    start = threading.Barrier(4)
    applied: list[list[int]] = []
    failures: list[BaseException] = []

    def client() -> None:
        try:
            with connect(cluster, blank) as conn:
                start.wait()
                applied.append(migrations.migrate(conn))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(v for versions in applied for v in versions) == list(range(1, migrations.LATEST + 1))
    with connect(cluster, blank) as conn:
        rows = conn.execute("SELECT version FROM promptlab.schema_migrations ORDER BY version").fetchall()
    assert [row[0] for row in rows] == list(range(1, migrations.LATEST + 1))


def test_a_server_set_up_by_a_newer_promptlab_is_refused(cluster: Cluster, blank: str) -> None:
    with connect(cluster, blank) as conn:
        migrations.migrate(conn)
        conn.execute("INSERT INTO promptlab.schema_migrations VALUES (%s, now())", [migrations.LATEST + 1])
        with pytest.raises(NewerSchemaError, match="pip install -U promptlab"):
            migrations.migrate(conn)


def test_a_role_that_cant_migrate_is_told_to_ask_an_admin(cluster: Cluster, blank: str) -> None:
    cluster.psql("DO $$ BEGIN CREATE ROLE no_privileges LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    with connect(cluster, blank, "no_privileges") as conn, pytest.raises(StoreError, match="promptlab db init URL"):
        migrations.migrate(conn)
    with connect(cluster, blank) as conn:
        assert migrations.applied_version(conn) == 0


def test_the_views_read_as_the_files_do(cluster: Cluster, blank: str) -> None:
    with connect(cluster, blank) as conn:
        migrations.migrate(conn)
        conn.execute("""
            INSERT INTO promptlab.label_events (event_id, name, label, to_version, created_at, seq, hash) VALUES
                ('e1', 'p', 'production', 'v1', '2024-01-01', 1, 'h1'),
                ('e2', 'p', 'production', 'v2', '2024-01-02', 2, 'h2'),
                ('e0', 'p', 'production', 'v0', '2030-01-01', NULL, NULL),
                ('e3', 'p', 'staging', 'v3', '2024-01-03', NULL, NULL)""")
        labels = conn.execute("SELECT label, version FROM promptlab.labels ORDER BY label").fetchall()
        conn.execute("""
            INSERT INTO promptlab.trials (trial_id, vars, output, cost_usd, cached) VALUES
                ('t1', '{"city": "Lyon"}', 'Bonjour', 0.5, true), ('t2', '{"city": "Oslo"}', 'Hei', 0.25, false)""")
        spent = conn.execute("SELECT trial_id, spent_usd, kind FROM promptlab.trials_view ORDER BY 1").fetchall()
        conn.execute("SET search_path = promptlab, pg_catalog")
        city = conn.execute("SELECT json_extract_path_text(vars, 'city') FROM trials WHERE trial_id = 't1'").fetchone()
        found = conn.execute("SELECT trial_id FROM trials WHERE vars::text ILIKE %s", ["%lyo%"]).fetchall()
        one = conn.execute("SELECT any_value(output) FROM trials WHERE trial_id = 't2'").fetchone()
    assert labels == [("production", "v2"), ("staging", "v3")]
    assert spent == [("t1", 0.0, "sweep"), ("t2", 0.25, "sweep")]
    assert city == ("Lyon",)
    assert found == [("t1",)]
    assert one == ("Hei",)


TOTALS_ORDER = 'ORDER BY experiment, run_id, kind, prompt_name, prompt_version, model, "user"'


Rows = list[tuple[object, ...]]


def recounted(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[Rows, Rows]:
    """The server's ``trial_totals``, and the file's definition run over its trials now."""
    kept = conn.execute(f"SELECT * FROM promptlab.trial_totals {TOTALS_ORDER}").fetchall()
    conn.execute("SET search_path = promptlab, pg_catalog")
    fresh = conn.execute(f"SELECT * FROM ({TRIAL_TOTALS}) AS t {TOTALS_ORDER}").fetchall()
    conn.execute("RESET search_path")
    return kept, fresh


def test_trial_totals_stay_equal_to_the_trials_summed_again(cluster: Cluster, blank: str) -> None:
    rows = [
        # trial, experiment, run, kind, model, error, cached, cost, hour
        ("t1", "e", "r1", None, "a", None, False, 0.5, 1),
        ("t2", "e", "r1", None, "a", "Timeout", False, None, 2),
        ("t3", "e", "r1", None, "b", None, True, 0.25, 3),
        ("t4", "e", "r1", "judge", "j", None, False, 0.125, 4),
        ("t5", "f", "r2", None, "a", None, False, None, 5),
        ("t6", None, None, "production", "a", None, False, 1.0, 6),
    ]
    insert = (
        "INSERT INTO promptlab.trials (trial_id, experiment, run_id, kind, prompt_name, prompt_version, model, "
        '"user", error_type, cached, cost_usd, created_at) '
        "VALUES (%s, %s, %s, %s, 'p', 'v1', %s, 'ana', %s, %s, %s, timestamp '2026-01-01' + make_interval(hours => %s))"
    )
    with connect(cluster, blank) as conn:
        migrations.migrate(conn)
        with conn.cursor() as cursor:
            cursor.executemany(insert, rows[:3])  # one statement each: sums added to a row already there
        conn.execute(
            "INSERT INTO promptlab.trials (trial_id, experiment, run_id, kind, prompt_name, prompt_version, model, "
            '"user", error_type, cached, cost_usd, created_at) SELECT * FROM (VALUES '
            + ", ".join(
                [
                    "(%s, %s, %s, %s, 'p', 'v1', %s, 'ana', %s, %s, %s::float8, "
                    "timestamp '2026-01-01' + make_interval(hours => %s))"
                ]
                * 3
            )
            + ") AS v",
            [value for row in rows[3:] for value in row],
        )  # one statement, three groups
        kept, fresh = recounted(conn)
        assert kept == fresh and len(kept) == 5
        assert (
            conn.execute(
                "INSERT INTO promptlab.trials (trial_id, run_id) VALUES ('t1', 'r9') ON CONFLICT DO NOTHING"
            ).rowcount
            == 0
        )
        assert recounted(conn)[0] == kept  # a trial sent twice is counted once
        conn.execute(
            "UPDATE promptlab.trials SET model = 'c', created_at = created_at - interval '1 day' WHERE trial_id = 't3'"
        )  # an admin's edit: the earliest time moves back
        conn.execute("DELETE FROM promptlab.trials WHERE trial_id IN ('t1', 't6')")
        kept, fresh = recounted(conn)
        assert kept == fresh, (kept, fresh)
        assert ("e", "r1", "sweep", "p", "v1", "c") in [row[:6] for row in kept]
        assert all(row[2] != "production" for row in kept)
        conn.execute("TRUNCATE promptlab.trials")
        assert recounted(conn) == ([], [])
