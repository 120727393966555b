"""An application process that logs calls with ``pl.logger`` as fast as it can.

``python app_worker.py DB SOURCE N [--kill-after SECONDS]``: records ``N`` calls
(external ids ``SOURCE-0`` …) and prints each acknowledged external id, a
line per hundred, flushed, with the time ``record`` returned; then exits
normally (the logger flushes at exit), or, with ``--hold``, sleeps until
killed.
"""

from __future__ import annotations

import sys
import time

import promptlab as pl


def main() -> None:
    db, source, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    hold = "--hold" in sys.argv
    log = pl.logger(db, source=source, queue_size=1_000_000, publish_every=0.5)
    prompt = pl.Prompt("Answer briefly: {{ question }}", name="support")
    acknowledged: list[str] = []
    i = 0
    while i < n or hold:
        external = f"{source}-{i}"
        log.record(
            prompt,
            {"question": f"question {i}"},
            f"answer {i}",
            model="gpt-4o-mini",
            latency_ms=10.0 + i % 7,
            usage={"prompt_tokens": 12, "completion_tokens": 5},
            external_id=external,
            end_user=f"user-{i % 13}",
        )
        acknowledged.append(external)
        if len(acknowledged) == 100:
            print(f"{time.time():.6f} {' '.join(acknowledged)}", flush=True)
            acknowledged = []
        i += 1
        if hold and i % 100 == 0:
            time.sleep(0.01)  # a steady stream rather than a burst
    if acknowledged:
        print(f"{time.time():.6f} {' '.join(acknowledged)}", flush=True)


if __name__ == "__main__":
    main()
