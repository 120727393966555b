"""Monitoring one prompt with a million production calls (issue 16, item 4):
``lab.monitor(name)`` on a history file, against the plain DuckDB query one
would write by hand for the same table without feedback, actions or scores.

The history is generated with DuckDB SQL straight into a file promptlab made
(and migrated): 1,000,000 calls of ``support-reply`` over 90 days (two
versions, ``production`` moving from V1 to V2 halfway, ``staging`` on V2, 3%
failed, log-normal latencies, a cost on most), 100,000 calls of another
prompt, feedback on 5% of the calls (votes from end users, a third of them
naming the call by the app's own id), actions on 3%, corrections on 0.5%,
and an evaluator's score on 10%. Building takes ~10 s.

Each measurement runs in a fresh process: ``pl.Lab(db)`` first ("open":
importing pandas and DuckDB, opening the history, reported apart), then the
call twice: "cold" the first (the queries' first run, DuckDB's caches empty),
"warm" the second. The baseline is the hand-written query in its own fresh
process (connect, query, close; cold and warm likewise). With ``--server`` the same
history is generated on a private PostgreSQL cluster (the tests' own,
``tests/support/postgres.py``) and ``lab.monitor`` measured there against the
same hand-written query through psycopg. Nothing here asserts a time.

    python benchmarks/monitor.py [--trials 1000000] [--server] [--folder DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPT = "support-reply"
V1, V2 = "a1" * 6, "b2" * 6
DAYS = 90

TRIALS = """
    SELECT md5(i::VARCHAR || 'call') AS trial_id, 'production-support-app' AS run_id, 'production' AS experiment,
           md5(i::VARCHAR || 'cell') AS cell_key, md5(i::VARCHAR || 'cache') AS cache_key,
           CASE WHEN i >= {n} THEN 'other-prompt' ELSE '{prompt}' END AS prompt_name,
           CASE WHEN i >= {n} THEN 'c3c3c3c3c3c3' WHEN i % 3 = 2 OR i > {n} / 2 THEN '{v2}' ELSE '{v1}' END
               AS prompt_version,
           'gpt-4o-mini' AS model, CASE WHEN i % 3 = 2 THEN 'staging' ELSE 'production' END AS label,
           CASE WHEN hash(i, 1) % 100 < 3 THEN 'RateLimitError' END AS error_type,
           round(exp(6.5 + 0.5 * sqrt(-2 * ln((hash(i, 2) % 1000000 + 1) / 1000001.0))
                 * cos(2 * pi() * (hash(i, 3) % 1000000) / 1000000.0)), 1) AS latency_ms,
           80 + hash(i, 4) % 120 AS prompt_tokens, 20 + hash(i, 5) % 100 AS completion_tokens,
           CASE WHEN i % 11 <> 0 THEN 0.0001 + (hash(i, 6) % 800) / 1000000.0 END AS cost_usd,
           TIMESTAMP '2026-01-01' + to_milliseconds(CAST((i % {n}) * ({days} * 86400000.0 / {n}) AS BIGINT))
               AS created_at,
           'app' AS "user", 'support-app' AS source, 'production' AS kind, 'app-' || i AS external_id,
           'u' || (hash(i, 7) % 5000) AS end_user, FALSE AS cached, 'answer ' || i AS output
    FROM range({total}) t(i)
"""

FEEDBACK = """
    SELECT md5(trial_id || 'vote') AS feedback_id,
           CASE WHEN hash(trial_id, 1) % 3 = 0 THEN NULL ELSE trial_id END AS trial_id,
           CASE WHEN hash(trial_id, 2) % 100 < 70 THEN 1 ELSE -1 END AS vote,
           NULL AS correction, NULL AS comment, NULL AS action, 'app' AS "user",
           created_at + INTERVAL 5 MINUTE AS created_at,
           CASE WHEN hash(trial_id, 1) % 3 = 0 THEN external_id END AS external_id, source, end_user
    FROM trials WHERE hash(trial_id, 9) % 100 < 5
    UNION ALL
    SELECT md5(trial_id || 'act'), trial_id, NULL, CASE WHEN hash(trial_id, 3) % 200 < 33 THEN 'better' END, NULL,
           ['copied', 'edited', 'ignored'][CAST(1 + hash(trial_id, 4) % 3 AS INTEGER)], 'app',
           created_at + INTERVAL 6 MINUTE, NULL, source, end_user
    FROM trials WHERE hash(trial_id, 10) % 100 < 3
"""

SCORES = """
    SELECT md5(trial_id || 'score') AS score_id, trial_id, run_id, 'helpful' AS evaluator, 'helpful' AS evaluator_name,
           (hash(trial_id, 5) % 1000) / 1000.0 AS value, created_at + INTERVAL 10 MINUTE AS created_at, 'app' AS "user"
    FROM trials WHERE hash(trial_id, 11) % 100 < 10
"""

BASELINE = f"""
    SELECT date_trunc('day', created_at) AS period, label, prompt_version, count(*) AS n,
           count(*) FILTER (WHERE error_type IS NOT NULL) AS errors,
           quantile_cont(latency_ms, 0.5) FILTER (WHERE error_type IS NULL) AS p50,
           quantile_cont(latency_ms, 0.95) FILTER (WHERE error_type IS NULL) AS p95,
           sum(cost_usd) AS cost, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens
    FROM {{trials}} WHERE prompt_name = '{PROMPT}' AND kind = 'production'
    GROUP BY ALL ORDER BY 1, 2, 3
"""
"""The hand-written query: the same groups' counts, percentiles and sums, without feedback, actions or scores."""


def build_file(db: Path, n: int) -> float:
    """Generate the history into a file promptlab made; seconds taken."""
    import duckdb

    import promptlab as pl

    started = time.perf_counter()
    pl.Lab(db)  # created and migrated by promptlab
    con = duckdb.connect(str(db))
    for table, select in (
        ("trials", TRIALS.format(n=n, total=n + n // 10, prompt=PROMPT, v1=V1, v2=V2, days=DAYS)),
        ("feedback", FEEDBACK),
        ("scores", SCORES),
    ):
        columns = [row[0] for row in con.execute(f"DESCRIBE ({select})").fetchall()]
        names = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"INSERT INTO {table} ({names}) {select}")
    con.execute("CHECKPOINT")
    con.close()
    pl.Lab(db)  # the first open after rows were written behind promptlab's back catches up (~13 s): not measured
    return time.perf_counter() - started


MEASURE = """
import json, sys, time
started = time.perf_counter()
import promptlab as pl
where, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
timings = []
if mode == "baseline" and not where.startswith("postgresql"):
    import duckdb
    for _ in range(2):
        t0 = time.perf_counter()
        con = duckdb.connect(where, read_only=True)
        rows = con.execute(sys.argv[4].format(trials="trials")).fetchall()
        con.close()
        timings.append(time.perf_counter() - t0)
elif mode == "baseline":
    import psycopg
    for _ in range(2):
        t0 = time.perf_counter()
        with psycopg.connect(where) as con:
            rows = con.execute(sys.argv[4]).fetchall()
        timings.append(time.perf_counter() - t0)
else:
    t0 = time.perf_counter()
    lab = pl.Lab(where)  # imports the library (pandas, DuckDB) and opens the history
    opened = time.perf_counter() - t0
    for _ in range(2):
        t0 = time.perf_counter()
        if mode == "monitor":
            rows = lab.monitor(name).df
        elif mode == "hourly":
            rows = lab.monitor(name, every="hour").df
        else:
            rows = lab.compare_production(name, "production", "staging").df
        timings.append(time.perf_counter() - t0)
print(json.dumps({"cold": timings[0], "warm": timings[1], "rows": len(rows), "open": locals().get("opened", 0.0)}))
"""


def measure(where: str, mode: str, baseline: str = "") -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, where, PROMPT, mode, baseline], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(where: str, baseline_sql: str) -> None:
    base = measure(where, "baseline", baseline_sql)
    print(f"{'operation':<44} {'cold':>8} {'warm':>8} {'rows':>6} {'cold/base':>10} {'warm/base':>10} {'open':>7}")
    print(f"{'hand-written query (baseline)':<44} {base['cold']:>7.3f}s {base['warm']:>7.3f}s {base['rows']:>6}")
    for label, mode in (
        ("lab.monitor(name)  [goal ≤ 1 s]", "monitor"),
        ("lab.monitor(name, every='hour')", "hourly"),
        ("lab.compare_production(name, prod, staging)", "compare"),
    ):
        found = measure(where, mode)
        print(
            f"{label:<44} {found['cold']:>7.3f}s {found['warm']:>7.3f}s {found['rows']:>6} "
            f"{found['cold'] / base['cold']:>9.2f}× {found['warm'] / base['warm']:>9.2f}× {found['open']:>6.2f}s"
        )


def build_server(n: int) -> tuple[str, float, object]:
    """The same history on a private PostgreSQL cluster (generated by DuckDB, sent with COPY)."""
    import duckdb
    import psycopg

    from benchmarks.server_history import new_server, private_cluster

    cluster = private_cluster()
    try:
        url = new_server(cluster, "monitor")
        started = time.perf_counter()
        con = duckdb.connect()
        trials = TRIALS.format(n=n, total=n + n // 10, prompt=PROMPT, v1=V1, v2=V2, days=DAYS)
        con.execute(f"CREATE TABLE trials AS {trials}")
        with psycopg.connect(url) as server:
            for table, select in (("trials", "SELECT * FROM trials"), ("feedback", FEEDBACK), ("scores", SCORES)):
                frame = con.execute(select).to_arrow_table()
                names = ", ".join(f'"{c}"' for c in frame.column_names)
                with server.cursor().copy(f"COPY promptlab.{table} ({names}) FROM STDIN") as copy:
                    for batch in frame.to_batches(50_000):
                        for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                            copy.write_row(row)
            server.execute("ANALYZE")
    except BaseException:
        from tests.support import postgres

        postgres.remove_cluster(cluster)
        raise
    return url, time.perf_counter() - started, cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1_000_000, help="calls of the monitored prompt")
    parser.add_argument("--server", action="store_true", help="also on a private PostgreSQL cluster")
    parser.add_argument("--folder", type=Path, help="keep (and reuse) the history file here")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="promptlab-monitor-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"monitor-{args.trials}.duckdb"
    if not db.exists():
        print(f"built {db} in {build_file(db, args.trials):.1f} s")
    print(f"\nfile history: {args.trials:,} calls of {PROMPT!r} ({db.stat().st_size / 1e6:.0f} MB)")
    report(str(db), BASELINE.format(trials="trials"))
    if args.server:
        url, seconds, cluster = build_server(args.trials)
        print(f"\nteam server: built in {seconds:.0f} s")
        try:
            from promptlab.store.server.dialect import postgres as in_postgres

            report(url, in_postgres(BASELINE.format(trials="promptlab.trials")))
        finally:
            from tests.support import postgres

            postgres.remove_cluster(cluster)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
