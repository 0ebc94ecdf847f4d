"""The simulated exchange of the built-in backtest engine and of the dry run.

It follows hftbacktest 2.4.4's ``NoPartialFillExchange`` rule for rule (docs/bots.md states the
agreement the tests hold it to):

- Requests travel through an order bus: a request sent at local time t reaches the exchange at
  t + entry latency, its answer reaches the bot at exchange time + response latency; each
  direction stays in order (a later message never overtakes an earlier one). A negative entry
  latency (from an order-latency table) is a request the exchange rejected.
- New orders: a post-only (GTX) order that would cross expires; GTC/IOC/FOK orders that cross,
  and market orders, fill completely at the best opposite price as a taker; IOC/FOK orders
  that do not cross expire; the rest rest in the book with a queue position.
- Resting orders fill completely, as a maker, at their own price when the opposite best price
  reaches them, when a trade prints through them, or (with a queue model) when trades at their
  price have used up the queue ahead of them (``hftctl/bot/models.py``).
- Cancel of an order no longer resting: the request is rejected (the order keeps its state).
  Modify: a new price or a larger quantity is cancel + new (the queue position is lost),
  a smaller quantity keeps the position.
- Fees are a fraction of traded value: ``maker_fee`` (negative for a rebate), ``taker_fee``.

The backtest engine feeds the exchange-side book's changes level by level (``on_bid_depth``,
``on_ask_depth``, ``on_trade`` with the aggressor side and quantity). The dry run only says
"the book changed" (``on_depth``) and "a trade printed at this price" (``on_trade`` without a
side) and runs without a queue model: its resting orders fill only when crossed or traded
through, the conservative end of the range.

Position and cash in ``Account`` change when the bot *learns* of a fill (after the response
latency), as in hftbacktest's local state and as a live bot sees it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from hftctl.book import NO_ASK, NO_BID, OrderBook
from hftctl.bot.models import ConstantLatency, ExecutionModel
from hftctl.bot.types import BUY, FOK, GTX, IOC, MARKET, Account, Order

log = logging.getLogger(__name__)

INF = 1 << 62

__all__ = ["ExecutionModel", "VirtualExchange", "INF"]


class _Resting:
    """The exchange's copy of a resting order, with its queue-model state."""

    __slots__ = ("order", "order_id", "side", "tick", "px", "leaves", "front", "cum_trade")

    def __init__(self, order: Order, tick: int, px: float, leaves: float) -> None:
        self.order, self.order_id, self.side = order, order.order_id, order.side
        self.tick, self.px, self.leaves = tick, px, leaves
        self.front = 0.0
        self.cum_trade = 0.0


class VirtualExchange:
    """Matches one instrument's virtual orders against ``book`` (the exchange's view of the market).

    ``orders`` and ``account`` are the bot's own structures; they change only when a response
    is delivered. ``on_response(order)`` (optional) lets a back-end wake a waiting strategy.
    ``queue`` is a queue-position model from hftctl.bot.models, or None for none.
    """

    def __init__(self, book: OrderBook, orders: dict[int, Order], account: Account,
                 model: ExecutionModel, on_response: Callable[[Order], None] | None = None, *,
                 latency=None, queue=None) -> None:
        self.book = book
        self.orders = orders
        self.account = account
        self.model = model
        self.on_response = on_response
        self.latency = latency or ConstantLatency(model.entry_latency_ns, model.response_latency_ns)
        self.queue = queue
        self.lot_size = book.lot_size or 1e-12
        # (arrival ts, kind, order, px, qty, local ts) and (delivery ts, order, response...)
        self._to_exch: deque[tuple] = deque()
        self._to_local: deque[tuple] = deque()
        self._resting: dict[int, _Resting] = {}
        # Resting orders by price tick, for the queue model's per-level updates.
        self.buy_ticks: dict[int, list[_Resting]] = {}
        self.sell_ticks: dict[int, list[_Resting]] = {}
        # Highest resting buy tick / lowest resting sell tick: the replay compares the market
        # against these two ints and calls in only when they are touched.
        self.max_buy_tick = NO_BID
        self.min_sell_tick = NO_ASK
        self.seq = 0             # bumped on every response delivered (see Bot.order_seq)

    # --- the order bus ----------------------------------------------------------------------

    def request(self, now: int, kind: str, order_id: int, px: float = 0.0, qty: float = 0.0) -> None:
        """Queue a request ("new", "cancel", "modify") the bot sent at ``now``."""
        o = self.orders.get(order_id)
        if o is None:
            return
        entry = self.latency.entry(now)
        if entry < 0:       # rejected before the matching engine (order-latency table)
            self._append(self._to_local, (now - entry, o, "", 0.0, 0.0, 0.0, 0.0, "rejected by the exchange", 0))
            return
        self._append(self._to_exch, (now + entry, kind, o, px, qty))

    @staticmethod
    def _append(bus: deque, item: tuple) -> None:
        # Messages in one direction never overtake each other (hftbacktest's OrderBus).
        if bus and bus[-1][0] > item[0]:
            item = (bus[-1][0],) + item[1:]
        bus.append(item)

    @property
    def next_exch_ts(self) -> int:
        return self._to_exch[0][0] if self._to_exch else INF

    @property
    def next_local_ts(self) -> int:
        return self._to_local[0][0] if self._to_local else INF

    @property
    def next_ts(self) -> int:
        a = self._to_exch[0][0] if self._to_exch else INF
        b = self._to_local[0][0] if self._to_local else INF
        return a if a < b else b

    def process_until(self, now: int) -> bool:
        """Deliver requests and responses due by ``now`` in time order (responses first at a
        tie, as hftbacktest); True if any response reached the bot."""
        delivered = False
        while True:
            a = self._to_exch[0][0] if self._to_exch else INF
            b = self._to_local[0][0] if self._to_local else INF
            if b <= now and b <= a:
                self.deliver_one()
                delivered = True
            elif a <= now:
                self.arrive_one()
            else:
                return delivered

    def arrive_one(self) -> None:
        """The oldest request reaches the exchange."""
        ts, kind, o, px, qty = self._to_exch.popleft()
        if kind == "new":
            self._new(ts, o, o.px, o.qty)
        elif kind == "cancel":
            r = self._remove(o.order_id)
            if r is None:
                self._respond(ts, o, "", 0.0, 0.0, reason="cancel rejected: order not open")
            else:
                self._respond(ts, o, "canceled", r.px, 0.0)
        else:
            self._modify(ts, o, px, qty)

    def deliver_one(self) -> None:
        """The oldest response reaches the bot."""
        ts, o, status, px, leaves, exec_qty, exec_px, reason, exch_ts = self._to_local.popleft()
        self.seq += 1
        if not status:               # a rejected request: the order keeps its state
            if o.req == "new":
                o.status = "expired"
            o.req = None
            o.reason = reason
        else:
            o.req = None
            o.status, o.px, o.leaves_qty = status, px, leaves
            o.exch_ts = exch_ts
            o.exec_qty, o.exec_px = exec_qty, exec_px
            if exec_qty > 0:
                o.cum_qty += exec_qty
                rate = self.model.taker_fee if reason == "taker" else self.model.maker_fee
                self.account.fill(o.side, exec_px, exec_qty, rate)
            elif status == "new":
                o.qty = o.cum_qty + leaves         # a modify may have changed it
            elif reason:
                o.reason = reason
        if self.on_response is not None:
            self.on_response(o)

    # --- market side: the backtest's level-by-level feed -----------------------------------------

    def on_bid_depth(self, ts: int, tick: int, prev_qty: float, new_qty: float, prev_best: int,
                     new_best: int) -> None:
        """A bid level changed; the caller calls only when we rest at ``tick`` or the best bid
        rose to our lowest sell."""
        rs = self.buy_ticks.get(tick)
        if rs is not None and self.queue is not None:
            for r in rs:
                self.queue.depth(r, prev_qty, new_qty)
        if new_best > prev_best and new_best >= self.min_sell_tick:
            self._fill_where(ts, lambda r: r.side != BUY and r.tick <= new_best)

    def on_ask_depth(self, ts: int, tick: int, prev_qty: float, new_qty: float, prev_best: int,
                     new_best: int) -> None:
        rs = self.sell_ticks.get(tick)
        if rs is not None and self.queue is not None:
            for r in rs:
                self.queue.depth(r, prev_qty, new_qty)
        if new_best < prev_best and new_best <= self.max_buy_tick:
            self._fill_where(ts, lambda r: r.side == BUY and r.tick >= new_best)

    def on_trade(self, ts: int, px_tick: int, side: int = 0, qty: float = 0.0) -> None:
        """A trade printed at ``px_tick``; ``side`` is its aggressor (0: unknown, dry run).

        A buy aggressor fills our sells below its price, and at its price once the queue ahead
        is used up; a sell aggressor the same for our buys. Without a side (the dry run), only
        trading through fills.
        """
        queue = self.queue
        if side >= 0 and px_tick >= self.min_sell_tick:
            if side > 0 and queue is not None:
                for r in self.sell_ticks.get(px_tick, ()):
                    queue.trade(r, qty)
            self._fill_where(ts, lambda r: r.side != BUY and (
                r.tick < px_tick or (r.tick == px_tick and side > 0 and queue is not None
                                     and queue.is_filled(r, self.lot_size) > 0)))
        if side <= 0 and px_tick <= self.max_buy_tick:
            if side < 0 and queue is not None:
                for r in self.buy_ticks.get(px_tick, ()):
                    queue.trade(r, qty)
            self._fill_where(ts, lambda r: r.side == BUY and (
                r.tick > px_tick or (r.tick == px_tick and side < 0 and queue is not None
                                     and queue.is_filled(r, self.lot_size) > 0)))

    def on_depth(self, ts: int) -> None:
        """The book changed (dry run): fill resting orders the opposite best price reached."""
        ask, bid = self.book.best_ask_tick, self.book.best_bid_tick
        if ask <= self.max_buy_tick:
            self._fill_where(ts, lambda r: r.side == BUY and ask <= r.tick)
        if bid >= self.min_sell_tick:
            self._fill_where(ts, lambda r: r.side != BUY and bid >= r.tick)

    # --- internals --------------------------------------------------------------------------

    def _respond(self, exch_ts: int, o: Order, status: str, px: float, leaves: float,
                 exec_qty: float = 0.0, exec_px: float = 0.0, reason: str | None = None) -> None:
        self._append(self._to_local, (exch_ts + self.latency.response(exch_ts), o, status, px, leaves,
                                      exec_qty, exec_px, reason, exch_ts))

    def _new(self, ts: int, o: Order, px: float, qty: float) -> None:
        book = self.book
        side = o.side
        best_opp = book.best_ask_tick if side == BUY else book.best_bid_tick
        has_opp = best_opp != (NO_ASK if side == BUY else NO_BID)
        tick = book.to_tick(px)
        market = o.order_type == MARKET
        crosses = has_opp and (market or (tick >= best_opp if side == BUY else tick <= best_opp))
        if crosses:
            if o.time_in_force == GTX and not market:
                self._respond(ts, o, "expired", px, 0.0, reason="post-only order would cross")
                return
            self._respond(ts, o, "filled", px, 0.0, qty, book.to_price(best_opp), "taker")
            return
        if market or o.time_in_force in (IOC, FOK):
            self._respond(ts, o, "expired", px, 0.0, reason="nothing to take")
            return
        r = _Resting(o, tick, px, qty)
        if self.queue is not None:
            self.queue.new_order(r, (book.bids if side == BUY else book.asks).get(tick, 0.0))
        self._resting[o.order_id] = r
        (self.buy_ticks if side == BUY else self.sell_ticks).setdefault(tick, []).append(r)
        if side == BUY:
            if tick > self.max_buy_tick:
                self.max_buy_tick = tick
        elif tick < self.min_sell_tick:
            self.min_sell_tick = tick
        self._respond(ts, o, "new", px, qty)

    def _modify(self, ts: int, o: Order, px: float, qty: float) -> None:
        r = self._resting.get(o.order_id)
        if r is None:
            self._respond(ts, o, "", 0.0, 0.0, reason="modify rejected: order not open")
            return
        tick = self.book.to_tick(px)
        if tick != r.tick or qty > r.leaves + 1e-12:
            self._remove(o.order_id)
            self._new(ts, o, px, qty)       # loses the queue position
            return
        r.leaves = qty
        self._respond(ts, o, "new", r.px, qty)

    def _remove(self, order_id: int) -> _Resting | None:
        r = self._resting.pop(order_id, None)
        if r is None:
            return None
        ticks = self.buy_ticks if r.side == BUY else self.sell_ticks
        level = ticks[r.tick]
        level.remove(r)
        if not level:
            del ticks[r.tick]
        self._reindex()
        return r

    def _fill_where(self, ts: int, hit: Callable[[_Resting], bool]) -> None:
        done = [r for r in self._resting.values() if hit(r)]
        for r in done:
            self._remove(r.order_id)
            self._respond(ts, r.order, "filled", r.px, 0.0, r.leaves, r.px, "maker")

    def _reindex(self) -> None:
        self.max_buy_tick = max(self.buy_ticks) if self.buy_ticks else NO_BID
        self.min_sell_tick = min(self.sell_ticks) if self.sell_ticks else NO_ASK
