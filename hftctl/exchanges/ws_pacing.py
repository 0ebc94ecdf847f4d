"""Outgoing message pacing for one websocket connection.

Exchanges cap the messages a client may send per connection per second and disconnect (then
ban) clients that go over: Binance USD-M 10/s, spot 5/s, both counting pings and pongs. A
subscription burst (a reconnect re-subscribing every symbol, many bots registering at once) is
exactly what goes over, so subscribers wait for a slot here before every message.
"""

from __future__ import annotations

import asyncio
import time

# Slots per second left to control frames: our heartbeat ping and the pong to a server ping can
# both fall in the same second as a burst of subscriptions.
CONTROL_RESERVE = 2


class MessagePacer:
    """Spaces one connection's messages evenly, so no one-second window holds more than
    ``per_s - reserve`` of them (0: no limit). Slots are taken in call order, before awaiting,
    so concurrent callers never share one."""

    def __init__(self, per_s: float, reserve: int = CONTROL_RESERVE) -> None:
        budget = per_s - reserve if per_s > reserve else per_s / 2
        self.interval = 1.0 / budget if per_s > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)
