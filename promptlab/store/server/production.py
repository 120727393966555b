"""Migration 4: what applications log, on a team server (``promptlab.production``).

The trial columns an application's calls carry (the label that served the
prompt, the app's own id for the call, its end user, session and
metadata), the columns of feedback from an app, and ``dataset_changes``
(``promptlab.release.datasets``), with the same rules as the tables before them:
each row's user is the login that wrote it, and only admins change or
delete rows. Indexes serve what production reads ask: one prompt's
production trials over time (monitoring), and a call by its app id (feedback
that names the app's id instead of promptlab's).
"""

from __future__ import annotations

from typing import Any

import psycopg


def m004_production(conn: psycopg.Connection[Any]) -> None:
    """Production trial and feedback columns, datasets, and their indexes and rules."""
    conn.execute("""
        ALTER TABLE promptlab.trials
            ADD COLUMN label text, ADD COLUMN external_id text, ADD COLUMN end_user text,
            ADD COLUMN session_id text, ADD COLUMN metadata jsonb;
        ALTER TABLE promptlab.feedback
            ADD COLUMN external_id text, ADD COLUMN source text, ADD COLUMN end_user text;
        CREATE TABLE promptlab.dataset_changes (
            change_id text, dataset text, op text, row_hash text, "row" jsonb, trial_id text, note text,
            "user" text, created_at timestamp, PRIMARY KEY (change_id, row_hash)
        );
        CREATE INDEX dataset_changes_dataset ON promptlab.dataset_changes (dataset, created_at);
        CREATE INDEX trials_production ON promptlab.trials (prompt_name, created_at)
            WHERE kind = 'production';
        CREATE INDEX trials_external_id ON promptlab.trials (external_id, source)
            WHERE external_id IS NOT NULL;
        CREATE INDEX feedback_external_id ON promptlab.feedback (external_id, source)
            WHERE external_id IS NOT NULL;
        CREATE TRIGGER stamp_user BEFORE INSERT ON promptlab.dataset_changes
            FOR EACH ROW EXECUTE FUNCTION promptlab.stamp_user('user');
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'promptlab_researcher') THEN
                GRANT SELECT ON promptlab.dataset_changes TO promptlab_reader;
                GRANT INSERT ON promptlab.dataset_changes TO promptlab_researcher;
                REVOKE UPDATE, DELETE, TRUNCATE ON promptlab.dataset_changes
                    FROM promptlab_reader, promptlab_reviewer, promptlab_researcher, promptlab_approver;
            END IF;
        END $$;
    """)
    conn.execute(trials_view("t.session_id, t.metadata"))


def trials_view(last_columns: str) -> str:
    """The flat view as migrations 4 to 6 make it: they differ in its last columns."""
    return f"""
        CREATE OR REPLACE VIEW promptlab.trials_view AS
        SELECT t.trial_id, t.run_id, t.experiment, t.prompt_name, t.prompt_version,
               t.model, t.params, t.vars, t.messages, t.output, t.error_type, t.error,
               t.latency_ms, t.ttft_ms, t.prompt_tokens, t.completion_tokens, t.cost_usd,
               CASE WHEN t.cached THEN 0.0 ELSE t.cost_usd END AS spent_usd,
               t.cached, t."repeat", t.finish_reason, t.created_at, t."user", t.host,
               t.source, t.git_commit, r.status AS run_status, p.template AS prompt_template,
               coalesce(t.kind, 'sweep') AS kind, t.truncated, t.label, t.external_id, t.end_user,
               {last_columns}
        FROM promptlab.trials t
        LEFT JOIN promptlab.runs r USING (run_id)
        LEFT JOIN promptlab.prompts p ON p.name = t.prompt_name AND p.version = t.prompt_version
    """
