"""Pacing calls: how many may be in flight, and when to hold off.

A rate limit is about the endpoint, not one call, so one 429 slows every
worker: calls pause until the Retry-After time (however long the endpoint
asks, up to ``max_wait``) and the number in flight halves, then grows back
by one per window of successes (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class Pacer:
    """Adaptive concurrency limit with a shared pause, for one event loop.

    Everything runs on the loop's thread, so state changes between awaits
    need no lock; a call that finds a free slot takes it without waiting.
    """

    def __init__(self, concurrency: int) -> None:
        self.ceiling = concurrency
        """The most calls in flight, as asked for by ``concurrency=``."""
        self.limit = concurrency
        """Calls allowed in flight now (lowered by rate limits)."""
        self.in_flight = 0
        """Calls in flight now."""
        self.paused_until = 0.0
        """``time.monotonic()`` before which no call starts."""
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        """Wait for a free slot and for any pause to end."""
        while True:
            pause = self.paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)  # a longer pause set meanwhile is seen on the next turn
                continue
            if self.in_flight < self.limit:
                self.in_flight += 1
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def release(self, *, succeeded: bool) -> None:
        """Give the slot back; each window of successes allows one more call in flight."""
        self.in_flight -= 1
        if succeeded and self.limit < self.ceiling:
            self._successes += 1
            if self._successes >= self.limit:
                self._successes = 0
                self.limit += 1
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def rate_limited(self, wait: float) -> None:
        """The endpoint asked for ``wait`` seconds: pause everyone and halve the limit."""
        self.paused_until = max(self.paused_until, time.monotonic() + wait)
        self.limit = max(1, self.limit // 2)
        self._successes = 0
