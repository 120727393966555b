"""Migration 3: ``trial_totals``, the trials summed per run, prompt version,
model, kind and user, kept by the server as trials arrive.

The file computes ``trial_totals`` when it is read (``store/totals.py``: a
view; DuckDB sums a column of a million trials in milliseconds). A row store
reads the whole table for every such sum (the History view's filters and
totals, a prompt's versions: ~1 s each over 1M trials), so on a server it is
a table, a few rows per run, that statement triggers keep: an insert adds its
rows' sums, a delete or update (an admin's) counts the runs it touched again,
a truncate empties it. The triggers are SECURITY DEFINER: no one writes it
but them.
"""

from __future__ import annotations

from typing import Any

import psycopg

_KEYS = 'experiment, run_id, kind, prompt_name, prompt_version, model, "user"'

# store/totals.py's TRIAL_TOTALS as this migration shipped: a migration never changes, so it keeps its
# own copy (test_server_schema keeps the server's sums equal to the view's).
_SUMS = """
    SELECT experiment, run_id, coalesce(kind, 'sweep') AS kind, prompt_name, prompt_version, model, "user",
           count(*) AS n_trials, count(error_type) AS n_errors, count(*) FILTER (WHERE cached) AS n_cached,
           count(cost_usd) AS n_costed, coalesce(sum(cost_usd), 0) AS cost_usd,
           count(*) FILTER (WHERE cached OR cost_usd IS NOT NULL) AS n_spent,
           coalesce(sum(CASE WHEN cached THEN 0 ELSE cost_usd END), 0) AS spent_usd,
           min(created_at) AS first_at, max(created_at) AS last_at
    FROM {rows}
    GROUP BY experiment, run_id, coalesce(kind, 'sweep'), prompt_name, prompt_version, model, "user"
"""


_TOUCHED = "run_id = ANY (touched) OR (run_id IS NULL AND array_position(touched, NULL) IS NOT NULL)"
"""The rows of the runs in ``touched`` (a NULL in it: the trials of no run)."""


def m003_trial_totals(conn: psycopg.Connection[Any]) -> None:
    """The ``trial_totals`` table, filled from the trials already there, and its triggers."""
    added = ", ".join(
        f"{column} = t.{column} + excluded.{column}"
        for column in ("n_trials", "n_errors", "n_cached", "n_costed", "cost_usd", "n_spent", "spent_usd")
    )
    conn.execute(f"""
        CREATE TABLE promptlab.trial_totals (
            experiment text, run_id text, kind text, prompt_name text, prompt_version text, model text,
            "user" text, n_trials bigint, n_errors bigint, n_cached bigint, n_costed bigint,
            cost_usd double precision, n_spent bigint, spent_usd double precision,
            first_at timestamp, last_at timestamp
        );
        CREATE UNIQUE INDEX trial_totals_key ON promptlab.trial_totals ({_KEYS}) NULLS NOT DISTINCT;
        CREATE INDEX trial_totals_prompt ON promptlab.trial_totals (prompt_name, prompt_version);
        INSERT INTO promptlab.trial_totals {_SUMS.format(rows="promptlab.trials")};

        CREATE FUNCTION promptlab.add_trial_totals() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        BEGIN
            INSERT INTO trial_totals AS t {_SUMS.format(rows="arrived")} ORDER BY {_KEYS}
            ON CONFLICT ({_KEYS}) DO UPDATE SET {added},
                first_at = least(t.first_at, excluded.first_at), last_at = greatest(t.last_at, excluded.last_at);
            RETURN NULL;
        END $$;

        -- counted again from the trials (min and max can't be taken back), by run: the trials_run_id index
        CREATE FUNCTION promptlab.recount_trial_totals() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        DECLARE touched text[];
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                SELECT array_agg(DISTINCT run_id) INTO touched
                FROM (SELECT run_id FROM gone UNION ALL SELECT run_id FROM arrived) AS both_sides;
            ELSE
                SELECT array_agg(DISTINCT run_id) INTO touched FROM gone;
            END IF;
            DELETE FROM trial_totals WHERE {_TOUCHED};
            INSERT INTO trial_totals {_SUMS.format(rows=f"trials WHERE {_TOUCHED}")};
            RETURN NULL;
        END $$;

        CREATE FUNCTION promptlab.clear_trial_totals() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = promptlab, pg_temp AS $$
        BEGIN
            TRUNCATE trial_totals;
            RETURN NULL;
        END $$;

        CREATE TRIGGER trial_totals_insert AFTER INSERT ON promptlab.trials
            REFERENCING NEW TABLE AS arrived FOR EACH STATEMENT EXECUTE FUNCTION promptlab.add_trial_totals();
        CREATE TRIGGER trial_totals_update AFTER UPDATE ON promptlab.trials
            REFERENCING OLD TABLE AS gone NEW TABLE AS arrived
            FOR EACH STATEMENT EXECUTE FUNCTION promptlab.recount_trial_totals();
        CREATE TRIGGER trial_totals_delete AFTER DELETE ON promptlab.trials
            REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION promptlab.recount_trial_totals();
        CREATE TRIGGER trial_totals_truncate AFTER TRUNCATE ON promptlab.trials
            FOR EACH STATEMENT EXECUTE FUNCTION promptlab.clear_trial_totals();
        REVOKE ALL ON FUNCTION promptlab.add_trial_totals(), promptlab.recount_trial_totals(),
            promptlab.clear_trial_totals() FROM PUBLIC;
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'promptlab_reader') THEN
                GRANT SELECT ON promptlab.trial_totals TO promptlab_reader;
            END IF;
        END $$;
    """)
