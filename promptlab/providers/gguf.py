"""What a GGUF model file declares about itself, read from its header without loading it.

A GGUF file opens with key-value metadata (architecture, context length,
tokenizer, ...) ahead of its tensors. The embedded provider asks it how a
model pools its tokens into one vector before it starts an embeddings server:
llama.cpp refuses ``/v1/embeddings`` for a model that declares no pooling
(every generative model), and asking a server and then starting another with
the pooling set is no way round it: an ``xllamacpp.Server`` released right
after an in-process call hung in its destructor here (a thread join that never
returned, in each of three tries, with xllamacpp 2026.10).
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

from promptlab.errors import ModelFileError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
"""GGUF value types of fixed size, by type number, as ``struct`` formats."""

_STRING, _ARRAY = 8, 9

_LEFT_OUT = object()
"""What an array reads as: vocabularies are long and nothing here needs them."""


def _string(data: mmap.mmap, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<Q", data, offset)
    end = offset + 8 + length
    if end > len(data):
        raise struct.error("a string runs past the end of the file")
    return data[offset + 8 : end].decode("utf-8", errors="replace"), end


def _value(data: mmap.mmap, offset: int, kind: int) -> tuple[Any, int]:
    if kind in _SCALARS:
        return struct.unpack_from(_SCALARS[kind], data, offset)[0], offset + struct.calcsize(_SCALARS[kind])
    if kind == _STRING:
        return _string(data, offset)
    if kind == _ARRAY:
        item_kind, count = struct.unpack_from("<IQ", data, offset)
        offset += 12
        if item_kind in _SCALARS:
            return _LEFT_OUT, offset + count * struct.calcsize(_SCALARS[item_kind])
        for _ in range(count):
            _, offset = _value(data, offset, item_kind)
        return _LEFT_OUT, offset
    raise struct.error(f"unknown value type {kind}")


def read_metadata(path: Path) -> dict[str, Any]:
    """The numbers, flags and strings of a GGUF file's metadata, by key (arrays are left out)."""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != b"GGUF" or struct.unpack_from("<I", data, 4)[0] < 2:
                raise ModelFileError(f"{path} is not a GGUF file of version 2 or later; convert it with llama.cpp")
            (count,) = struct.unpack_from("<Q", data, 16)
            offset, found = 24, {}
            for _ in range(count):
                key, offset = _string(data, offset)
                (kind,) = struct.unpack_from("<I", data, offset)
                value, offset = _value(data, offset + 4, kind)
                if value is not _LEFT_OUT:
                    found[key] = value
            return found
    except (OSError, ValueError, struct.error) as exc:  # ValueError: an empty file can't be mapped
        raise ModelFileError(f"can't read the metadata of {path} ({exc}); is it a complete GGUF model file?") from exc


def declared_pooling(path: Path) -> int | None:
    """The pooling a model file declares, in llama.cpp's numbering (1 mean, 2 CLS, 3 last
    token, 4 rank), or None when it declares none (no key, or 0)."""
    metadata = read_metadata(path)
    pooling = metadata.get(f"{metadata.get('general.architecture')}.pooling_type")
    return pooling if isinstance(pooling, int) and not isinstance(pooling, bool) and pooling > 0 else None
