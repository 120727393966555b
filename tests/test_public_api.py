"""The public surface: a sorted, importable ``__all__`` and the names DESIGN.md promises."""

from __future__ import annotations

import importlib
import inspect

import promptlab as pl


def test_all_is_sorted_and_unique() -> None:
    assert pl.__all__ == sorted(pl.__all__)
    assert len(set(pl.__all__)) == len(pl.__all__)


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
