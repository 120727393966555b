"""Reading a GGUF file's metadata: files written here by hand, and (integration) SmolLM2's."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from promptlab.errors import ModelFileError
from promptlab.providers import gguf, model_files

UINT32, FLOAT32, BOOL, STRING, ARRAY = 4, 6, 7, 8, 9


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf_file(path: Path, items: list[tuple[str, int, Any]]) -> Path:
    """A GGUF (version 3) with these (key, type, value) pairs and no tensors."""
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(items))
    for key, kind, value in items:
        out += _string(key) + struct.pack("<I", kind)
        if kind == STRING:
            out += _string(value)
        elif kind == ARRAY:
            item_kind, values = value
            packed = [_string(v) if item_kind == STRING else struct.pack("<I", v) for v in values]
            out += struct.pack("<IQ", item_kind, len(values)) + b"".join(packed)
        else:
            out += struct.pack({UINT32: "<I", FLOAT32: "<f", BOOL: "<?"}[kind], value)
    path.write_bytes(out)
    return path


def test_numbers_flags_and_strings_are_read_and_arrays_left_out(tmp_path: Path) -> None:
    model = gguf_file(
        tmp_path / "bert.gguf",
        [
            ("general.architecture", STRING, "bert"),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, ["[CLS]", "cat", "##s"])),
            ("tokenizer.ggml.token_type", ARRAY, (UINT32, [1, 1, 1])),
            ("bert.pooling_type", UINT32, 2),
            ("bert.attention.layer_norm_epsilon", FLOAT32, 0.5),
            ("tokenizer.ggml.add_bos_token", BOOL, True),
        ],
    )
    assert gguf.read_metadata(model) == {
        "general.architecture": "bert",
        "bert.pooling_type": 2,
        "bert.attention.layer_norm_epsilon": 0.5,
        "tokenizer.ggml.add_bos_token": True,
    }
    assert gguf.declared_pooling(model) == 2  # CLS


def test_a_model_that_declares_no_pooling(tmp_path: Path) -> None:
    plain = gguf_file(tmp_path / "plain.gguf", [("general.architecture", STRING, "llama")])
    assert gguf.declared_pooling(plain) is None
    none = gguf_file(
        tmp_path / "none.gguf", [("general.architecture", STRING, "bert"), ("bert.pooling_type", UINT32, 0)]
    )
    assert gguf.declared_pooling(none) is None


def test_files_that_are_not_whole_ggufs_are_model_file_errors(tmp_path: Path) -> None:
    whole = gguf_file(tmp_path / "whole.gguf", [("general.architecture", STRING, "llama")]).read_bytes()
    (tmp_path / "cut.gguf").write_bytes(whole[:-3])
    (tmp_path / "empty.gguf").write_bytes(b"")
    (tmp_path / "text.gguf").write_bytes(b"not a model at all, just words")
    for name in ("cut.gguf", "empty.gguf", "text.gguf", "missing.gguf"):
        with pytest.raises(ModelFileError, match=name):
            gguf.read_metadata(tmp_path / name)


@pytest.mark.integration
def test_smollm2_is_a_llama_that_declares_no_pooling() -> None:
    metadata = gguf.read_metadata(model_files.pull("smollm2", quiet=True))
    assert metadata["general.architecture"] == "llama"
    assert metadata["llama.embedding_length"] == 576
    assert "tokenizer.ggml.tokens" not in metadata
    assert gguf.declared_pooling(model_files.pull("smollm2", quiet=True)) is None
