"""Reading a million-trial history on a team server (PostgreSQL), against
the same SQL sent through psycopg alone.

Builds 1,000,000 trials on a private PostgreSQL cluster (``tests/support/
postgres.py``: fsync off, as the tests run it; ``--durable`` turns fsync,
synchronous commit and full-page writes back on), generated in Python and
sent with the store's own ``send.insert_rows`` (COPY) in batches: 50
experiments of 10 runs, each run 250 inputs × two versions of one of five
prompt names × two of four models × two temperatures; outputs of 45–70
made-up words skewed like a language (~400 chars), a word found in 5% of
them, 2% failed calls, an evaluator's scores on a third of the runs, votes,
four users over two months; then a ``staging`` label per prompt name moved
by ``lab.promote``. The secondary indexes of ``trials`` are dropped for the
load and created again from their own definitions, as a restore would.

Then each operation runs in fresh processes (``--repeat`` of them): its
first call there ("cold": the client's first translation of the queries, a
new connection; the server's cache is warm) and its second ("warm"). The
SQL it sent is recorded and replayed, fetched in full, on a plain psycopg
connection in the same process: the baseline, so the ratio is promptlab's
own cost (translation, sessions, building the DataFrame). Searches are
EXPLAIN ANALYZEd, with the index each plan uses, and beside them the same
query with an input condition the trigram index on ``vars::text`` can serve.
An operation over 10 s is run (and replayed) once, not repeated: it misses
by far anyway. ``benchmarks/README.md`` has the figures and what they mean.

    python benchmarks/server_history.py [--trials 1000000] [--repeat 5] [--durable]
        [--url postgresql://…]  (a database built by an earlier run with --keep: reused as is)
        [--keep]                (leave the private cluster running and print its URL)
        [--only TEXT]           (only the operations whose name holds TEXT, and load_prompt)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.support.postgres: the tests' private cluster

import psycopg  # noqa: E402

import promptlab as pl  # noqa: E402
from promptlab.store.schema import TABLES  # noqa: E402
from promptlab.store.server import roles, send  # noqa: E402
from promptlab.store.server.connection import connect  # noqa: E402
from tests.support import postgres  # noqa: E402

NAMES = ("summarize", "classify", "extract", "translate", "answer")
MODELS = (
    pl.Model("gpt-4o-mini", base_url="http://llm.internal/v1", price=(0.15, 0.6)),
    pl.Model("llama-3.1-8b", base_url="http://gpu-1.internal:8080/v1", price=(0.0, 0.0)),
    pl.Model("mistral-small", base_url="http://gpu-2.internal:8080/v1", price=(0.2, 0.6)),
    pl.Model("qwen2.5-7b", base_url="http://gpu-1.internal:8081/v1", price=(0.0, 0.0)),
)
TEMPERATURES = (0.0, 0.7)
VARIANTS = {
    (m.name, t): pl.Model(m.name, base_url=m.base_url, price=m.price, temperature=t)
    for m in MODELS
    for t in TEMPERATURES
}
"""Each model at each temperature, as a sweep's trials name them (a ``Model`` takes ~1 ms to check)."""
PARAMS = {t: json.dumps({"temperature": t}) for t in TEMPERATURES}
USERS = ("ana", "ben", "kim", "lee")
ROWS_PER_RUN = 250
TRIALS_PER_RUN = ROWS_PER_RUN * 2 * 2 * len(TEMPERATURES)  # 2 versions × 2 models × 2 temperatures
RUNS_PER_EXPERIMENT = 10
SEARCH_WORD = "dthkzvot"  # not in the vocabulary: in 5% of the outputs
RARE_PHRASE = "case 17-42:"  # one input of one run: 8 trials
LABEL = "staging"  # production is protected on a new server (it needs an approver)
DURABLE = "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
TEAM_SERVER = "shared_buffers = '4GB'\neffective_cache_size = '12GB'\n"
"""Memory as a team server is set up (PostgreSQL's advice: a quarter of RAM for
shared buffers; these machines have 24 GB), not the 128 MB initdb writes."""

_WORDS = random.Random(1)
VOCABULARY = ["".join(_WORDS.choices("abcdefghijklmnopqrstuvwxyz", k=_WORDS.randint(2, 10))) for _ in range(4096)]
ZIPF = list(itertools.accumulate(1 / rank for rank in range(1, len(VOCABULARY) + 1)))
"""Made-up words used with a natural language's skew, as the stub server's ``[words:N]``."""
PHRASES = [" ".join(_WORDS.choices(VOCABULARY, cum_weights=ZIPF, k=6)) for _ in range(50_000)]
"""Runs of six such words, from which texts are put together."""


# -- the cluster ----------------------------------------------------------------------


def private_cluster(durable: bool = False) -> postgres.Cluster:
    """The tests' private cluster with a team server's memory (``TEAM_SERVER``);
    ``durable``: with fsync, synchronous commit and full-page writes on (later
    lines of postgresql.conf win), restarted."""
    cluster = postgres.start_cluster()
    with (cluster.root / "data" / "postgresql.conf").open("a") as conf:
        conf.write(TEAM_SERVER + (DURABLE if durable else ""))
    cluster.stop()
    cluster.start()
    postgres.wait_until_up(cluster)
    return cluster


def new_server(cluster: postgres.Cluster, database: str) -> str:
    """A database set up as a team server (``promptlab db init``); its URL, as the superuser."""
    cluster.psql(f'CREATE DATABASE "{database}"')
    url = cluster.url(database)
    with connect(url) as connection:
        roles.init(connection)
    return url


def server_settings(url: str) -> dict[str, str]:
    """The settings that decide what a write costs, and the server's version."""
    with connect(url) as connection:
        names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "work_mem")
        return {name: str(connection.execute(f"SHOW {name}").fetchone()[0]) for name in names}


# -- the history ----------------------------------------------------------------------


def versions(name: str) -> list[pl.Prompt]:
    """Three versions of a prompt name: text, chat messages, text again."""
    return [
        pl.Prompt("Do this: " + name + ". {{ text }}", name=name),
        pl.Prompt(
            [{"role": "system", "content": "Be brief: " + name}, {"role": "user", "content": "{{ text }}"}], name=name
        ),
        pl.Prompt("Task (" + name + "), carefully, in " + "{{ lang }}: {{ text }}", name=name),
    ]


def words(rng: random.Random, n: int) -> str:
    """About ``n`` made-up words: runs of 6 drawn from a pool (fast enough for a million outputs)."""
    return " ".join(rng.choices(PHRASES, k=max(1, round(n / 6))))


def _iso(moment: datetime) -> str:
    return moment.isoformat(sep=" ")


def run_rows(run: int, rng: random.Random, start: datetime) -> dict[str, list[dict[str, Any]]]:
    """One run's rows: the run, its trials, and its scores and votes."""
    run_id = uuid.UUID(int=rng.getrandbits(128)).hex
    experiment = f"exp-{run // RUNS_PER_EXPERIMENT:02d}"
    name = NAMES[run % len(NAMES)]
    prompts = [versions(name)[run % 3], versions(name)[(run + 1) % 3]]
    models = [MODELS[run % 4], MODELS[(run + 1) % 4]]
    user = USERS[run % len(USERS)]
    scored = run % 3 == 0
    started = start + timedelta(minutes=173 * run)
    lineage = {
        "user": user,
        "host": f"{user}-laptop",
        "pid": 4000 + run,
        "source": "notebook.ipynb",
        "git_commit": f"{run:040x}",
        "promptlab_version": "0.1.0",
    }
    evaluator = {
        "name": "contains",
        "label": "contains:expected",
        "args": {"target": "expected", "literal": False, "case_sensitive": True},
    }
    trials: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    moment = started
    for row_index in range(ROWS_PER_RUN):
        expected = rng.choice(VOCABULARY[:200])
        values = {
            "text": f"{RARE_PHRASE[:5]}{run}-{row_index}: {words(rng, 18)} {expected}",
            "lang": rng.choice(("en", "de", "fr")),
            "expected": expected,
        }
        vars_json = json.dumps(values)
        for prompt in prompts:
            messages = json.dumps(prompt.render(values))
            for model in models:
                for temperature in TEMPERATURES:
                    moment += timedelta(milliseconds=rng.randint(5, 60))
                    failed = rng.random() < 0.02
                    output = None
                    if not failed:
                        text = words(rng, rng.randint(45, 70)).split(" ")
                        if rng.random() < 0.05:
                            text.insert(rng.randrange(len(text)), SEARCH_WORD)
                        if rng.random() < 0.5:
                            text.append(expected)
                        output = " ".join(text)
                    trial_id = uuid.UUID(int=rng.getrandbits(128)).hex
                    variant = VARIANTS[model.name, temperature]
                    latency = rng.lognormvariate(6.5, 0.5)
                    trials.append(
                        {
                            "trial_id": trial_id,
                            "run_id": run_id,
                            "experiment": experiment,
                            "cell_key": f"{rng.getrandbits(80):020x}",
                            "cache_key": f"{rng.getrandbits(80):020x}",
                            "prompt_name": name,
                            "prompt_version": prompt.version,
                            "model": model.name,
                            "model_id": variant.id,
                            "provider": variant.provider,
                            "params": PARAMS[temperature],
                            "row_index": row_index,
                            "vars": vars_json,
                            "repeat": 0,
                            "messages": messages,
                            "output": output,
                            "finish_reason": None if failed else "stop",
                            "error_type": "RateLimitError" if failed else None,
                            "error": "429 Too Many Requests: retry budget spent" if failed else None,
                            "latency_ms": latency,
                            "ttft_ms": None,
                            "prompt_tokens": 40 + rng.randint(0, 30),
                            "completion_tokens": None if failed else rng.randint(60, 110),
                            "cost_usd": 0.0 if failed else rng.random() * 1e-4,
                            "cached": False,
                            "cached_from": None,
                            "attempts": 5 if failed else 1,
                            "request_id": f"chatcmpl-{trial_id[:24]}",
                            "response": f'{{"id": "chatcmpl-{trial_id[:24]}", "model": "{model.name}"}}',
                            "started_at": _iso(moment - timedelta(milliseconds=latency)),
                            "created_at": _iso(moment),
                            **lineage,
                            "kind": "sweep",
                            "truncated": False,
                        }
                    )
                    if scored and not failed:
                        hit = expected in (output or "")
                        scores.append(
                            {
                                "score_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                                "trial_id": trial_id,
                                "run_id": run_id,
                                "evaluator": evaluator["label"],
                                "evaluator_name": "contains",
                                "args": json.dumps(evaluator["args"]),
                                "value": 1.0 if hit else 0.0,
                                "passed": hit,
                                "label": None,
                                "explanation": None,
                                "error": None,
                                "judge_trial_id": None,
                                "created_at": _iso(moment),
                                "user": user,
                            }
                        )
    feedback = [
        {
            "feedback_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "trial_id": trial["trial_id"],
            "vote": rng.choice((1, 1, -1)),
            "correction": None,
            "comment": rng.choice((None, None, "too long")),
            "action": None,
            "user": rng.choice(USERS),
            "created_at": _iso(moment + timedelta(hours=1)),
        }
        for trial in rng.sample(trials, 20)
    ]
    config = {
        "prompts": [p.to_dict() for p in prompts],
        "models": [m.to_dict() for m in models],
        "params": {"temperature": list(TEMPERATURES)},
        "repeats": 1,
        "data": f"list of {ROWS_PER_RUN} rows",
        "n_rows": ROWS_PER_RUN,
        "settings": {"concurrency": 32, "timeout": 60.0, "max_retries": 4, "max_wait": 600.0, "cache": True},
        "evaluators": [evaluator] if scored else [],
    }
    status = "done" if run % 23 else "cancelled"
    runs = [
        {
            "run_id": run_id,
            "experiment": experiment,
            "fingerprint": f"{rng.getrandbits(64):016x}",
            "status": status,
            "n_cells": TRIALS_PER_RUN,
            "config": json.dumps(config),
            "started_at": _iso(started),
            "ended_at": _iso(moment),
            "error": None,
            **lineage,
            "revision": 2,
            "heartbeat_at": _iso(moment),
        }
    ]
    return {"runs": runs, "trials": trials, "scores": scores, "feedback": feedback}


def catalogue_rows(start: datetime, experiments: int) -> dict[str, list[dict[str, Any]]]:
    """The experiments, prompts and models the runs name."""
    areas = ("support", "search", "billing", "onboarding", "docs")
    return {
        "experiments": [
            {
                "name": f"exp-{e:02d}",
                "description": f"{areas[e % 5]} prompts, round {e // 5}",
                "tags": json.dumps([areas[e % 5]] + (["baseline"] if e % 7 == 0 else [])),
                "created_at": _iso(start + timedelta(hours=29 * e)),
                "created_by": USERS[e % 4],
            }
            for e in range(experiments)
        ],
        "prompts": [
            {
                "name": p.name,
                "version": p.version,
                "template": json.dumps(p.template),
                "variables": json.dumps(sorted(p.variables)),
                "created_at": _iso(start),
                "created_by": "ana",
            }
            for name in NAMES
            for p in versions(name)
        ],
        "models": [
            {
                "model_id": v.id,
                "provider": v.provider,
                "name": v.name,
                "base_url": v.base_url,
                "params": json.dumps(dict(v.params)),
                "created_at": _iso(start),
            }
            for v in VARIANTS.values()
        ],
    }


def trial_count(url: str) -> int:
    with connect(url) as connection:
        return int(connection.execute("SELECT count(*) FROM trials").fetchone()[0])


def build(url: str, trials: int) -> dict[str, float]:
    """Fill the server with ``trials`` trials (a whole number of runs); seconds spent."""
    runs = -(-trials // TRIALS_PER_RUN)
    experiments = -(-runs // RUNS_PER_EXPERIMENT)
    start = datetime(2026, 9, 1, 8, 0)
    rng = random.Random(0)
    timings = {"generate": 0.0, "copy": 0.0}
    with connect(url) as connection:
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'promptlab' AND tablename = 'trials' "
            "AND indexname <> 'trials_pkey'"
        ).fetchall()
        for index_name, _ in indexes:
            connection.execute(f"DROP INDEX promptlab.{index_name}")

        def send_rows(rows: dict[str, list[dict[str, Any]]]) -> None:
            started = time.perf_counter()
            with connection.transaction():
                # as the server's own replication would: the rows keep their users (no stamping triggers)
                connection.execute("SET LOCAL session_replication_role = replica")
                for table, table_rows in rows.items():
                    send.insert_rows(connection, TABLES[table], table_rows)
            timings["copy"] += time.perf_counter() - started

        send_rows(catalogue_rows(start, experiments))
        batch: dict[str, list[dict[str, Any]]] = {}
        for run in range(runs):
            started = time.perf_counter()
            for table, table_rows in run_rows(run, rng, start).items():
                batch.setdefault(table, []).extend(table_rows)
            timings["generate"] += time.perf_counter() - started
            if len(batch["trials"]) >= 20_000 or run == runs - 1:
                send_rows(batch)
                batch = {}
                print(f"\r  {run + 1}/{runs} runs sent", end="", flush=True)
        print()
        started = time.perf_counter()
        connection.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in indexes:
            connection.execute(definition)
        timings["index"] = time.perf_counter() - started
        started = time.perf_counter()
        connection.execute("VACUUM (ANALYZE)")
        timings["vacuum_analyze"] = time.perf_counter() - started
        size = connection.execute("SELECT pg_total_relation_size('promptlab.trials')").fetchone()[0]
        timings["trials_bytes"] = float(size)
    lab = pl.Lab(url)
    for name in NAMES:
        older, newer = versions(name)[:2]
        lab.promote(name, older.version, label=LABEL, note="first cut")
        lab.promote(name, newer.version, label=LABEL, note="wins on contains")
    return timings


# -- measuring ------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys, threading, time
    t0 = time.perf_counter()
    import promptlab as pl
    imported = time.perf_counter() - t0
    from promptlab.store.server import dialect, reader
    from promptlab.store.server.connection import connect
    url = sys.argv[1]
    seen = []
    record_all = False  # an operation's setup sets it to replay the background reads too
    def recorded(original):
        def recording(self, text, params=None):
            if record_all or threading.current_thread() is threading.main_thread():  # not a view's background reads
                seen.append((dialect.postgres(text), reader._plain(params)))
            return original(self, text, params)
        return recording
    reader.ServerReader.execute = recorded(reader.ServerReader.execute)
    reader.ServerReader.frame = recorded(reader.ServerReader.frame)  # query() reads through frame()
    t0 = time.perf_counter()
    {setup}
    opened = time.perf_counter() - t0
    timings = []
    for attempt in range(2):
        seen.clear()
        t0 = time.perf_counter()
        result = {operation}
        timings.append(time.perf_counter() - t0)
        first = first if attempt else list(seen)  # a warm call answered from a cache sends nothing
        if timings[0] > {slow}:  # once is enough to say it misses
            timings.append(timings[0])
            break
    rows = len(result) if hasattr(result, "__len__") else 0
    seen = seen or first
    raw = []
    with connect(url) as connection:
        for attempt in range(3):
            t0 = time.perf_counter()
            for text, params in seen:
                connection.execute(text, params).fetchall()
            raw.append(time.perf_counter() - t0)
            if raw[0] > {slow}:
                raw.append(raw[0])
                break
    print(json.dumps({{"cold": timings[0], "warm": timings[1], "raw": min(raw[1:]), "rows": rows,
                       "import": imported, "open": opened, "statements": seen}}, default=str))
    """
)
"""One measurement in a fresh process: the operation twice, then the SQL its
second call sent, replayed on a plain psycopg connection (best of the last two)."""

LOAD_PROMPT = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import promptlab as pl
    {preload}
    imported = time.perf_counter() - t0
    timings = []
    for attempt in range(3):
        t0 = time.perf_counter()
        pl.load_prompt({name!r}, label={label!r}, db=sys.argv[1])
        timings.append(time.perf_counter() - t0)
    print(json.dumps({{"cold": timings[0], "warm": min(timings[1:]), "import": imported}}))
    """
)
"""``load_prompt`` in a fresh process: the import timed apart from the call."""

LOAD_PROMPT_RAW = textwrap.dedent(
    """
    import json, sys, time
    import psycopg
    statements = json.loads(sys.argv[2])
    t0 = time.perf_counter()
    with psycopg.connect(sys.argv[1], options="-c search_path=promptlab,pg_catalog,pg_temp") as connection:
        for text, params in statements:
            connection.execute(text, params).fetchall()
    print(json.dumps({"cold": time.perf_counter() - t0}))
    """
)
"""The baseline for ``load_prompt``: psycopg imported, then a new connection and
the label queries ``load_prompt`` sent (in a fresh process)."""

OPERATIONS: dict[str, tuple[str, str, str]] = {
    f"`lab.trials(experiment=X)`, {TRIALS_PER_RUN * RUNS_PER_EXPERIMENT:,} rows": (
        "lab = pl.Lab(url)",
        "lab.trials(experiment=sys.argv[2])",
        "≤ 0.3 s",
    ),
    "`lab.trials(search=word)`, in 5% of outputs": (
        "lab = pl.Lab(url)",
        f"lab.trials(search={SEARCH_WORD!r})",
        "≤ 1 s",
    ),
    "`lab.trials(search=phrase)`, one input (8 trials)": (
        "lab = pl.Lab(url)",
        f"lab.trials(search={RARE_PHRASE!r})",
        "≤ 1 s",
    ),
    "History view (`pl.ui.history(lab)`), opening: its runs shown; warm: `refresh()`": (
        "import promptlab.ui; lab = pl.Lab(url); browser = None",
        "(browser.refresh() or browser) if browser else (browser := pl.ui.history(lab))",
        "≤ 1 s",
    ),
    "History view, until its prompt versions (read in the background) are shown too": (
        "import promptlab.ui; lab = pl.Lab(url); browser = None; record_all = True",
        "(browser.refresh() or browser) if browser else (browser := pl.ui.history(lab)), "
        "browser.versions_reader.wait()",
        "",
    ),
    "`lab.prompt_versions(name)` (for the History view's diff)": (
        "lab = pl.Lab(url)",
        "lab.prompt_versions('summarize')",
        "",
    ),
}


TIMEOUT = 600
"""Seconds a measuring process (and an EXPLAIN ANALYZE) may take before the operation is reported as over it."""

SLOW = 10.0
"""Seconds past which an operation is run (and its SQL replayed) once, not repeated: it misses by far anyway."""


def child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; the JSON it printed last."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        timeout=TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    numbers = {k for k, v in results[0].items() if isinstance(v, int | float)}
    merged: dict[str, Any] = {k: statistics.median(r[k] for r in results) for k in numbers}
    merged.update({f"{k}_range": (min(r[k] for r in results), max(r[k] for r in results)) for k in numbers})
    merged["statements"] = results[-1].get("statements", [])
    return merged


def measure(url: str, repeat: int, experiment: str, only: str = "") -> dict[str, dict[str, Any]]:
    """Every operation in ``repeat`` fresh processes (``experiment``: the one whose trials are read); medians."""
    found: dict[str, dict[str, Any]] = {}
    for name, (setup, operation, _) in OPERATIONS.items():
        if only and only not in name:
            continue
        code = CHILD.format(setup=setup, operation=operation, slow=SLOW)
        results: list[dict[str, Any]] = []
        try:
            while len(results) < repeat and not (results and results[0]["cold"] > SLOW):
                results.append(child(code, url, experiment))
        except subprocess.TimeoutExpired:
            print(f"  {name}: over {TIMEOUT} s, not measured")
            continue
        found[name] = median_of(results)
        print(f"  measured {name}: warm {found[name]['warm']:.3f} s")
    name = "`pl.load_prompt(name, label=…)`"
    call = LOAD_PROMPT.format(preload="", name="summarize", label=LABEL)
    found[name] = median_of([child(call, url) for _ in range(repeat)])
    # the same after importing the server extra (psycopg, sqlglot) up front: how much of the call that import is
    preloaded = LOAD_PROMPT.format(preload="import promptlab.store.server.store", name="summarize", label=LABEL)
    found[name]["preloaded"] = median_of([child(preloaded, url) for _ in range(repeat)])
    captured = child(
        CHILD.format(slow=SLOW, setup="", operation=f"pl.load_prompt('summarize', label={LABEL!r}, db=url)"), url
    )
    statements = json.dumps(captured["statements"])
    found[name]["raw"] = statistics.median(child(LOAD_PROMPT_RAW, url, statements)["cold"] for _ in range(repeat))
    found[name]["statements"] = captured["statements"]
    return found


# -- the search's plans ------------------------------------------------------------------

_VALUES_SEARCH = re.compile(r"\(SELECT STRING_AGG\(value, ' '\) FROM JSONB_EACH_TEXT\(vars\)\) ILIKE %s ESCAPE '\\'")


def indexable(text: str, params: list[Any]) -> tuple[str, list[Any]]:
    """The search with a condition on ``vars::text``, which its trigram index
    serves, ANDed before the exact test of the input values: the JSON text holds
    every value, so it is a necessary condition for a pattern without quotes,
    backslashes or control characters (which JSON escapes)."""
    out_params = list(params)
    offset = 0
    while True:
        match = _VALUES_SEARCH.search(text, offset)
        if match is None:
            return text, out_params
        index = text.count("%s", 0, match.start())
        out_params.insert(index, out_params[index])
        replacement = "(vars::text ILIKE %s ESCAPE '\\' AND " + match.group(0) + ")"
        text = text[: match.start()] + replacement + text[match.end() :]
        offset = match.start() + len(replacement)


def explain(url: str, text: str, params: list[Any]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement: its plan, the trials indexes it uses, its time."""
    times, rows = [], -1
    with connect(url) as connection:
        connection.execute(f"SET statement_timeout = '{TIMEOUT}s'")
        try:
            plan = [row[0] for row in connection.execute(f"EXPLAIN (ANALYZE, BUFFERS) {text}", params).fetchall()]
            took = float(plan[-1].split(":")[1].split()[0]) / 1000  # "Execution Time: N ms"
            for _ in range(3 if took < SLOW else 0):
                started = time.perf_counter()
                rows = len(connection.execute(text, params).fetchall())
                times.append(time.perf_counter() - started)
        except psycopg.errors.QueryCanceled:
            plan = [f"(over {TIMEOUT} s: the plan without ANALYZE)"]
            plan += [row[0] for row in connection.execute(f"EXPLAIN {text}", params).fetchall()]
            times = [float("inf")]
    used = sorted(
        set(re.findall(r"(?:Index|Bitmap Index) (?:Only )?Scan (?:Backward )?(?:using|on) (\w+)", "\n".join(plan)))
    )
    seconds = statistics.median(times) if times else took
    return {"plan": plan, "indexes": used, "seconds": seconds, "rows": rows}


def search_plans(url: str, found: dict[str, dict[str, Any]]) -> None:
    """Print each search's plan, as promptlab sends it and as the index could serve it."""
    for name, result in found.items():
        if "search=" not in name:
            continue
        text, params = result["statements"][0]
        as_sent = explain(url, text, params)
        rewritten = explain(url, *indexable(text, params))
        print(
            f"\n{name}: the trials query as sent, {as_sent['seconds']:.3f} s, {as_sent['rows']} rows, "
            f"indexes {as_sent['indexes'] or 'none'}"
        )
        print("\n".join("    " + line for line in as_sent["plan"]))
        print(
            f"  with `vars::text ILIKE` before the values' test: {rewritten['seconds']:.3f} s, "
            f"{rewritten['rows']} rows, indexes {rewritten['indexes'] or 'none'}"
        )
        print("\n".join("    " + line for line in rewritten["plan"]))


def explain_experiment(url: str, found: dict[str, dict[str, Any]]) -> None:
    for name, result in found.items():
        if "experiment=" in name:
            for text, params in result["statements"]:
                plan = explain(url, text, params)
                print(f"\n{name}: {plan['seconds']:.3f} s raw, {plan['rows']} rows, indexes {plan['indexes']}")
                print("\n".join("    " + line for line in plan["plan"]))


# -- the report -----------------------------------------------------------------------


def report(found: dict[str, dict[str, Any]]) -> None:
    goals = {name: goal for name, (_, _, goal) in OPERATIONS.items()}
    goals["`pl.load_prompt(name, label=…)`"] = "≤ 50 ms cold"
    print("\n| operation | rows | cold (range) | warm (range) | raw SQL via psycopg | cold ÷ raw | warm ÷ raw | goal |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in found.items():
        cold_range, warm_range = r["cold_range"], r.get("warm_range", (r["warm"], r["warm"]))
        print(
            f"| {name} | {int(r.get('rows', 1)):,} | {r['cold'] * 1000:.0f} ms ({cold_range[0] * 1000:.0f}–"
            f"{cold_range[1] * 1000:.0f}) | {r['warm'] * 1000:.0f} ms ({warm_range[0] * 1000:.0f}–"
            f"{warm_range[1] * 1000:.0f}) | {r['raw'] * 1000:.0f} ms | {r['cold'] / r['raw']:.2f}× | "
            f"{r['warm'] / r['raw']:.2f}× | {goals[name]} |"
        )
    lp = found["`pl.load_prompt(name, label=…)`"]  # its raw: a new connection and the queries, in a fresh process
    print(
        f"\nload_prompt: import promptlab {lp['import'] * 1000:.0f} ms; the call cold {lp['cold'] * 1000:.1f} ms, "
        f"warm {lp['warm'] * 1000:.1f} ms; with the server extra imported first "
        f"(+{(lp['preloaded']['import'] - lp['import']) * 1000:.0f} ms of import) the call is "
        f"{lp['preloaded']['cold'] * 1000:.1f} ms; baseline (connect + its {len(lp['statements'])} queries, "
        f"psycopg imported) {lp['raw'] * 1000:.1f} ms"
    )
    for name, r in found.items():
        if "open" in r:
            print(
                f"{name}: import promptlab {r['import']:.2f} s, open {r['open']:.2f} s, "
                f"{len(r['statements'])} statements"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--durable", action="store_true", help="fsync, synchronous commit, full-page writes on")
    parser.add_argument("--url", help="a team server database to use (built by an earlier --keep run: reused)")
    parser.add_argument("--keep", action="store_true", help="leave the private cluster running")
    parser.add_argument(
        "--only", default="", help="measure only the operations whose name holds this (and load_prompt)"
    )
    args = parser.parse_args()
    os.environ.setdefault("PROMPTLAB_SPOOL", tempfile.mkdtemp(prefix="server-history-spool-"))
    cluster = None if args.url else private_cluster(args.durable)
    try:
        url = args.url or new_server(cluster, "history")  # type: ignore[arg-type]
        print(f"server: {server_settings(url)}")
        if trial_count(url) < args.trials:
            started = time.perf_counter()
            timings = build(url, args.trials)
            print(
                f"built {trial_count(url):,} trials in {time.perf_counter() - started:.0f} s "
                f"(generating {timings['generate']:.0f} s, COPY {timings['copy']:.0f} s, indexes "
                f"{timings['index']:.0f} s, VACUUM ANALYZE {timings['vacuum_analyze']:.0f} s); trials and its "
                f"indexes: {timings['trials_bytes'] / 1e9:.2f} GB"
            )
        runs = -(-args.trials // TRIALS_PER_RUN)
        experiment = f"exp-{min(7, (runs - 1) // RUNS_PER_EXPERIMENT):02d}"
        found = measure(url, args.repeat, experiment, args.only)
        report(found)
        explain_experiment(url, found)
        search_plans(url, found)
    finally:
        if cluster is not None and args.keep:
            print(f"\nkept: --url {cluster.url('history')} (cluster in {cluster.root})")
        elif cluster is not None:
            postgres.remove_cluster(cluster)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
