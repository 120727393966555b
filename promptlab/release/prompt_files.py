"""Loading prompts in application code: by label from a history file, or from
an exported prompt file, with no database at all.

``load_prompt`` reads the history read-only (it never migrates, folds or
writes, and never makes a writer wait) and keeps what it read in memory
until the file or its label journal changes, so calling it on every web
request costs a few ``stat`` calls.

A first call reads the label file the fold keeps beside the history
(``history.duckdb.labels.json``, ``promptlab.store.label_file``) when it is
provably current: nothing for labels or prompts pending in the journal, and
the file and its WAL as the fold left them. That skips starting DuckDB: the
first call in a fresh process went from ~87 ms to ~2 ms
(``benchmarks/load_prompt.py``), and it answers even while a program outside
promptlab holds the file open (holding it changes nothing in it). The
template read there must still hash to the labelled version (a
``DamagedStoreError``, as for the history); a label file that is missing,
malformed or stale is passed over for the history, opened with DuckDB as
before, which also answers for every label the file doesn't hold.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import pprint
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import yaml

from promptlab.core.files import check_folder
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.core.redaction import Redactor
from promptlab.errors import ConfigError, DamagedStoreError, HistoryWarning, NotFoundError, StoreBusyError
from promptlab.store import label_file
from promptlab.store.location import default_db_path, journal_folder, wal_file
from promptlab.store.server.connection import is_server

_CACHE: dict[tuple[str, str, str], tuple[tuple[int, ...], Prompt]] = {}
_VERBATIM = frozenset({"name", "version", "template", "variables"})
"""Fields of a prompt file written as they are (the version is a hash of the template)."""
_CACHE_LOCK = threading.Lock()


def _signature(db: Path) -> tuple[int, ...]:
    """Changes whenever a label could have moved: the file, or new journal segments."""
    stamps = []
    for path in (db, wal_file(db), *(journal_folder(db) / t for t in ("label_events", "prompts"))):
        try:
            info = path.stat()
            stamps += [info.st_mtime_ns, info.st_size]
        except FileNotFoundError:
            stamps += [0, 0]
    return tuple(stamps)


@functools.lru_cache(maxsize=64)
def _resolved(db: str) -> Path:
    """The real history file ``db`` names: the journal whose changes the cache
    watches lives beside it. Resolved once per path and process (it costs as
    much as the rest of a warm call)."""
    return Path(db).expanduser().resolve()


def load_prompt(
    name: str | None = None,
    label: str = "production",
    *,
    db: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Prompt:
    """The ``Prompt`` (template and recommended model, ``prompt.model``) that
    ``label`` points at in the history file ``db`` (default ``$PROMPTLAB_DB``,
    else ``./promptlab.duckdb``), or the prompt in an exported file ``path``
    (.json, .yaml or .py). A stored template that doesn't hash to the
    labelled version (an edited history) is refused with a ``DamagedStoreError``."""
    if path is not None:
        return read_prompt_file(Path(path))
    if not name:
        raise ConfigError("load_prompt needs a prompt name (or path= an exported prompt file)")
    location = db if db is not None else default_db_path()
    if is_server(location):
        return _served_label(str(location), name, label)
    database = _resolved(os.fspath(db if db is not None else default_db_path()))
    key = (str(database), name, label)
    signature = _signature(database)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    try:
        prompt = (_read_label_file(database, name, label) or _read_label(database, name, label)).labelled(label)
    except StoreBusyError:
        if cached is None:
            raise
        # Application code never waits on the file: it keeps serving what it read last.
        warnings.warn(
            f"{database} is held open by another program; serving the {label!r} version of {name!r} "
            "read before, until the file can be read again",
            HistoryWarning,
            stacklevel=2,
        )
        return cached[1]
    with _CACHE_LOCK:
        _CACHE[key] = (signature, prompt)
    return prompt


def _read_label_file(database: Path, name: str, label: str) -> Prompt | None:
    """The labelled prompt from the label file, or None when it can't say (see the module docstring)."""
    from promptlab.analysis.columns import decode_json
    from promptlab.release.labels import checked_template

    entry = label_file.current(database, name, label)
    if entry is None:
        return None
    try:
        # what prompt_at does with the same row, read from the file instead of the tables
        stored = {"version": entry.stored_version, "template": entry.template}
        template = checked_template(stored, name, label=label, labelled=entry.version)
        model = decode_json(entry.model)
        return Prompt(template, name=name, model=Model.from_dict(model) if model else None)
    except DamagedStoreError:
        raise
    except Exception:  # a label file promptlab didn't write (the history has the answer, or the reason)
        return None


SERVER_LABEL_SECONDS = 5.0
"""How long ``load_prompt`` serves a team server's answer before asking again:
an application calling it per request costs the server a query every few
seconds, and a promotion reaches it within that time."""

_SERVED: dict[tuple[str, str, str], tuple[float, Prompt]] = {}


def _served_label(url: str, name: str, label: str) -> Prompt:
    """The labelled prompt from a team server, asked again every ``SERVER_LABEL_SECONDS``;
    while the server can't be reached, the answer read last, with a warning."""
    from promptlab.errors import ServerUnreachableError

    key = (url, name, label)
    with _CACHE_LOCK:
        cached = _SERVED.get(key)
    if cached is not None and time.monotonic() - cached[0] < SERVER_LABEL_SECONDS:
        return cached[1]
    try:
        prompt = _read_server_label(url, name, label).labelled(label)
    except ServerUnreachableError as exc:
        if cached is None:
            raise
        warnings.warn(
            f"{exc}; serving the {label!r} version of {name!r} read before, until it is back",
            HistoryWarning,
            stacklevel=3,
        )
        return cached[1]
    with _CACHE_LOCK:
        _SERVED[key] = (time.monotonic(), prompt)
    return prompt


def forget_served() -> None:
    """Ask the server again on the next ``load_prompt`` (this process moved a label)."""
    with _CACHE_LOCK:
        _SERVED.clear()


def _read_server_label(url: str, name: str, label: str) -> Prompt:
    """One connection, two queries (``label_reads``): no store, no spool, no SQL translator."""
    import psycopg

    from promptlab.analysis.columns import decode_json
    from promptlab.release.labels import checked_template
    from promptlab.store.server import label_reads
    from promptlab.store.server.connection import connect, shown, unreachable

    try:
        with connect(url) as connection:
            found = label_reads.label_and_template(connection, name, label, lambda row: row["version"])
    except psycopg.OperationalError as exc:
        raise unreachable(shown(url), exc) from None
    if found is None:
        raise NotFoundError(f"prompt {name!r} has no label {label!r} on {shown(url)}; promote a version first")
    pointed, stored = found
    if not stored:
        raise DamagedStoreError(f"{shown(url)}: the version {label!r} of {name!r} points at has no stored template")
    template = checked_template(stored, name, label=label, labelled=str(pointed["version"]))
    model = decode_json(pointed["model"])
    return Prompt(template, name=name, model=Model.from_dict(model) if model else None)


def _read_label(database: Path, name: str, label: str) -> Prompt:
    from promptlab.release.labels import prompt_at
    from promptlab.store import Store, prompt_reads

    store = Store(database, read_only=True)
    with store.reading(wait=0) as reader:  # a program outside promptlab holding the file: fail at once
        try:
            found = prompt_reads.labels(reader, name)
        except Exception as exc:  # duckdb's CatalogException: a file from before labels existed
            raise NotFoundError(f"{database} has no labels yet (open it once with pl.Lab to upgrade it)") from exc
        found = found[found["label"] == label]
        if found.empty:
            raise NotFoundError(f"prompt {name!r} has no label {label!r} in {database}; promote a version first")
        # refuses a stored template that doesn't hash to the version the label points at
        return prompt_at(reader, name, str(found.iloc[0]["version"]), found.iloc[0]["model"], label=label)


def prompt_document(prompt: Prompt, **extra: Any) -> dict[str, Any]:
    """What an exported prompt file holds."""
    return {**prompt.to_dict(), **extra}


def write_prompt_file(path: Path, document: dict[str, Any], *, mkdir: bool = False) -> Path:
    """Write an exported prompt as .json, .yaml/.yml or a small .py module (in
    one rename: never half-written); ``load_prompt(path=...)`` reads it back.
    Free text beside the template (a note, the evidence) has secrets masked."""
    redactor = Redactor()
    document = {k: v if k in _VERBATIM else redactor.data(v) for k, v in document.items()}
    if path.suffix == ".json":
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    elif path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(json.loads(json.dumps(document, default=str)), sort_keys=False, allow_unicode=True)
    elif path.suffix == ".py":
        literal = pprint.pformat(json.loads(json.dumps(document, default=str)), sort_dicts=False, width=100)
        text = (
            f'"""Prompt {document.get("name")!r} ({document.get("label") or document.get("version")}), exported by '
            f'promptlab.\n\nUse PROMPT directly, or: promptlab.load_prompt(path=__file__)\n"""\n\nPROMPT = {literal}\n'
        )
    else:
        raise ConfigError(f"{path}: export a prompt as .json, .yaml or .py")
    check_folder(path, mkdir=mkdir)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_prompt_file(path: Path) -> Prompt:
    """The prompt in an exported .json, .yaml/.yml or .py file."""
    if not path.is_file():
        raise NotFoundError(f"no prompt file at {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            document = json.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            document = yaml.safe_load(text)
        elif path.suffix == ".py":
            document = _python_constant(text, "PROMPT")
        else:
            raise ConfigError(f"{path}: prompt files are .json, .yaml or .py")
    except (json.JSONDecodeError, yaml.YAMLError, SyntaxError, ValueError) as exc:
        raise ConfigError(f"{path} is not a readable prompt file: {exc}") from exc
    if not isinstance(document, dict) or "template" not in document:
        raise ConfigError(f"{path} has no 'template': is it a promptlab prompt export?")
    model = Model.from_dict(document["model"], origin=str(path)) if document.get("model") else None
    message = document.get("message") if isinstance(document.get("message"), str) else None
    prompt = Prompt(document["template"], name=document.get("name"), model=model, message=message)
    if document.get("version") and document["version"] != prompt.version:
        raise ConfigError(
            f"{path}: the template was edited after export (version {prompt.version}, file says "
            f"{document['version']}); re-export it, or remove the version line to accept the edit"
        )
    return prompt


def _python_constant(source: str, name: str) -> Any:
    """The literal assigned to ``name`` in Python ``source``, without running it."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"no {name} = {{...}} in the module")
