"""One sender's rate, held across every worker: a shared limiter in the rate-limit store.

:class:`~volunteer_hub.sms.SenderThrottle` keeps a rate inside one process; with several
sending workers each would send at the full rate. :class:`SharedThrottle` counts segments in
the ``limits`` library's storage (the one Flask-Limiter already uses: Redis in production), so
all workers together keep to ``VH_SMS_RATE_PER_S``. When the store cannot be reached it falls
back, with a warning, to a local throttle at the rate divided by the number of sending
workers alive (their heartbeats), and tries the store again after :data:`RETRY_STORE_S`:
an outage may slow sending down, never speed it up past the provider's rate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from volunteer_hub.sms import SenderThrottle

log = logging.getLogger("volunteer_hub.sms.throttle")

#: After a store failure, the local fallback is used this long before the store is tried again.
RETRY_STORE_S = 30.0
#: The longest window used to express a fractional rate (0.5/s is 1 per 2 s; 2.5/s is 5 per 2 s).
MAX_WINDOW_S = 10


def window_for(rate_per_s: float) -> tuple[int, int]:
    """Return ``(amount, seconds)``: the whole-number window closest to, never above, the rate."""
    best = (max(1, math.floor(rate_per_s)), 1)
    best_error = abs(rate_per_s - best[0])
    if rate_per_s < 1:
        return 1, math.ceil(1 / rate_per_s)
    for seconds in range(1, MAX_WINDOW_S + 1):
        amount = math.floor(rate_per_s * seconds)
        error = rate_per_s - amount / seconds
        if error < best_error - 1e-9:
            best, best_error = (amount, seconds), error
    return best


class SharedThrottle(SenderThrottle):
    """Keep one sender under a rate, in segments per second, across all workers together."""

    def __init__(
        self,
        rate_per_s: float,
        *,
        storage_uri: str,
        key: str,
        senders: Callable[[], int] = lambda: 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(rate_per_s, clock=clock, sleep=sleep)
        amount, seconds = window_for(self.rate_per_s) if self.rate_per_s > 0 else (1, 1)
        self.item = RateLimitItemPerSecond(amount, seconds, namespace="VH-SMS")
        self.key = key
        self.storage_uri = storage_uri
        self._senders = senders
        self._limiter: MovingWindowRateLimiter | None = None
        self._fallback: SenderThrottle | None = None
        self._fallback_until = 0.0

    def _shared(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            options: dict[str, float] = {}
            if self.storage_uri.startswith(("redis", "rediss")):
                # Fail fast to the fallback rather than hang a send on an unreachable store.
                options = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
            self._limiter = MovingWindowRateLimiter(
                storage_from_string(self.storage_uri, **options)
            )
        return self._limiter

    def _local(self) -> SenderThrottle:
        """The fallback while the store is away: this worker's share of the rate."""
        if self._fallback is None:
            try:
                senders = max(1, int(self._senders()))
            except Exception:  # noqa: BLE001 - without a count, assume the worst we know
                log.exception("cannot count the sending workers; assuming 4")
                senders = 4
            self._fallback = SenderThrottle(
                self.rate_per_s / senders, clock=self._clock, sleep=self._sleep
            )
            log.warning(
                "SMS rate store %s unreachable: sending at %.3g segment(s)/s in this worker "
                "(1/%d of the rate) until it is back",
                self.storage_uri.split("@")[-1],
                self._fallback.rate_per_s,
                senders,
            )
        return self._fallback

    def acquire(self, segments: int = 1) -> float:
        """Wait until ``segments`` may be sent by this sender; return the seconds waited."""
        if self.rate_per_s <= 0:
            return 0.0
        # A message longer than the window would otherwise wait forever.
        need = max(1, min(int(segments), self.item.amount))
        waited = 0.0
        while True:
            if self._clock() < self._fallback_until:
                return waited + self._local().acquire(need)
            try:
                limiter = self._shared()
                if limiter.hit(self.item, self.key, cost=need):
                    if self._fallback is not None:
                        log.warning("SMS rate store is back: the rate is shared again")
                        self._fallback = None
                    return waited
                stats = limiter.get_window_stats(self.item, self.key)
            except Exception:  # noqa: BLE001 - any store failure: fall back, never send faster
                self._fallback_until = self._clock() + RETRY_STORE_S
                self._limiter = None
                continue
            delay = min(float(self.item.get_expiry()), max(0.01, stats.reset_time - time.time()))
            self._sleep(delay)
            waited += delay
