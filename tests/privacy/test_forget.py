"""``forget``: a person's data out of every byte of the history, and nothing else.

A history as a team has it (two prompts, three models, repeats, a failed
call, a judge, a cached rerun, feedback with a correction, datasets made
from trials, an application's calls from three end users with their
verdicts). After ``forget`` the erased value (in every case, plain and
JSON-escaped, and its words in the search index) is in no byte of the file,
its WAL or its journal, and on a server in no table (and no table's file
after its VACUUM), while a value nobody erased still is, and every other
row is still there (counts before and after). The audit row says how, why
and by whom, never what.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict
from support.postgres import SUPERUSER, Cluster
from support.providers import ScriptedProvider
from support.team_history import JUDGE_RUBRIC, models, register_providers

import promptlab as pl
from promptlab.errors import ConfigError, HistoryWarning, PermanentError, PolicyError, StoreBusyError
from promptlab.privacy.erasure import ErasureReport, forget
from promptlab.providers import Request
from promptlab.runner.progress import NullDisplay
from promptlab.store.journal import Journal
from promptlab.store.location import journal_folder
from promptlab.store.schema import TABLES
from promptlab.store.server.connection import connect

pytestmark = pytest.mark.both_stores

SECRET = 'Zephyrine "Zee" Quist'
"""The person to forget: quotes in it, so JSON columns hold it escaped."""

CONTROL = "Barnaby Fothergill"
"""Someone else, who stays."""

PERSON = "u-7781"
PERSONAL = "parcel 88-ZX-4417"
"""Only in the calls of the end user ``PERSON``."""

ROWS = [
    {"text": f"Order for {SECRET}: a kettle", "expected": "kettle"},
    {"text": f"{CONTROL} wants a lamp", "expected": "lamp"},
    {"text": f"Refund {SECRET.upper()} for the chair", "expected": "chair"},
    {"text": "A storm took the power out", "expected": "storm"},
]
QUIET = NullDisplay()


async def refuses_refunds(request: Request, text: str, attempt: int) -> None:
    """The scripted model refuses refunds, quoting the request in its error."""
    if "Refund" in text:
        raise PermanentError(f"the endpoint refused: {text}", status=400)


def db_of(lab: pl.Lab) -> str:
    url = getattr(lab.store, "url", None)
    return url if url is not None else str(lab.path)


def build_history(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> dict[str, Any]:
    """Record the history (see the module docstring); where things are."""
    register_providers()
    m = models()
    provider = scripted(refuses_refunds)
    prompts = [
        pl.Prompt("Summarize: {{ text }}", name="summarize"),
        pl.Prompt(
            [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{ text }}"}], name="summarize"
        ),
    ]
    judge = pl.evals.judge(JUDGE_RUBRIC, model=m["grader"], threshold=0.5)
    sweep = lab.sweep(
        prompts,
        [m["echo"], m["upper"], provider.model("scripted")],
        ROWS,
        repeats=2,
        evaluators=[pl.evals.contains("expected"), judge],
        experiment="orders",
        display=QUIET,
    )
    rerun = lab.sweep(prompts[0], m["echo"], ROWS, experiment="orders", resume=False, display=QUIET)
    trials = sweep.df
    secret_trial = str(trials[trials["output"].fillna("").str.contains("Zephyrine")]["trial_id"].iloc[0])
    control_trial = str(trials[trials["output"].fillna("").str.contains(CONTROL)]["trial_id"].iloc[0])
    lab.feedback(secret_trial, correction=f"{SECRET} ordered one kettle")
    lab.feedback(secret_trial, comment=f"call {SECRET.lower()} back")
    lab.feedback(control_trial, vote=1, comment="good")
    lab.dataset("regressions").add(sweep)
    lab.dataset("regressions").add([{"text": f"{SECRET} again", "expected": "kettle"}])
    with pl.logger(db_of(lab), source="support-app") as log:
        calls = {}
        for i, (user, text) in enumerate(
            [(PERSON, f"Where is my {PERSONAL}?"), ("u-2", f"{CONTROL} asks about a lamp"), (PERSON, "Cancel it")]
            + [(f"u-{n}", f"question {n}") for n in range(3, 7)]
        ):
            calls[i] = log.record(prompts[0], {"text": text}, f"Answer {i}", end_user=user, external_id=f"req-{i}")
        log.feedback("req-0", vote=-1, correction=f"It is {PERSONAL}, not that", end_user=PERSON)
        log.feedback("req-2", vote=1, end_user="support-lead")  # someone else's verdict on the person's call
        log.feedback("req-1", vote=1, end_user=PERSON)  # the person's verdict on another's call
    lab.fold()
    lab.dataset("from-production").add(lab.trials(kind="production"))
    lab.fold()
    return {"sweep": sweep, "rerun": rerun, "secret": secret_trial, "control": control_trial, "calls": calls}


@pytest.fixture
def history(lab: pl.Lab, scripted: Callable[..., ScriptedProvider]) -> dict[str, Any]:
    return build_history(lab, scripted)


@pytest.fixture
def admin(lab: pl.Lab, request: pytest.FixtureRequest) -> Iterator[pl.Lab]:
    """Who may erase: the file's user; on a server, an admin (the cluster's superuser)."""
    if lab.store.identity is None:
        yield lab
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    yield pl.Lab(cluster.url(conninfo_to_dict(lab.store.url)["dbname"], user=SUPERUSER))  # type: ignore[attr-defined]


def counts(lab: pl.Lab) -> dict[str, int]:
    return {name: int(lab.store.query(f"SELECT count(*) AS n FROM {name}")["n"].iloc[0]) for name in TABLES}


def forms(text: str) -> list[bytes]:
    """``text`` lowercased as it may be written: plainly, and JSON-escaped."""
    low = text.lower()
    return [low.encode(), json.dumps(low)[1:-1].encode(), json.dumps(low, ensure_ascii=False)[1:-1].encode()]


def file_bytes(lab: pl.Lab) -> bytes:
    """Every byte promptlab keeps for a history file: the file, its WAL, its journal
    (quarantine included), the label file; lowercased."""
    folder = lab.path.parent
    paths = [p for p in folder.iterdir() if p.name.startswith(lab.path.name) and p.is_file()]
    paths += [p for p in journal_folder(lab.path).rglob("*") if p.is_file()]
    return b"".join(p.read_bytes() for p in paths).lower()


def server_hits(lab: pl.Lab, cluster: Cluster, needle: str) -> dict[str, int]:
    """Per table (and table file) of the server's schema, rows (files) whose text holds ``needle``."""
    dbname = conninfo_to_dict(lab.store.url)["dbname"]  # type: ignore[attr-defined]
    hits: dict[str, int] = {}
    with connect(cluster.url(dbname)) as connection:
        tables = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'promptlab'").fetchall()
        for (table,) in tables:
            (n,) = connection.execute(
                f'SELECT count(*) FROM promptlab."{table}" x WHERE strpos(lower(x::text), %s) > 0', [needle.lower()]
            ).fetchone()
            if n:
                hits[table] = n
        connection.execute("CHECKPOINT")  # the tables' pages on disk, as they now are
        files = connection.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'promptlab' OR c.oid IN (SELECT reltoastrelid FROM pg_class k JOIN pg_namespace s "
            "ON s.oid = k.relnamespace WHERE s.nspname = 'promptlab')"
        ).fetchall()
    data = cluster.root / "data"
    for (relative,) in files:
        path = data / str(relative)
        if relative and path.is_file() and any(f in path.read_bytes().lower() for f in forms(needle)):
            hits[f"file {relative}"] = 1
    return hits


def held(lab: pl.Lab, request: pytest.FixtureRequest, text: str) -> bool:
    """Whether the history holds ``text`` anywhere it keeps bytes."""
    if lab.store.identity is None:
        data = file_bytes(lab)
        return any(form in data for form in forms(text))
    return bool(server_hits(lab, request.getfixturevalue("pg_cluster"), text))


def test_forget_a_value_leaves_no_byte_of_it_and_every_row_in_place(
    lab: pl.Lab, admin: pl.Lab, history: dict[str, Any], request: pytest.FixtureRequest, scripted: Any
) -> None:
    before = counts(lab)
    for text in (SECRET, "zephyrine", "quist", CONTROL):
        assert held(lab, request, text), text
    assert not lab.trials(search="Zephyrine").empty

    report = forget(admin.store, value=SECRET.upper(), reason="erasure request #12", by="dpo")

    assert isinstance(report, ErasureReport) and report.selector == "value"
    assert report.changed["trials"] >= 12 and report.changed["feedback"] == 2
    assert report.changed["dataset_changes"] >= 3 and not report.deleted and not report.remaining
    assert report.files_rewritten and "forget (by value)" in str(report)
    for text in (SECRET, "zephyrine", "quist", '"zee"'):
        assert not held(lab, request, text), text
    assert held(lab, request, CONTROL)  # the same search finds what wasn't erased
    assert counts(lab) == {**before, "privacy_log": before["privacy_log"] + 1}  # every row is still there

    trials = lab.trials(experiment="orders")
    erased = trials[trials["vars"].map(lambda v: "[erased]" in v["text"])]
    assert len(erased) == len(trials[trials["row_index"].isin([0, 2])]) and len(erased) >= 8
    assert all("[erased]" in json.dumps(m) for m in erased["messages"])  # JSON still JSON
    assert trials[trials["row_index"] == 1]["vars"].map(lambda v: v["text"]).eq(ROWS[1]["text"]).all()
    assert lab.trials(search="Zephyrine").empty and not lab.trials(search="[erased]").empty
    notes = lab.feedback_for(history["secret"])
    assert set(notes["correction"].dropna()) == {"[erased] ordered one kettle"}
    assert set(notes["comment"].dropna()) == {"call [erased] back"}
    assert any("[erased]" in json.dumps(r) for r in lab.dataset("regressions").rows()["text"])

    event = lab.privacy_log("forget")
    assert len(event) == 1 and event["reason"].iloc[0] == "erasure request #12"
    assert event["requested_by"].iloc[0] == "dpo" and event["event_id"].iloc[0] == report.event_id
    detail = event["detail"].iloc[0]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail["selector"] == "value" and detail["changed"]["trials"] == report.changed["trials"]
    assert "zephyrine" not in event.to_json(date_format="iso").lower()

    # the cache never serves an erased answer: those cells are called again
    provider = scripted()
    again = lab.sweep(pl.Prompt("Summarize: {{ text }}", name="summarize"), models()["echo"], ROWS, display=QUIET)
    cached = again.df.set_index("row_index")["cached"]
    assert not cached[0] and not cached[2] and cached[1] and provider.calls == 0  # echo is the fake's


def test_forget_an_end_user_takes_their_calls_and_verdicts_and_nothing_else(
    lab: pl.Lab, admin: pl.Lab, history: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    before = counts(lab)
    production = lab.trials(kind="production")
    theirs = set(production[production["end_user"] == PERSON]["trial_id"])
    assert len(theirs) == 2 and held(lab, request, PERSONAL)
    rows_from_them = lab.dataset("from-production").rows()

    report = forget(admin.store, end_user=PERSON, reason="account closed", by="support-lead")

    # their 2 calls; feedback: their own 2 verdicts, and another's verdict on their call
    assert report.deleted == {"scores": 0, "feedback": 3, "dataset_changes": 2, "trials": 2}
    after = counts(lab)
    assert after == {
        **before,
        "trials": before["trials"] - 2,
        "feedback": before["feedback"] - 3,
        "dataset_changes": before["dataset_changes"] - 2,
        "privacy_log": before["privacy_log"] + 1,
    }
    assert not set(lab.trials(kind="production")["trial_id"]) & theirs
    assert not held(lab, request, PERSONAL) and not held(lab, request, PERSON)
    assert held(lab, request, CONTROL) and held(lab, request, SECRET)
    assert len(lab.dataset("from-production").rows()) == len(rows_from_them) - 2
    assert PERSON not in lab.privacy_log("forget").to_json(date_format="iso")


def test_forget_trials_takes_their_scores_judges_feedback_copies_and_dataset_rows(
    lab: pl.Lab, admin: pl.Lab, history: dict[str, Any]
) -> None:
    target = history["secret"]
    scores = lab.store.query("SELECT judge_trial_id FROM scores WHERE trial_id = ?", [target])
    judges = {str(j) for j in scores["judge_trial_id"].dropna()}
    sources = lab.store.query("SELECT trial_id, cached_from FROM trials WHERE cached_from IS NOT NULL")
    pairs = zip(sources["trial_id"], sources["cached_from"], strict=True)
    copies = {str(t) for t, source in pairs if source in {target, *judges}}
    assert judges and copies  # the judge graded it; the rerun (and a judge's repeat) answered from it
    before = counts(lab)

    report = forget(admin.store, trial_ids=[target], reason="asked by the author", by="ana")

    left = set(lab.store.query("SELECT trial_id FROM trials")["trial_id"])
    assert not {target, *judges, *copies} & left
    assert report.deleted["trials"] == len({target, *judges, *copies}) and report.deleted["feedback"] == 2
    assert report.deleted["scores"] >= len(scores) and report.deleted["dataset_changes"] == 1
    after = counts(lab)
    assert after["trials"] == before["trials"] - report.deleted["trials"]
    assert {k: after[k] for k in ("runs", "prompts", "models", "experiments", "label_events")} == {
        k: before[k] for k in ("runs", "prompts", "models", "experiments", "label_events")
    }
    assert lab.privacy_log("forget")["detail"].map(str).str.contains(target).all()  # ids may be listed


@pytest.mark.file_only
def test_what_a_forget_is_refused(lab: pl.Lab, history: dict[str, Any]) -> None:
    store = lab.store
    with pytest.raises(ConfigError, match="exactly one of"):
        forget(store, value=SECRET, end_user=PERSON, reason="r", by="b")
    with pytest.raises(ConfigError, match="exactly one of"):
        forget(store, reason="r", by="b")
    with pytest.raises(ConfigError, match="shorter than 4"):
        forget(store, value="Zee", reason="r", by="b")
    with pytest.raises(ConfigError, match="reason="):
        forget(store, end_user=PERSON, reason=" ", by="b")
    with pytest.raises(ConfigError, match="audit log"):
        forget(store, end_user=PERSON, reason=f"{PERSON} asked", by="b")
    with pytest.raises(ConfigError, match="placeholder"):
        forget(store, value="erased", reason="r", by="b")
    assert lab.privacy_log("forget").empty


@pytest.mark.file_only
def test_rows_in_the_journal_and_in_quarantine_are_erased_too(lab: pl.Lab, trial_row: Any) -> None:
    journal = Journal(journal_folder(lab.path))
    waiting = trial_row(vars={"text": f"for {SECRET}"}, output=f"hi {SECRET}", kind="production", end_user=PERSON)
    kept = trial_row(vars={"text": CONTROL}, output=CONTROL)
    damaged = trial_row(vars={"text": f"damaged {SECRET}"}, latency_ms="slow")  # a line the fold can't take
    journal.create()
    journal.append({"trials": [kept, damaged]})
    journal.seal()
    with pytest.warns(HistoryWarning, match="could not be folded"):
        lab.fold()
    quarantined = list((journal.quarantine_root / "trials").glob("*.jsonl"))
    assert len(quarantined) == 1 and b"Zephyrine" in quarantined[0].read_bytes()
    lab.store.append({"trials": [waiting]})  # sealed, not folded yet

    report = forget(lab.store, value=SECRET, reason="request", by="dpo")

    assert report.segments_scrubbed and all("quarantine" in s for s in report.segments_scrubbed)
    assert not any(form in file_bytes(lab) for form in forms("zephyrine"))
    assert any(form in file_bytes(lab) for form in forms(CONTROL))
    lines = quarantined[0].read_bytes().split(b"\n")
    assert json.loads(lines[1])["vars"] == {"text": "damaged [erased]"}  # still line 2, still JSON
    assert json.loads(lines[0])["vars"] == {"text": CONTROL}
    trials = lab.store.query("SELECT trial_id, output FROM trials").set_index("trial_id")["output"]
    assert trials[waiting["trial_id"]] == "hi [erased]" and trials[kept["trial_id"]] == CONTROL


@pytest.mark.file_only
def test_a_live_writers_segment_is_waited_for_then_named(lab: pl.Lab, trial_row: Any) -> None:
    app = Journal(journal_folder(lab.path))  # another writer (its own descriptor and flock)
    app.append({"trials": [trial_row(vars={"text": SECRET}, end_user=PERSON, kind="production")]})
    with pytest.raises(StoreBusyError, match=r"nothing was erased.*process \d+ on this machine writes trials/"):
        forget(lab.store, end_user=PERSON, reason="request", by="dpo", wait=0.3)
    assert lab.privacy_log("forget").empty
    app.seal()
    report = forget(lab.store, end_user=PERSON, reason="request", by="dpo", wait=0.3)
    assert report.deleted["trials"] == 1 and not any(f in file_bytes(lab) for f in forms("zephyrine"))


def test_only_an_admin_erases_on_a_server(server_url: str, pg_cluster: Cluster, tmp_path: Path) -> None:
    researcher = pl.Lab(server_url)
    researcher.store.append({"feedback": [_feedback(f"about {SECRET}")]})
    researcher.fold()
    with pytest.raises(PolicyError, match=r"only a promptlab admin may erase.*promptlab db grant tester admin"):
        forget(researcher.store, value=SECRET, reason="request", by="dpo")
    hits = server_hits(researcher, pg_cluster, "zephyrine")  # nothing changed: in the table, and its file
    assert hits["feedback"] == 1 and any(where.startswith("file ") for where in hits)
    admin = pl.Lab(pg_cluster.url(conninfo_to_dict(server_url)["dbname"], user=SUPERUSER))
    admin.store.append({"feedback": [_feedback(f"again {SECRET}")]})  # in the admin's spool, not sent yet
    report = forget(admin.store, value=SECRET, reason="request", by="dpo")
    assert report.changed["feedback"] == 2 and "promptlab.feedback" in report.files_rewritten
    assert not server_hits(researcher, pg_cluster, "zephyrine")
    assert not any(b"zephyrine" in p.read_bytes().lower() for p in admin.path.rglob("*") if p.is_file())


def _feedback(comment: str) -> dict[str, Any]:
    from promptlab.core.hashing import new_id

    return {
        "feedback_id": new_id(),
        "trial_id": "t" * 32,
        "vote": None,
        "correction": None,
        "comment": comment,
        "action": None,
        "user": "tester",
        "created_at": "2026-01-01T00:00:00",
        "external_id": None,
        "source": None,
        "end_user": None,
    }


@pytest.mark.file_only
def test_a_copy_where_forget_does_not_reach_is_reported(lab: pl.Lab) -> None:
    prompt = pl.Prompt(f"Write to {SECRET} about: {{{{ text }}}}", name="letters")  # a template someone wrote
    lab.sweep(prompt, models()["echo"], [{"text": "the kettle"}], display=QUIET)
    with pytest.warns(HistoryWarning, match="still in prompts.template"):
        report = forget(lab.store, value=SECRET, reason="request", by="dpo")
    assert report.remaining == {"prompts.template": 1}
    assert report.changed["trials"] == 1 and report.changed["runs"] == 1  # the run's config lists its prompts
    assert "STILL HELD where erasure doesn't reach: 1 prompts.template" in str(report)
    assert lab.privacy_log("forget")["detail"].map(str).str.contains("prompts.template").all()
