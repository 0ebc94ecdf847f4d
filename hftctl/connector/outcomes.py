"""Finding out what happened to an order whose submit outcome is unknown.

Every exchange can answer an order request with "the outcome is unknown" (Binance HTTP 503
"Unknown error...", -1006, -1007, a timeout; Bybit 10000/10016; a lost connection): the order
may be live. Re-sending could double it, so the connector asks the exchange about the order by
its client order id, while its user stream may also report it. Only when the exchange has said
"no such order" repeatedly, the last time after a grace window long enough for any in-flight
request to have landed, is the order taken as never placed; while the exchange cannot be asked
at all, the question stays open (no guess either way).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hftctl.exchanges.errors import OrderNotFound
from hftctl.ipc.schema import OrderUpdate

log = logging.getLogger(__name__)

# Seconds between questions: quick at first (most answers come within a second), then every 10 s.
DELAYS = (0.1, 0.3, 0.6, 1.0, 2.0, 3.0, 5.0)
LATER = 10.0


@dataclass(frozen=True)
class Resolution:
    update: OrderUpdate | None = None   # the exchange's state of the order, if it has one
    absent: bool = False                # the exchange says it never got the order
    settled: bool = False               # the user stream answered first


async def resolve_order(query: Callable[[], Awaitable[OrderUpdate]], settled: Callable[[], bool],
                        window_s: float, what: str) -> Resolution:
    """Ask ``query`` until it finds the order, ``settled()`` turns true, or the exchange has said
    "not found" at least twice with the last answer after ``window_s`` seconds."""
    start = time.monotonic()
    not_found = 0
    for attempt in itertools.count():
        await asyncio.sleep(DELAYS[attempt] if attempt < len(DELAYS) else LATER)
        if settled():
            return Resolution(settled=True)
        try:
            return Resolution(update=await query())
        except OrderNotFound:
            not_found += 1
            if not_found >= 2 and time.monotonic() - start >= window_s:
                return Resolution(absent=True)
        except asyncio.CancelledError:
            raise
        except Exception as e:      # unreachable, throttled, a malformed answer: ask again later
            if attempt == len(DELAYS):
                log.warning("%s: the exchange cannot be asked (%s); still trying every %.0f s",
                            what, e, LATER)
    raise AssertionError("unreachable")
