"""A secret planted at every depth never reaches an artefact (issue 10, item 9).

Two secrets live in the environment: ``OPENAI_API_KEY`` and a
``MY_SERVICE_TOKEN`` whose value holds ``& < > " '`` (so HTML escaping
changes it). They are planted where a careless config or server would put
them: nested in model parameters, as header parameters, in a ``base_url``
query, echoed by the server in ``x-request-id``, the completion id, the
output and an error message, and in a user's own inputs and corrections.
Config is refused; everything else is masked, and every artefact is read:
the journal, the DuckDB file, each export format, the HTML report, exported
prompt files and ``promptlab show``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import markupsafe
import pandas as pd
import pytest
from support.history import settle

import promptlab as pl
from promptlab.cli import main
from promptlab.cli.experiment_file import load_experiment
from promptlab.core.redaction import Redactor
from promptlab.errors import ExperimentFileError, SecretInConfigError
from promptlab.runner.progress import NullDisplay
from promptlab.testing import StubServer, fake_model

TOKEN = "s3cr3t&<\"'>PLANTED-7f3a9-value-1234567890"
OPENAI_KEY = "sk-planted-" + "c0ffee42" * 4
FRAGMENTS = ("s3cr3t", "PLANTED-7f3a9", "c0ffee42c0ffee42")
"""Pieces of the secrets that survive any escaping (JSON, HTML, CSV)."""

PROMPT = pl.Prompt("{{ text }}", name="plant")
SMALL_SET = pytest.mark.filterwarnings(r"ignore:only \d+ (examples|preference pairs):UserWarning")
"""The training sets here are small on purpose."""


@pytest.fixture(autouse=True)
def secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)


def leaks(text: str) -> list[str]:
    return [fragment for fragment in FRAGMENTS if fragment in text]


def files_leaking(folder: Path) -> dict[str, list[str]]:
    """Every file under ``folder`` whose bytes hold a piece of a secret."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        if leaks(text):
            found[str(path)] = leaks(text)
    return found


# -- config that holds a secret is refused ------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"metadata": {"user": {"note": TOKEN}}},  # a secret value of the environment, deep down
        {"metadata": [{"ok": "x"}, {"session": f"prefix {OPENAI_KEY}"}]},  # a key-shaped value in a list
        {"extra_body": {"auth": {"token": "abc12345"}}},  # a secret-named key holding text
        {"extra_body": {"x": "Bearer abcdef123456"}},  # an Authorization header value
        {"metadata": {TOKEN: 1}},  # a secret as a key
        {"headers": {"X-Trace": "1"}},  # header parameters: never sent as headers, always stored
        {"extra_headers": {"X-Api-Key": "abc"}},
        {"default_headers": {}},
        {"extra_query": {"code": "abc"}},
    ],
)
def test_secrets_at_any_depth_of_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(SecretInConfigError) as caught:
        pl.Model("gpt-4o-mini", **params)
    assert not leaks(str(caught.value)) and "abc12345" not in str(caught.value)


def test_params_that_only_look_like_secrets_are_fine() -> None:
    schema = {"type": "object", "properties": {"token": {"type": "string"}, "key": {"type": "string"}}}
    tools = [
        {
            "type": "function",
            "function": {"name": "lookup", "description": "Basic settings lookup", "parameters": schema},
        }
    ]
    model = pl.Model("gpt-4o-mini", tools=tools, stop=["Basic information"], metadata={"token_budget": 5})
    assert model.params["tools"] == tools


@pytest.mark.parametrize(
    "name", ["code", "sig", "signature", "token", "key", "access_token", "api-key", "apikey", "auth", "api_key"]
)
def test_a_key_in_the_base_url_query_is_refused(name: str) -> None:
    with pytest.raises(SecretInConfigError, match=f"query string \\({name}=\\)") as caught:
        pl.Model("m", base_url=f"https://fn.example.net/v1?{name}=abc123secret")
    assert "abc123secret" not in str(caught.value)


def test_benign_query_parameters_and_keys_elsewhere_in_the_url() -> None:
    assert pl.Model("m", base_url="https://x.openai.azure.com/openai?api-version=2024-06-01").base_url
    with pytest.raises(SecretInConfigError):
        pl.Model("m", base_url=f"https://gateway.example/{OPENAI_KEY}/v1")


def test_an_experiment_file_with_a_nested_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"text": "hi"}\n', encoding="utf-8")
    path = tmp_path / "exp.yaml"
    path.write_text(
        "experiment: e\nprompts: ['{{ text }}']\ndata: rows.jsonl\nmodels:\n"
        "  - {name: m, extra_headers: {Authorization: Bearer abc123456789}}\n"
    )
    with pytest.raises(ExperimentFileError, match="extra_headers") as caught:
        load_experiment(path)
    assert "abc123456789" not in str(caught.value)


def test_a_recorded_model_with_a_nested_secret_is_refused_when_read_back() -> None:
    crafted = {"name": "m", "provider": "openai", "base_url": None, "params": {"metadata": {"k": OPENAI_KEY}}}
    with pytest.raises(SecretInConfigError):
        pl.Model.from_dict(crafted)


# -- what a server echoes is masked everywhere it lands -----------------------------------------


@pytest.fixture
def echoed(tmp_path: Path, stub_server: StubServer) -> Iterator[tuple[pl.Lab, pl.Run, Path]]:
    """A history of sweeps against a server that echoes the Authorization
    header in x-request-id, the completion id, the output and errors."""
    lab = pl.Lab(tmp_path / "team" / "history.duckdb", mkdir=True)
    models = [
        pl.Model("stub-model", base_url=stub_server.url, api_key_env="MY_SERVICE_TOKEN"),
        pl.Model("stub-model", base_url=stub_server.url, temperature=0),  # OPENAI_API_KEY
    ]
    rows = [{"text": f"[echo-auth] row {i}"} for i in range(10)] + [{"text": "[leak] oops"}, {"text": "plain"}]
    run = lab.sweep(PROMPT, models, rows, experiment="planted", display=NullDisplay())
    sent = set(stub_server.authorization)
    assert sent == {f"Bearer {TOKEN}", f"Bearer {OPENAI_KEY}"}, "the server did get both keys"
    (tmp_path / "out").mkdir()
    yield lab, run, tmp_path / "out"


def test_echoed_secrets_are_masked_in_the_history(echoed: tuple[pl.Lab, pl.Run, Path], plain_query: Any) -> None:
    lab, run, _ = echoed
    trials = run.df
    assert (trials["request_id"].dropna() == "Bearer [redacted]").sum() == 20
    assert trials["output"].dropna().str.contains("[redacted]", regex=False).sum() == 20
    assert trials["error"].dropna().str.contains("[redacted]", regex=False).sum() == 2
    assert files_leaking(lab.path.parent) == {}, "the journal and the file, before the fold"
    lab.fold()
    settle()
    assert files_leaking(lab.path.parent) == {}, "and after it"
    tables = [name for (name,) in plain_query(lab.path, "SELECT table_name FROM information_schema.tables")]
    assert "trials" in tables
    for table in tables:
        rows = plain_query(lab.path, f'SELECT CAST(t AS VARCHAR) FROM "{table}" t')
        assert not leaks(" ".join(text for (text,) in rows)), table


@SMALL_SET
def test_echoed_secrets_never_reach_an_export_report_prompt_file_or_the_cli(
    echoed: tuple[pl.Lab, pl.Run, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lab, run, out = echoed
    for trial_id in list(run.df["trial_id"])[:10]:
        lab.feedback(trial_id, vote=1, correction=f"fixed {trial_id[:6]}", comment="ok")
    lab.promote("plant", PROMPT.version, label="production")
    written = [
        lab.export_trials(out / "trials.csv"),
        lab.export_trials(out / "trials.jsonl"),
        lab.export_finetune(out / "train.jsonl").path,
        lab.export_preferences(out / "prefs.jsonl").path,
        lab.report(out / "report.html", experiment="planted"),
        *(lab.export_prompt("plant", out / f"plant{suffix}") for suffix in (".json", ".yaml", ".py")),
    ]
    assert files_leaking(out) == {}, "every file written"
    assert all(path.stat().st_size for path in written)
    parquet = lab.export_trials(out / "trials.parquet")
    assert not leaks(pd.read_parquet(parquet).to_json(date_format="iso")), "read back: parquet bytes are compressed"

    capsys.readouterr()
    for trial_id in run.df["trial_id"]:
        assert main(["--db", str(lab.path), "show", trial_id]) == 0
    assert main(["--db", str(lab.path), "history", "--limit", "100"]) == 0
    shown = capsys.readouterr().out
    assert "Bearer [redacted]" in shown, "promptlab show prints the (masked) request id"
    assert not leaks(shown)


# -- the user's own inputs and corrections: masked on the way out -------------------------------


@pytest.fixture
def planted_inputs(lab: pl.Lab) -> pl.Run:
    """Inputs that hold the secret, in a nested value and as a nested key (user data, stored as given)."""
    rows = [{"text": f"row {i}: my token is {TOKEN}", "extra": {"note": TOKEN, TOKEN: i}} for i in range(10)]
    run = lab.sweep(
        pl.Prompt("{{ text }}", name="inputs"), fake_model("echo"), rows, experiment="inputs", display=NullDisplay()
    )
    assert not leaks(" ".join(run.df["output"])), "outputs are masked when recorded"
    for trial_id in run.df["trial_id"]:
        lab.feedback(trial_id, vote=1, correction=f"corrected, keeping {TOKEN}")
    return run


@SMALL_SET
def test_exports_mask_secrets_at_every_depth(planted_inputs: pl.Run, lab: pl.Lab, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("trials.csv", "trials.jsonl"):
        lab.export_trials(out / name)
    lab.export_finetune(out / "train.jsonl")
    lab.export_preferences(out / "prefs.jsonl")
    assert files_leaking(out) == {}
    keys = [
        key
        for record in map(json.loads, (out / "trials.jsonl").read_text().splitlines())
        for key in record["vars"]["extra"]
    ]
    assert "[redacted]" in keys, "a secret used as a key is masked too"
    assert not leaks(pd.read_parquet(lab.export_trials(out / "trials.parquet")).to_json(date_format="iso"))


def test_the_report_masks_a_secret_before_escaping_it(planted_inputs: pl.Run, lab: pl.Lab, tmp_path: Path) -> None:
    html = lab.report(tmp_path / "report.html", experiment="inputs").read_text(encoding="utf-8")
    assert "my token is [redacted]" in html
    assert not leaks(html)


def test_the_reports_last_guard_catches_the_secret_however_it_was_escaped() -> None:
    forms = [TOKEN, escape(TOKEN), escape(TOKEN, quote=False), str(markupsafe.escape(TOKEN))]
    assert len(set(forms)) == 4
    page = "".join(f"<p>{form}</p>" for form in forms)
    assert Redactor().html(page) == "<p>[redacted]</p>" * 4
