"""Request budget from Binance's usage headers, so we slow down before the exchange says 429.

Binance counts weight per fixed UTC minute and orders per fixed 10 s / 1 min window, and
reports the running totals in ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-ORDER-COUNT-10S/1M``. When
a total nears its limit we wait for that window to roll over instead of spending the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

_SPAN_S = {"weight_1m": 60.0, "orders_10s": 10.0, "orders_1m": 60.0}   # budget -> window length


class RateLimiter:
    def __init__(self, weight_1m: int, orders_10s: int, orders_1m: int, ratio: float = 0.9,
                 clock=time.time) -> None:
        self._clock = clock
        self.limits = {"weight_1m": weight_1m, "orders_10s": orders_10s, "orders_1m": orders_1m}
        self.ratio = ratio
        self.used = dict.fromkeys(_SPAN_S, 0)
        self._window_start = dict.fromkeys(_SPAN_S, 0.0)
        self.banned_until = 0.0    # after 429/418: Retry-After
        self.throttled = 0         # how many times we waited (for status/tests)

    @staticmethod
    def _window(kind: str, now: float) -> float:
        return now - (now % _SPAN_S[kind])

    def update(self, headers: Mapping[str, str]) -> None:
        now = self._clock()
        for kind, header in (("weight_1m", "X-MBX-USED-WEIGHT-1M"),
                             ("orders_10s", "X-MBX-ORDER-COUNT-10S"),
                             ("orders_1m", "X-MBX-ORDER-COUNT-1M")):
            v = headers.get(header)
            if v is None:
                continue
            try:
                self.used[kind] = int(v)
            except ValueError:
                continue
            self._window_start[kind] = self._window(kind, now)

    def back_off(self, seconds: float) -> None:
        self.banned_until = max(self.banned_until, time.monotonic() + seconds)

    def wait_for(self, is_order: bool) -> float:
        """Seconds to hold a request so that it does not spend the last of a budget."""
        now = self._clock()
        wait = max(0.0, self.banned_until - time.monotonic())
        kinds = tuple(_SPAN_S) if is_order else ("weight_1m",)
        for kind in kinds:
            if self._window(kind, now) != self._window_start[kind]:
                continue   # the window rolled over since we last heard: budget is fresh
            if self.used[kind] >= self.limits[kind] * self.ratio:
                wait = max(wait, self._window_start[kind] + _SPAN_S[kind] - now + 0.05)
        return wait

    async def acquire(self, is_order: bool) -> None:
        wait = self.wait_for(is_order)
        if wait > 0:
            self.throttled += 1
            log.info("throttling requests for %.2fs (used %s of %s)", wait, self.used, self.limits)
            await asyncio.sleep(wait)
