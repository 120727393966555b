"""The public surface: a sorted, complete, importable ``__all__`` and the names
DESIGN.md promises.

Complete means a notebook can name every type the API takes or hands back:
each promptlab class in the signature of a public function, method or
property of something in ``pl.__all__`` (and each field of an options
``TypedDict``) is itself in ``pl.__all__`` or, for evaluators, in
``pl.evals.__all__``; and nothing public in the package's namespace is left
out of ``__all__``.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

import promptlab as pl


def promptlab_classes(hint: Any) -> Iterator[type]:
    """The promptlab classes a type hint mentions, through unions and generics."""
    if isinstance(hint, type) and hint.__module__.startswith("promptlab"):
        yield hint
    for argument in typing.get_args(hint):
        yield from promptlab_classes(argument)


def signatures(obj: Any) -> Iterator[tuple[str, Any]]:
    """(where, hint) for every annotated parameter and return of ``obj``'s public surface."""
    if typing.is_typeddict(obj):
        yield from ((f"{obj.__name__}.{key}", hint) for key, hint in typing.get_type_hints(obj).items())
        return
    members = [(obj.__name__, obj)] if inspect.isfunction(obj) else []
    if inspect.isclass(obj):
        for cls in (c for c in obj.__mro__ if c.__module__.startswith("promptlab")):
            members += [
                (f"{obj.__name__}.{name}", member)
                for name, member in vars(cls).items()
                if name == "__init__" or not name.startswith("_")
            ]
    for where, member in members:
        function = member.fget if isinstance(member, property) else member
        if inspect.isfunction(function) or inspect.ismethod(function):
            hints = typing.get_type_hints(function, localns={"Lab": pl.Lab, "Run": pl.Run, "Figure": object})
            yield from ((where, hint) for hint in hints.values())


MADE_BY_THE_API = {"SweepHandle.__init__"}
"""Constructors a notebook never calls (``lab.start`` makes the handle), so their parameter types stay internal."""


def test_all_is_sorted_and_unique() -> None:
    assert pl.__all__ == sorted(pl.__all__)
    assert len(set(pl.__all__)) == len(pl.__all__)


def test_all_names_every_type_the_api_takes_or_returns() -> None:
    exported = [getattr(pl, name) for name in pl.__all__] + [getattr(pl.evals, name) for name in pl.evals.__all__]
    named = {value for value in exported if inspect.isclass(value)}
    missing = {}
    for name in pl.__all__:
        for where, hint in signatures(getattr(pl, name)):
            if where in MADE_BY_THE_API:
                continue
            for cls in promptlab_classes(hint):
                if cls not in named:
                    missing.setdefault(f"{cls.__module__}.{cls.__qualname__}", where)
    assert missing == {}, f"export these from promptlab/__init__.py (type: first seen in): {missing}"


def test_all_leaves_nothing_public_out() -> None:
    public = {
        name
        for name, value in vars(pl).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name not in {"TYPE_CHECKING", "Any"}
    }
    assert public - set(pl.__all__) == set()


def test_every_name_in_all_is_importable() -> None:
    module = importlib.import_module("promptlab")
    for name in pl.__all__:
        assert getattr(module, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from promptlab import *", namespace)
    assert set(pl.__all__) <= set(namespace)


def test_exceptions_form_one_tree() -> None:
    for name in ("ConfigError", "DataError", "NotFoundError", "ProviderError", "StoreError", "TemplateError"):
        assert issubclass(getattr(pl, name), pl.PromptlabError), name
    assert issubclass(pl.TemplateError, pl.ConfigError)
    assert issubclass(pl.DataError, pl.ConfigError)


def test_design_surface_exists() -> None:
    for name in ("Lab", "Prompt", "Model", "Run"):
        assert inspect.isclass(getattr(pl, name)), name
    for method in ("sweep", "asweep", "trials", "trial", "experiments", "runs", "run", "fold"):
        assert callable(getattr(pl.Lab, method)), method
    assert inspect.iscoroutinefunction(pl.Lab.asweep)
    assert isinstance(inspect.getattr_static(pl.Run, "df"), property)
    assert callable(pl.Run.summary)
    assert isinstance(pl.__version__, str) and pl.__version__


def test_sweep_takes_the_documented_arguments() -> None:
    # DESIGN.md §3: lab.sweep(prompts=, models=, params=, data=, repeats=, experiment=,
    # concurrency=, timeout=, max_retries=) and the resume/cache controls.
    parameters = inspect.signature(pl.Lab.sweep).parameters
    assert list(parameters)[:4] == ["self", "prompts", "models", "data"]
    options = inspect.get_annotations(importlib.import_module("promptlab.runner.plan").SweepOptions)
    for name in ("params", "repeats", "experiment", "concurrency", "timeout", "max_retries", "cache", "resume"):
        assert name in options, name


def test_importing_promptlab_imports_nothing_heavy() -> None:
    """An app that loads prompts or logs calls imports promptlab; the names it
    doesn't use cost it nothing (each public name is imported when first used)."""
    heavy = ("pandas", "numpy", "duckdb", "openai", "ipywidgets", "matplotlib", "pyarrow", "psycopg", "jinja2")
    code = f"import sys, promptlab; print([m for m in {heavy!r} if m in sys.modules])"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]"
    code = "import sys, promptlab as pl; pl.Lab, pl.Prompt, pl.evals, pl.__version__; print('ui' in dir(pl))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"
