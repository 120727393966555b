"""promptlab: sweep prompts × models × parameters × inputs, record every trial."""

from typing import TYPE_CHECKING, Any

from promptlab import evals
from promptlab.analysis.stats import Comparison
from promptlab.core.feedback import Verdict
from promptlab.core.lineage import promptlab_version as _promptlab_version
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
from promptlab.release.audit import ChainProblem, ChainReport
from promptlab.release.diff import PromptDiff
from promptlab.release.export import ExportedSet, TrialFilters
from promptlab.release.finetune import FinetuneSelection
from promptlab.release.prompt_files import load_prompt
from promptlab.release.report import ReportData
from promptlab.run import Run, SweepHandle
from promptlab.runner.estimate import Estimate
from promptlab.runner.plan import SweepOptions
from promptlab.runner.progress import Display, Progress
from promptlab.store.compaction import Compaction
from promptlab.store.copy import CopyResult, TableCopy
from promptlab.store.doctor import Checkup
from promptlab.store.quarantine import QuarantinedSegment, Salvage
from promptlab.store.space import StorageStats

__version__ = _promptlab_version()

__all__ = [
    "ChainProblem",
    "ChainReport",
    "CheckResult",
    "Checkup",
    "Compaction",
    "Comparison",
    "Completion",
    "ConfigError",
    "CopyResult",
    "DataError",
    "Display",
    "Estimate",
    "ExportedSet",
    "FinetuneSelection",
    "Lab",
    "Model",
    "NotFoundError",
    "PolicyError",
    "Price",
    "Progress",
    "Prompt",
    "PromptDiff",
    "PromptlabError",
    "Provider",
    "ProviderError",
    "QuarantinedSegment",
    "ReportData",
    "Request",
    "Run",
    "Salvage",
    "StorageStats",
    "StoreError",
    "SweepHandle",
    "SweepOptions",
    "TableCopy",
    "TemplateError",
    "TrialFilters",
    "Verdict",
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
