"""How reading the history scales: the operations of issue 13 on a history
grown by real sweeps to 100,000 trials, then to 1,000,000.

The first stretch is real: sweeps of 2,000 cells (a prompt name's two
versions × two models × two temperatures × 250 inputs) against the stub
server in its own process, each output ~1 KB of made-up words (the stub's
``[words:150]``), ten sweeps into one experiment of 20,000 trials and the
rest into experiments of 2,000 each, then a promotion and some votes. The
bytes-per-trial figure comes from this part. The last stretch, up to
``--to``, is bulk-copied with plain DuckDB (each copy of a run is a new run
of a new experiment, with new trial ids), since sweeping 900,000 more cells
would take an hour and measure nothing new.

Every operation runs in a fresh process on a fresh copy of the history (so
each starts from the same file): "cold" is its first call there (DuckDB
starting, nothing cached), "warm" the second; peak RSS is the process's.
With ``--folder`` the grown histories are kept and reused by the next run,
so two versions of promptlab can be measured on the same files. Nothing here is a pass/fail test: it prints a table
with the goal beside each figure.

    python benchmarks/history_scale.py [--trials 100000] [--to 1000000] [--folder DIR] [--big-sweep 100000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")

CELLS_PER_SWEEP = 2_000
BIG_EXPERIMENT = "big"
SEARCH_WORD = "dthkzvot"  # a made-up word in about 5% of the outputs
RARE_PHRASE = "sweep 17 item 42 "  # one input of one sweep, and its bulk copies
NAMES = ("summarize", "classify", "extract", "translate", "answer")

# Shared by every child process: the prompts, models and rows of sweep number ``s``.
SWEEPS = textwrap.dedent(
    """
    import promptlab as pl
    from promptlab.runner.progress import NullDisplay

    NAMES = {names!r}

    def versions(name):
        return [
            pl.Prompt("Do this: " + name + ". {{{{ text }}}}", name=name),
            pl.Prompt(
                [{{"role": "system", "content": "Be brief: " + name}}, {{"role": "user", "content": "{{{{ text }}}}"}}],
                name=name,
            ),
            pl.Prompt("Task (" + name + "), carefully: {{{{ text }}}}", name=name),
        ]

    def sweep_args(s, url):
        name = NAMES[s % len(NAMES)]
        both = [versions(name)[s % 3], versions(name)[(s + 1) % 3]]
        models = [pl.Model("stub-a", base_url=url), pl.Model("stub-b", base_url=url)]
        experiment = "{big}" if s < 10 else f"exp-{{s - 10:03d}}"
        rows = [{{"text": f"{{experiment}} sweep {{s}} item {{i}} [words:150]"}} for i in range({rows})]
        return dict(prompts=both, models=models, data=rows, params={{"temperature": [0.0, 0.7]}},
                    experiment=experiment, concurrency=32, display=NullDisplay())
    """
).format(names=NAMES, big=BIG_EXPERIMENT, rows=CELLS_PER_SWEEP // 8)

MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    t0 = time.perf_counter()
    import promptlab as pl
    imported = time.perf_counter() - t0
    db, url = sys.argv[1], sys.argv[2]
    {sweeps}
    def rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    before = rss_mb()
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        {operation}
        timings.append(time.perf_counter() - started)
    print(json.dumps({{"cold": timings[0], "warm": timings[1], "peak_mb": rss_mb(), "before_mb": before,
                      "import_s": imported}}))
    """
)

OPERATIONS = {
    "History view (`pl.ui.history(lab)`)": (
        "import promptlab.ui; pl.ui.history(pl.Lab(db)).close()",
        "≤ 1 s, ≤ 300 MB",
    ),
    "`lab.prompt_versions(name)`": ("pl.Lab(db).prompt_versions('summarize')", "≤ 0.5 s"),
    "`lab.promote(...)`": (
        "lab = pl.Lab(db); v = list(lab.prompt_versions('summarize')['version']); "
        "lab.promote('summarize', v[len(timings) % len(v)], label='staging')",
        "≤ 0.5 s",
    ),
    "`lab.trials(search=word)`": (f"pl.Lab(db).trials(search={SEARCH_WORD!r})", "≤ 1 s"),
    "`lab.trials(search=phrase)` (~80 trials match)": (f"pl.Lab(db).trials(search={RARE_PHRASE!r})", "≤ 1 s"),
    "`lab.trials(search=word, experiment=X)`": (
        f"pl.Lab(db).trials(search={SEARCH_WORD!r}, experiment={BIG_EXPERIMENT!r})",
        "≤ 0.3 s",
    ),
    "`lab.trials(experiment=X)`, 20k rows": (f"pl.Lab(db).trials(experiment={BIG_EXPERIMENT!r})", "≤ 0.3 s"),
    "`pl.load_prompt(name, label=…)`": ("pl.load_prompt('summarize', label='production', db=db)", "≤ 50 ms cold"),
    "fully cached 2,000-cell re-run": ("pl.Lab(db).sweep(**sweep_args(0, url))", "≤ 1.1× the empty file's"),
}


def child(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter; its stdout."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child failed:\n{done.stderr[-3000:]}")
    return done.stdout


def measure(operation: str, db: Path, url: str) -> dict[str, float]:
    code = MEASURE.format(sweeps=SWEEPS, operation=operation)
    return json.loads(child(code, str(db), url).strip().splitlines()[-1])


def stub_server(port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """The stub in a process of its own, on ``port`` (0: any free one); its base URL."""
    command = [sys.executable, "-m", "promptlab.testing", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def recorded_port(db: Path) -> int:
    """The stub's port in a kept history: the endpoint is part of every cache key,
    so measuring a kept history again needs the stub where it was (0 for a new one)."""
    if not db.exists():
        return 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT base_url FROM models WHERE base_url IS NOT NULL LIMIT 1").fetchone()
    finally:
        con.close()
    return int(str(row[0]).rsplit(":", 1)[1].split("/")[0]) if row else 0


def grow(db: Path, url: str, trials: int) -> dict[str, float]:
    """Sweep until the history holds ``trials`` trials; a promotion and votes on the way."""
    code = SWEEPS + textwrap.dedent(
        """
        import sys, time
        db, url, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
        lab = pl.Lab(db)
        started = time.perf_counter()
        s = 0
        while s * {cells} < target:
            run = lab.sweep(**sweep_args(s, url))
            if s == 0:
                lab.promote("summarize", run.df["prompt_version"].iloc[0], label="production")
            for trial_id in list(run.df["trial_id"])[:20]:
                lab.feedback(trial_id, vote="up")
            s += 1
        lab.fold()
        print(time.perf_counter() - started, s)
        """
    ).format(cells=CELLS_PER_SWEEP)
    seconds, sweeps = child(code, str(db), url, str(trials)).split()
    return {"seconds": float(seconds), "sweeps": int(sweeps)}


def file_stats(db: Path) -> dict[str, float]:
    """Bytes per trial and the share of free blocks, read with plain DuckDB."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM trials").fetchone()[0]  # type: ignore[index]
        size = con.execute("PRAGMA database_size").fetchone()
    finally:
        con.close()
    total_blocks, free_blocks = size[3], size[5]  # type: ignore[index]
    return {
        "trials": n,
        "bytes": db.stat().st_size,
        "per_trial": db.stat().st_size / n,
        "free": free_blocks / total_blocks,
    }


def bulk_copy(db: Path, target: int) -> int:
    """Copy the swept runs (new ids, new experiments) until ``target`` trials; copies made."""
    con = duckdb.connect(str(db))
    try:
        n = con.execute("SELECT count(*) FROM trials").fetchone()[0]  # type: ignore[index]
        copies = 0
        while n < target:
            copies += 1
            tag = f"-copy{copies}"
            con.execute("BEGIN")
            con.execute(
                f"""INSERT INTO trials SELECT * REPLACE (md5(trial_id || '{tag}') AS trial_id,
                    md5(run_id || '{tag}') AS run_id, experiment || '{tag}' AS experiment)
                    FROM trials WHERE experiment NOT LIKE '%-copy%'"""
            )
            con.execute(
                f"""INSERT INTO runs SELECT * REPLACE (md5(run_id || '{tag}') AS run_id,
                    experiment || '{tag}' AS experiment) FROM runs WHERE experiment NOT LIKE '%-copy%'"""
            )
            con.execute(
                f"INSERT INTO experiments SELECT * REPLACE (name || '{tag}' AS name) FROM experiments "
                "WHERE name NOT LIKE '%-copy%'"
            )
            con.execute("COMMIT")
            n = con.execute("SELECT count(*) FROM trials").fetchone()[0]  # type: ignore[index]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return copies


def in_own_process(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a spawned process, so the memory it takes (DuckDB's,
    for a bulk copy) never shows in the peak RSS of the children measured after
    it: Linux carries a process's RSS high-water mark across fork and exec."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def big_sweep_rss(folder: Path, url: str, cells: int) -> dict[str, float]:
    """Peak RSS of one sweep of ``cells`` cells into a file of its own."""
    code = textwrap.dedent(
        f"""
        import resource, sys, time
        import promptlab as pl
        from promptlab.runner.progress import NullDisplay
        lab = pl.Lab(sys.argv[1])
        rows = [{{"text": f"big sweep item {{i}} [words:150]"}} for i in range({cells} // 2)]
        models = [pl.Model("stub-a", base_url=sys.argv[2]), pl.Model("stub-b", base_url=sys.argv[2])]
        started = time.perf_counter()
        lab.sweep(pl.Prompt("{{{{ text }}}}", name="big"), models, rows, concurrency=32, display=NullDisplay())
        lab.fold()
        print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        """
    )
    seconds, peak = child(code, str(folder / "big-sweep.duckdb"), url).split()
    return {"seconds": float(seconds), "peak_mb": float(peak)}


def report(results: dict[str, dict[str, dict[str, float]]], sizes: list[str]) -> None:
    print(f"\n| operation | {' | '.join(f'{s} cold / warm (peak RSS)' for s in sizes)} | goal |")
    print("|---|" + "---|" * len(sizes) + "---|")
    for name, (_, goal) in OPERATIONS.items():
        cells = [
            f"{r['cold']:.3f} s / {r['warm']:.3f} s ({r['peak_mb']:.0f} MB)" if (r := results[size].get(name)) else "–"
            for size in sizes
        ]
        print(f"| {name} | {' | '.join(cells)} | {goal} |")


def upgrade(db: Path) -> float:
    """Open ``db`` once with this promptlab (so a file kept from an older one
    is upgraded, and its search index filled, before anything is measured):
    the seconds it took."""
    started = time.perf_counter()
    code = textwrap.dedent(
        """
        import sys, promptlab as pl
        from promptlab.store import label_file
        lab = pl.Lab(sys.argv[1])
        lab.fold()
        # A history grown by this promptlab has its label file (every fold writes
        # it); one kept from an older one gets it at its next fold.
        label_file.refresh(lab.store.path, lab.store._checked_schema)
        """
    )
    child(code, str(db))
    return time.perf_counter() - started


def fresh_copy(source: Path, folder: Path) -> Path:
    """A copy of ``source`` to measure on, so every measurement starts from the same file."""
    remove_measured(folder)
    target = folder / f"measured-{source.name}"
    shutil.copy2(source, target)  # its time too, so the label file beside it stays current
    labels = source.with_name(source.name + ".labels.json")
    if labels.exists():
        shutil.copy2(labels, target.with_name(target.name + ".labels.json"))
    # On disk before measuring: else the first fsync measured (a promotion's
    # journal folder) waits for the whole copy, 0.66 s at 1M trials.
    os.sync()
    return target


def remove_measured(folder: Path) -> None:
    """The copies measured so far, with the journal, WAL and lock files beside them."""
    for path in folder.glob("measured-*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def measure_all(source: Path, folder: Path, url: str) -> dict[str, dict[str, float]]:
    """Every operation, each on a fresh copy of ``source``."""
    return {name: measure(code, fresh_copy(source, folder), url) for name, (code, _) in OPERATIONS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=100_000, help="trials grown by real sweeps")
    parser.add_argument("--to", type=int, default=1_000_000, help="then bulk-copied up to this many (0: no copy)")
    parser.add_argument(
        "--folder", type=Path, help="keep the grown histories here and reuse them next time (default: a temporary one)"
    )
    parser.add_argument("--big-sweep", type=int, default=100_000, help="cells of the one-sweep RSS run (0: skip)")
    args = parser.parse_args()
    keep = args.folder is not None
    folder = args.folder or Path(tempfile.mkdtemp(prefix="history-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PROMPTLAB_USER", "bench")
    empty, grown, copied = (folder / f"{stem}.duckdb" for stem in ("empty", "grown", "copied"))
    server, url = stub_server(recorded_port(empty))
    try:
        if not empty.exists():
            grow(empty, url, CELLS_PER_SWEEP)  # one sweep: the baseline for the cached re-run
        upgrade(empty)
        baseline = measure(OPERATIONS["fully cached 2,000-cell re-run"][0], fresh_copy(empty, folder), url)
        print(f"cached re-run on a one-sweep file: {baseline['cold']:.3f} s (peak {baseline['peak_mb']:.0f} MB)")

        if not grown.exists():
            growth = grow(grown, url, args.trials)
            print(f"grew the history by {growth['sweeps']} sweeps in {growth['seconds']:.0f} s")
        print(f"opened it once with this promptlab (upgrading it if it was older): {upgrade(grown):.1f} s")
        stats = file_stats(grown)
        print(f"{stats['trials']:,} trials: {stats['per_trial']:.0f} B per trial, {stats['free']:.0%} free blocks")
        sizes = [f"{stats['trials'] // 1000}k"]
        results = {sizes[0]: measure_all(grown, folder, url)}
        if args.to > stats["trials"]:
            if not copied.exists():
                shutil.copyfile(grown, copied)
                print(f"bulk-copied the swept runs {in_own_process(bulk_copy, copied, args.to)} times")
            print(f"opened it once with this promptlab (indexing the copied trials): {upgrade(copied):.1f} s")
            big = file_stats(copied)
            print(f"{big['trials']:,} trials ({big['bytes'] / 1e9:.2f} GB), {big['free']:.0%} free blocks")
            sizes.append(f"{big['trials'] // 1000}k")
            results[sizes[1]] = measure_all(copied, folder, url)
        report(results, sizes)
        for size in sizes:
            ratio = results[size]["fully cached 2,000-cell re-run"]["cold"] / baseline["cold"]
            print(f"cached re-run at {size}: {ratio:.2f}× the one-sweep file's")
        if args.big_sweep:
            big_run = big_sweep_rss(folder, url, args.big_sweep)
            print(f"a {args.big_sweep:,}-cell sweep: {big_run['seconds']:.0f} s, peak RSS {big_run['peak_mb']:.0f} MB")
    finally:
        server.terminate()
        server.wait()
        remove_measured(folder)
        if not keep:
            shutil.rmtree(folder)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
