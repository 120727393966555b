"""promptlab: sweep prompts × models × parameters × inputs, record every trial."""

from typing import TYPE_CHECKING, Any

from promptlab import evals
from promptlab.core.lineage import promptlab_version
from promptlab.core.model import Model
from promptlab.core.pricing import Price
from promptlab.core.prompt import Prompt
from promptlab.errors import (
    ConfigError,
    DataError,
    NotFoundError,
    PolicyError,
    PromptlabError,
    ProviderError,
    StoreError,
    TemplateError,
)
from promptlab.gate import CheckResult, check
from promptlab.lab import Lab
from promptlab.providers import Completion, Provider, Request, register_provider
from promptlab.release.prompt_files import load_prompt
from promptlab.run import Run

__version__ = promptlab_version()

__all__ = [
    "CheckResult",
    "Completion",
    "ConfigError",
    "DataError",
    "Lab",
    "Model",
    "NotFoundError",
    "PolicyError",
    "Price",
    "Prompt",
    "PromptlabError",
    "Provider",
    "ProviderError",
    "Request",
    "Run",
    "StoreError",
    "TemplateError",
    "__version__",
    "check",
    "evals",
    "load_prompt",
    "register_provider",
    "ui",
]

if TYPE_CHECKING:
    from promptlab import ui
else:

    def __getattr__(name: str) -> Any:
        # pl.ui imports ipywidgets (~100 ms): only for those who use the widget app
        if name == "ui":
            import importlib

            return importlib.import_module("promptlab.ui")
        raise AttributeError(f"module 'promptlab' has no attribute {name!r}")
