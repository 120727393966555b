"""The only code that touches DuckDB: schema, migrations, journal, reads."""

from promptlab.store import reads
from promptlab.store.database import Store

__all__ = ["Store", "reads"]
