"""Running a sweep, in the order it happens: plan it once (``plan.py``: arguments
checked, the grid expanded, the fingerprint and variants computed), start or
resume its run (``resume.py``), record it (``record.py``: the opening rows, the
cells, the closing row, all through one writer), execute each cell with pacing,
retries, timeouts and the cache (``cells.py``, ``pacing.py``), turn its answer
into a trial row (``trial_rows.py``), make each group of trials durable
(``group_commit.py``), score them (``scoring.py``). Beside the flow: re-scoring
stored trials (``rescore.py``), estimating calls and cost (``estimate.py``),
progress displays (``progress.py``) and running async code from sync code
(``loops.py``).
"""
