"""The README's loop, with the example app (``experiments/support_app.py``)
answering through the real ``openai`` client (against the stub server, so
it is quick): promote → serve → log → feedback → monitor → dataset → sweep
→ promote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import promptlab as pl
from promptlab import cli
from promptlab.testing import StubServer

APP = Path(__file__).resolve().parents[2] / "experiments" / "support_app.py"


def test_the_whole_loop_with_the_example_app(tmp_path: Path, stub_server: StubServer) -> None:
    db = tmp_path / "history.duckdb"
    served = subprocess.run(
        [sys.executable, str(APP), "--db", str(db), "--calls", "8", "--base-url", stub_server.url, "--model", "stub"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert served.returncode == 0, served.stderr
    assert "answered 8 questions with support-reply (production" in served.stdout
    lab = pl.Lab(db)
    lab.fold()

    # serve → log → feedback: every call, under the label that served it, with its customer's verdict
    calls = lab.trials(kind="production")
    assert len(calls) == 8 and set(calls["label"]) == {"production"} and set(calls["source"]) == {"support-app"}
    assert calls["external_id"].str.startswith("req-").all() and calls["end_user"].notna().all()
    assert (calls["votes_up"] + calls["votes_down"] == 1).all()  # feedback by the app's request id, resolved
    down = calls[calls["votes_down"] > 0]
    assert len(down) and down["correction"].notna().all()

    # monitor
    assert cli.main(["--db", str(db), "monitor", "support-reply"]) == 0
    monitor = lab.monitor("support-reply")
    assert int(monitor.df["n"].sum()) == 8

    # dataset of the down-voted answers, corrections as the expected output → a sweep on it → the next promotion
    dataset = lab.dataset("support-regressions")
    dataset.add(down)
    assert len(dataset) == len(set(down["vars"].map(lambda v: v["question"])))
    better = pl.Prompt(
        [{"role": "system", "content": "Answer with the exact steps."}, {"role": "user", "content": "{{ question }}"}],
        name="support-reply",
    )
    run = lab.sweep(better, pl.Model("stub", base_url=stub_server.url), data=dataset, display=None)
    assert len(run.df) == len(dataset) and lab.run_info(run.run_id)["config"]["data"].startswith("dataset:")
    lab.promote("support-reply", better.version, label="production", note="fixes the down-voted answers")
    assert pl.load_prompt("support-reply", db=db).version == better.version
