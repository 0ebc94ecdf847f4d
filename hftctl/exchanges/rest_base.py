"""What every exchange's REST client shares: one HTTP session, the server clock, retry pacing.

Signed requests carry our timestamp and the exchange rejects them (unprocessed) when it is
outside the receive window, so each client keeps ``offset_ms`` = server time - local time and
re-measures it when such a rejection comes back. The request loop itself (signing, error codes,
rate-limit headers) is exchange-specific and lives in each exchange's ``rest`` module.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod

import aiohttp

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4


def retry_backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based) after a 5xx or a lost connection, jittered."""
    return min(2.0, 0.1 * 2 ** attempt) * (0.5 + random.random())


class RestClient(ABC):
    def __init__(self, request_timeout_s: float) -> None:
        self.offset_ms = 0.0        # server time - local time
        self.clock_resyncs = 0
        self._synced_at = 0.0      # monotonic time of the last clock measurement
        self._request_timeout_s = request_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._time_lock = asyncio.Lock()

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._request_timeout_s))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            await self.open()
        assert self._session is not None
        return self._session

    # --- clock --------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(time.time() * 1000 + self.offset_ms)

    def clock_stats(self) -> dict[str, float]:
        return {"clock_offset_ms": round(self.offset_ms, 1), "clock_resyncs": self.clock_resyncs}

    @abstractmethod
    async def _server_time_ms(self) -> float:
        """One unsigned request for the exchange's current time."""

    async def sync_time(self, unless_since: float | None = None) -> float:
        """Offset = server time - midpoint of our request; keeps signed requests inside recvWindow.
        ``unless_since``: skip it if a measurement finished after that (monotonic) time."""
        async with self._time_lock:
            if unless_since is not None and self._synced_at >= unless_since:
                return self.offset_ms
            best: tuple[float, float] | None = None
            for _ in range(3):   # keep the sample with the shortest round trip
                t0 = time.time() * 1000
                server = await self._server_time_ms()
                t1 = time.time() * 1000
                rtt, offset = t1 - t0, server - (t0 + t1) / 2
                if best is None or rtt < best[0]:
                    best = (rtt, offset)
            assert best is not None
            self.offset_ms = best[1]
            self.clock_resyncs += 1
            self._synced_at = time.monotonic()
            log.info("server clock offset %.1f ms (rtt %.1f ms)", best[1], best[0])
            return self.offset_ms

    async def _clock_rejected(self, sent_at: float, what: str) -> None:
        """A request signed at ``sent_at`` came back "timestamp outside the window".

        Concurrent rejections share one re-measure: only a request signed before the last
        measurement triggers a new one (checked under the lock: requests held back by a
        Retry-After are rejected together when it ends, and each used to re-measure in turn).
        """
        if self._synced_at < sent_at:
            log.warning("%s; re-measuring server clock", what)
            await self.sync_time(unless_since=sent_at)
