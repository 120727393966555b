"""The team server store through the library: the same API as the file, the
server's identity on every row, the local spool when the server is away,
label rules the server enforces, and no password anywhere it could leak."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.postgres import Cluster, prepared_cluster, wait_until_up

import promptlab as pl
from promptlab.cli import main
from promptlab.errors import HistoryWarning, PolicyError
from promptlab.runner.progress import NullDisplay
from promptlab.store.server import reader as server_reader
from promptlab.store.server import roles
from promptlab.store.server.connection import connect
from promptlab.testing import fake_model

ROWS = [{"text": f"row {i}", "expected": f"ROW {i}"} for i in range(6)]


def sweep(lab: pl.Lab, prompt: str = "Say {{ text }}", **options: object) -> pl.Run:
    return lab.sweep(
        pl.Prompt(prompt, name="say"),
        [fake_model("echo"), fake_model("upper")],
        ROWS,
        params={"temperature": [0.0, 0.5]},
        evaluators=[pl.evals.contains("expected")],
        experiment="team",
        display=NullDisplay(),
        **options,  # type: ignore[arg-type]
    )


def test_a_sweep_on_the_server_reads_back_like_the_file(server_url: str, tmp_path: Path) -> None:
    on_server, on_file = pl.Lab(server_url), pl.Lab(tmp_path / "h.duckdb")
    served, filed = sweep(on_server), sweep(on_file)
    assert len(served.df) == len(filed.df) == 24
    assert set(served.df["user"]) == {"tester"}
    columns = ["prompt_name", "model", "output", "error", "cached"]
    key = ["model", "output"]
    assert (
        served.df[columns]
        .sort_values(key)
        .reset_index(drop=True)
        .equals(filed.df[columns].sort_values(key).reset_index(drop=True))
    )
    assert served.summary()[["model", "n"]].values.tolist() == filed.summary()[["model", "n"]].values.tolist()
    assert len(on_server.trials(search="row 3")) == len(on_file.trials(search="row 3")) == 4
    assert len(on_server.trials(search="ROW 3")) == 4  # any case, inputs' values and outputs
    assert on_server.trials(search="text").empty  # a column's name is not its value
    again = sweep(on_server)  # the shared cache: no call twice
    assert again.df["cached"].all()
    assert list(on_server.experiments()["experiment"]) == ["team"]


TRICKY = ["", "NULL", 'a "quoted", comma', "two\nlines\r\nand a tab\t", "back\\slash \\N", "é 漢字 🎉", "t", "f"]


def test_any_text_reads_back_exactly_as_it_was_written(server_url: str, tmp_path: Path) -> None:
    """A frame of trials comes through COPY as CSV: an empty text stays empty,
    "NULL" stays text, a missing value None, and every character as it was."""
    texts = [{"text": text} for text in TRICKY]
    served = pl.Lab(server_url).sweep(
        pl.Prompt("{{ text }}", name="tricky"), fake_model("echo"), texts, display=NullDisplay()
    )
    filed = pl.Lab(tmp_path / "h.duckdb").sweep(
        pl.Prompt("{{ text }}", name="tricky"), fake_model("echo"), texts, display=NullDisplay()
    )
    columns = ["vars", "output", "error", "error_type", "cached", "cost_usd", "latency_ms", "created_at"]
    on_server, on_file = (run.df.sort_values("output", ignore_index=True)[columns] for run in (served, filed))
    assert sorted(on_server["output"]) == sorted(TRICKY)
    assert on_server["error"].isna().all() and not on_server["cached"].any()
    assert [str(dtype) for dtype in on_server.dtypes] == [str(dtype) for dtype in on_file.dtypes]
    assert on_server["vars"].tolist() == on_file["vars"].tolist()
    nulls = "SELECT v FROM (VALUES (NULL), ('x'), (NULL)) AS t(v) ORDER BY v"
    served, filed = (lab.store.query(nulls)["v"] for lab in (pl.Lab(server_url), pl.Lab(tmp_path / "h.duckdb")))
    assert len(served) == 3 and served.equals(filed)  # a row of one NULL is an empty CSV line, and still a row


@pytest.mark.parametrize("listed", [["a"], ["a", None], [], [None]], ids=["one", "with a null", "empty", "null"])
def test_a_list_filter_answers_on_the_server_as_in_the_file(server_url: str, tmp_path: Path, listed: list[Any]) -> None:
    """``x IN (SELECT unnest(?))`` is sent as ``x = ANY(?)`` (faster): the same rows, nulls included."""
    values = "SELECT * FROM (VALUES ('a'), ('b'), (NULL)) AS t(v)"
    for condition in ("v IN (SELECT unnest(?))", "NOT v IN (SELECT unnest(?))"):
        text = f"SELECT v FROM ({values}) AS t WHERE {condition} ORDER BY v"
        answers = [
            list(pl.Lab(where).store.query(text, [listed])["v"]) for where in (server_url, tmp_path / "h.duckdb")
        ]
        assert answers[0] == answers[1], condition


def test_a_querys_columns_are_asked_of_the_server_once(server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = pl.Lab(server_url)
    sweep(lab)
    described: list[str] = []
    execute = psycopg.Cursor.execute

    def counting(cursor: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        if str(query).endswith("LIMIT 0"):
            described.append(str(query))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    monkeypatch.setattr(server_reader, "_DESCRIBED", {})  # as in a fresh process
    first = lab.trials(experiment="team")
    asked = len(described)
    again = lab.trials(experiment="team")  # the same queries: their columns are known
    assert asked and len(described) == asked and again.equals(first)


def test_each_teammate_sees_the_others_runs_under_their_own_name(pg_cluster: Cluster, server_url: str) -> None:
    database = server_url.rsplit("/", 1)[1]
    with connect(pg_cluster.url(database)) as admin:
        roles.grant(admin, "ana", "researcher")
    sweep(pl.Lab(server_url))
    ana = pl.Lab(pg_cluster.url(database, user="ana"))
    sweep(ana, prompt="Repeat {{ text }}")
    users = pl.Lab(server_url).trials()["user"].value_counts().to_dict()
    assert users == {"tester": 24, "ana": 24}


def test_the_password_never_shows(pg_cluster: Cluster, server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    database = server_url.rsplit("/", 1)[1]
    pg_cluster.psql(
        "DO $$ BEGIN CREATE ROLE lab_pw LOGIN PASSWORD 's3cret-Pa55'; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    with connect(pg_cluster.url(database)) as admin:
        roles.grant(admin, "lab_pw", "researcher")
    url = pg_cluster.url(database, user="lab_pw", password="s3cret-Pa55")
    lab = pl.Lab(url)
    run = sweep(lab)
    shown = repr(lab) + lab.location + run.df.to_json() + lab.runs().to_json()
    assert "s3cret" not in shown and "lab_pw" in shown
    with pytest.raises(Exception) as refused:
        pl.Lab(pg_cluster.url(database, user="lab_pw", password="wrong-s3cret"))
    assert "s3cret" not in str(refused.value)
    assert main(["--db", url, "history"]) == 0
    assert "s3cret" not in capsys.readouterr().out


def test_protected_labels_move_only_with_an_approval_the_server_saw(pg_cluster: Cluster, server_url: str) -> None:
    database = server_url.rsplit("/", 1)[1]
    with connect(pg_cluster.url(database)) as admin:
        roles.grant(admin, "lee", "approver")
    lab = pl.Lab(server_url)
    version = sweep(lab).df["prompt_version"].iloc[0]
    assert lab.protected_labels() == ["production"]
    assert lab.approvers("say", version) == ["lee"]
    with pytest.raises(PolicyError):
        lab.promote("say", version, label="production", approved_by="lee")  # lee hasn't approved
    lab.promote("say", version, label="staging")  # not protected
    lee = pl.Lab(pg_cluster.url(database, user="lee"))
    lee.approve_promotion("say", version, "production")
    with pytest.raises(PolicyError):
        lee.promote("say", version, label="production", approved_by="lee")  # their own move
    lab.promote("say", version, label="production", approved_by="lee")
    labels = lab.labels("say").set_index("label")
    assert labels.loc["production", "version"] == version
    assert pl.load_prompt("say", label="production", db=server_url).version == version
    with pytest.raises(PolicyError):
        lab.approve_promotion("say", version, "production")  # tester is no approver


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Cluster]:
    """A cluster this module may stop and start."""
    with prepared_cluster() as cluster:
        yield cluster


def test_a_sweep_carries_on_while_the_server_is_away_and_every_trial_arrives_once(own_cluster: Cluster) -> None:
    url = own_cluster.url(own_cluster.new_database(), user="tester")
    lab = pl.Lab(url)
    sweep(lab)
    own_cluster.stop()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            away = sweep(lab, prompt="Away {{ text }}")
        said = " ".join(str(w.message) for w in caught if issubclass(w.category, HistoryWarning))
        assert "can't be reached" in said and "24 trial(s) wait in the local spool" in said
        assert away.run_id and lab.store.waiting() == 24
    finally:
        own_cluster.start()
        wait_until_up(own_cluster)
    with pytest.warns(HistoryWarning, match="24 trial"):
        lab.trials()  # a read says what the server hasn't got yet
    assert lab.flush() > 0
    assert lab.store.waiting() == 0
    trials = lab.trials()
    assert len(trials) == 48 and trials["trial_id"].is_unique
    assert lab.flush() == 0  # nothing twice
    reopened = pl.Lab(url)
    assert len(reopened.trials()) == 48


def test_a_send_repeated_after_a_lost_acknowledgement_adds_nothing(server_url: str) -> None:
    lab = pl.Lab(server_url)
    store = lab.store
    sweep(lab)
    before = len(lab.trials())
    rows = lab.store.query("SELECT * FROM trials").to_dict("records")
    store.append({"trials": rows[:5]})  # the same trials again, as after a send whose answer was lost
    assert store.fold() == 1
    assert len(lab.trials()) == before


def test_db_init_and_grant_from_the_command_line(pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    pg_cluster.psql('CREATE DATABASE "cli_init"')
    admin = pg_cluster.url("cli_init")
    assert main(["db", "init", admin]) == 0
    assert main(["--db", admin, "db", "grant", "kim", "reader"]) == 0
    out = capsys.readouterr().out
    assert "protected: production" in out and "kim is now reader" in out
    kim = pl.Lab(pg_cluster.url("cli_init", user="kim"))
    assert kim.trials().empty
    with pytest.raises(PolicyError):
        lab = pl.Lab(pg_cluster.url("cli_init", user="kim"))
        lab.store.append({"trials": [{"trial_id": "x"}]})


def test_in_the_registry_an_approver_approves_and_a_researcher_promotes(
    pg_cluster: Cluster, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.widgets import raise_handler_errors, text_of

    from promptlab.ui import registry

    raise_handler_errors(monkeypatch)
    database = server_url.rsplit("/", 1)[1]
    with connect(pg_cluster.url(database)) as admin:
        roles.grant(admin, "lee", "approver")
    lab = pl.Lab(server_url)
    version = sweep(lab).df["prompt_version"].iloc[0]
    mine = registry(lab)
    mine.name.value = "say"
    assert mine.approve_button.layout.display == "none"  # tester is no approver
    mine.promote_button.click()
    assert "production is protected: choose an approver (lee)" in text_of(mine.message.value)
    mine.approver.value = "lee"
    mine.promote_button.click()
    mine.confirm_button.click()
    assert "lee must approve" in text_of(mine.message.value)  # the server's own words
    assert lab.labels("say").empty
    theirs = registry(pl.Lab(pg_cluster.url(database, user="lee")))
    theirs.name.value = "say"
    assert theirs.approve_button.layout.display is None
    theirs.approve_button.click()
    assert "approved" in text_of(theirs.message.value)
    mine.approver.value = "lee"
    mine.promote_button.click()
    mine.confirm_button.click()
    assert lab.labels("say").set_index("label").loc["production", "version"] == version


def test_two_people_on_two_machines_see_each_others_runs(pg_cluster: Cluster, server_url: str, tmp_path: Path) -> None:
    """The README's walk-through: two logins, two home folders (two spools), one
    server; each runs an experiment with the promptlab command, each sees both."""
    import os
    import subprocess
    import sys

    database = server_url.rsplit("/", 1)[1]
    with connect(pg_cluster.url(database)) as admin:
        for person in ("ana", "lee"):
            roles.grant(admin, person, "researcher")
    experiment = tmp_path / "moods.yaml"
    (tmp_path / "rows.jsonl").write_text('{"text": "sunny"}\n{"text": "rainy"}\n')
    experiment.write_text(
        "experiment: moods\nprompts:\n  - {name: plain, template: 'Mood of: {{ text }}'}\n"
        "models:\n  - {name: echo, provider: fake}\ndata: rows.jsonl\n"
    )
    outputs = {}
    for person in ("ana", "lee"):
        home = tmp_path / f"home-{person}"
        home.mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PROMPTLAB_", "PG", "XDG_"))},
            "HOME": str(home),
            "PROMPTLAB_DB": pg_cluster.url(database, user=person),
            "PROMPTLAB_USER": "someone-else",  # the server records the login, not this
        }
        for command in (["run", str(experiment), "--dry-run"], ["run", str(experiment)], ["history"]):
            done = subprocess.run(
                [sys.executable, "-m", "promptlab", *command],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        outputs[person] = done.stdout
        assert (home / ".local" / "state" / "promptlab" / "spool").is_dir()
    assert "Mood of: sunny" in outputs["lee"]
    users = pl.Lab(server_url).runs()["user"].tolist()
    assert sorted(users) == ["ana", "lee"]
    runs = subprocess.run(
        [sys.executable, "-m", "promptlab", "--db", server_url, "runs"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert " ana" in runs.stdout and " lee" in runs.stdout


def test_load_prompt_keeps_serving_what_it_read_while_the_server_is_away(
    own_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptlab.errors import ServerUnreachableError
    from promptlab.release import prompt_files

    url = own_cluster.url(own_cluster.new_database(), user="tester")
    lab = pl.Lab(url)
    version = sweep(lab).df["prompt_version"].iloc[0]
    lab.promote("say", version, label="staging")
    assert pl.load_prompt("say", label="staging", db=url).version == version
    monkeypatch.setattr(prompt_files, "SERVER_LABEL_SECONDS", 0.0)  # ask the server every time
    own_cluster.stop()
    try:
        with pytest.warns(HistoryWarning, match="serving the 'staging' version of 'say' read before"):
            assert pl.load_prompt("say", label="staging", db=url).version == version
        with pytest.raises(ServerUnreachableError), warnings.catch_warnings():
            warnings.simplefilter("ignore", HistoryWarning)
            pl.load_prompt("say", label="never-read", db=url)
    finally:
        own_cluster.start()
        wait_until_up(own_cluster)


def test_load_prompt_reads_a_server_label_with_the_librarys_own_queries_and_no_translator(
    server_url: str,
) -> None:
    import subprocess
    import sys

    from promptlab.store import prompt_reads
    from promptlab.store.server import label_reads
    from promptlab.store.server.dialect import postgres

    assert postgres(prompt_reads.labels_sql(of_name=True)) == label_reads.LABELS_OF_NAME
    assert postgres(prompt_reads.PROMPT_TEMPLATE_SQL) == label_reads.PROMPT_TEMPLATE
    lab = pl.Lab(server_url)
    version = sweep(lab).df["prompt_version"].iloc[0]
    lab.promote("say", version, label="staging")
    code = (
        "import sys, promptlab as pl; "
        f"p = pl.load_prompt('say', label='staging', db={server_url!r}); "
        "print(p.version, 'sqlglot' in sys.modules, 'pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == [version, "False", "True"]  # pandas: promptlab's own import


def test_reads_speak_of_the_spool_only_after_a_send_failed(server_url: str) -> None:
    """During a sweep the spool always holds the trials of the next send: that is no news."""
    lab = pl.Lab(server_url)
    sweep(lab)
    rows = lab.store.query("SELECT * FROM trials LIMIT 2").to_dict("records")
    lab.store.append({"trials": rows}, seal=False)  # waiting for the next send, as mid-sweep
    with warnings.catch_warnings():
        warnings.simplefilter("error", HistoryWarning)
        assert len(lab.trials()) == 24
