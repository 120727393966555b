"""The only code that speaks SQL: where the history lives (``location``), its
schema and migrations, the journal and its segments, the fold, the lock,
the engine that opens the file, and the reads (trials, runs, prompts).

Importing the package costs nothing: ``Store`` (DuckDB, pandas) is imported
when first used, so an application that only appends to the journal
(``promptlab.production``) or reads a label file stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptlab.store import prompt_reads, reads, run_reads
    from promptlab.store.database import Store

__all__ = ["Store", "prompt_reads", "reads", "run_reads"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from promptlab.store.database import Store

        return Store
    if name in ("prompt_reads", "reads", "run_reads"):
        import importlib

        return importlib.import_module(f"promptlab.store.{name}")
    raise AttributeError(f"module 'promptlab.store' has no attribute {name!r}")
