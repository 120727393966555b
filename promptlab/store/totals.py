"""``trial_totals``: the trials summed per run, prompt version, model, kind
(``sweep`` for none) and user, a few rows per run. Reads of counts, spend and
who-used-what (the History view's filters and totals, a prompt's versions)
read it rather than every trial.

In a file it is a view over ``trials``, computed when read (a column store
sums a million rows in milliseconds); a team server keeps it as a table its
triggers update (``server/summaries.py``), since a row store would read the
whole trials table for each sum. Both have these columns and meanings:
``n_costed`` and ``n_spent`` count the trials whose cost is known (spent:
uncached ones; a cached trial spent 0), so a sum of none stays NULL, as
``sum(cost_usd)`` over the trials would.
"""

from __future__ import annotations

TRIAL_TOTALS = """
    SELECT experiment, run_id, coalesce(kind, 'sweep') AS kind, prompt_name, prompt_version, model, "user",
           count(*) AS n_trials, count(error_type) AS n_errors, count(*) FILTER (WHERE cached) AS n_cached,
           count(cost_usd) AS n_costed, coalesce(sum(cost_usd), 0) AS cost_usd,
           count(*) FILTER (WHERE cached OR cost_usd IS NOT NULL) AS n_spent,
           coalesce(sum(CASE WHEN cached THEN 0 ELSE cost_usd END), 0) AS spent_usd,
           min(created_at) AS first_at, max(created_at) AS last_at
    FROM trials
    GROUP BY experiment, run_id, coalesce(kind, 'sweep'), prompt_name, prompt_version, model, "user"
"""
"""The file's ``trial_totals`` view (DuckDB)."""


def known_sum(column: str, known: str) -> str:
    """SQL for the sum of a ``trial_totals`` sum column over a group: NULL when
    no trial in it had a known value (``known``: its count column)."""
    return f"CASE WHEN sum({known}) > 0 THEN sum({column}) END"
