"""The only code that speaks SQL: where the history lives (``location``), its
schema and migrations, the journal and its segments, the fold, the lock,
the engine that opens the file, and the reads (trials, runs, prompts)."""

from promptlab.store import prompt_reads, reads, run_reads
from promptlab.store.database import Store

__all__ = ["Store", "prompt_reads", "reads", "run_reads"]
