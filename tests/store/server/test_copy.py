"""Moving histories between stores (``promptlab.store.copy``): a team's file
into a server and back, two teammates' files into one server, a copy
interrupted (by a failure, by ``kill -9``) and run again, each ending with
the same rows, no duplicates, users as recorded and the label chain intact."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.postgres import Cluster
from support.team_history import TeamHistory, as_user

import promptlab as pl
from promptlab.cli import main
from promptlab.errors import PolicyError, StoreError
from promptlab.runner.progress import NullDisplay
from promptlab.store import copy
from promptlab.store.schema import TABLES
from promptlab.testing import fake_model

PASSWORD = "s3cret-Pa55"


def admin_url(cluster: Cluster, server_url: str) -> str:
    """The superuser's URL of the test's database (``server_url`` is the researcher's)."""
    return cluster.url(server_url.rsplit("/", 1)[1])


def rows_of(store: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table``, JSON decoded, sorted in Python (the server's collation isn't DuckDB's)."""
    spec = TABLES[table]
    columns = ", ".join(f'"{c}"' for c in spec.column_names)
    with store.reading() as reader:
        found = reader.execute(f"SELECT {columns} FROM {table}").fetchall()
    kinds = [kind for _, kind in spec.columns]
    decoded = [
        tuple(json.loads(v) if kind == "JSON" and v is not None else v for kind, v in zip(kinds, row, strict=True))
        for row in found
    ]
    return sorted(decoded, key=lambda row: json.dumps(row, default=str))


def counts(store: Any) -> dict[str, int]:
    return {table: len(rows_of(store, table)) for table in TABLES}


def assert_same_history(first: Any, second: Any) -> None:
    for table in TABLES:
        assert rows_of(first, table) == rows_of(second, table), table


def trial_users(lab: pl.Lab) -> dict[str, str]:
    return dict(zip(lab.trials(kind=None)["trial_id"], lab.trials(kind=None)["user"], strict=True))


@pytest.fixture
def team_lab(team: TeamHistory) -> Iterator[pl.Lab]:
    yield team.lab()


@pytest.fixture
def admin(pg_cluster: Cluster, server_url: str) -> str:
    """The test's database as its admin (the cluster's superuser)."""
    return admin_url(pg_cluster, server_url)


def test_a_teams_file_goes_into_a_server_whole_and_once(team_lab: pl.Lab, admin: str, server_url: str) -> None:
    result = team_lab.copy_to(admin, progress=False)
    assert result.skipped == 0 and result.copied == sum(counts(team_lab.store).values())
    server = pl.Lab(server_url)  # read back as the researcher
    assert_same_history(team_lab.store, server.store)
    assert trial_users(server) == trial_users(team_lab)
    assert {"ana", "ben", "kim"} <= set(trial_users(server).values())  # as recorded, not the copier's name
    assert set(server.feedback_for()["user"]) == {"ana", "ben", "kim", "app-bot"}  # the app's, for its users
    report = server.verify()
    assert report.ok and report.chained == len(team_lab.label_history()) > 0, str(report)
    assert server.labels().sort_values(["name", "label"])["version"].tolist() == (
        team_lab.labels().sort_values(["name", "label"])["version"].tolist()
    )
    again = team_lab.copy_to(admin, progress=False)
    assert again.copied == 0 and again.skipped == result.copied
    assert counts(server.store) == counts(team_lab.store)
    assert "0 copied" in str(again) and "rows/s" in str(again)


def test_only_an_admin_copies_into_a_server(team_lab: pl.Lab, server_url: str) -> None:
    with pytest.raises(PolicyError, match="takes a promptlab admin"):
        team_lab.copy_to(server_url, progress=False)
    assert counts(pl.Lab(server_url).store)["trials"] == 0


def test_a_server_comes_back_into_a_file(team_lab: pl.Lab, admin: str, server_url: str, tmp_path: Path) -> None:
    copy.copy_history(team_lab.store, admin)
    server = pl.Lab(server_url)
    result = server.copy_to(tmp_path / "back.duckdb", progress=False)  # a researcher may copy out
    back = pl.Lab(tmp_path / "back.duckdb")
    assert result.copied == sum(counts(team_lab.store).values())
    assert_same_history(team_lab.store, back.store)
    assert back.verify().ok and back.verify().chained > 0
    statuses = [lab.runs().set_index("run_id")["status"].to_dict() for lab in (back, team_lab)]
    assert statuses[0] == statuses[1] and "interrupted" in statuses[0].values()
    assert server.copy_to(tmp_path / "back.duckdb", progress=False).copied == 0
    assert back.fold() == 0  # every page was folded into the file as it went


def test_one_server_copies_into_another_whole_and_once(team_lab: pl.Lab, admin: str, pg_cluster: Cluster) -> None:
    """A team moving servers: from the old server (read as anyone) into a new one (as its admin)."""
    copy.copy_history(team_lab.store, admin)
    new_server = pg_cluster.url(pg_cluster.new_database())
    old = pl.Lab(admin)
    result = old.copy_to(new_server, progress=False)
    assert result.skipped == 0 and result.copied == sum(counts(team_lab.store).values())
    moved = pl.Lab(new_server)
    assert_same_history(old.store, moved.store)
    assert trial_users(moved) == trial_users(team_lab)  # the names of then, not the admin who copied
    assert moved.verify().ok and moved.verify().chained > 0
    assert old.copy_to(new_server, progress=False).copied == 0


def zoes_file(path: Path, *, promote: bool = False) -> pl.Lab:
    """A teammate's own history: one sweep, a vote, maybe a label move."""
    lab = pl.Lab(path)
    with as_user("zoe"):
        run = lab.sweep(
            pl.Prompt("Summarize: {{ text }}", name="summarize"),
            fake_model("echo"),
            [{"text": "zoe's review"}, {"text": "another one"}],
            experiment="zoe",
            display=NullDisplay(),
        )
        lab.feedback(str(run.df["trial_id"].iloc[0]), vote="up")
        if promote:
            lab.promote("summarize", run.df["prompt_version"].iloc[0], "staging")
    lab.fold()
    return lab


def test_two_teammates_files_go_into_one_server(team_lab: pl.Lab, admin: str, server_url: str, tmp_path: Path) -> None:
    zoe, url = zoes_file(tmp_path / "zoe.duckdb"), admin
    team_lab.copy_to(url, progress=False)
    zoe.copy_to(url, progress=False)
    server = pl.Lab(server_url)
    assert trial_users(server) == {**trial_users(team_lab), **trial_users(zoe)}
    assert set(server.trials(experiment="zoe")["user"]) == {"zoe"}
    for table in ("trials", "feedback", "scores", "runs"):
        assert len(rows_of(server.store, table)) == len(rows_of(team_lab.store, table)) + len(rows_of(zoe.store, table))
    assert server.verify().ok
    assert team_lab.copy_to(url, progress=False).copied == zoe.copy_to(url, progress=False).copied == 0


def test_two_label_logs_are_not_merged_into_one_chain(
    team_lab: pl.Lab, admin: str, server_url: str, tmp_path: Path
) -> None:
    zoe, url = zoes_file(tmp_path / "zoe.duckdb", promote=True), admin
    team_lab.copy_to(url, progress=False)
    before = counts(pl.Lab(server_url).store)
    with pytest.raises(StoreError, match="one log can't hold two chains"):
        zoe.copy_to(url, progress=False)
    assert counts(pl.Lab(server_url).store) == before  # refused before anything was written
    result = zoe.copy_to(url, labels=False, progress=False)
    assert "label_events" not in {t.table for t in result.tables}
    assert set(pl.Lab(server_url).trials(experiment="zoe")["user"]) == {"zoe"}
    assert pl.Lab(server_url).verify().ok


@pytest.mark.parametrize("into", ["server", "file"])
def test_a_copy_that_fails_midway_carries_on_when_run_again(
    team_lab: pl.Lab, admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, into: str
) -> None:
    destination = admin if into == "server" else str(tmp_path / "copy.duckdb")
    kind = copy.ServerDestination if into == "server" else copy.FileDestination
    write, pages = kind.write, []

    def fail_on_the_fourth_page(self: Any, table: Any, rows: Any) -> None:
        pages.append(table.name)
        if len(pages) == 4:
            raise ConnectionResetError("the network went away")
        write(self, table, rows)

    monkeypatch.setattr(kind, "write", fail_on_the_fourth_page)
    with pytest.raises(ConnectionResetError):
        copy.copy_history(team_lab.store, destination, batch_rows=40)
    monkeypatch.undo()
    result = copy.copy_history(team_lab.store, destination, batch_rows=40)
    assert 0 < result.skipped < sum(counts(team_lab.store).values())  # the three pages written stay
    reader = pl.Lab(destination)
    assert_same_history(team_lab.store, reader.store)  # whole, and (keys are unique) nothing twice
    assert reader.verify().ok


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill -9", "ctrl+c"])
def test_a_stopped_copy_resumes_from_the_command_line(
    team_lab: pl.Lab, admin: str, server_url: str, capsys: pytest.CaptureFixture[str], stop: signal.Signals
) -> None:
    url = admin.replace("postgres@", f"postgres:{PASSWORD}@")  # a trust login: the password is only carried
    command = [sys.executable, "-m", "promptlab", "db", "copy", str(team_lab.path), url, "--batch-rows", "10"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # a shell's background job (CI) ignores Ctrl+C, and a child inherits that: a person's terminal doesn't
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    assert process.stdout is not None and process.stderr is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.strip().startswith("trials: 20/"):
            process.send_signal(stop)  # mid-way through the trials, two pages in
            break
    seen += process.stdout.readlines()
    process.wait(timeout=60)
    printed = "".join(seen) + process.stderr.read()
    assert process.returncode == (-signal.SIGKILL if stop == signal.SIGKILL else 130), printed
    if stop == signal.SIGINT:
        assert "interrupted" in printed and "the same command carries on" in printed
    partial = counts(pl.Lab(server_url).store)["trials"]
    assert 20 <= partial < counts(team_lab.store)["trials"]
    assert main(["db", "copy", str(team_lab.path), url]) == 0
    out = capsys.readouterr().out
    assert_same_history(team_lab.store, pl.Lab(server_url).store)  # whole, and nothing twice
    assert re.search(rf"^  trials +\d+ copied +{partial} already there$", out, re.M), out
    assert re.search(r"^  feedback: (\d+)/\1 read", out, re.M) and re.search(r"^  total +\d+ copied", out, re.M)
    assert PASSWORD not in out + printed and "postgres:***@" in out


def test_copying_a_history_onto_itself_is_refused(team_lab: pl.Lab) -> None:
    with pytest.raises(StoreError, match="both the source and the destination"):
        team_lab.copy_to(team_lab.path, progress=False)
