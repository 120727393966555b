"""The history file as tests see it from outside: wait for background folds,
read it with a plain DuckDB connection, hold it open from another program,
and write rows by hand."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from promptlab.store import database
from promptlab.store.schema import TABLES


def settle() -> None:
    """Wait until every background fold queued so far has finished (they run
    one at a time on promptlab's fold worker), so the file is quiet."""
    database._FOLDER.submit(lambda: None).result()


def query_file(path: str | Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Read the file as an outside DuckDB client: a plain read-only connection."""
    settle()
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@contextlib.contextmanager
def held_by_another_program(path: Path, *, read_only: bool) -> Iterator[subprocess.Popen[str]]:
    """A process outside promptlab holding the file with a plain DuckDB
    connection (a DuckDB shell, a DBeaver tab) until the block ends."""
    code = (
        "import duckdb, sys\n"
        f"con = duckdb.connect({str(path)!r}, read_only={read_only})\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "con.close()\n"
    )
    with running_until_released(code) as holder:
        yield holder


@contextlib.contextmanager
def running_until_released(code: str) -> Iterator[subprocess.Popen[str]]:
    """Another Python process running ``code``, which prints "ready" once it
    holds what it holds and lets go when its stdin closes, at the block's end."""
    settle()
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.communicate()[1]
        yield process
    finally:
        assert process.stdin is not None and process.stderr is not None
        if not process.stdin.closed:  # (a test may have closed it already)
            process.stdin.close()  # the process lets go and exits
        assert process.wait(timeout=60) == 0, process.stderr.read()


def trial_row(**values: Any) -> dict[str, Any]:
    """A complete ``trials`` row as the journal stores it; ``values`` override."""
    row: dict[str, Any] = dict.fromkeys(TABLES["trials"].column_names)
    row.update(
        trial_id=uuid.uuid4().hex,
        run_id="run-by-hand",
        experiment="by-hand",
        cell_key=uuid.uuid4().hex[:20],
        cache_key=uuid.uuid4().hex[:20],
        prompt_name="p",
        prompt_version="0" * 12,
        model="echo",
        model_id="1" * 12,
        provider="fake",
        params={},
        row_index=0,
        vars={"text": "hello"},
        repeat=0,
        messages=[{"role": "user", "content": "hello"}],
        output="hello",
        cached=False,
        attempts=1,
        started_at="2026-01-01T00:00:00",
        created_at="2026-01-01T00:00:01",
        user="tester",
        host="here",
        pid=1,
        promptlab_version="0",
    )
    row.update(values)
    return row
