"""Migration 6: retrieval on a team server (``promptlab.retrieval``).

The trial columns that say which retriever found a trial's context and what
it found, and the corpora searched, with the rules of the tables before
them: a corpus row's ``created_by`` is the login that wrote it, and only
admins change or delete corpora (a trial names the version it searched, so
that version must stay as it was).
"""

from __future__ import annotations

from typing import Any

import psycopg

from promptlab.store.server.production import trials_view


def m006_retrieval(conn: psycopg.Connection[Any]) -> None:
    """Retrieval columns, ``corpora``, ``corpus_documents`` and their rules."""
    conn.execute("""
        ALTER TABLE promptlab.trials ADD COLUMN retriever text, ADD COLUMN retrieval jsonb;
        CREATE TABLE promptlab.corpora (
            corpus_version text PRIMARY KEY, name text, documents integer, characters bigint,
            created_at timestamp, created_by text
        );
        CREATE TABLE promptlab.corpus_documents (
            corpus_version text, doc_id text, text text, metadata jsonb, PRIMARY KEY (corpus_version, doc_id)
        );
        CREATE INDEX trials_retriever ON promptlab.trials (retriever) WHERE retriever IS NOT NULL;
        CREATE TRIGGER stamp_user BEFORE INSERT ON promptlab.corpora
            FOR EACH ROW EXECUTE FUNCTION promptlab.stamp_user('created_by');
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'promptlab_researcher') THEN
                GRANT SELECT ON promptlab.corpora, promptlab.corpus_documents TO promptlab_reader;
                GRANT INSERT ON promptlab.corpora, promptlab.corpus_documents TO promptlab_researcher;
                REVOKE UPDATE, DELETE, TRUNCATE ON promptlab.corpora, promptlab.corpus_documents
                    FROM promptlab_reader, promptlab_reviewer, promptlab_researcher, promptlab_approver,
                         promptlab_privacy;
            END IF;
        END $$;
    """)
    conn.execute(trials_view("t.session_id, t.metadata, t.tier, t.retriever, t.retrieval"))
