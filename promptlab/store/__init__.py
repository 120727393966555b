"""The only code that touches DuckDB: schema, migrations, journal, reads."""

from promptlab.store import prompt_reads, reads
from promptlab.store.database import Store

__all__ = ["Store", "prompt_reads", "reads"]
