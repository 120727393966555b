"""Recording a sweep as a run: two processes resuming one interrupted run
call each remaining cell once; a finished command exits without waiting on
a file another program holds; who ran it; histories in awkward folders; an
experiment's tags are added to, never replaced."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.history import held_by_another_program, query_file
from support.providers import RecordingDisplay, running_stub_server
from support.team_history import TeamHistory

import promptlab as pl
from promptlab.cli import main
from promptlab.core.lineage import current_user, run_status
from promptlab.errors import StoreLocationError
from promptlab.runner import record
from promptlab.runner.progress import NullDisplay
from promptlab.runner.record import merged_tags
from promptlab.testing import fake_model

pytestmark = pytest.mark.both_stores

CELLS = 40

RESUMER = textwrap.dedent(
    """
    import sys
    import promptlab as pl
    db, url, cells = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = pl.Lab(db).sweep(
        pl.Prompt("Say {{ n }}", name="say"), pl.Model("stub", base_url=url),
        [{"n": str(i)} for i in range(cells)], concurrency=2, display=None,
    )
    print("RUN", run.run_id, run.status, flush=True)
    """
)


def test_two_processes_resuming_one_run_call_each_remaining_cell_once(tmp_path: Path) -> None:
    db = tmp_path / "history.duckdb"
    with running_stub_server(latency=0.05) as server:
        lab = pl.Lab(db)
        display = RecordingDisplay()
        rows = [{"n": str(i)} for i in range(CELLS)]
        model = pl.Model("stub", base_url=server.url)
        handle = lab.start(pl.Prompt("Say {{ n }}", name="say"), model, rows, concurrency=2, display=display)
        assert display.reached(8).wait(60)
        handle.cancel()
        interrupted = handle.result()
        assert interrupted.status == "cancelled"
        recorded = len(interrupted.df)
        calls_before = server.requests
        assert recorded < CELLS

        arguments = [sys.executable, "-c", RESUMER, str(db), server.url, str(CELLS)]
        resumers = [
            subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
        ]
        outputs = [resumer.communicate(timeout=240) for resumer in resumers]
        for resumer, (_, errors) in zip(resumers, outputs, strict=True):
            assert resumer.returncode == 0, errors
        calls = server.requests - calls_before

    runs = {line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("RUN ")}
    assert runs == {interrupted.run_id}  # both resumed the interrupted run: neither started another
    assert calls == CELLS - recorded  # every remaining cell called once, none twice
    [(trials, cell_keys)] = query_file(
        db, "SELECT count(*), count(DISTINCT cell_key) FROM trials WHERE run_id = ?", [interrupted.run_id]
    )
    assert trials == cell_keys == CELLS
    assert query_file(db, "SELECT status FROM runs WHERE run_id = ?", [interrupted.run_id]) == [("done",)]


@pytest.mark.parametrize("read_only", [True, False])
def test_a_finished_command_exits_while_another_program_holds_the_file(tmp_path: Path, read_only: bool) -> None:
    db = tmp_path / "history.duckdb"
    pl.Lab(db)
    with held_by_another_program(db, read_only=read_only):
        sweep = (
            "import promptlab as pl; from promptlab.testing import fake_model; "
            f"run = pl.Lab({str(db)!r}).sweep(pl.Prompt('Hi {{{{ n }}}}'), fake_model('echo'), [{{'n': 'a'}}], "
            "display=None); print(run.run_id)"
        )
        # A background fold would wait 30 s for the holder; the command must not wait for it.
        finished = subprocess.run(
            [sys.executable, "-c", sweep], capture_output=True, text=True, timeout=20, check=False
        )
    assert finished.returncode == 0, finished.stderr
    run_id = finished.stdout.strip().splitlines()[-1]
    assert len(pl.Lab(db).runs()) == 1 and run_id  # its trials were safe in the journal all along


def test_identity_prefers_the_person_to_a_shared_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTLAB_USER")
    monkeypatch.setenv("LOGNAME", "shared-account")
    monkeypatch.setenv("USER", "ana")
    assert current_user() == "ana"
    monkeypatch.setenv("JUPYTERHUB_USER", "kim")
    assert current_user() == "kim"
    monkeypatch.setenv("PROMPTLAB_USER", "lee")
    assert current_user() == "lee"


@pytest.mark.parametrize("folder", ["all*stars", "[draft]", "{a,b}", "a[*]b"])
def test_a_history_can_live_in_a_folder_with_pattern_characters(tmp_path: Path, folder: str) -> None:
    # read as a glob, "[draft]" matches a folder named "d" (not itself): its journal would vanish from reads
    lab = pl.Lab(tmp_path / folder / "history.duckdb", mkdir=True)
    run = lab.sweep(pl.Prompt("Hi {{ n }}"), fake_model("echo"), [{"n": "a"}, {"n": "b"}], display=None)
    assert sorted(run.df["output"]) == ["Hi a", "Hi b"]
    assert sorted(lab.trials()["output"]) == ["Hi a", "Hi b"]  # read while still in the journal
    assert lab.fold() >= 0
    assert sorted(pl.Lab(tmp_path / folder / "history.duckdb").trials()["output"]) == ["Hi a", "Hi b"]


def test_a_folder_with_a_question_mark_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreLocationError, match=r"has a '\?' in it.*folder whose path has no '\?'"):
        pl.Lab(tmp_path / "what?now" / "history.duckdb")
    assert not (tmp_path / "what?now").exists()  # nothing was made there


def test_a_run_whose_process_died_reads_as_interrupted_with_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "history.duckdb"
    code = textwrap.dedent(
        f"""
        import os, promptlab as pl
        from promptlab.providers import Completion

        class Dies:
            async def complete(self, request):
                os._exit(9)  # the kernel crashes mid-sweep
            async def aclose(self):
                pass

        pl.register_provider("dies", Dies())
        pl.Lab({str(db)!r}).sweep(pl.Prompt("Hi {{{{ n }}}}"), pl.Model("m", provider="dies"), [{{"n": "a"}}],
                                 experiment="crashy", display=None)
        """
    )
    crashed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert crashed.returncode == 9
    lab = pl.Lab(db)
    [run] = lab.runs().to_dict("records")
    assert run["status"] == "interrupted"
    assert lab.run(run["run_id"]).status == "interrupted"
    assert main(["--db", str(db), "runs"]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "again to resume" in out


def test_a_silent_run_on_another_host_reads_as_interrupted() -> None:
    now = datetime(2026, 12, 1, 12, 0)
    assert run_status("running", "other-host", 1, now - timedelta(minutes=1), now) == "running"
    assert run_status("running", "other-host", 1, now - timedelta(minutes=10), now) == "interrupted"
    assert run_status("done", "other-host", 1, now - timedelta(days=9), now) == "done"


def test_a_long_run_keeps_saying_it_is_alive(
    lab: pl.Lab, scripted: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record, "HEARTBEAT_SECONDS", 0.05)
    provider = scripted(latency=0.1)
    run = lab.sweep(
        pl.Prompt("Hi {{ n }}"), provider.model(), [{"n": str(i)} for i in range(6)], concurrency=1, display=None
    )
    info = lab.run_info(run.run_id)
    assert info["status"] == "done"
    assert info["revision"] > 3  # opening row, several heartbeats, the end
    assert info["heartbeat_at"] > info["started_at"]


def test_a_notebook_run_headless_records_its_path_as_the_source(tmp_path: Path) -> None:
    import nbformat

    db = tmp_path / "history.duckdb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import promptlab as pl\nfrom promptlab.testing import fake_model\n"
            f"pl.Lab({str(db)!r}).sweep(pl.Prompt('Hi {{{{ n }}}}'), fake_model('echo'), [{{'n': 'a'}}], display=None)"
        )
    ]
    path = tmp_path / "nightly report.ipynb"
    nbformat.write(notebook, path)
    jupyter = Path(sys.executable).with_name("jupyter")
    executed = subprocess.run(
        [str(jupyter), "nbconvert", "--to", "notebook", "--execute", "--output", "out", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert executed.returncode == 0, executed.stderr
    assert set(pl.Lab(db).trials()["source"]) == {str(path)}


def test_tags_are_added_to_and_removed_from_never_replaced() -> None:
    assert merged_tags(["news", "weekly"]) == ["news", "weekly"]
    assert merged_tags(["news", "weekly"], ["weekly", "draft"]) == ["news", "weekly", "draft"]
    assert merged_tags(["news", "weekly"], ["draft"], ["weekly"]) == ["news", "draft"]
    assert merged_tags([], None, ["absent"]) == []


def test_a_sweep_adds_its_tags_to_the_experiments_of_a_team(team: TeamHistory) -> None:
    lab = team.lab()

    def tags_after(**options: Any) -> list[str]:
        lab.sweep(
            pl.Prompt("Hi {{ n }}"),
            fake_model("echo"),
            [{"n": "a"}],
            experiment="summaries",
            display=NullDisplay(),
            resume=False,
            **options,
        )
        found = lab.experiments().set_index("experiment")
        assert found.loc["sentiment", "tags"] == ["support"]  # another experiment's are never touched
        return list(found.loc["summaries", "tags"])

    assert tags_after() == ["news", "weekly"]
    assert tags_after(tags=[]) == ["news", "weekly"]
    assert tags_after(tags=["draft"]) == ["news", "weekly", "draft"]
    assert tags_after(tags=["news"], remove_tags=["weekly"]) == ["news", "draft"]
    assert tags_after(description="what a week") == ["news", "draft"]
