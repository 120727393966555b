"""Numbered schema migrations. Opening a store applies the missing ones, each
in its own transaction, and records it in ``schema_migrations``.

Migrations are history: never edit one that has shipped; add the next. The
SQL is spelled out here rather than derived from ``schema.py`` so an old file
always migrates the same way; a test checks that the result matches it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from promptlab.store import search_index

Migration = Callable[[duckdb.DuckDBPyConnection], None]

_LINEAGE = """
    "user" VARCHAR, host VARCHAR, pid INTEGER, source VARCHAR,
    git_commit VARCHAR, promptlab_version VARCHAR
"""


def m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    """Experiments, prompts, models, runs, trials and the flat trials_view."""
    con.execute("""
        CREATE TABLE experiments (
            name VARCHAR PRIMARY KEY, description VARCHAR, tags JSON,
            created_at TIMESTAMP, created_by VARCHAR
        )""")
    con.execute("""
        CREATE TABLE prompts (
            name VARCHAR, version VARCHAR, template JSON, variables JSON,
            created_at TIMESTAMP, created_by VARCHAR, PRIMARY KEY (name, version)
        )""")
    con.execute("""
        CREATE TABLE models (
            model_id VARCHAR PRIMARY KEY, provider VARCHAR, name VARCHAR,
            base_url VARCHAR, params JSON, created_at TIMESTAMP
        )""")
    con.execute(f"""
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY, experiment VARCHAR, fingerprint VARCHAR,
            status VARCHAR, n_cells INTEGER, config JSON, started_at TIMESTAMP,
            ended_at TIMESTAMP, error VARCHAR, {_LINEAGE}
        )""")
    con.execute(f"""
        CREATE TABLE trials (
            trial_id VARCHAR PRIMARY KEY, run_id VARCHAR, experiment VARCHAR,
            cell_key VARCHAR, cache_key VARCHAR, prompt_name VARCHAR,
            prompt_version VARCHAR, model VARCHAR, model_id VARCHAR, provider VARCHAR,
            params JSON, row_index INTEGER, vars JSON, "repeat" INTEGER, messages JSON,
            output VARCHAR, finish_reason VARCHAR, error_type VARCHAR, error VARCHAR,
            latency_ms DOUBLE, ttft_ms DOUBLE, prompt_tokens INTEGER,
            completion_tokens INTEGER, cost_usd DOUBLE, cached BOOLEAN,
            cached_from VARCHAR, attempts INTEGER, request_id VARCHAR, response JSON,
            started_at TIMESTAMP, created_at TIMESTAMP, {_LINEAGE}
        )""")
    con.execute("CREATE INDEX trials_cache_key ON trials (cache_key)")
    con.execute("CREATE INDEX trials_run_id ON trials (run_id)")
    con.execute("""
        CREATE VIEW trials_view AS
        SELECT t.trial_id, t.run_id, t.experiment, t.prompt_name, t.prompt_version,
               t.model, t.params, t.vars, t.messages, t.output, t.error_type, t.error,
               t.latency_ms, t.ttft_ms, t.prompt_tokens, t.completion_tokens, t.cost_usd,
               CASE WHEN t.cached THEN 0.0 ELSE t.cost_usd END AS spent_usd,
               t.cached, t."repeat", t.finish_reason, t.created_at, t."user", t.host,
               t.source, t.git_commit, r.status AS run_status, p.template AS prompt_template
        FROM trials t
        LEFT JOIN runs r USING (run_id)
        LEFT JOIN prompts p ON p.name = t.prompt_name AND p.version = t.prompt_version
        """)


def m002_feedback(con: duckdb.DuckDBPyConnection) -> None:
    """People's votes, corrections, comments and actions on trials."""
    con.execute("""
        CREATE TABLE feedback (
            feedback_id VARCHAR PRIMARY KEY, trial_id VARCHAR, vote INTEGER,
            correction VARCHAR, comment VARCHAR, action VARCHAR, "user" VARCHAR,
            created_at TIMESTAMP
        )""")


def m003_scores(con: duckdb.DuckDBPyConnection) -> None:
    """Evaluator scores, and which trials are a judge's own calls."""
    con.execute("""
        CREATE TABLE scores (
            score_id VARCHAR PRIMARY KEY, trial_id VARCHAR, run_id VARCHAR, evaluator VARCHAR,
            evaluator_name VARCHAR, args JSON, value DOUBLE, passed BOOLEAN, label VARCHAR,
            explanation VARCHAR, error VARCHAR, judge_trial_id VARCHAR, created_at TIMESTAMP,
            "user" VARCHAR
        )""")
    con.execute("ALTER TABLE trials ADD COLUMN kind VARCHAR DEFAULT 'sweep'")


def m004_labels(con: duckdb.DuckDBPyConnection) -> None:
    """The label audit log, and the labels it puts where."""
    con.execute("""
        CREATE TABLE label_events (
            event_id VARCHAR PRIMARY KEY, name VARCHAR, label VARCHAR, action VARCHAR,
            from_version VARCHAR, to_version VARCHAR, model JSON, "user" VARCHAR,
            approved_by VARCHAR, note VARCHAR, evidence JSON, created_at TIMESTAMP
        )""")
    con.execute("""
        CREATE VIEW labels AS
        SELECT name, label, to_version AS version, model, "user" AS moved_by, approved_by,
               created_at AS moved_at
        FROM label_events
        QUALIFY row_number() OVER (PARTITION BY name, label ORDER BY created_at DESC, event_id DESC) = 1
        """)


def m005_integrity(con: duckdb.DuckDBPyConnection) -> None:
    """Run revisions (a run's newest state wins whatever the clocks say) and
    heartbeats (a run whose process died shows as interrupted), trials whose
    output was cut to the size limit, what kind of call each trial is in the
    flat view, and a label log ordered by a sequence and chained by hashes."""
    con.execute("ALTER TABLE runs ADD COLUMN revision INTEGER DEFAULT 0")
    con.execute("ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMP")
    con.execute("ALTER TABLE trials ADD COLUMN truncated BOOLEAN DEFAULT false")
    con.execute("ALTER TABLE label_events ADD COLUMN seq BIGINT")
    con.execute("ALTER TABLE label_events ADD COLUMN policy JSON")
    con.execute("ALTER TABLE label_events ADD COLUMN prev_hash VARCHAR")
    con.execute("ALTER TABLE label_events ADD COLUMN hash VARCHAR")
    con.execute("""
        CREATE OR REPLACE VIEW trials_view AS
        SELECT t.trial_id, t.run_id, t.experiment, t.prompt_name, t.prompt_version,
               t.model, t.params, t.vars, t.messages, t.output, t.error_type, t.error,
               t.latency_ms, t.ttft_ms, t.prompt_tokens, t.completion_tokens, t.cost_usd,
               CASE WHEN t.cached THEN 0.0 ELSE t.cost_usd END AS spent_usd,
               t.cached, t."repeat", t.finish_reason, t.created_at, t."user", t.host,
               t.source, t.git_commit, r.status AS run_status, p.template AS prompt_template,
               coalesce(t.kind, 'sweep') AS kind, t.truncated
        FROM trials t
        LEFT JOIN runs r USING (run_id)
        LEFT JOIN prompts p ON p.name = t.prompt_name AND p.version = t.prompt_version
        """)
    # Events from before the sequence keep the order they had: their times.
    con.execute("""
        UPDATE label_events SET seq = numbered.seq
        FROM (SELECT event_id, row_number() OVER (ORDER BY created_at, event_id) AS seq FROM label_events) numbered
        WHERE label_events.event_id = numbered.event_id
        """)
    con.execute("""
        CREATE OR REPLACE VIEW labels AS
        SELECT name, label, to_version AS version, model, "user" AS moved_by, approved_by,
               created_at AS moved_at
        FROM label_events
        QUALIFY row_number() OVER (
            PARTITION BY name, label
            ORDER BY (hash IS NOT NULL AND seq IS NOT NULL) DESC,
                     CASE WHEN hash IS NOT NULL AND seq IS NOT NULL THEN seq END DESC,
                     created_at DESC, event_id DESC
        ) = 1
        """)


def m006_search_index(con: duckdb.DuckDBPyConnection) -> None:
    """The search index (``search_index.py``);
    and no more indexes on ``trials.cache_key`` and ``trials.run_id``. DuckDB
    never used those (its joins and ``IN`` lists scan; measured on a
    1M-trial history), yet they doubled the size of the trials' keys on disk
    and every fold loaded and updated them: a 2,000-trial fold into a million
    trials took twice as long and 110 MB more memory with them."""
    con.execute("DROP INDEX IF EXISTS trials_cache_key")
    con.execute("DROP INDEX IF EXISTS trials_run_id")
    search_index.create(con)  # the store fills it after the upgrade, a batch at a time


def m007_production(con: duckdb.DuckDBPyConnection) -> None:
    """What an application logs (``promptlab.production``): the label that
    served a call, the app's own id for it, its end user, session and
    metadata; feedback from the app (its source, end user, and the app's id
    of the call); and datasets, named test sets changed a batch of rows at a
    time. The flat view shows the new trial columns."""
    for column, sql_type in (
        ("label", "VARCHAR"),
        ("external_id", "VARCHAR"),
        ("end_user", "VARCHAR"),
        ("session_id", "VARCHAR"),
        ("metadata", "JSON"),
    ):
        con.execute(f"ALTER TABLE trials ADD COLUMN {column} {sql_type}")
    for column in ("external_id", "source", "end_user"):
        con.execute(f"ALTER TABLE feedback ADD COLUMN {column} VARCHAR")
    con.execute("""
        CREATE TABLE dataset_changes (
            change_id VARCHAR, dataset VARCHAR, op VARCHAR, row_hash VARCHAR, "row" JSON,
            trial_id VARCHAR, note VARCHAR, "user" VARCHAR, created_at TIMESTAMP,
            PRIMARY KEY (change_id, row_hash)
        )""")
    _production_view(con, "t.session_id, t.metadata")


def m008_privacy(con: duckdb.DuckDBPyConnection) -> None:
    """Data tiers and the privacy audit log (``promptlab.privacy``): the tier
    of each trial and of each dataset change, and ``privacy_log``. The flat
    view shows the trial's tier."""
    con.execute("ALTER TABLE trials ADD COLUMN tier VARCHAR")
    con.execute("ALTER TABLE dataset_changes ADD COLUMN tier VARCHAR")
    con.execute("""
        CREATE TABLE privacy_log (
            event_id VARCHAR PRIMARY KEY, "action" VARCHAR, tier VARCHAR, "use" VARCHAR, model VARCHAR,
            export VARCHAR, requested_by VARCHAR, approved_by VARCHAR, reason VARCHAR, expires_at TIMESTAMP,
            approval_id VARCHAR, detail JSON, "user" VARCHAR, created_at TIMESTAMP
        )""")
    _production_view(con, "t.session_id, t.metadata, t.tier")


def m009_retrieval(con: duckdb.DuckDBPyConnection) -> None:
    """Retrieval as a sweep axis (``promptlab.retrieval``): what each trial's
    retriever found, and the corpora searched. The flat view shows both columns."""
    con.execute("ALTER TABLE trials ADD COLUMN retriever VARCHAR")
    con.execute("ALTER TABLE trials ADD COLUMN retrieval JSON")
    con.execute("""
        CREATE TABLE corpora (
            corpus_version VARCHAR PRIMARY KEY, name VARCHAR, documents INTEGER, characters BIGINT,
            created_at TIMESTAMP, created_by VARCHAR
        )""")
    con.execute("""
        CREATE TABLE corpus_documents (
            corpus_version VARCHAR, doc_id VARCHAR, text VARCHAR, metadata JSON,
            PRIMARY KEY (corpus_version, doc_id)
        )""")
    _production_view(con, "t.session_id, t.metadata, t.tier, t.retriever, t.retrieval")


def _production_view(con: duckdb.DuckDBPyConnection, last_columns: str) -> None:
    """The flat view as migrations 7 to 9 make it: they differ in its last columns."""
    con.execute(f"""
        CREATE OR REPLACE VIEW trials_view AS
        SELECT t.trial_id, t.run_id, t.experiment, t.prompt_name, t.prompt_version,
               t.model, t.params, t.vars, t.messages, t.output, t.error_type, t.error,
               t.latency_ms, t.ttft_ms, t.prompt_tokens, t.completion_tokens, t.cost_usd,
               CASE WHEN t.cached THEN 0.0 ELSE t.cost_usd END AS spent_usd,
               t.cached, t."repeat", t.finish_reason, t.created_at, t."user", t.host,
               t.source, t.git_commit, r.status AS run_status, p.template AS prompt_template,
               coalesce(t.kind, 'sweep') AS kind, t.truncated, t.label, t.external_id, t.end_user,
               {last_columns}
        FROM trials t
        LEFT JOIN runs r USING (run_id)
        LEFT JOIN prompts p ON p.name = t.prompt_name AND p.version = t.prompt_version
        """)


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_feedback,
    m003_scores,
    m004_labels,
    m005_integrity,
    m006_search_index,
    m007_production,
    m008_privacy,
    m009_retrieval,
]
"""Migration N is ``MIGRATIONS[N - 1]``."""

LATEST = len(MIGRATIONS)
"""The newest schema this promptlab knows; a file beyond it is refused."""


def applied_version(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> int:
    """The newest migration recorded in the file (``catalog``, default the current
    database), 0 for a blank one."""
    catalog = catalog or str((con.execute("SELECT current_database()").fetchone() or ["memory"])[0])
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
        "AND table_name = 'schema_migrations'",
        [catalog],
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute(f'SELECT max(version) FROM "{catalog}"."main"."schema_migrations"').fetchone()
    return int(row[0] or 0) if row else 0


def foreign_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> int:
    """Tables in the file that no promptlab migration made (a file of something else)."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name <> 'schema_migrations'",
        [catalog],
    ).fetchone()
    return int(row[0]) if row else 0


def altered_objects(con: duckdb.DuckDBPyConnection, catalog: str, expected: dict[str, list[str]]) -> list[str]:
    """What in the file is not as promptlab made it: one of its tables missing,
    replaced by a view, or with other columns. (Macros and other views are
    left alone: promptlab's SQL never resolves a name in the file.)"""
    found: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name, column_index",
        [catalog],
    ).fetchall():
        found.setdefault(table, []).append(column)
    kinds = dict(
        con.execute(
            "SELECT table_name, 'table' FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
            "UNION ALL SELECT view_name, 'view' FROM duckdb_views() WHERE database_name = ? AND schema_name = 'main'",
            [catalog, catalog],
        ).fetchall()
    )
    problems = []
    for table, columns in expected.items():
        if kinds.get(table) is None:
            problems.append(f"table {table} is missing")
        elif kinds[table] != "table":
            problems.append(f"{table} is a {kinds[table]}, not the table promptlab made")
        elif found.get(table) != columns:
            problems.append(f"table {table} has columns {found.get(table)}, not {columns}")
    return problems


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every missing migration, each in one transaction; the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    applied = []
    for version in range(applied_version(con) + 1, LATEST + 1):
        migration = MIGRATIONS[version - 1]
        con.execute("BEGIN TRANSACTION")
        try:
            migration(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, migration.__name__, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
