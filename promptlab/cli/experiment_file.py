"""Declarative experiment files: a sweep written down as YAML.

``promptlab run FILE.yaml`` and ``load_experiment(path)`` read a file like
this one into the arguments of ``Lab.sweep``::

    experiment: sentiment                    # required: the experiment's name
    description: Classify review sentiment   # optional
    tags: [classification, demo]             # optional
    prompts:                                 # required: one or more
      - name: terse                          # optional, but labels point at names
        template: "Sentiment of: {{ text }}\\nAnswer positive or negative."
      - name: chat                           # a chat prompt: messages instead of template
        messages:
          - {role: system, content: "You label sentiment."}
          - {role: user, content: "{{ text }}"}
    models:                                  # required: names or mappings
      - smollm2
      - {name: gpt-4o-mini, temperature: 0}
      - {name: llama3.2, base_url: "http://localhost:11434/v1"}
    params: {temperature: [0.0, 0.7]}        # optional grid, crossed with every model
    data: data/sentiment.jsonl               # required; inside this file's folder, or dataset:NAME[@VERSION]
    repeats: 1                               # optional (default 1)
    concurrency: 4                           # optional; so are timeout and max_retries
    tier: restricted                         # optional: the data's tier, when higher than the policy says
    evaluators:                              # optional: scores for every trial
      - icontains:expected                   # a short spec, as for `promptlab check`
      - {name: one_of, labels: [positive, negative]}   # or a name with its arguments
      - {name: code, function: "checks:is_polite"}     # your function, in checks.py beside this file
    corpora: {handbook: data/handbook.jsonl}   # optional, with retrievers: see experiment_retrieval.py
    retrievers: [{kind: bm25, corpus: handbook, k: 5}]

In a model mapping, ``name``, ``provider``, ``base_url``, ``price`` (input and
output USD per million tokens, as a list of two numbers) and ``api_key_env``
configure the ``Model``; every other key is a model parameter (temperature,
max_tokens, seed, ...). Secrets never belong in the file: a key such as
``api_key`` is refused; name the environment variable with ``api_key_env``.
Experiment files come from other people too (a pull request). Their models
are marked as coming from the file, so a ``base_url`` or ``api_key_env`` the
running user hasn't allowed is refused before anything runs
(``promptlab.providers.endpoints``), and ``data`` must resolve, symlinks followed,
inside the file's folder: ``data/users.tsv`` → ``/etc/passwd`` would be
stored in the history and sent to the model. ``promptlab run --allow-outside
PATH`` (``load_experiment(path, allow_outside=[PATH])``) allows a path.

An evaluator is a short spec (``json_valid``, ``contains:expected``,
``max_length:200``) or a mapping of ``name`` and the evaluator's keyword
arguments (``label`` names its score column). Model-graded judges need a
model object: use them from Python (``pl.evals.judge``).

Every problem is an ``ExperimentFileError`` whose message names the file, the
key and what to change.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptlab import evals
from promptlab.cli.experiment_retrieval import read_corpora, read_retrievers
from promptlab.cli.strict_yaml import FileValues, read_yaml, shown
from promptlab.core.model import Model
from promptlab.core.prompt import Prompt
from promptlab.errors import ConfigError, ExperimentFileError, SecretInConfigError
from promptlab.evals.protocol import Evaluator
from promptlab.release import datasets
from promptlab.retrieval.retrievers import RetrieverSpec

TOP_LEVEL_KEYS = (
    "experiment",
    "description",
    "tags",
    "prompts",
    "models",
    "params",
    "data",
    "repeats",
    "concurrency",
    "timeout",
    "max_retries",
    "evaluators",
    "tier",
    "corpora",
    "retrievers",
)
"""Keys an experiment file may have."""

REQUIRED_KEYS = ("experiment", "prompts", "models", "data")
"""Keys an experiment file must have."""

PROMPT_KEYS = ("name", "template", "messages")
"""Keys of one entry of ``prompts``."""

MODEL_CONFIG_KEYS = ("name", "provider", "base_url", "price", "api_key_env")
"""Keys of a model mapping that configure the ``Model``; the rest are parameters."""


@dataclass(frozen=True)
class ExperimentFile:
    """An experiment file, checked and turned into promptlab objects."""

    path: Path
    """The YAML file it was read from."""

    experiment: str
    """Experiment name."""

    prompts: tuple[Prompt, ...]
    """Prompt variants."""

    models: tuple[Model, ...]
    """Model configs."""

    data: Path | str
    """The data file, resolved (symlinks followed) against the YAML file's folder;
    or a dataset of the history, ``dataset:NAME[@VERSION]`` (``Lab.dataset``)."""

    params: Mapping[str, tuple[Any, ...]]
    """Parameter grid, crossed with every model ({} for none)."""

    repeats: int = 1
    """Calls per (prompt, model, row)."""

    description: str | None = None
    """What the experiment is about; None keeps the one already recorded."""

    tags: tuple[str, ...] | None = None
    """Tags; None keeps the ones already recorded."""

    concurrency: int | None = None
    """Calls in flight; None for ``Lab.sweep``'s default."""

    timeout: float | None = None
    """Seconds per call; None for ``Lab.sweep``'s default."""

    max_retries: int | None = None
    """Retries of transient failures; None for ``Lab.sweep``'s default."""

    evaluators: tuple[Evaluator, ...] = ()
    """Evaluators that score every trial as it finishes."""

    tier: str | None = None
    """The data's tier, when higher than the privacy policy says (``promptlab.privacy``)."""

    retrievers: tuple[RetrieverSpec, ...] = ()
    """Retrievers crossed with the rest (``pl.retrievers``), over the file's ``corpora``."""

    def sweep_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``Lab.sweep``: ``lab.sweep(**file.sweep_arguments())``."""
        arguments: dict[str, Any] = {
            "prompts": list(self.prompts),
            "models": list(self.models),
            "data": self.data,
            "params": {key: list(values) for key, values in self.params.items()},
            "repeats": self.repeats,
            "experiment": self.experiment,
            "description": self.description,
            "tags": None if self.tags is None else list(self.tags),
        }
        if self.evaluators:
            arguments["evaluators"] = list(self.evaluators)
        if self.retrievers:
            arguments["retrievers"] = list(self.retrievers)
        for name in ("concurrency", "timeout", "max_retries", "tier"):
            value = getattr(self, name)
            if value is not None:
                arguments[name] = value
        return arguments


def _prompt(check: FileValues, entry: Any, key: str) -> Prompt:
    if isinstance(entry, str):
        entry = {"template": entry}
    if not isinstance(entry, Mapping):
        raise check.error(key, f"must be a mapping with name and template (or messages), got {shown(entry)}")
    check.keys(entry, PROMPT_KEYS, f"{key}.")
    name = check.text(entry["name"], f"{key}.name", "terse") if "name" in entry else None
    if ("template" in entry) == ("messages" in entry):
        raise check.error(key, "give exactly one of template (text) or messages (a list of {role, content})")
    if "template" in entry:
        template: Any = check.text(entry["template"], f"{key}.template", '"Summarize: {{ text }}"')
    else:
        template = check.items(
            entry["messages"], f"{key}.messages", '  - {role: system, content: "..."}\n  - {role: user, content: "..."}'
        )
    try:
        return Prompt(template, name=name)
    except ConfigError as exc:
        raise check.error(key, str(exc)) from exc


def _model(check: FileValues, entry: Any, key: str) -> Model:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping):
        raise check.error(key, f"must be a model name or a mapping with a name, got {shown(entry)}")
    if "name" not in entry:
        raise check.error(key, "this model has no name; add one, e.g. {name: gpt-4o-mini, temperature: 0}")
    config = {k: v for k, v in entry.items() if k in MODEL_CONFIG_KEYS}
    params = {str(k): v for k, v in entry.items() if k not in MODEL_CONFIG_KEYS}
    name = check.text(config.pop("name"), f"{key}.name", "gpt-4o-mini")
    for option in ("provider", "base_url", "api_key_env"):
        if option in config:
            check.text(config[option], f"{key}.{option}", "...")
    if "price" in config:
        price = config["price"]
        if not (isinstance(price, list) and len(price) == 2 and all(_is_number(p) for p in price)):
            raise check.error(
                f"{key}.price", f"must be [input, output] USD per million tokens, e.g. [0.15, 0.6], got {shown(price)}"
            )
        config["price"] = (float(price[0]), float(price[1]))
    if "origin" in params:
        raise check.error(f"{key}.origin", "a file can't say where its models come from; remove the key")
    try:
        return Model(name, **config, origin=str(check.path), **params)
    except SecretInConfigError as exc:
        raise check.error(
            key, f"{exc} In an experiment file that is `api_key_env: MY_KEY_VAR` in the model mapping."
        ) from exc
    except ConfigError as exc:
        raise check.error(key, str(exc)) from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _params(check: FileValues, value: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(value, Mapping):
        example = "{temperature: [0.0, 0.7]}"
        raise check.error("params", f"must be a mapping of parameter to values, e.g. {example}, got {shown(value)}")
    grid = {}
    for name, given in value.items():
        values = tuple(given) if isinstance(given, list) else (given,)
        if not values:
            raise check.error(f"params.{name}", "the list of values is empty; give at least one")
        grid[str(name)] = values
    return grid


def _data(check: FileValues, value: Any, allow_outside: Sequence[Path]) -> Path | str:
    text = check.text(value, "data", "data/reviews.jsonl")
    if datasets.is_reference(text):
        return text  # a dataset of the history the run records into: read when it runs
    data = inside(check, text, "data", allow_outside)
    if not data.is_file():
        raise check.error("data", f"data file {data} is a folder; name a file of rows in it")
    return data


def inside(check: FileValues, value: Any, key: str, allow_outside: Sequence[Path]) -> Path:
    """The file or folder ``value`` names, resolved (symlinks followed) against the
    experiment file's folder: refused outside it, unless the user allowed the path."""
    text = check.text(value, key, "data/reviews.jsonl")
    folder = check.path.parent.resolve()
    found = (folder / Path(text).expanduser()).resolve()  # an absolute path stays itself
    if not found.is_relative_to(folder) and not any(found.is_relative_to(allowed) for allowed in allow_outside):
        shown = text if Path(text).expanduser() == found else f"{text} (which resolves to {found})"
        raise check.error(
            key,
            f"{shown} is outside the experiment file's folder {folder}; an experiment file may only read "
            f"data inside its folder. If you trust this file and meant that data, pass --allow-outside {found} "
            "(promptlab run), or load_experiment(path, allow_outside=[...])",
        )
    if not found.exists():
        what = "data file" if key == "data" else "file or folder"
        raise check.error(key, f"{what} {found} does not exist; paths are relative to the experiment file's folder")
    return found


@contextlib.contextmanager
def _importable_from(folder: Path) -> Iterator[None]:
    """Modules beside the experiment file (a ``code`` evaluator's ``checks.py``)
    import without ``PYTHONPATH=.``, from wherever ``promptlab run`` is started."""
    entry = str(folder.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _evaluator(check: FileValues, entry: Any, key: str) -> Evaluator:
    if isinstance(entry, Mapping):
        arguments = {str(k): v for k, v in entry.items()}
        name = arguments.pop("name", None)
        if not isinstance(name, str):
            raise check.error(f"{key}.name", "each evaluator mapping needs a name, e.g. {name: one_of, labels: [a, b]}")
        if name in ("judge", "pairwise_judge"):
            raise check.error(key, f"{name} needs a model object; add it in Python with pl.evals.{name}(...)")
        recorded = {"name": name, "label": arguments.pop("label", None), "args": arguments}
    elif not (isinstance(entry, str) and entry.strip()):
        raise check.error(key, f"an evaluator is a spec such as icontains:expected, or a mapping; got {shown(entry)}")
    try:
        with _importable_from(check.path.parent):
            return evals.from_spec(recorded) if isinstance(entry, Mapping) else evals.parse(entry.strip())
    except ConfigError as exc:
        raise check.error(key, str(exc)) from exc
    except TypeError as exc:  # arguments the evaluator doesn't take
        raise check.error(key, f"wrong arguments for the evaluator: {exc}") from exc


def load_experiment(
    path: str | os.PathLike[str], *, allow_outside: Iterable[str | os.PathLike[str]] = ()
) -> ExperimentFile:
    """Read and check an experiment file (the format is in this module's
    docstring). ``allow_outside``: files or folders outside the file's folder
    that its ``data`` may name."""
    path = Path(path)
    allowed = [Path(p).expanduser().resolve() for p in allow_outside]
    check = FileValues(path)
    document = read_yaml(path)
    if document is None:
        raise ExperimentFileError(f"{path}: the file is empty; it needs the keys {', '.join(REQUIRED_KEYS)}")
    if not isinstance(document, Mapping):
        raise ExperimentFileError(
            f"{path}: the file must be a mapping of keys ({', '.join(REQUIRED_KEYS)}, ...), not a {shown(document)}"
        )
    check.keys(document, TOP_LEVEL_KEYS, "")
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise check.error(missing[0], f"required key missing; an experiment file needs {', '.join(REQUIRED_KEYS)}")

    tags = document.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise check.error("tags", f"must be a list of strings, e.g. [classification, demo], got {shown(tags)}")
    description = document.get("description")
    if description is not None and not isinstance(description, str):
        raise check.error("description", f"must be a string, got {shown(description)}")
    prompt_list = check.items(document["prompts"], "prompts", '  - name: terse\n    template: "Summarize: {{ text }}"')
    model_list = check.items(document["models"], "models", "  - smollm2\n  - {name: gpt-4o-mini, temperature: 0}")
    concurrency, timeout, max_retries = (document.get(key) for key in ("concurrency", "timeout", "max_retries"))
    evaluator_list = (
        []
        if document.get("evaluators") is None
        else check.items(
            document["evaluators"],
            "evaluators",
            "  - icontains:expected\n  - {name: one_of, labels: [positive, negative]}",
        )
    )
    evaluators = tuple(_evaluator(check, entry, f"evaluators[{i}]") for i, entry in enumerate(evaluator_list))
    try:
        evals.coerce(list(evaluators))
    except ConfigError as exc:  # two with one label
        raise check.error("evaluators", str(exc)) from exc
    corpora = {} if document.get("corpora") is None else read_corpora(check, document["corpora"], allowed, inside)
    if document.get("retrievers") is not None and not corpora:
        raise check.error("retrievers", "retrievers search corpora: add a corpora: section naming their files")
    return ExperimentFile(
        path=path,
        experiment=check.text(document["experiment"], "experiment", "sentiment"),
        prompts=tuple(_prompt(check, entry, f"prompts[{i}]") for i, entry in enumerate(prompt_list)),
        models=tuple(_model(check, entry, f"models[{i}]") for i, entry in enumerate(model_list)),
        data=_data(check, document["data"], allowed),
        params={} if document.get("params") is None else _params(check, document["params"]),
        repeats=check.integer(document.get("repeats", 1), "repeats", 1),
        description=description,
        tags=None if tags is None else tuple(tags),
        concurrency=None if concurrency is None else check.integer(concurrency, "concurrency", 1),
        timeout=None if timeout is None else check.seconds(timeout, "timeout"),
        max_retries=None if max_retries is None else check.integer(max_retries, "max_retries", 0),
        evaluators=evaluators,
        tier=None if document.get("tier") is None else check.text(document["tier"], "tier", "restricted"),
        retrievers=()
        if document.get("retrievers") is None
        else read_retrievers(check, document["retrievers"], corpora, _model),
    )
