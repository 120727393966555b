"""Running a sweep: plan it (``plan`` in ``record.py``), resume or start its run (``record.py``), execute
its cells with pacing, retries, timeouts and the cache (``cells.py``), make each group of trials
durable (``group_commit.py``), score them (``scoring.py``), re-score stored ones (``rescore.py``),
estimate calls and cost (``estimate.py``), report progress (``progress.py``)."""
