"""Numbered migrations of a team server's schema (PostgreSQL), and how any
client applies them: once, under a lock, each in its own transaction.

Migrations are history, as in the file's ``store/migrations.py``: never edit
one that has shipped; add the next. The SQL is written out here, not derived
from ``schema.py``, so a server always migrates the same way; a test checks
that the result has exactly ``schema.TABLES``' columns and types (VARCHAR is
``text``, JSON ``jsonb``, TIMESTAMP a UTC ``timestamp`` without zone).

Every client calls ``migrate`` on opening, most as researchers who can't
change the schema: an up-to-date server costs them one read and no lock.
Only an admin (a member of ``promptlab_admin``, or a superuser) migrates;
admins migrating at once are serialized by a transaction-scoped advisory
lock and read the version again under it, so each migration runs once.
``roles.init`` hands what a superuser created to ``promptlab_admin``.

Elsewhere: migrations 3–5 (``summaries.py``, ``production.py``, ``privacy.py``); no search index (trigrams serve).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from promptlab.errors import NewerSchemaError, StoreError
from promptlab.store.server import privacy, production, retrieval, summaries

SCHEMA = "promptlab"
"""The schema holding promptlab's tables, views and functions."""

ADMIN_ROLE = "promptlab_admin"
"""The group role whose members (and superusers) may migrate."""

LOCK_KEY = 0x70726F6D70746C62
"""``pg_advisory_xact_lock`` key held while a migration is applied ("promptlb")."""

Connection = psycopg.Connection[Any]
"""A psycopg connection (any row factory)."""

Migration = Callable[[Connection], None]

_LINEAGE = '"user" text, host text, pid integer, source text, git_commit text, promptlab_version text'


def m001_tables(conn: Connection) -> None:
    """The history's tables as the file has them after its m006, the flat
    ``trials_view`` and the ``labels`` view, the indexes that reads over a
    million trials need, and the JSON functions the translated reads call."""
    conn.execute(f"""
        CREATE SCHEMA promptlab;
        CREATE TABLE promptlab.schema_migrations (version integer PRIMARY KEY, applied_at timestamp);
        CREATE TABLE promptlab.experiments (
            name text PRIMARY KEY, description text, tags jsonb, created_at timestamp, created_by text
        );
        CREATE TABLE promptlab.prompts (
            name text, version text, template jsonb, variables jsonb, created_at timestamp,
            created_by text, PRIMARY KEY (name, version)
        );
        CREATE TABLE promptlab.models (
            model_id text PRIMARY KEY, provider text, name text, base_url text, params jsonb,
            created_at timestamp
        );
        CREATE TABLE promptlab.runs (
            run_id text PRIMARY KEY, experiment text, fingerprint text, status text, n_cells integer,
            config jsonb, started_at timestamp, ended_at timestamp, error text, {_LINEAGE},
            revision integer DEFAULT 0, heartbeat_at timestamp
        );
        CREATE TABLE promptlab.trials (
            trial_id text PRIMARY KEY, run_id text, experiment text, cell_key text, cache_key text,
            prompt_name text, prompt_version text, model text, model_id text, provider text,
            params jsonb, row_index integer, vars jsonb, "repeat" integer, messages jsonb,
            output text, finish_reason text, error_type text, error text, latency_ms double precision,
            ttft_ms double precision, prompt_tokens integer, completion_tokens integer,
            cost_usd double precision, cached boolean, cached_from text, attempts integer,
            request_id text, response jsonb, started_at timestamp, created_at timestamp, {_LINEAGE},
            kind text DEFAULT 'sweep', truncated boolean DEFAULT false
        );
        CREATE TABLE promptlab.feedback (
            feedback_id text PRIMARY KEY, trial_id text, vote integer, correction text, comment text,
            action text, "user" text, created_at timestamp
        );
        CREATE TABLE promptlab.scores (
            score_id text PRIMARY KEY, trial_id text, run_id text, evaluator text, evaluator_name text,
            args jsonb, value double precision, passed boolean, label text, explanation text,
            error text, judge_trial_id text, created_at timestamp, "user" text
        );
        CREATE TABLE promptlab.label_events (
            event_id text PRIMARY KEY, name text, label text, action text, from_version text,
            to_version text, model jsonb, "user" text, approved_by text, note text, evidence jsonb,
            created_at timestamp, seq bigint, policy jsonb, prev_hash text, hash text
        );
    """)
    conn.execute("""
        CREATE INDEX trials_experiment_created ON promptlab.trials (experiment, created_at);
        CREATE INDEX trials_run_id ON promptlab.trials (run_id);
        CREATE INDEX trials_prompt_version ON promptlab.trials (prompt_name, prompt_version);
        CREATE INDEX trials_cache_key ON promptlab.trials (cache_key);
        CREATE INDEX trials_created_trial ON promptlab.trials (created_at, trial_id);
        CREATE INDEX trials_model ON promptlab.trials (model);
        CREATE INDEX scores_trial_id ON promptlab.scores (trial_id);
        CREATE INDEX feedback_trial_id ON promptlab.feedback (trial_id);
        CREATE INDEX label_events_name_label ON promptlab.label_events (name, label);
        CREATE INDEX runs_started_at ON promptlab.runs (started_at);
        CREATE STATISTICS promptlab.trials_kind ON (coalesce(kind, 'sweep')) FROM promptlab.trials;
    """)
    # pg_trgm may already be installed (in another schema) for another
    # application: the operator class is named where it actually is.
    # A search reads the inputs' values, not their keys, as in the file: this text, indexed.
    conn.execute("""
        CREATE FUNCTION promptlab.vars_text(v jsonb) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT pg_catalog.string_agg(value, ' ') FROM pg_catalog.jsonb_each_text(v) $$;
        CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA promptlab;
        DO $$
        DECLARE ops text := (
            SELECT quote_ident(n.nspname) || '.gin_trgm_ops'
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_trgm');
        BEGIN
            EXECUTE format('CREATE INDEX trials_output_trgm ON promptlab.trials USING gin (output %s)', ops);
            EXECUTE format(
                'CREATE INDEX trials_vars_trgm ON promptlab.trials USING gin (promptlab.vars_text(vars) %s)', ops);
        END $$;
    """)
    conn.execute("""
        CREATE VIEW promptlab.trials_view AS
        SELECT t.trial_id, t.run_id, t.experiment, t.prompt_name, t.prompt_version,
               t.model, t.params, t.vars, t.messages, t.output, t.error_type, t.error,
               t.latency_ms, t.ttft_ms, t.prompt_tokens, t.completion_tokens, t.cost_usd,
               CASE WHEN t.cached THEN 0.0 ELSE t.cost_usd END AS spent_usd,
               t.cached, t."repeat", t.finish_reason, t.created_at, t."user", t.host,
               t.source, t.git_commit, r.status AS run_status, p.template AS prompt_template,
               coalesce(t.kind, 'sweep') AS kind, t.truncated
        FROM promptlab.trials t
        LEFT JOIN promptlab.runs r USING (run_id)
        LEFT JOIN promptlab.prompts p ON p.name = t.prompt_name AND p.version = t.prompt_version;
        -- DuckDB sorts NULLs last in both directions; PostgreSQL is told to.
        CREATE VIEW promptlab.labels AS
        SELECT DISTINCT ON (name, label)
               name, label, to_version AS version, model, "user" AS moved_by, approved_by,
               created_at AS moved_at
        FROM promptlab.label_events
        ORDER BY name, label,
                 (hash IS NOT NULL AND seq IS NOT NULL) DESC,
                 CASE WHEN hash IS NOT NULL AND seq IS NOT NULL THEN seq END DESC NULLS LAST,
                 created_at DESC NULLS LAST, event_id DESC NULLS LAST;
    """)
    # DuckDB's json_extract_string/json_extract become these (sqlglot), which
    # PostgreSQL defines for json only; PostgreSQL 15 has no any_value.
    conn.execute("""
        CREATE FUNCTION promptlab.json_extract_path_text(from_json jsonb, VARIADIC path text[])
            RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS 'SELECT pg_catalog.jsonb_extract_path_text(from_json, VARIADIC path)';
        CREATE FUNCTION promptlab.json_extract_path(from_json jsonb, VARIADIC path text[])
            RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS 'SELECT pg_catalog.jsonb_extract_path(from_json, VARIADIC path)';
        CREATE FUNCTION promptlab.any_value_step(kept anyelement, value anyelement)
            RETURNS anyelement LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS 'SELECT coalesce(kept, value)';
        CREATE AGGREGATE promptlab.any_value(anyelement) (SFUNC = promptlab.any_value_step, STYPE = anyelement);
    """)


def m002_team_rules(conn: Connection) -> None:
    """What the server enforces, whoever writes (``roles.py`` tells it in prose).
    Trigger functions are SECURITY DEFINER with a fixed search_path, so no one's
    objects stand in for promptlab's, and read ``session_user`` (the login),
    never ``current_user`` (the definer inside them, or a role someone SET)."""
    conn.execute("""
        CREATE TABLE promptlab.protected_labels (
            label text PRIMARY KEY, protected_by text, created_at timestamp DEFAULT (now() AT TIME ZONE 'UTC')
        );
        CREATE TABLE promptlab.label_approvals (
            approval_id text PRIMARY KEY, name text, version text, label text, approved_by text, note text,
            created_at timestamp DEFAULT (now() AT TIME ZONE 'UTC')
        );
        CREATE INDEX label_approvals_version ON promptlab.label_approvals (name, version, label);

        -- pg_has_role raises for a name that is no role; this answers false.
        CREATE FUNCTION promptlab.is_member(who text, grp text) RETURNS boolean
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
            SELECT EXISTS (SELECT 1 FROM pg_roles w, pg_roles g
                           WHERE w.rolname = who AND g.rolname = grp AND pg_has_role(w.oid, g.oid, 'MEMBER'))
        $$;

        -- TG_ARGV[0]: the column naming who wrote the row; TG_ARGV[1] = 'always':
        -- admins too (an approval is always the approver's own).
        CREATE FUNCTION promptlab.stamp_user() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        BEGIN
            IF (TG_NARGS > 1 AND TG_ARGV[1] = 'always') OR NOT is_member(session_user, 'promptlab_admin') THEN
                NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], session_user::text));
            END IF;
            RETURN NEW;
        END $$;

        CREATE FUNCTION promptlab.refuse_change() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: its rows are never changed or deleted, by anyone', TG_TABLE_NAME
                USING ERRCODE = '42501', HINT = 'append a new row instead (a label moves by a new event)';
        END $$;

        -- A stale state (lower revision) is skipped, not refused: the newest
        -- state wins by its number, as when the file folds its journal.
        CREATE FUNCTION promptlab.check_run_update() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        BEGIN
            IF NOT is_member(session_user, 'promptlab_admin') THEN
                IF OLD."user" IS DISTINCT FROM session_user::text THEN
                    RAISE EXCEPTION 'run % belongs to %: only they or an admin can update it',
                        OLD.run_id, coalesce(OLD."user", 'nobody') USING ERRCODE = '42501';
                END IF;
                NEW.run_id := OLD.run_id;
                NEW."user" := OLD."user";
            END IF;
            IF coalesce(NEW.revision, 0) < coalesce(OLD.revision, 0) THEN
                RETURN NULL;
            END IF;
            RETURN NEW;
        END $$;

        -- Any researcher may change an experiment's description and tags (a
        -- teammate's sweep adds its tags); its name and creation stay.
        CREATE FUNCTION promptlab.check_experiment_update() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        BEGIN
            IF NOT is_member(session_user, 'promptlab_admin') THEN
                NEW.name := OLD.name;
                NEW.created_at := OLD.created_at;
                NEW.created_by := OLD.created_by;
            END IF;
            RETURN NEW;
        END $$;

        CREATE FUNCTION promptlab.check_label_event() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        DECLARE
            admin boolean := is_member(session_user, 'promptlab_admin');
            approver text := nullif(btrim(NEW.approved_by), '');
            author text;
            how text := format('%s must approve %s version %s for %s first from their own session '
                '(lab.approve_promotion(...) / promptlab label approve ...), and must be neither the '
                'version''s author nor the person moving the label', coalesce(approver, 'an approver'),
                NEW.name, NEW.to_version, NEW.label);
        BEGIN
            IF NOT admin THEN
                NEW."user" := session_user::text;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM protected_labels p WHERE p.label = NEW.label) THEN
                RETURN NEW;
            END IF;
            -- an admin copying a history keeps its events as they were approved then
            IF admin AND current_setting('promptlab.copying_history', true) = 'on' THEN
                RETURN NEW;
            END IF;
            SELECT p.created_by INTO author FROM prompts p WHERE p.name = NEW.name AND p.version = NEW.to_version;
            IF approver IS NULL THEN
                RAISE EXCEPTION '% is protected: name an approver (approved_by)', NEW.label
                    USING ERRCODE = '42501', HINT = how;
            ELSIF NOT is_member(approver, 'promptlab_approver') THEN
                RAISE EXCEPTION '% is protected: % is not an approver (promptlab_approver)', NEW.label, approver
                    USING ERRCODE = '42501', HINT = how;
            ELSIF lower(approver) IN (lower(session_user::text), lower(btrim(coalesce(NEW."user", '')))) THEN
                RAISE EXCEPTION '% is protected: % can''t approve their own move; ask another approver',
                    NEW.label, approver USING ERRCODE = '42501', HINT = how;
            ELSIF lower(approver) = lower(btrim(coalesce(author, ''))) THEN
                RAISE EXCEPTION '% is protected: % wrote % version % and can''t approve it; ask another approver',
                    NEW.label, approver, NEW.name, NEW.to_version USING ERRCODE = '42501', HINT = how;
            ELSIF NOT EXISTS (SELECT 1 FROM label_approvals a WHERE a.name = NEW.name
                              AND a.version = NEW.to_version AND a.label = NEW.label AND a.approved_by = approver) THEN
                RAISE EXCEPTION '% is protected: %', NEW.label, how USING ERRCODE = '42501';
            END IF;
            RETURN NEW;
        END $$;

        DO $$
        DECLARE t text[];
        BEGIN
            FOREACH t SLICE 1 IN ARRAY ARRAY[['trials', 'user'], ['runs', 'user'], ['feedback', 'user'],
                    ['scores', 'user'], ['experiments', 'created_by'], ['prompts', 'created_by']] LOOP
                EXECUTE format('CREATE TRIGGER stamp_user BEFORE INSERT ON promptlab.%I '
                               'FOR EACH ROW EXECUTE FUNCTION promptlab.stamp_user(%L)', t[1], t[2]);
            END LOOP;
        END $$;
        CREATE TRIGGER stamp_user BEFORE INSERT ON promptlab.label_approvals
            FOR EACH ROW EXECUTE FUNCTION promptlab.stamp_user('approved_by', 'always');
        CREATE TRIGGER check_label_event BEFORE INSERT ON promptlab.label_events
            FOR EACH ROW EXECUTE FUNCTION promptlab.check_label_event();
        CREATE TRIGGER check_run_update BEFORE UPDATE ON promptlab.runs
            FOR EACH ROW EXECUTE FUNCTION promptlab.check_run_update();
        CREATE TRIGGER check_experiment_update BEFORE UPDATE ON promptlab.experiments
            FOR EACH ROW EXECUTE FUNCTION promptlab.check_experiment_update();
        CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON promptlab.label_events
            FOR EACH ROW EXECUTE FUNCTION promptlab.refuse_change();
        CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON promptlab.label_events
            FOR EACH STATEMENT EXECUTE FUNCTION promptlab.refuse_change();
        CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON promptlab.label_approvals
            FOR EACH ROW EXECUTE FUNCTION promptlab.refuse_change();
        CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON promptlab.label_approvals
            FOR EACH STATEMENT EXECUTE FUNCTION promptlab.refuse_change();
        REVOKE ALL ON FUNCTION promptlab.is_member(text, text), promptlab.stamp_user(),
            promptlab.refuse_change(), promptlab.check_run_update(), promptlab.check_experiment_update(),
            promptlab.check_label_event() FROM PUBLIC;
    """)


MIGRATIONS: list[Migration] = [m001_tables, m002_team_rules, summaries.m003_trial_totals, production.m004_production]
MIGRATIONS += [privacy.m005_privacy, retrieval.m006_retrieval]
"""Migration N is ``MIGRATIONS[N - 1]``."""
LATEST = len(MIGRATIONS)
"""The newest server schema this promptlab knows; a newer server is refused."""


def _read_version(conn: Connection) -> int:
    found = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = 'schema_migrations'",
        [SCHEMA],
    ).fetchone()
    if found is None:
        return 0
    try:
        row = conn.execute("SELECT max(version) FROM promptlab.schema_migrations").fetchone()
    except pg_errors.InsufficientPrivilege as exc:
        raise StoreError(
            f"this database role can't read promptlab's tables ({str(exc).strip()}); ask a promptlab admin for a role"
        ) from exc
    return int(row[0]) if row and row[0] is not None else 0


def applied_version(conn: Connection) -> int:
    """The newest migration the server has had; 0 for a database promptlab never set up."""
    with conn.transaction():
        return _read_version(conn)


def _refuse_newer(version: int) -> None:
    if version > LATEST:
        raise NewerSchemaError(
            f"this server was set up by a newer promptlab (server schema {version}; this promptlab knows up to "
            f"{LATEST}): upgrade promptlab with pip install -U promptlab"
        )


def _admin_standing(conn: Connection) -> tuple[bool, bool]:
    """Whether this login may change the schema (a superuser or a member of
    promptlab_admin), and whether it should do so as the group: a non-superuser
    admin creates objects as promptlab_admin, so the next admin owns them too."""
    row = conn.execute(
        "SELECT r.rolsuper, EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = %s "
        "AND pg_catalog.pg_has_role(r.oid, a.oid, 'MEMBER')) FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
        [ADMIN_ROLE],
    ).fetchone()
    superuser, admin = (bool(row[0]), bool(row[1])) if row else (False, False)
    return superuser or admin, admin and not superuser


def _needs_admin(version: int, why: str) -> StoreError:
    return StoreError(
        f"this server's promptlab schema is at version {version} and this promptlab needs {LATEST}, which only an "
        f"admin can apply ({why}): ask an admin to run promptlab db init URL"
    )


def migrate(conn: Connection) -> list[int]:
    """Apply every missing migration, each in its own transaction under the
    advisory lock; the versions this call applied (empty when up to date).
    ``conn`` must not be inside a transaction (a migration commits)."""
    version = applied_version(conn)
    _refuse_newer(version)
    if version == LATEST:
        return []
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise StoreError("promptlab migrates a server only outside a transaction: commit or roll back first")
    may, as_group = _admin_standing(conn)
    if not may:
        raise _needs_admin(version, "this role is not a member of promptlab_admin")
    applied: list[int] = []
    while True:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(%s)", [LOCK_KEY])
                version = _read_version(conn)  # another client may have migrated while we waited
                _refuse_newer(version)
                if version >= LATEST:
                    return applied
                if as_group:
                    conn.execute("SET LOCAL ROLE promptlab_admin")
                MIGRATIONS[version](conn)
                conn.execute(
                    "INSERT INTO promptlab.schema_migrations VALUES (%s, now() AT TIME ZONE 'UTC')", [version + 1]
                )
        except pg_errors.InsufficientPrivilege as exc:
            raise _needs_admin(version, str(exc).strip()) from exc
        applied.append(version + 1)
