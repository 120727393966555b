"""Pacing calls: how many may be in flight, and when to hold off.

A rate limit is about the endpoint, not one call, so one 429 slows every
worker: calls pause until the Retry-After time (however long the endpoint
asks, up to ``max_wait``) and the number in flight halves, then grows back
by one per window of successes (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """Adaptive concurrency limit with a shared pause, for one event loop."""

    def __init__(self, concurrency: int) -> None:
        self.ceiling = concurrency
        """The most calls in flight, as asked for by ``concurrency=``."""
        self.limit = concurrency
        """Calls allowed in flight now (lowered by rate limits)."""
        self.in_flight = 0
        self.paused_until = 0.0
        self._successes = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        """Wait for a free slot and for any pause to end."""
        async with self._changed:
            while True:
                pause = self.paused_until - time.monotonic()
                if pause > 0:
                    try:
                        await asyncio.wait_for(self._changed.wait(), pause)
                    except TimeoutError:
                        pass
                    continue
                if self.in_flight < self.limit:
                    self.in_flight += 1
                    return
                await self._changed.wait()

    async def release(self, *, succeeded: bool) -> None:
        """Give the slot back; each window of successes allows one more call in flight."""
        async with self._changed:
            self.in_flight -= 1
            if succeeded and self.limit < self.ceiling:
                self._successes += 1
                if self._successes >= self.limit:
                    self._successes = 0
                    self.limit += 1
            self._changed.notify_all()

    async def rate_limited(self, wait: float) -> None:
        """The endpoint asked for ``wait`` seconds: pause everyone and halve the limit."""
        async with self._changed:
            self.paused_until = max(self.paused_until, time.monotonic() + wait)
            self.limit = max(1, self.limit // 2)
            self._successes = 0
            self._changed.notify_all()
