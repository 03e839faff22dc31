"""How the client paces itself: the rate limiter every concurrent caller shares, full-jitter backoff, and the
server's `Retry-After` read and capped."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import anyio

from .. import errors

RETRY_AFTER_CAP = 60.0
"""Seconds: the longest `Retry-After` we honour; longer values are cut to this."""
RATE_LIMIT_HEADROOM = 1.05
"""Requests are spaced (1/rate) x this apart: the server counts arrivals, which jitter a little."""


SleepFn = Callable[[float], Awaitable[None]]


ClockFn = Callable[[], float]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date), capped; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform(0, min(cap, base * 2**(attempt-1))) for the wait after failed attempt `attempt`."""
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(0.0, ceiling)


class RateLimiter:
    """Spaces request starts at least `headroom`/rate seconds apart, for every concurrent caller sharing it.

    Each caller reserves the next free slot without waiting for a lock, then sleeps until its slot, so
    N concurrent callers start at 0, 1/rate, 2/rate, ... A caller cancelled while waiting leaves its slot
    unused, which only makes the limiter more conservative.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: ClockFn = time.monotonic,
        sleep: SleepFn = anyio.sleep,
        headroom: float = RATE_LIMIT_HEADROOM,
    ):
        if rate <= 0:
            raise errors.ConfigError("the rate limit must be greater than 0")
        self.interval = headroom / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")

    async def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            await self._sleep(delay)
        return delay
