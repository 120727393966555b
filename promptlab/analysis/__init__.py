"""Reading results: the trial table's columns (``columns.py``), statistics (``stats.py``), plots (``plots.py``)."""
