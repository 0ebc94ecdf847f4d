"""Simulated order matching for backtests and dry runs: latency, fills and fees.

The model (documented in docs/bots.md) is deliberately simple and conservative:

- Latency: a request reaches the exchange ``entry_latency_ns`` after the bot sends it; the
  exchange's answer (ack, fill, cancel, reject) reaches the bot ``response_latency_ns`` later.
  The exchange judges an order against the market as the bot's feed shows it at arrival time,
  so the feed's own latency is included in the data.
- Resting limit orders have no queue position (we assume we are last in the queue): a buy at P
  fills only when a trade prints strictly below P, or the best ask drops to P or below; a sell
  symmetrically. The whole remaining quantity fills at the order's own price as a maker.
- Post-only (GTX) orders that would cross on arrival expire. Market, IOC and crossing GTC/FOK
  orders fill immediately and completely at the best opposite price as a taker (no partial
  fills, no depth walk), like hftbacktest's no-partial-fill exchange; IOC/FOK with nothing to
  take expire.
- Fees are a fraction of traded value: ``maker_fee`` (negative for a rebate) and ``taker_fee``.

The position and cash in ``Account`` change when the bot *learns* of a fill (after the response
latency), matching what a live bot sees.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hftctl.book import NO_ASK, NO_BID, OrderBook
from hftctl.bot.types import BUY, GTX, IOC, FOK, MARKET, Account, Order

log = logging.getLogger(__name__)

INF = 1 << 62


@dataclass(frozen=True)
class ExecutionModel:
    """Latency and fee assumptions of simulated execution."""

    entry_latency_ns: int = 10_000_000
    response_latency_ns: int = 10_000_000
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005


class _Resting:
    __slots__ = ("order_id", "side", "tick", "px", "leaves")

    def __init__(self, order_id: int, side: int, tick: int, px: float, leaves: float) -> None:
        self.order_id, self.side, self.tick, self.px, self.leaves = order_id, side, tick, px, leaves


class VirtualExchange:
    """Matches one instrument's virtual orders against its market data.

    ``orders`` and ``account`` are the bot's own structures; they are only changed when a response
    is delivered. ``on_response(order)`` (optional) lets a back-end wake a waiting strategy.
    """

    def __init__(self, book: OrderBook, orders: dict[int, Order], account: Account,
                 model: ExecutionModel, on_response: Callable[[Order], None] | None = None) -> None:
        self.book = book
        self.orders = orders
        self.account = account
        self.model = model
        self.on_response = on_response
        self._inbox: deque[tuple[int, str, int, float, float]] = deque()
        self._outbox: deque[tuple[int, int, str, float, float, float, float, str | None]] = deque()
        self._resting: dict[int, _Resting] = {}
        # Highest resting buy tick / lowest resting sell tick: the hot path compares the market
        # against these two ints and only looks at individual orders when they are touched.
        self.max_buy_tick = NO_BID
        self.min_sell_tick = NO_ASK

    # --- bot side ---------------------------------------------------------------------------

    def request(self, now: int, kind: str, order_id: int, px: float = 0.0, qty: float = 0.0) -> None:
        """Queue a request ("new", "cancel", "modify") sent by the bot at ``now``."""
        self._inbox.append((now + self.model.entry_latency_ns, kind, order_id, px, qty))

    @property
    def next_ts(self) -> int:
        a = self._inbox[0][0] if self._inbox else INF
        b = self._outbox[0][0] if self._outbox else INF
        return a if a < b else b

    def process_until(self, now: int) -> bool:
        """Deliver requests and responses due by ``now`` in time order; True if any response."""
        inbox, outbox = self._inbox, self._outbox
        delivered = False
        while True:
            a = inbox[0][0] if inbox else INF
            b = outbox[0][0] if outbox else INF
            if a <= b and a <= now:
                self._arrive(*inbox.popleft())
            elif b <= now:
                self._deliver(*outbox.popleft())
                delivered = True
            else:
                return delivered

    # --- market side ------------------------------------------------------------------------

    def on_trade(self, ts: int, px_tick: int) -> None:
        """A trade printed at ``px_tick``: fills resting orders it traded through."""
        if px_tick < self.max_buy_tick:
            self._fill_where(ts, lambda r: r.side == BUY and px_tick < r.tick)
        if px_tick > self.min_sell_tick:
            self._fill_where(ts, lambda r: r.side != BUY and px_tick > r.tick)

    def on_depth(self, ts: int) -> None:
        """The book changed: fills resting orders the opposite best price reached."""
        ask, bid = self.book.best_ask_tick, self.book.best_bid_tick
        if ask <= self.max_buy_tick:
            self._fill_where(ts, lambda r: r.side == BUY and ask <= r.tick)
        if bid >= self.min_sell_tick:
            self._fill_where(ts, lambda r: r.side != BUY and bid >= r.tick)

    # --- internals --------------------------------------------------------------------------

    def _respond(self, exch_ts: int, order_id: int, status: str, px: float, leaves: float,
                 exec_qty: float = 0.0, exec_px: float = 0.0, reason: str | None = None) -> None:
        self._outbox.append((exch_ts + self.model.response_latency_ns, order_id, status, px,
                             leaves, exec_qty, exec_px, reason))

    def _arrive(self, ts: int, kind: str, order_id: int, px: float, qty: float) -> None:
        if kind == "new":
            self._new(ts, order_id, px, qty)
        elif kind == "cancel":
            r = self._resting.pop(order_id, None)
            if r is None:
                self._respond(ts, order_id, "", 0.0, 0.0, reason="unknown order")
            else:
                self._reindex()
                self._respond(ts, order_id, "canceled", r.px, 0.0)
        elif kind == "modify":
            r = self._resting.get(order_id)
            if r is None:
                self._respond(ts, order_id, "", 0.0, 0.0, reason="unknown order")
                return
            # Cancel-replace: a modified order keeps no queue priority (we never model any).
            tick = self.book.to_tick(px)
            crosses = (tick >= self.book.best_ask_tick) if r.side == BUY else (tick <= self.book.best_bid_tick)
            if crosses:
                del self._resting[order_id]
                self._reindex()
                self._respond(ts, order_id, "expired", px, 0.0, reason="post-only modify would cross")
                return
            r.tick, r.px, r.leaves = tick, px, qty
            self._reindex()
            self._respond(ts, order_id, "new", px, qty)

    def _new(self, ts: int, order_id: int, px: float, qty: float) -> None:
        o = self.orders.get(order_id)
        side = o.side if o is not None else BUY
        tif = o.time_in_force if o is not None else GTX
        otype = o.order_type if o is not None else "limit"
        book = self.book
        best_opp = book.best_ask_tick if side == BUY else book.best_bid_tick
        has_opp = best_opp != (NO_ASK if side == BUY else NO_BID)
        tick = book.to_tick(px)
        crosses = has_opp and (otype == MARKET or (tick >= best_opp if side == BUY else tick <= best_opp))
        if crosses:
            if tif == GTX and otype != MARKET:
                self._respond(ts, order_id, "expired", px, 0.0, reason="post-only order would cross")
                return
            fill_px = book.to_price(best_opp)
            self._respond(ts, order_id, "filled", px, 0.0, qty, fill_px, "taker")
            return
        if otype == MARKET or tif in (IOC, FOK):
            self._respond(ts, order_id, "expired", px, 0.0, reason="nothing to take")
            return
        self._resting[order_id] = _Resting(order_id, side, tick, px, qty)
        if side == BUY:
            if tick > self.max_buy_tick:
                self.max_buy_tick = tick
        elif tick < self.min_sell_tick:
            self.min_sell_tick = tick
        self._respond(ts, order_id, "new", px, qty)

    def _fill_where(self, ts: int, hit: Callable[[_Resting], bool]) -> None:
        done = [r for r in self._resting.values() if hit(r)]
        for r in done:
            del self._resting[r.order_id]
            self._respond(ts, r.order_id, "filled", r.px, 0.0, r.leaves, r.px, "maker")
        if done:
            self._reindex()

    def _reindex(self) -> None:
        mb, ms = NO_BID, NO_ASK
        for r in self._resting.values():
            if r.side == BUY:
                if r.tick > mb:
                    mb = r.tick
            elif r.tick < ms:
                ms = r.tick
        self.max_buy_tick, self.min_sell_tick = mb, ms

    def _deliver(self, ts: int, order_id: int, status: str, px: float, leaves: float,
                 exec_qty: float, exec_px: float, reason: str | None) -> None:
        o = self.orders.get(order_id)
        if o is None:
            return
        o.req = None
        if not status:           # request failed (e.g. cancel of an already-filled order)
            o.reason = reason
            return
        o.status, o.px, o.leaves_qty = status, px, leaves
        o.exch_ts = ts - self.model.response_latency_ns
        o.exec_qty, o.exec_px = exec_qty, exec_px
        if status == "new":
            o.qty = leaves + o.cum_qty
        if exec_qty > 0:
            o.cum_qty += exec_qty
            rate = self.model.taker_fee if reason == "taker" else self.model.maker_fee
            self.account.fill(o.side, exec_px, exec_qty, rate)
        elif reason:
            o.reason = reason
        if self.on_response is not None:
            self.on_response(o)
