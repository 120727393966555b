"""One llama.cpp server per model serves every process on the machine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import promptlab as pl
from promptlab.providers import embedded, model_files
from promptlab.runner.progress import NullDisplay

pytestmark = pytest.mark.integration

OWNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from promptlab.providers import embedded
    server = embedded.server_for(Path(sys.argv[1]))
    print(server.url, flush=True)
    time.sleep(600)
    """
)


@pytest.fixture(scope="module")
def smollm2() -> Path:
    return model_files.pull("smollm2", quiet=True)


def test_a_second_process_uses_the_first_ones_server_and_takes_over_when_it_exits(
    smollm2: Path, tmp_path: Path
) -> None:
    embedded.stop_servers()  # this process must not already serve it
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(smollm2)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        url = owner.stdout.readline().strip()
        shared = embedded.server_for(smollm2)
        assert not shared.owned and shared.url == url
        lab = pl.Lab(tmp_path / "h.duckdb")
        run = lab.sweep(
            pl.Prompt("Say {{ x }}."), pl.Model("smollm2", max_tokens=4), [{"x": "hi"}], display=NullDisplay()
        )
        assert run.df["error"].isna().all()
        _, info = embedded._announcement(smollm2, embedded.SLOTS)
        assert json.loads(info.read_text())["pid"] == owner.pid
    finally:
        owner.kill()
        owner.wait()
    time.sleep(0.5)
    # The owner is gone: the next sweep here retries, starts the server itself and finishes.
    run = lab.sweep(
        pl.Prompt("Say {{ x }}."), pl.Model("smollm2", max_tokens=4), [{"x": "again"}], display=NullDisplay()
    )
    assert run.df["error"].isna().all()
    mine = embedded.server_for(smollm2)
    assert mine.owned and mine.url != url
    assert json.loads(info.read_text())["pid"] != owner.pid
