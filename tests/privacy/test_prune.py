"""``prune``: production calls kept longer than their tier's retention go, with
what hangs off them, until their bytes are gone; a dry run changes nothing;
sweep trials, and calls of a tier kept longer, stay (counts before and
after). ``promptlab db prune [--dry-run] [DB]`` is the same from the shell."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict
from support.history import trial_row
from support.postgres import SUPERUSER, Cluster
from support.production import ProductionHistory, fill_production_history

import promptlab as pl
from promptlab import cli
from promptlab.core.hashing import new_id
from promptlab.core.lineage import utcnow
from promptlab.errors import PolicyError
from promptlab.privacy.erasure import PruneReport, prune
from promptlab.privacy.policy import policy_for
from promptlab.store.location import journal_folder
from promptlab.store.schema import TABLES

pytestmark = pytest.mark.both_stores

POLICY = """
[privacy]
default = "internal"

[privacy.retention]
restricted = 30
internal = 365
"""
NOW = datetime(2026, 4, 25)
"""Restricted calls from before 26 March go; internal ones from before 25 April 2025."""


@pytest.fixture(autouse=True)
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy beside the history file, and in the working directory (a server's)."""
    (tmp_path / "promptlab.toml").write_text(POLICY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)


def restricted_call(at: datetime, memo: str, **values: Any) -> dict[str, Any]:
    return trial_row(
        kind="production",
        tier="restricted",
        source="clinic-app",
        experiment="clinic-app",
        vars={"note": memo},
        output=f"summary of {memo}",
        external_id=f"clinic-{new_id()[:8]}",
        end_user="patient-1",
        created_at=at.isoformat(),
        **values,
    )


def verdict(**values: Any) -> dict[str, Any]:
    row = dict.fromkeys(TABLES["feedback"].column_names)
    return row | {"feedback_id": new_id(), "vote": -1, "created_at": "2026-03-04T00:00:00", **values}


def score(trial_id: str) -> dict[str, Any]:
    row = dict.fromkeys(TABLES["scores"].column_names)
    return row | {"score_id": new_id(), "trial_id": trial_id, "evaluator": "helpful", "value": 0.5, "args": {}}


def fill(lab: pl.Lab) -> tuple[ProductionHistory, list[dict[str, Any]], list[dict[str, Any]]]:
    """A month of an app's calls (no tier recorded: the default, internal), plus a
    clinic app's restricted calls, old and recent, and a restricted sweep trial."""
    history = fill_production_history(lab)
    old = [restricted_call(datetime(2026, 3, 3, 10, n), f"memo-old-{n}") for n in range(5)]
    new = [restricted_call(datetime(2026, 4, 20, 10, n), f"memo-new-{n}") for n in range(3)]
    sweep = trial_row(tier="restricted", vars={"note": "memo-sweep"}, created_at="2026-03-01T00:00:00")
    lab.store.append({"trials": [*old, *new, sweep]})
    feedback = [verdict(trial_id=old[0]["trial_id"]), verdict(external_id=old[1]["external_id"])]
    feedback.append(verdict(trial_id=new[0]["trial_id"]))
    lab.store.append({"feedback": feedback, "scores": [score(old[2]["trial_id"])]})
    lab.fold()
    return history, old, new


def counts(lab: pl.Lab) -> dict[str, int]:
    return {name: int(lab.store.query(f"SELECT count(*) AS n FROM {name}")["n"].iloc[0]) for name in TABLES}


def admin_of(lab: pl.Lab, request: pytest.FixtureRequest) -> pl.Lab:
    if lab.store.identity is None:
        return lab
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return pl.Lab(cluster.url(conninfo_to_dict(lab.store.url)["dbname"], user=SUPERUSER))  # type: ignore[attr-defined]


def stored(lab: pl.Lab, request: pytest.FixtureRequest, text: str) -> bool:
    """Whether ``text`` is in any byte of the file, its WAL and journal, or any row of the server."""
    if lab.store.identity is None:
        paths = [p for p in lab.path.parent.iterdir() if p.name.startswith(lab.path.name) and p.is_file()]
        paths += [p for p in journal_folder(lab.path).rglob("*") if p.is_file()]
        return any(text.encode() in p.read_bytes() for p in paths)
    frame = lab.store.query(
        "SELECT count(*) AS n FROM trials WHERE strpos(CAST(vars AS VARCHAR), ?) > 0 OR strpos(output, ?) > 0",
        [text, text],
    )
    return bool(frame["n"].iloc[0])


def test_prune_takes_production_calls_past_their_tiers_retention(lab: pl.Lab, request: pytest.FixtureRequest) -> None:
    history, _, new = fill(lab)
    policy = policy_for(lab.path if lab.store.identity is None else None)
    before = counts(lab)

    dry = prune(lab.store, policy, dry_run=True, now=NOW)  # any reader may look

    assert isinstance(dry, PruneReport) and dry.dry_run and dry.event_id is None
    assert dry.by_tier == {"restricted": 5, "internal": 0}
    assert dry.deleted == {"scores": 1, "feedback": 2, "dataset_changes": 0, "trials": 5}
    assert "would delete: 1 scores, 2 feedback, 5 trials" in str(dry) and "restricted: kept 30 days" in str(dry)
    assert counts(lab) == before and stored(lab, request, "memo-old-0")

    admin = admin_of(lab, request)
    if admin is not lab:
        with pytest.raises(PolicyError, match="only a promptlab admin"):
            prune(lab.store, policy, now=NOW)
    done = prune(admin.store, policy, now=NOW)

    assert done.deleted == dry.deleted and done.event_id and done.files_rewritten
    assert counts(lab) == {
        **before,
        "trials": before["trials"] - 5,
        "feedback": before["feedback"] - 2,
        "scores": before["scores"] - 1,
        "privacy_log": before["privacy_log"] + 1,
    }
    assert not any(stored(lab, request, f"memo-old-{n}") for n in range(5))
    assert stored(lab, request, "memo-new-0") and stored(lab, request, "memo-sweep")
    event = lab.privacy_log("prune")
    assert list(event["event_id"]) == [done.event_id] and "retention" in event["reason"].iloc[0]

    # a year on: every call of the default tier goes too (no tier recorded: the policy's default)
    production = [t for t in history.trials if t["kind"] == "production"]
    ids = {t["trial_id"] for t in production} | {t["trial_id"] for t in new}
    named = {t["external_id"] for t in production}
    expected_feedback = sum(f["trial_id"] in ids or f["external_id"] in named for f in history.feedback) + 1
    later = prune(admin.store, policy, now=datetime(2027, 6, 1))
    assert later.by_tier == {"internal": len(production), "restricted": 3}
    assert later.deleted["trials"] == len(ids) and later.deleted["feedback"] == expected_feedback
    assert later.deleted["scores"] == len(history.scores)
    kinds = lab.store.query("SELECT coalesce(kind, 'sweep') AS kind, count(*) AS n FROM trials GROUP BY 1")
    assert dict(zip(kinds["kind"], kinds["n"], strict=True)) == {"sweep": 2}  # the sweep trials stay
    assert len(lab.privacy_log("prune")) == 2


@pytest.mark.file_only
def test_a_policy_without_retention_keeps_everything(lab: pl.Lab, tmp_path: Path) -> None:
    fill(lab)
    (tmp_path / "promptlab.toml").write_text('[privacy]\ndefault = "internal"\n', encoding="utf-8")
    before = counts(lab)
    report = prune(lab.store, policy_for(lab.path), now=datetime(2030, 1, 1))
    assert not report.deleted and counts(lab) == before
    assert "keeps every tier's production calls" in str(report)


@pytest.mark.file_only
def test_db_prune_from_the_shell(lab: pl.Lab, capsys: pytest.CaptureFixture[str]) -> None:
    aged = restricted_call(utcnow() - timedelta(days=40), "memo-aged")
    fresh = restricted_call(utcnow() - timedelta(days=2), "memo-fresh")
    lab.store.append({"trials": [aged, fresh]})
    lab.fold()

    code = cli.main(["db", "prune", "--dry-run", str(lab.path)])
    out = capsys.readouterr().out
    assert code == 0 and "dry run: nothing changed" in out and "would delete: 1 trials" in out
    assert len(lab.trials(kind="production")) == 2

    code = cli.main(["--db", str(lab.path), "db", "prune"])
    out = capsys.readouterr().out
    assert code == 0 and "deleted: 1 trials" in out and "audit event" in out
    assert list(lab.trials(kind="production")["trial_id"]) == [fresh["trial_id"]]
