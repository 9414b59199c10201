"""Rate limiting per API key: a token bucket per key id, in process memory.

Each key may make ``rate`` requests per second on average and up to ``burst`` at once.
The buckets live in this process only: with several processes behind a load balancer each
process enforces its own share, which bounds a runaway client without a shared store (the
goal is protection from floods, not exact quotas). Off by default
(``METERLINE_RATE_LIMIT_PER_SECOND=0``) so benchmarks measure the server, not the limiter.

The check runs once per request, right after the key is authenticated, so a request with
no valid key is refused (401) before it can drain anyone's bucket. Buckets are keyed by
the key's id, never by the key itself, and their number is bounded by the number of keys
that exist: idle buckets (full again) are dropped when the table grows.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from meterline.kernel.errors import TooManyRequests

# Past this many buckets, full ones are dropped (a full bucket is the same as no bucket).
_PRUNE_AT = 10_000


class RateLimiter:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        # key id -> (tokens, instant of the last refill)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key_id: str) -> None:
        """Take one token of ``key_id``'s bucket or raise ``TooManyRequests``."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                retry_after = max(1, math.ceil((1.0 - tokens) / self.rate))
                raise TooManyRequests(
                    f"Rate limit of {self.rate:g} requests per second exceeded for this key",
                    retry_after=retry_after,
                )
            self._buckets[key_id] = (tokens - 1.0, now)
            if len(self._buckets) > _PRUNE_AT:
                self._prune(now)

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate
        for key_id, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:
                del self._buckets[key_id]


def limiter_from_settings(per_second: float, burst: int) -> RateLimiter | None:
    """The configured limiter, or ``None`` when rate limiting is off (``per_second <= 0``)."""
    if per_second <= 0:
        return None
    return RateLimiter(per_second, burst if burst > 0 else max(1, math.ceil(per_second)))
