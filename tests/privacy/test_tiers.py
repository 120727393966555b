"""Data tiers: a trial's tier, and restricted rows kept from endpoints that may
not receive them (counted at a real local OpenAI-compatible server) unless an
approval covers them; approvals refused for the wrong person, model or time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from support.providers import ScriptedProvider
from support.stores import as_user

import promptlab as pl
from promptlab.errors import ConfigError, PrivacyError
from promptlab.privacy.policy import PrivacyPolicy
from promptlab.runner.progress import NullDisplay
from promptlab.testing import StubServer, fake_model

PROMPT = pl.Prompt("Summarize: {{ text }}", name="summarize")
ROWS = [
    {"text": "the quarterly plan"},
    {"text": "Mrs Jones's account 4417", "tier": "restricted"},
    {"text": "the team offsite"},
]


def policy(tmp_path: Path, stub: StubServer, extra: str = "") -> None:
    """The stub server stands for a remote endpoint cleared for ``internal``."""
    host = stub.url.split("//")[1].split("/")[0]
    (tmp_path / "promptlab.toml").write_text(
        f"""
[privacy]
default = "internal"

[privacy.endpoints]
"{host}" = "internal"

[privacy.approvers]
restricted = ["pat", "sam"]
{extra}
""",
        encoding="utf-8",
    )


@pytest.fixture
def remote(stub_server: StubServer) -> pl.Model:
    return pl.Model("stub-remote", base_url=stub_server.url)


@pytest.fixture(autouse=True)
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a team server's policy is the working directory's


@pytest.mark.both_stores
def test_every_trial_gets_the_highest_tier_of_what_went_into_it(lab: pl.Lab, tmp_path: Path) -> None:
    data = tmp_path / "support.jsonl"
    pd.DataFrame([{"text": "a"}, {"text": "b", "tier": "restricted"}]).to_json(data, orient="records", lines=True)
    (tmp_path / "promptlab.toml").write_text(
        '[privacy.data]\n"*support*" = "internal"\n\n[privacy.experiments]\n"tickets-*" = "restricted"\n',
        encoding="utf-8",
    )
    run = lab.sweep(PROMPT, fake_model("echo"), str(data), experiment="x", display=NullDisplay())
    assert sorted(run.df["tier"]) == ["internal", "restricted"]
    run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "c"}], experiment="y", tier="public", display=NullDisplay())
    assert list(run.df["tier"]) == ["internal"]  # a label can't lower what the policy says of... the default
    run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "d"}], tier="restricted", display=NullDisplay())
    assert list(run.df["tier"]) == ["restricted"]
    run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "e"}], experiment="tickets-eu", display=NullDisplay())
    assert list(run.df["tier"]) == ["restricted"]  # the experiment's pattern
    with pytest.raises(PrivacyError, match="row 0 has tier 'secret'"):
        lab.sweep(PROMPT, fake_model("echo"), [{"text": "e", "tier": "secret"}], display=NullDisplay())


@pytest.mark.both_stores
def test_restricted_rows_never_reach_an_endpoint_not_cleared_for_them(
    lab: pl.Lab, tmp_path: Path, stub_server: StubServer, remote: pl.Model
) -> None:
    policy(tmp_path, stub_server)
    with pytest.raises(PrivacyError) as refused:
        lab.sweep(PROMPT, remote, ROWS, experiment="support", display=NullDisplay())
    message = str(refused.value)
    assert "1 'restricted' row (row 1) to stub-remote" in message
    assert "may receive 'internal' at most" in message
    assert "lab.approve(use='support', tier='restricted', model='stub-remote'" in message
    assert "pat, sam" in message
    assert stub_server.requests == 0  # nothing was called, not even the rows that could go
    assert lab.runs().empty  # nor written
    log = lab.privacy_log()
    assert list(log["action"]) == ["refuse"]
    assert log.iloc[0]["detail"]["rows"] == 1 and log.iloc[0]["model"] == "stub-remote"

    # the same rows go to the embedded model's place: a local provider receives every tier
    run = lab.sweep(PROMPT, fake_model("echo"), ROWS, experiment="support", display=NullDisplay())
    assert len(run.df) == 3


def test_an_approval_lets_them_through_and_each_use_is_logged(
    lab: pl.Lab, tmp_path: Path, stub_server: StubServer, remote: pl.Model
) -> None:
    policy(tmp_path, stub_server)
    approval = lab.approve(
        use="support", tier="restricted", model=remote, approved_by="pat", reason="DPA signed", expires="2099-01-01"
    )
    run = lab.sweep(PROMPT, remote, ROWS, experiment="support", display=NullDisplay())
    assert stub_server.requests == 3
    assert sorted(run.df["tier"]) == ["internal", "internal", "restricted"]
    log = lab.privacy_log()
    assert list(log["action"]) == ["approve", "use"]
    approve, use = log.iloc[0], log.iloc[1]
    assert (approve["requested_by"], approve["approved_by"], approve["reason"]) == ("tester", "pat", "DPA signed")
    assert use["approval_id"] == approval and use["detail"]["rows"] == 1 and use["user"] == "tester"
    assert lab.approvals()["active"].tolist() == [True]

    # the approval is for this use: another experiment's restricted rows are still refused
    with pytest.raises(PrivacyError, match="use='triage'"):
        lab.sweep(PROMPT, remote, ROWS, experiment="triage", display=NullDisplay())
    assert stub_server.requests == 3


def test_a_judge_is_held_to_the_same_rule(
    lab: pl.Lab, tmp_path: Path, stub_server: StubServer, remote: pl.Model
) -> None:
    policy(tmp_path, stub_server)
    judge = pl.evals.judge("Is it short?", model=remote)
    with pytest.raises(PrivacyError, match="to stub-remote"):
        lab.sweep(PROMPT, fake_model("echo"), ROWS, experiment="s", evaluators=[judge], display=NullDisplay())
    assert stub_server.requests == 0
    run = lab.sweep(PROMPT, fake_model("echo"), ROWS, experiment="s", display=NullDisplay())
    with pytest.raises(PrivacyError, match="this evaluation would send"):
        lab.evaluate(run, [judge])
    assert stub_server.requests == 0
    lab.approve(use="s", tier="restricted", model="stub-remote", approved_by="sam", reason="grading")
    scored = lab.evaluate(run, [judge])
    assert stub_server.requests == 3 and len(scored) == 3
    judged = lab.trials(kind="judge")
    assert set(judged["tier"]) == {"restricted"}  # a judge's trial holds what it graded


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"approved_by": "tester"}, "can't approve their own request"),
        ({"approved_by": "TESTER "}, "can't approve their own request"),
        ({"approved_by": "lee"}, "lee is not an approver for 'restricted'"),
        ({"expires": "2020-01-01"}, "would already have expired"),
    ],
)
def test_approvals_refused(lab: pl.Lab, tmp_path: Path, stub_server: StubServer, change: dict, why: str) -> None:
    policy(tmp_path, stub_server)
    given = {"use": "support", "tier": "restricted", "model": "stub-remote", "approved_by": "pat", "reason": "r"}
    with pytest.raises(PrivacyError, match=why):
        lab.approve(**{**given, **change})
    log = lab.privacy_log()
    assert list(log["action"]) == ["refuse"] and why.split(maxsplit=1)[0] in log.iloc[0]["detail"]["why"]
    assert lab.approvals().empty


def test_approvals_cover_only_their_model_tier_and_time(
    lab: pl.Lab, tmp_path: Path, stub_server: StubServer, remote: pl.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(tmp_path, stub_server)
    lab.approve(use="support", tier="restricted", model="another-model", approved_by="pat", reason="r")
    lab.approve(use="support", tier="restricted", export="finetune", approved_by="pat", reason="r")
    lab.approve(use="support", tier="restricted", model=remote, approved_by="pat", reason="r", expires=timedelta(0.5))
    import promptlab.privacy.approvals as approvals_module

    later = approvals_module.utcnow() + timedelta(days=1)
    monkeypatch.setattr(approvals_module, "utcnow", lambda: later)
    with pytest.raises(PrivacyError):
        lab.sweep(PROMPT, remote, ROWS, experiment="support", display=NullDisplay())
    assert stub_server.requests == 0
    assert lab.approvals()["model"].tolist() == ["another-model", None, "stub-remote"]


def test_the_policy_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "promptlab.toml"
    path.write_text('[privacy]\ntiers = ["open", "closed"]\ndefault = "closed"\n', encoding="utf-8")
    found = PrivacyPolicy.read(path)
    assert found.tiers == ("open", "closed") and found.default == "closed" and found.exports == "closed"
    for bad, why in [
        ('[privacy]\ndefault = "secret"\n', "no data tier named 'secret'"),
        ('[privacy]\ntiers = "public"\n', "must be a list of names"),
        ('[privacy.endpoints]\n"gpu-box" = "top"\n', "is not a tier"),
        ("[privacy]\nmystery = 1\n", "unknown key 'mystery'"),
        ("[privacy.retention]\nrestricted = 0\n", "number of days"),
    ]:
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError, match=why):
            PrivacyPolicy.read(path)


def test_data_patterns_match_a_files_path_from_any_folder(tmp_path: Path) -> None:
    path = tmp_path / "promptlab.toml"
    path.write_text('[privacy.data]\n"experiments/data/support*" = "restricted"\n', encoding="utf-8")
    found = PrivacyPolicy.read(path)
    assert found.tier_of("data", "experiments/data/support.jsonl") == "restricted"
    assert found.tier_of("data", "/home/ana/team/experiments/data/support-2.csv") == "restricted"
    assert found.tier_of("data", "experiments/data/news.jsonl") is None
    assert found.tier_of("experiments", "experiments/data/support.jsonl") is None


def test_endpoint_tiers_default_by_where_the_model_runs(tmp_path: Path) -> None:
    found = PrivacyPolicy()
    assert found.endpoint_tier(pl.Model("smollm2")) == "restricted"  # embedded: never leaves the machine
    assert found.endpoint_tier(fake_model("echo")) == "restricted"
    assert found.endpoint_tier(pl.Model("llama", base_url="http://localhost:8080/v1")) == "restricted"
    assert found.endpoint_tier(pl.Model("gpt-4o-mini")) == "internal"
    assert found.endpoint_tier(pl.Model("m", base_url="https://api.together.xyz/v1")) == "internal"


@pytest.mark.parametrize("store_kind", ["server"])
def test_on_a_team_server_the_approver_approves_from_their_own_login(
    lab: pl.Lab, tmp_path: Path, stub_server: StubServer, remote: pl.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(tmp_path, stub_server)
    ana = as_user(lab, "ana", monkeypatch)
    given = {"use": "support", "tier": "restricted", "model": "stub-remote", "reason": "DPA signed"}
    with pytest.raises(PrivacyError, match="pat approves it from their own login"):
        ana.approve(**given, approved_by="pat")  # records ana's request
    with pytest.raises(PrivacyError, match="the server refused"):
        ana.approve(**given, approved_by="ana", requested_by="ana")  # her own
    ben = as_user(lab, "ben", monkeypatch)  # a researcher, not a privacy approver
    with pytest.raises(PrivacyError, match="not a privacy approver"):
        ben.approve(**given, approved_by="ben", requested_by="ana")
    pat = as_user(lab, "pat", monkeypatch, role="privacy")
    with pytest.raises(PrivacyError, match="has not requested this approval"):
        pat.approve(**{**given, "model": "other"}, approved_by="pat", requested_by="ana")
    pat.approve(**given, approved_by="pat", requested_by="ana")
    monkeypatch.setenv("PROMPTLAB_USER", "ana")
    ana.sweep(PROMPT, remote, ROWS, experiment="support", display=NullDisplay())
    assert stub_server.requests == 3
    log = ana.privacy_log()
    assert list(log["action"]) == ["request", "approve", "use"]
    assert list(log["user"]) == ["ana", "pat", "ana"]


@pytest.mark.both_stores
def test_a_dataset_made_from_restricted_trials_stays_restricted(
    lab: pl.Lab, tmp_path: Path, stub_server: StubServer, remote: pl.Model
) -> None:
    policy(tmp_path, stub_server)
    run = lab.sweep(PROMPT, fake_model("echo"), ROWS, experiment="support", display=NullDisplay())
    ds = lab.dataset("regressions")
    ds.add(run)
    assert sorted(str(row.get("tier")) for row in ds) == ["None", "None", "restricted"]  # the default isn't written
    with pytest.raises(PrivacyError, match="1 'restricted' row"):
        lab.sweep(PROMPT, remote, ds, experiment="support", display=NullDisplay())
    assert stub_server.requests == 0


@pytest.mark.both_stores
def test_exports_refuse_restricted_data_until_an_approval_covers_that_export(
    lab: pl.Lab, tmp_path: Path, stub_server: StubServer
) -> None:
    policy(tmp_path, stub_server)
    lab.sweep(PROMPT, fake_model("echo"), ROWS, experiment="support", display=NullDisplay())
    secret = "Mrs Jones's account 4417"
    out = tmp_path / "out"
    out.mkdir()
    for export, write in [
        ("trials", lambda: lab.export_trials(out / "t.jsonl", experiment="support", reason="audit")),
        ("finetune", lambda: lab.export_finetune(out / "f.jsonl", experiment="support", reason="train")),
        ("preferences", lambda: lab.export_preferences(out / "p.jsonl", experiment="support")),
    ]:
        with pytest.raises(PrivacyError, match=f"this {export} export would let out data above 'internal'"):
            write()
    assert list(out.iterdir()) == []  # nothing half-written

    report = lab.report(out / "r.html", "support", reason="weekly review")
    html = report.read_text(encoding="utf-8")
    assert secret not in html and "Jones" not in html and "[restricted]" in html
    assert "the quarterly plan" in html  # what may leave is shown

    if lab.store.identity is not None:
        return  # the approver's side of the server is tested above
    lab.approve(use="support", tier="restricted", export="trials", approved_by="pat", reason="audit")
    written = lab.export_trials(out / "t.jsonl", experiment="support", reason="audit")
    assert secret in written.read_text(encoding="utf-8")
    with pytest.raises(PrivacyError):  # the approval is for that kind of export only
        lab.export_finetune(out / "f.jsonl", experiment="support")
    log = lab.privacy_log()
    exports = log[log["action"] == "export"]
    assert list(exports["export"]) == ["report", "trials"]
    assert exports.iloc[0]["detail"]["masked"] == 1 and exports.iloc[0]["reason"] == "weekly review"
    assert exports.iloc[1]["detail"]["tiers"] == {"internal": 2, "restricted": 1}
    assert exports.iloc[1]["approval_id"] == log[log["action"] == "approve"].iloc[0]["event_id"]
    assert list(log["action"]).count("refuse") == 4


@pytest.mark.both_stores
def test_redaction_before_the_call_and_before_storage(
    lab: pl.Lab, tmp_path: Path, scripted: Callable[..., ScriptedProvider]
) -> None:
    (tmp_path / "promptlab.toml").write_text(
        '[privacy]\nremote_endpoints = "restricted"\n\n[privacy.redact]\n'
        'restricted = { before_call = ["email"], before_storage = ["email", "phone"] }\n',
        encoding="utf-8",
    )
    provider = scripted()
    rows = [
        {"text": "mail ann@example.com or call +44 20 7946 0958", "tier": "restricted"},
        {"text": "mail bob@example.com", "tier": "internal"},
    ]
    run = lab.sweep(PROMPT, provider.model(), rows, experiment="support", display=NullDisplay())
    # before the call: the model saw a placeholder for the e-mail, and the real phone number
    assert set(provider.attempts) == {
        "Summarize: mail <EMAIL_1> or call +44 20 7946 0958",
        "Summarize: mail bob@example.com",  # its tier asks for nothing
    }
    df = run.df.sort_values("row_index")
    restricted, internal = df.iloc[0], df.iloc[1]
    # before storage: neither is kept, in the input, the messages or the answer, and one name each throughout
    assert restricted["vars"]["text"] == "mail <EMAIL_1> or call <PHONE_1>"
    assert restricted["output"] == "scripted: Summarize: mail <EMAIL_1> or call <PHONE_1>"
    assert "7946" not in str(restricted["messages"]) and "ann@" not in str(restricted["messages"])
    assert internal["output"] == "scripted: Summarize: mail bob@example.com"


def test_a_promotion_reads_a_policy_file_with_a_privacy_section(lab: pl.Lab, tmp_path: Path) -> None:
    (tmp_path / "promptlab.toml").write_text(
        '[labels]\nprotected = ["production"]\napprovers = ["lee"]\n\n[privacy]\ndefault = "internal"\n',
        encoding="utf-8",
    )
    run = lab.sweep(PROMPT, fake_model("echo"), [{"text": "a"}], display=NullDisplay())
    lab.promote("summarize", run.df.iloc[0]["prompt_version"], label="production", approved_by="lee")
    assert lab.labels("summarize").iloc[0]["label"] == "production"


@pytest.mark.both_stores
def test_an_apps_calls_take_its_sources_tier_and_its_redaction(lab: pl.Lab, tmp_path: Path) -> None:
    (tmp_path / "promptlab.toml").write_text(
        '[privacy.sources]\n"support-*" = "restricted"\n\n'
        '[privacy.redact]\nrestricted = { before_storage = ["email", "name"] }\n',
        encoding="utf-8",
    )
    db = getattr(lab.store, "url", None) or str(lab.path)
    with pl.logger(db, source="support-app") as log:
        assert log.tier == "restricted"
        log.record(PROMPT, {"text": "Hi, I'm Maria, write to maria.lopez@example.com"}, "Thanks Maria, done.")
    with pl.logger(db, source="docs-bot", tier="public") as log:
        assert log.tier == "internal"  # a label can't go below the policy's default
        log.record(PROMPT, {"text": "how do I export?"}, "Use lab.export_trials.")
    lab.fold()
    calls = lab.trials(kind="production").set_index("source")
    support = calls.loc["support-app"]
    assert support["tier"] == "restricted" and calls.loc["docs-bot"]["tier"] == "internal"
    assert support["vars"]["text"] == "Hi, I'm <NAME_1>, write to <EMAIL_1>"
    assert support["output"] == "Thanks <NAME_1>, done."
    assert "maria" not in str(support["messages"]).lower()


def test_the_command_line_exports_through_the_same_guard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stub_server: StubServer
) -> None:
    from promptlab import cli

    policy(tmp_path, stub_server)
    db = tmp_path / "history.duckdb"
    pl.Lab(db).sweep(PROMPT, fake_model("echo"), ROWS, experiment="support", display=NullDisplay())
    out = tmp_path / "t.csv"
    code = cli.main(["--db", str(db), "export", "trials", str(out), "--experiment", "support", "--reason", "audit"])
    assert code == 2 and "lab.approve(use='support', tier='restricted', export='trials'" in capsys.readouterr().err
    assert not out.exists()
    code = cli.main(["--db", str(db), "report", str(tmp_path / "r.html"), "--experiment", "support", "--reason", "QBR"])
    assert code == 0 and "[restricted]" in (tmp_path / "r.html").read_text(encoding="utf-8")
    log = pl.Lab(db).privacy_log()
    assert list(log["action"]) == ["refuse", "export"] and list(log["reason"]) == ["audit", "QBR"]
