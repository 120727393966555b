"""Keys go only to the endpoint they belong to (issue 10, item 2).

A model config read from a file (a label's recommended model in a shared
history, an experiment file) may call only endpoints the running user
trusts and send only keys the user paired with them; a model written in the
user's own code goes where it says. ``promptlab check`` on a crafted history
is refused before anything is looked up, called or written.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import promptlab as pl
from promptlab.cli import main
from promptlab.cli.experiment_file import load_experiment
from promptlab.core.model import FROM_HISTORY
from promptlab.errors import ConfigError, ExperimentFileError
from promptlab.providers import endpoints
from promptlab.providers.endpoints import EndpointPolicy, allowed_endpoints, key_variable, parse_entry
from promptlab.providers.openai_compat import NO_KEY, OpenAICompatProvider, api_key_for
from promptlab.runner.progress import NullDisplay
from promptlab.testing import StubServer, fake_model

NAME = "answer"
PROMPT = pl.Prompt("Answer: {{ text }}", name=NAME)
DATA = [{"text": "the cat sat", "expected": "cat"}, {"text": "a dog ran", "expected": "dog"}]
GITHUB_TOKEN = "ghp_" + "G1thubT0kenPlanted" * 2
OPENAI_KEY = "sk-planted-" + "0123456789abcdef" * 2
ATTACKER = "http://attacker.example:8000/v1"


@pytest.fixture(autouse=True)
def nothing_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets in the environment, no allow-list anywhere but what a test writes."""
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.delenv("PROMPTLAB_ALLOW_ENDPOINTS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name anything in this process resolves."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    return seen


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "ci.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in DATA), encoding="utf-8")
    return path


def history_recommending(path: Path, model: pl.Model) -> pl.Lab:
    """A history whose production label recommends ``model`` (as a crafted file would)."""
    lab = pl.Lab(path)
    lab.sweep([PROMPT], fake_model("echo"), DATA, display=NullDisplay())
    lab.promote(NAME, PROMPT.version, label="production", model=model)
    return lab


def check(lab: pl.Lab, data: Path, *extra: str) -> int:
    return main(
        [
            "--db",
            str(lab.path),
            "check",
            "--prompt",
            NAME,
            "--data",
            str(data),
            "--evaluators",
            "contains:expected",
            *extra,
        ]
    )


# -- promptlab check on a crafted history ----------------------------------------------------


@pytest.mark.parametrize("key_variable_name", ["GITHUB_TOKEN", None])
def test_check_refuses_a_labels_model_on_an_unknown_host_before_any_connection(
    tmp_path: Path,
    data_file: Path,
    lookups: list[str],
    capsys: pytest.CaptureFixture[str],
    key_variable_name: str | None,
) -> None:
    crafted = pl.Model("gpt-4o-mini", base_url=ATTACKER, api_key_env=key_variable_name)
    lab = history_recommending(tmp_path / "team.duckdb", crafted)
    runs_before = len(lab.runs())

    assert check(lab, data_file) == 2
    error = capsys.readouterr().err
    assert "attacker.example" in error and "from the history" in error
    assert "--allow-endpoint http://attacker.example:8000" in error and "PROMPTLAB_ALLOW_ENDPOINTS" in error
    assert GITHUB_TOKEN not in error and OPENAI_KEY not in error
    assert not any("attacker" in host for host in lookups), "refused before the host was even looked up"
    assert len(lab.runs()) == runs_before, "nothing written"


def test_a_loopback_server_named_by_the_history_gets_no_key(
    tmp_path: Path, data_file: Path, stub_server: StubServer
) -> None:
    lab = history_recommending(tmp_path / "team.duckdb", pl.Model("stub-model", base_url=stub_server.url))
    assert check(lab, data_file) in (0, 1)
    assert stub_server.requests > 0, "a local server may be used"
    assert set(stub_server.authorization) == {f"Bearer {NO_KEY}"}
    assert not any(OPENAI_KEY in a or GITHUB_TOKEN in a for a in stub_server.authorization)


def test_a_loopback_server_asking_for_a_variable_is_refused(
    tmp_path: Path, data_file: Path, stub_server: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    crafted = pl.Model("stub-model", base_url=stub_server.url, api_key_env="GITHUB_TOKEN")
    lab = history_recommending(tmp_path / "team.duckdb", crafted)
    assert check(lab, data_file) == 2
    error = capsys.readouterr().err
    assert "$GITHUB_TOKEN" in error and f"--allow-endpoint http://127.0.0.1:{stub_server.port}=GITHUB_TOKEN" in error
    assert stub_server.requests == 0


def write_user_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "promptlab" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def write_project_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "promptlab.toml"  # the working directory
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def allow_by_flag(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return ["--allow-endpoint", f"{url}=GITHUB_TOKEN"]


def allow_by_environment(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("PROMPTLAB_ALLOW_ENDPOINTS", f"https://api.together.xyz/v1, {url}=GITHUB_TOKEN")
    return []


def allow_by_user_config(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    write_user_config(tmp_path, f'[endpoints.keys]\n"{url}" = "GITHUB_TOKEN"\n')
    return []


def allow_by_project_config(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    write_project_config(
        tmp_path,
        f'[labels]\nprotected = []\n\n[endpoints]\nallow = ["{url}"]\n'
        f'[endpoints.keys]\n"{url}" = ["OTHER_KEY", "GITHUB_TOKEN"]\n',
    )
    return []


@pytest.mark.parametrize("allow", [allow_by_flag, allow_by_environment, allow_by_user_config, allow_by_project_config])
def test_an_endpoint_and_key_the_user_pairs_are_used(
    tmp_path: Path,
    data_file: Path,
    stub_server: StubServer,
    monkeypatch: pytest.MonkeyPatch,
    allow: Callable[[Path, str, pytest.MonkeyPatch], list[str]],
) -> None:
    crafted = pl.Model("stub-model", base_url=stub_server.url, api_key_env="GITHUB_TOKEN")
    lab = history_recommending(tmp_path / "team.duckdb", crafted)
    extra = allow(tmp_path, stub_server.url, monkeypatch)
    assert check(lab, data_file, *extra) in (0, 1)
    assert set(stub_server.authorization) == {f"Bearer {GITHUB_TOKEN}"}


def test_config_files_others_can_change_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = write_user_config(tmp_path, '[endpoints]\nallow = ["attacker.example"]\n')
    project = write_project_config(tmp_path, '[endpoints]\nallow = ["attacker.example"]\n')
    crafted = pl.Model.from_dict(pl.Model("m", base_url=ATTACKER).to_dict())
    assert key_variable(crafted) is None, "owned by the user: read (the host allowed, no key paired)"

    os.chmod(project, 0o666)
    monkeypatch.setattr(endpoints.os, "getuid", lambda: os.stat(user).st_uid + 1)  # someone else's files
    with pytest.raises(ConfigError) as caught:
        key_variable(crafted)
    message = str(caught.value)
    assert f"Not read: {user} belongs to user id" in message
    assert f"Not read: {project} belongs to user id" in message


def test_a_world_writable_config_file_is_not_read(tmp_path: Path) -> None:
    project = write_project_config(tmp_path, '[endpoints]\nallow = ["attacker.example"]\n')
    os.chmod(project, 0o666)
    crafted = pl.Model.from_dict(pl.Model("m", base_url=ATTACKER).to_dict())
    with pytest.raises(ConfigError, match="can be changed by anyone"):
        key_variable(crafted)


def test_a_malformed_endpoints_section_names_the_file(tmp_path: Path) -> None:
    project = write_project_config(tmp_path, '[endpoints]\nallow = "attacker.example"\n')
    with pytest.raises(ConfigError, match=str(project)):
        EndpointPolicy.current()


# -- the rules themselves ----------------------------------------------------------------------


def recorded(model: pl.Model) -> pl.Model:
    """``model`` as read back from a history."""
    return pl.Model.from_dict(model.to_dict())


def test_models_from_files_are_marked_and_code_models_are_not() -> None:
    written = pl.Model("m", base_url=ATTACKER, api_key_env="GITHUB_TOKEN")
    assert written.origin is None
    assert recorded(written).origin == FROM_HISTORY
    assert recorded(written) == written, "where a config came from is not part of what it is"
    assert "origin" not in written.to_dict()
    assert recorded(written).with_params(temperature=1).origin == FROM_HISTORY
    assert pl.Model.from_dict(written.to_dict(), origin="x.yaml").origin == "x.yaml"


def test_a_model_written_in_code_keeps_todays_behaviour() -> None:
    written = pl.Model("m", base_url=ATTACKER, api_key_env="GITHUB_TOKEN")
    assert key_variable(written) == "GITHUB_TOKEN"
    assert api_key_for(written) == GITHUB_TOKEN
    assert api_key_for(pl.Model("m", base_url=ATTACKER)) == OPENAI_KEY


def test_keys_are_chosen_only_where_the_policy_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert key_variable(recorded(pl.Model("gpt-4o-mini"))) == "OPENAI_API_KEY", "OpenAI's own endpoint"
    assert api_key_for(recorded(pl.Model("gpt-4o-mini"))) == OPENAI_KEY
    with pytest.raises(ConfigError, match=r"\$GITHUB_TOKEN"):
        key_variable(recorded(pl.Model("gpt-4o-mini", api_key_env="GITHUB_TOKEN")))
    with pytest.raises(ConfigError, match=r"attacker\.example"):
        key_variable(recorded(pl.Model("m", base_url="https://attacker.example/v1")))
    with pytest.raises(ConfigError, match=r"api\.openai\.com\.evil"):  # not OpenAI however it is spelled
        key_variable(recorded(pl.Model("m", base_url="https://api.openai.com.evil/v1")))
    with pytest.raises(ConfigError):  # OpenAI's host, but in clear text
        key_variable(recorded(pl.Model("m", base_url="http://api.openai.com/v1")))

    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway.internal:9000/v1")
    from_history = recorded(pl.Model("m", base_url="http://gateway.internal:9000/v1"))
    assert key_variable(from_history) == "OPENAI_API_KEY", "the user's own OPENAI_BASE_URL"
    assert key_variable(recorded(pl.Model("m"))) == "OPENAI_API_KEY"  # no base_url: the user's OPENAI_BASE_URL

    for loopback in ("http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://[::1]:8000/v1"):
        assert key_variable(recorded(pl.Model("m", base_url=loopback))) is None, loopback

    with allowed_endpoints("https://api.together.xyz/v1=TOGETHER_API_KEY"):
        allowed = recorded(pl.Model("m", base_url="https://api.together.xyz/v1", api_key_env="TOGETHER_API_KEY"))
        assert key_variable(allowed) == "TOGETHER_API_KEY"
        assert key_variable(recorded(pl.Model("m", base_url="https://api.together.xyz/v1"))) is None
    with pytest.raises(ConfigError):
        key_variable(allowed)  # only while allowed


def test_the_provider_refuses_too_so_no_path_bypasses_the_policy(lab: pl.Lab) -> None:
    crafted = recorded(pl.Model("m", base_url=ATTACKER, api_key_env="GITHUB_TOKEN"))
    with pytest.raises(ConfigError, match=r"attacker\.example"):
        OpenAICompatProvider.for_model(crafted)
    with pytest.raises(ConfigError, match=r"attacker\.example"):
        lab.sweep(PROMPT, crafted, DATA, params={"temperature": [0, 1]}, display=NullDisplay())
    assert lab.runs().empty and lab.trials().empty
    with pytest.raises(ConfigError, match="configures the model itself"):
        crafted.with_params(origin=None)  # a parameter grid can't launder where a config came from
    with pytest.raises(ConfigError, match="configures the model itself"):
        pl.Model.from_dict({"name": "m", "base_url": ATTACKER, "params": {"origin": None}})


@pytest.mark.parametrize(
    ("entry", "url", "matches"),
    [
        ("https://api.together.xyz/v1", "https://api.together.xyz/v1", True),
        ("https://api.together.xyz/v1", "https://API.Together.xyz:443/other", True),
        ("https://api.together.xyz/v1", "http://api.together.xyz/v1", False),
        ("https://api.together.xyz/v1", "https://api.together.xyz:8443/v1", False),
        ("https://api.together.xyz/v1", "https://api.together.xyz.evil/v1", False),
        ("gpu-box", "http://gpu-box:8000/v1", True),
        ("gpu-box:8000", "https://gpu-box:8000/v1", True),
        ("gpu-box:8000", "http://gpu-box:9000/v1", False),
    ],
)
def test_allow_list_entries(entry: str, url: str, matches: bool) -> None:
    from urllib.parse import urlsplit

    assert parse_entry(entry, "test").matches(urlsplit(url)) is matches


def test_allow_list_entries_pair_keys_and_bad_ones_are_refused() -> None:
    assert parse_entry("http://gpu-box:8000/v1=GPU_KEY", "test").keys == frozenset({"GPU_KEY"})
    assert parse_entry("https://x.azure.com/openai?api-version=2024-01", "test").keys == frozenset()
    for bad in ("", "=KEY", "http://", "gpu-box:port"):
        with pytest.raises(ConfigError, match="not an endpoint"):
            parse_entry(bad, "test")
    assert main(["run", "x.yaml", "--allow-endpoint", "gpu-box:port"]) == 2


# -- experiment files --------------------------------------------------------------------------


def experiment_file(folder: Path, model: str) -> Path:
    (folder / "rows.jsonl").write_text('{"text": "hi"}\n', encoding="utf-8")
    path = folder / "pr-42.yaml"
    path.write_text(
        f"experiment: pr-42\nprompts: ['{{{{ text }}}}']\nmodels:\n  - {model}\ndata: rows.jsonl\n", encoding="utf-8"
    )
    return path


def test_an_experiment_files_models_come_from_the_file(tmp_path: Path) -> None:
    path = experiment_file(tmp_path, f"{{name: m, base_url: '{ATTACKER}'}}")
    assert load_experiment(path).models[0].origin == str(path)
    with pytest.raises(ExperimentFileError, match="origin"):
        load_experiment(experiment_file(tmp_path, "{name: m, origin: null}"))


def test_run_refuses_an_experiment_files_endpoint_before_creating_the_history(
    tmp_path: Path, lookups: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = experiment_file(tmp_path, f"{{name: m, base_url: '{ATTACKER}', api_key_env: GITHUB_TOKEN}}")
    db = tmp_path / "h.duckdb"
    assert main(["--db", str(db), "run", str(path)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and "attacker.example" in error
    assert not db.exists()
    assert not any("attacker" in host for host in lookups)


def test_run_with_allow_endpoint_sends_the_paired_key(tmp_path: Path, stub_server: StubServer) -> None:
    path = experiment_file(tmp_path, f"{{name: m, base_url: '{stub_server.url}', api_key_env: GITHUB_TOKEN}}")
    db = tmp_path / "h.duckdb"
    assert main(["--db", str(db), "run", str(path)]) == 2
    assert stub_server.requests == 0
    allow = f"http://127.0.0.1:{stub_server.port}=GITHUB_TOKEN"
    assert main(["--db", str(db), "run", str(path), "--allow-endpoint", allow]) == 0
    assert stub_server.authorization == [f"Bearer {GITHUB_TOKEN}"]
