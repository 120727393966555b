"""Migration 5: data tiers and the privacy audit log, on a team server
(``promptlab.privacy``).

The trial and dataset-change ``tier`` columns, and ``privacy_log`` with the
server's own rules, which hold whatever a client does:

- every row's ``user`` is the login that wrote it (admins' too, except an
  admin copying a history in, which keeps its log as it was written);
- the log is append-only, for admins too: an erasure leaves its own event
  and never removes another;
- an approval (``action = 'approve'``) is the approver's own: its
  ``approved_by`` is their login, who must hold ``promptlab_privacy``, must
  not be the requester, and must answer a request that the requester
  recorded from their own session for the same tier, use and model or
  export;
- only admins record erasures and prunes (only they may delete rows).
"""

from __future__ import annotations

from typing import Any

import psycopg

from promptlab.store.server.production import trials_view


def m005_privacy(conn: psycopg.Connection[Any]) -> None:
    """Tier columns, ``privacy_log`` and its rules."""
    conn.execute("""
        ALTER TABLE promptlab.trials ADD COLUMN tier text;
        ALTER TABLE promptlab.dataset_changes ADD COLUMN tier text;
        CREATE TABLE promptlab.privacy_log (
            event_id text PRIMARY KEY, "action" text, tier text, "use" text, model text, export text,
            requested_by text, approved_by text, reason text, expires_at timestamp, approval_id text,
            detail jsonb, "user" text, created_at timestamp
        );
        CREATE INDEX privacy_log_action ON promptlab.privacy_log ("action", tier);
    """)
    conn.execute(trials_view("t.session_id, t.metadata, t.tier"))
    conn.execute("""

        CREATE FUNCTION promptlab.check_privacy_event() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        DECLARE
            requester text := nullif(btrim(NEW.requested_by), '');
            how text := 'the requester records the request (lab.approve(..., approved_by=...) from their own '
                'session); an approver holding promptlab_privacy then runs the same call from theirs';
        BEGIN
            -- an admin copying a history keeps its log as it was written then
            IF is_member(session_user, 'promptlab_admin')
               AND current_setting('promptlab.copying_history', true) = 'on' THEN
                RETURN NEW;
            END IF;
            NEW."user" := session_user::text;
            IF NEW."action" = 'approve' THEN
                NEW.approved_by := session_user::text;
                IF NOT is_member(session_user, 'promptlab_privacy') THEN
                    RAISE EXCEPTION '% is not a privacy approver (promptlab_privacy)', session_user
                        USING ERRCODE = '42501', HINT = how;
                ELSIF requester IS NULL OR lower(requester) = lower(session_user::text) THEN
                    RAISE EXCEPTION '% can''t approve their own request; ask another approver', session_user
                        USING ERRCODE = '42501', HINT = how;
                ELSIF NOT EXISTS (SELECT 1 FROM privacy_log q WHERE q."action" = 'request' AND q."user" = requester
                                  AND q.tier = NEW.tier AND q."use" IS NOT DISTINCT FROM NEW."use"
                                  AND q.model IS NOT DISTINCT FROM NEW.model
                                  AND q.export IS NOT DISTINCT FROM NEW.export) THEN
                    RAISE EXCEPTION '% has not requested this approval from their own session', requester
                        USING ERRCODE = '42501', HINT = how;
                END IF;
            ELSIF NEW."action" IN ('forget', 'prune') AND NOT is_member(session_user, 'promptlab_admin') THEN
                RAISE EXCEPTION 'only a promptlab admin erases data' USING ERRCODE = '42501';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER check_privacy_event BEFORE INSERT ON promptlab.privacy_log
            FOR EACH ROW EXECUTE FUNCTION promptlab.check_privacy_event();
        CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON promptlab.privacy_log
            FOR EACH ROW EXECUTE FUNCTION promptlab.refuse_change();
        CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON promptlab.privacy_log
            FOR EACH STATEMENT EXECUTE FUNCTION promptlab.refuse_change();
        REVOKE ALL ON FUNCTION promptlab.check_privacy_event() FROM PUBLIC;
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'promptlab_researcher') THEN
                GRANT SELECT, INSERT ON promptlab.privacy_log TO promptlab_reader;
                REVOKE UPDATE, DELETE, TRUNCATE ON promptlab.privacy_log
                    FROM promptlab_reader, promptlab_reviewer, promptlab_researcher, promptlab_approver;
            END IF;
        END $$;
    """)
