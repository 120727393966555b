"""From production back to the notebook: an application logs its calls and
its users' feedback into the history (``logger``), directly or through an
instrumented ``openai`` client (``instrument``).

Light by design: importing it (or ``promptlab.logger``) imports neither
pandas, DuckDB, ipywidgets nor matplotlib; the logger's own thread imports
the store when it publishes.
"""

from promptlab.production.instrument import instrument
from promptlab.production.logger import Logger, logger

__all__ = ["Logger", "instrument", "logger"]
