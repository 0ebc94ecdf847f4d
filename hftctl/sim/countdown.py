"""Cancel-on-silence timers: an exchange's dead man's switch, as the sim keeps it.

A client arms a countdown for its account (on one symbol, or on all of them) and keeps re-arming
it; if it falls silent, the countdown runs out and every open order of the account in that scope
is cancelled, exactly like a cancel-all it had sent itself (the same order events reach its user
stream). Binance USD-M's ``countdownCancelAll`` is one per account and symbol; a protocol adapter
maps its own mechanism onto :meth:`Countdowns.arm`.

A countdown fires once and is then off until armed again (the USD-M docs are silent on what
follows an expiry; docs/protocols.md). Deadlines are checked when due, not on a fixed tick: the
exchange checks "approximately every 10 milliseconds", the sim to within a millisecond or so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hftctl.sim.accounts import Account
    from hftctl.sim.engine import SimEngine
    from hftctl.sim.orders import Order

log = logging.getLogger(__name__)

ALL_SYMBOLS = None          # the scope of a countdown that covers every symbol of the account


class Countdowns:
    def __init__(self, engine: "SimEngine", clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock
        # (account, symbol or ALL_SYMBOLS) -> (deadline in clock seconds, cancel reason)
        self._due: dict[tuple["Account", str | None], tuple[float, str]] = {}
        self._changed = asyncio.Event()

    def arm(self, account: "Account", symbol: str | None, ms: int, reason: str = "") -> None:
        """Start the countdown anew from now (``ms`` > 0), or switch it off (``ms`` == 0).
        ``reason`` is recorded on the orders it cancels (a protocol may report it)."""
        key = (account, symbol)
        if ms <= 0:
            self._due.pop(key, None)
        else:
            self._due[key] = (self.clock() + ms / 1000.0, reason)
        self._changed.set()

    def remaining(self, account: "Account") -> dict[str | None, float]:
        """Seconds left per armed scope of ``account`` (for /_sim/state)."""
        now = self.clock()
        return {sym: max(0.0, t - now) for (acct, sym), (t, _) in self._due.items() if acct is account}

    def fire_due(self) -> list["Order"]:
        """Cancel the orders of every countdown that ran out; returns them."""
        now = self.clock()
        cancelled: list[Order] = []
        for key in [k for k, (t, _) in self._due.items() if t <= now]:
            account, symbol = key
            _, reason = self._due.pop(key)
            self.engine.counters["countdowns_fired"] += 1
            orders: list[Order] = []
            for sym in ([symbol] if symbol is not ALL_SYMBOLS else list(self.engine.specs)):
                orders += self.engine.cancel_all(account, sym, reason)
            log.info("countdown of account %s on %s ran out: %d open order(s) cancelled", account.name,
                     symbol or "every symbol", len(orders))
            cancelled += orders
        return cancelled

    async def run(self) -> None:
        """Fire each countdown when it runs out; sleeps until the nearest deadline or a change."""
        while True:
            self._changed.clear()
            timeout = None
            if self._due:
                timeout = max(0.0, min(t for t, _ in self._due.values()) - self.clock())
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            self.fire_due()
