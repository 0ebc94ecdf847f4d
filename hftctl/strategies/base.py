"""What the two market makers share: quote-grid reconciliation, status line, clean shutdown."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from hftctl.book import tick_decimals
from hftctl.bot.api import Bot
from hftctl.bot.types import BUY, GTX, LIMIT, SELL

log = logging.getLogger(__name__)

Printer = Callable[[str], None]


def order_id_for(tick: int, side: int) -> int:
    """Quote ids from the price tick and side, so a quote at a price is recognised across steps."""
    return tick * 2 + (0 if side == BUY else 1)


def price_decimals(tick_size: float) -> int:
    """Decimals to print prices with: the tick's own, at least 2 (the guide prints 97234.50)."""
    return max(2, tick_decimals(tick_size))


def status_line(iteration: int, mid: float, bid: float, ask: float, pos: float, decimals: int,
                extra: str = "") -> str:
    line = (f"[{iteration:>6}] Mid: {mid:.{decimals}f} | Bid: {bid:.{decimals}f} | "
            f"Ask: {ask:.{decimals}f} | Pos: {pos:.4f}")
    return line + extra


def max_quotes(position: float, max_position: float, order_qty: float, side: int) -> int:
    """How many more ``order_qty`` fills on ``side`` keep |position| <= max_position."""
    room = (max_position - position) if side == BUY else (max_position + position)
    return max(0, math.floor(room / order_qty + 1e-9))


def grid(book, first_px: float, step: float, n: int, side: int) -> dict[int, float]:
    """``n`` quote prices from ``first_px`` away from the market, keyed by their order id so
    ``reconcile_grid`` can tell which quotes already stand."""
    out: dict[int, float] = {}
    for k in range(n):
        px = first_px - side * k * step
        out[order_id_for(book.to_tick(px), side)] = px
    return out


def working_qty(bot: Bot, i: int) -> dict[int, float]:
    """Quantity per side that could still fill: every live order, including ones being cancelled."""
    out = {BUY: 0.0, SELL: 0.0}
    for o in bot.orders(i).values():
        if o.active:
            out[o.side] += o.leaves_qty
    return out


def reconcile_grid(bot: Bot, i: int, new_bids: dict[int, float], new_asks: dict[int, float],
                   qty: float, position: float, max_position: float) -> tuple[int, int]:
    """Cancel working quotes not in the new grid, submit grid prices not yet quoted.

    Grids are ordered nearest price first. A new quote is only sent while the position plus
    everything that could still fill on that side (working quotes, those whose cancel is in
    flight included) stays within ``max_position``, so |position| cannot exceed it even if every
    order fills before a cancel lands. Returns (submitted, cancelled).
    """
    orders = bot.orders(i)
    cancelled = 0
    for oid, o in list(orders.items()):
        if not o.cancellable:
            continue
        wanted = new_bids if o.side == BUY else new_asks
        if oid not in wanted:
            cancelled += bot.cancel(i, oid)
    exposure = working_qty(bot, i)
    submitted = 0
    for grid, side in ((new_bids, BUY), (new_asks, SELL)):
        for oid, px in grid.items():
            if oid in orders:
                continue
            if side * position + exposure[side] + qty > max_position + 1e-9:
                break
            bot.submit_order(i, side, oid, px, qty, GTX, LIMIT)
            exposure[side] += qty
            submitted += 1
    return submitted, cancelled


def run_loop(bot: Bot, step: Callable[[], None], interval_ns: int,
             stop: threading.Event | None = None, max_iterations: int | None = None) -> None:
    """Call ``step`` every ``interval_ns`` until the bot's run ends, ``stop`` is set or the count is hit."""
    n = 0
    while bot.elapse(interval_ns):
        if stop is not None and stop.is_set():
            break
        step()
        n += 1
        if max_iterations is not None and n >= max_iterations:
            break


def shutdown(bot: Bot, timeout_ns: int = 5_000_000_000) -> int:
    """Cancel every order and wait for the answers; returns orders still open afterwards."""
    deadline = bot.current_timestamp + timeout_ns
    while True:
        bot.cancel_all()
        bot.clear_inactive_orders()
        if bot.open_orders() == 0 or bot.current_timestamp >= deadline:
            break
        if not bot.wait_next(min(100_000_000, deadline - bot.current_timestamp)):
            bot.clear_inactive_orders()
            break
    left = bot.open_orders()
    if left:
        log.warning("%d order(s) still open after shutdown", left)
    return left


class RejectionGuard:
    """Pause quoting for a while when the exchange keeps rejecting orders, and while the
    connector cannot see fills (``Bot.trading_ok``).

    A parameter the exchange refuses (e.g. a notional below its minimum) would otherwise be
    retried every step straight into the rate limit. Occasional rejections are normal (a
    post-only quote the market crossed while it travelled), so quoting pauses for ``pause_ns``
    only once ``burst`` rejections arrive within ``window_ns``. Each distinct reason is printed
    once. Call ``check`` before ``clear_inactive_orders``.
    """

    def __init__(self, out: Printer, pause_ns: int = 5_000_000_000, burst: int = 5,
                 window_ns: int = 10_000_000_000) -> None:
        self.out = out
        self.pause_ns, self.burst, self.window_ns = pause_ns, burst, window_ns
        self.paused_until = 0
        self.blind = False
        self.rejected = 0
        self._recent: list[int] = []
        self._reported: set[str] = set()

    def paused(self, now: int) -> bool:
        """Whether quoting pauses at ``now``, when no new response can have brought rejections."""
        return now < self.paused_until

    def check(self, bot: Bot, i: int) -> bool:
        """True while quoting should pause."""
        now = bot.current_timestamp
        blind = not bot.trading_ok()
        if blind != self.blind:
            self.blind = blind
            self.out("WARNING: the connector cannot see fills (user stream down); not quoting"
                     if blind else "the connector sees fills again; quoting")
        for o in bot.orders(i).values():
            if o.status == "rejected" and o.req is None:
                self.rejected += 1
                self._recent.append(now)
                reason = o.reason or "no reason given"
                if reason not in self._reported:
                    self._reported.add(reason)
                    self.out(f"WARNING: order rejected by the exchange: {reason}")
        self._recent = [t for t in self._recent if now - t < self.window_ns]
        if len(self._recent) >= self.burst and now >= self.paused_until:
            self.paused_until = now + self.pause_ns
            self._recent.clear()
            self.out(f"WARNING: {self.burst} rejections in {self.window_ns / 1e9:.0f}s; "
                     f"pausing new quotes for {self.pause_ns / 1e9:.0f}s")
        return blind or now < self.paused_until
