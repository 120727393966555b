"""promptlab: sweep prompts × models × parameters × inputs, record every trial.

Importing it is light (no pandas, DuckDB, openai, ipywidgets or matplotlib):
each public name is imported from its module the first time it is used
(``pl.Lab``, ``pl.Prompt``, ...), so an app that only loads prompts or logs
calls pays only for what it uses, and ``promptlab --help`` answers at once.
"""

import importlib
from typing import TYPE_CHECKING, Any

from promptlab.errors import (
    ConfigError,
    DataError,
    NotFoundError,
    PolicyError,
    PrivacyError,
    PromptlabError,
    ProviderError,
    StoreError,
    TemplateError,
)

if TYPE_CHECKING:
    from promptlab import evals, ui
    from promptlab.analysis.monitoring import MeasureComparison, ProductionComparison
    from promptlab.analysis.stats import Comparison
    from promptlab.core.feedback import Verdict
    from promptlab.core.model import Model
    from promptlab.core.pricing import Price
    from promptlab.core.prompt import Prompt
    from promptlab.gate import CheckResult, check
    from promptlab.lab import Lab
    from promptlab.lab_datasets import Dataset
    from promptlab.lab_monitor import Monitor
    from promptlab.privacy.erasure import ErasureReport, PruneReport
    from promptlab.privacy.policy import PrivacyPolicy
    from promptlab.production import Logger, instrument, logger
    from promptlab.providers import Completion, Provider, Request, register_provider
    from promptlab.release.audit import ChainProblem, ChainReport
    from promptlab.release.datasets import DatasetChange
    from promptlab.release.diff import PromptDiff
    from promptlab.release.export import ExportedSet, TrialFilters
    from promptlab.release.finetune import FinetuneSelection
    from promptlab.release.prompt_files import load_prompt
    from promptlab.release.report import ReportData
    from promptlab.retrieval import retrievers
    from promptlab.retrieval.bm25 import BM25Params
    from promptlab.retrieval.chunking import Chunking
    from promptlab.retrieval.corpus import Corpus, Document
    from promptlab.retrieval.protocol import Hit, Retriever
    from promptlab.retrieval.retrievers import RetrieverSpec
    from promptlab.run import Run, SweepHandle
    from promptlab.runner.estimate import Estimate
    from promptlab.runner.online import EvaluateOptions
    from promptlab.runner.plan import SweepOptions
    from promptlab.runner.progress import Display, Progress
    from promptlab.store.compaction import Compaction
    from promptlab.store.copy import CopyResult, TableCopy
    from promptlab.store.doctor import Checkup
    from promptlab.store.quarantine import QuarantinedSegment, Salvage
    from promptlab.store.space import StorageStats

_HOMES = {
    "BM25Params": "promptlab.retrieval.bm25",
    "ChainProblem": "promptlab.release.audit",
    "ChainReport": "promptlab.release.audit",
    "CheckResult": "promptlab.gate",
    "Checkup": "promptlab.store.doctor",
    "Chunking": "promptlab.retrieval.chunking",
    "Compaction": "promptlab.store.compaction",
    "Comparison": "promptlab.analysis.stats",
    "Completion": "promptlab.providers",
    "CopyResult": "promptlab.store.copy",
    "Corpus": "promptlab.retrieval.corpus",
    "Dataset": "promptlab.lab_datasets",
    "DatasetChange": "promptlab.release.datasets",
    "Display": "promptlab.runner.progress",
    "Document": "promptlab.retrieval.corpus",
    "ErasureReport": "promptlab.privacy.erasure",
    "Estimate": "promptlab.runner.estimate",
    "EvaluateOptions": "promptlab.runner.online",
    "ExportedSet": "promptlab.release.export",
    "FinetuneSelection": "promptlab.release.finetune",
    "Hit": "promptlab.retrieval.protocol",
    "Lab": "promptlab.lab",
    "Logger": "promptlab.production.logger",
    "MeasureComparison": "promptlab.analysis.monitoring",
    "Model": "promptlab.core.model",
    "Monitor": "promptlab.lab_monitor",
    "Price": "promptlab.core.pricing",
    "PrivacyPolicy": "promptlab.privacy.policy",
    "ProductionComparison": "promptlab.analysis.monitoring",
    "Progress": "promptlab.runner.progress",
    "Prompt": "promptlab.core.prompt",
    "PromptDiff": "promptlab.release.diff",
    "Provider": "promptlab.providers",
    "PruneReport": "promptlab.privacy.erasure",
    "QuarantinedSegment": "promptlab.store.quarantine",
    "ReportData": "promptlab.release.report",
    "Request": "promptlab.providers",
    "Retriever": "promptlab.retrieval.protocol",
    "RetrieverSpec": "promptlab.retrieval.retrievers",
    "Run": "promptlab.run",
    "Salvage": "promptlab.store.quarantine",
    "StorageStats": "promptlab.store.space",
    "SweepHandle": "promptlab.run",
    "SweepOptions": "promptlab.runner.plan",
    "TableCopy": "promptlab.store.copy",
    "TrialFilters": "promptlab.release.export",
    "Verdict": "promptlab.core.feedback",
    "check": "promptlab.gate",
    "instrument": "promptlab.production.instrument",
    "load_prompt": "promptlab.release.prompt_files",
    "logger": "promptlab.production.logger",
    "register_provider": "promptlab.providers",
}
"""Each public name's module, imported when the name is first used."""

_SUBPACKAGES = {"evals": "promptlab.evals", "ui": "promptlab.ui", "retrievers": "promptlab.retrieval.retrievers"}
"""``pl.evals``, ``pl.retrievers`` and ``pl.ui``: modules of their own (``pl.ui`` imports ipywidgets)."""

__all__ = [
    "BM25Params",
    "ChainProblem",
    "ChainReport",
    "CheckResult",
    "Checkup",
    "Chunking",
    "Compaction",
    "Comparison",
    "Completion",
    "ConfigError",
    "CopyResult",
    "Corpus",
    "DataError",
    "Dataset",
    "DatasetChange",
    "Display",
    "Document",
    "ErasureReport",
    "Estimate",
    "EvaluateOptions",
    "ExportedSet",
    "FinetuneSelection",
    "Hit",
    "Lab",
    "Logger",
    "MeasureComparison",
    "Model",
    "Monitor",
    "NotFoundError",
    "PolicyError",
    "Price",
    "PrivacyError",
    "PrivacyPolicy",
    "ProductionComparison",
    "Progress",
    "Prompt",
    "PromptDiff",
    "PromptlabError",
    "Provider",
    "ProviderError",
    "PruneReport",
    "QuarantinedSegment",
    "ReportData",
    "Request",
    "Retriever",
    "RetrieverSpec",
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
    "instrument",
    "load_prompt",
    "logger",
    "register_provider",
    "retrievers",
    "ui",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from promptlab.core.lineage import promptlab_version

        value: Any = promptlab_version()
    elif name in _SUBPACKAGES:
        value = importlib.import_module(_SUBPACKAGES[name])
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'promptlab' has no attribute {name!r}")
    globals()[name] = value  # the next use is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
