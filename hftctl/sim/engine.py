"""The exchange-neutral core: public books fed by a market source, users' orders and their fills.

Fill rule (documented in docs/sim.md):
- An incoming order that crosses takes liquidity (taker fee) from, best price first, other
  accounts' resting orders and the public book's levels. Taking does not change the public book:
  the book is the market's (replayed or synthetic) and users' orders are not part of it.
- A resting order fills (maker fee, at its own price) when a public trade prints strictly
  through its price (buy: trade price < order price), up to the trade's quantity, or when the
  public book's opposite side moves onto or through it, up to the quantity offered there.
- Post-only (GTX) orders that would take are rejected; IOC/market remainders expire; FOK fills
  completely or expires without fills.
- An order that would match a resting order of its own account meets self-trade prevention,
  decided by the taker's mode (``STP_MODES``): "none" trades with itself, the others expire the
  taker, the maker or both (reason "stp"). As on Binance, FOK and post-only orders ignore their
  mode (a post-only order that would match its own order is refused like any that would take).
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable

from hftctl.sim.accounting import Accounting, LinearAccounting
from hftctl.sim.accounts import Account
from hftctl.sim.book import SimBook
from hftctl.sim.countdown import Countdowns
from hftctl.sim.errors import SimReject
from hftctl.sim.events import AccountEvent, BookTicker, DepthUpdate, Liquidation, MarkPrice, OrderEvent, Trade
from hftctl.sim.faults import Faults
from hftctl.sim.instruments import SymbolSpec
from hftctl.sim.margin import MarginView
from hftctl.sim.orders import STP_MODES, Fill, Order, PreventedMatch

log = logging.getLogger(__name__)

_DONE_KEEP = 50_000


class _Seq:
    """One symbol's numbering: depth and trade ids (source ids shifted so they only grow) and
    prevented self-trades."""

    __slots__ = ("offset", "last_u", "trade_offset", "last_trade", "last_t", "prevented")

    def __init__(self) -> None:
        self.last_t = [0, 0, 0]       # last T per stream kind (depth, trade, bookTicker)
        self.offset = 0
        self.last_u = 0
        self.trade_offset = 0
        self.last_trade = 0
        self.prevented = 0


def _trans(seq: _Seq, kind: int, now: int, lag_ms: int) -> int:
    """Transaction time T = E - the recorded E-T gap, but never going backwards on a stream (as
    on the exchange) and never after E."""
    t = now - lag_ms if 0 <= lag_ms else now
    if t < seq.last_t[kind]:
        t = min(seq.last_t[kind], now)
    seq.last_t[kind] = t
    return t


class SimEngine:
    def __init__(self, specs: dict[str, SymbolSpec], accounts: list[Account], faults: Faults,
                 accounting: Accounting | None = None) -> None:
        self.specs = specs
        self.faults = faults
        self.books = {s: SimBook(spec) for s, spec in specs.items()}
        self.margin = MarginView(specs, self.books)
        self.accounting = accounting or LinearAccounting()
        self.accounting.bind(specs, self.margin, self.now_ms)
        self.seq = {s: _Seq() for s in specs}
        self.accounts_by_key = {a.api_key: a for a in accounts}
        self.accounts = accounts
        self.resting: dict[str, dict[int, Order]] = {s: {} for s in specs}
        self.done: OrderedDict[int, Order] = OrderedDict()
        self._released: list[str] | None = None
        self.market_listeners: list[Callable] = []
        self.user_listeners: list[Callable] = []
        self.marks: dict[str, MarkPrice] = {}        # each symbol's latest mark price and funding
        self._next_order_id = 4_000_000_000
        self._next_priority = 0
        self._next_trade_id = 1
        self.countdowns = Countdowns(self)      # the exchanges' dead man's switches
        self.counters = {"orders_received": 0, "orders_rejected": 0, "orders_canceled": 0,
                         "orders_expired": 0, "fills": 0, "maker_fills": 0, "taker_fills": 0,
                         "depth_updates": 0, "trades": 0, "gaps_injected": 0, "countdowns_fired": 0}

    # ---- clock ---------------------------------------------------------------------------
    def now_ms(self) -> int:
        return self.faults.now_ms()

    # ---- market input (called by market sources) ----------------------------------------
    def rebase(self, symbol: str, next_first_id: int, next_trade_id: int | None = None) -> None:
        """Make source ids restart (a replay loop) while wire ids keep increasing."""
        seq = self.seq[symbol]
        seq.offset = seq.last_u + 1 - next_first_id
        if next_trade_id is not None:
            seq.trade_offset = seq.last_trade + 1 - next_trade_id

    def book_trans_ms(self, symbol: str) -> int:
        """Transaction time of the last depth update in the book (now if none yet): a depth
        snapshot's time, so that no diff sent later carries an earlier time than the snapshot and
        a backtest that orders events by exchange time applies the snapshot after them."""
        return self.seq[symbol].last_t[0] or self.now_ms()

    def market_depth(self, symbol: str, bids: list, asks: list, first_id: int, last_id: int,
                     trans_lag_ms: int = 0) -> DepthUpdate:
        seq = self.seq[symbol]
        book = self.books[symbol]
        book.apply_wire(bids, asks)
        if self.faults.take_gap(symbol):
            seq.last_u += 1            # a phantom event the client never sees: pu won't match
            self.counters["gaps_injected"] += 1
        u_first = first_id + seq.offset
        u_last = last_id + seq.offset
        pu = seq.last_u
        if u_first <= pu:
            u_first = pu + 1
        if u_last < u_first:
            u_last = u_first
        seq.last_u = u_last
        book.last_update_id = u_last
        now = self.now_ms()
        ev = DepthUpdate(symbol, u_first, u_last, pu, bids, asks, now, _trans(seq, 0, now, trans_lag_ms))
        self.counters["depth_updates"] += 1
        for fn in self.market_listeners:
            fn(ev)
        if self.resting[symbol]:
            self._shrink_queues(symbol)
            self._fill_on_book_cross(symbol)
        return ev

    def market_trade(self, symbol: str, price: str, qty: str, buyer_is_maker: bool,
                     source_trade_id: int | None = None, trans_lag_ms: int = 0) -> Trade:
        seq = self.seq[symbol]
        spec = self.specs[symbol]
        tid = (source_trade_id + seq.trade_offset) if source_trade_id is not None else seq.last_trade + 1
        if tid <= seq.last_trade:
            tid = seq.last_trade + 1
        seq.last_trade = tid
        now = self.now_ms()
        ev = Trade(symbol, tid, price, qty, buyer_is_maker, now, _trans(seq, 1, now, trans_lag_ms),
                   spec.book_ticks(price), spec.book_lots(qty))
        self.counters["trades"] += 1
        for fn in self.market_listeners:
            fn(ev)
        if self.resting[symbol]:
            self._fill_on_trade(ev)
        return ev

    def market_book_ticker(self, symbol: str, bid: str, bid_qty: str, ask: str, ask_qty: str,
                           source_update_id: int | None = None, trans_lag_ms: int = 0) -> BookTicker:
        seq = self.seq[symbol]
        uid = source_update_id + seq.offset if source_update_id is not None else seq.last_u
        now = self.now_ms()
        ev = BookTicker(symbol, uid, bid, bid_qty, ask, ask_qty, now, _trans(seq, 2, now, trans_lag_ms))
        for fn in self.market_listeners:
            fn(ev)
        return ev

    def market_mark_price(self, symbol: str, mark: float, index: float, funding_rate: float,
                          next_funding_ms: int) -> MarkPrice:
        ev = MarkPrice(symbol, mark, index, funding_rate, next_funding_ms, self.now_ms())
        self.marks[symbol] = ev
        for fn in self.market_listeners:
            fn(ev)
        return ev

    def market_liquidation(self, symbol: str, long: bool, price: str, qty: str, trans_lag_ms: int = 0) -> Liquidation:
        now = self.now_ms()
        ev = Liquidation(symbol, long, price, qty, now, now - max(trans_lag_ms, 0))
        for fn in self.market_listeners:
            fn(ev)
        return ev

    # ---- accounts ----------------------------------------------------------------------
    def account_for_key(self, api_key: str) -> Account | None:
        return self.accounts_by_key.get(api_key)

    # ---- orders ------------------------------------------------------------------------
    def _new_order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id

    def place(self, account: Account, symbol: str, side: int, type_: str, tif: str,
              price_ticks: int, qty_lots: int, client_id: str | None = None,
              reduce_only: bool = False, post_only_rejects: bool = True, stp: str = "none") -> Order:
        """`post_only_rejects`: a post-only order that would take is refused (SimReject), or
        else accepted and cancelled at once with reason "post_only" (exchanges differ).
        `stp`: the order's self-trade prevention mode (one of STP_MODES); the adapter maps its
        exchange's parameter and default onto it."""
        self.counters["orders_received"] += 1
        try:
            if stp not in STP_MODES:
                raise SimReject("stp_mode", stp)
            order = self._validate_new(account, symbol, side, type_, tif, price_ticks, qty_lots,
                                       client_id, reduce_only, post_only_rejects)
        except SimReject:
            self.counters["orders_rejected"] += 1
            raise
        order.stp = stp
        if not post_only_rejects and tif == "gtx" and self._crosses(symbol, side, price_ticks):
            order.reason = "post_only"
            order.status = "expired"
            self.done[order.order_id] = order
            self.counters["orders_expired"] += 1
            self._publish(OrderEvent(order, "expired", order.create_ms))
            return order
        account.orders[order.order_id] = order
        locked = self.accounting.on_accept(order)
        self._publish(OrderEvent(order, "new", order.create_ms))
        if locked:
            self._publish(AccountEvent(account, "order", order.create_ms, locked))
        self._take(order)
        if order.remaining > 0 and order.is_open:
            if order.type == "market" or order.tif in ("ioc", "fok"):
                self._finish(order, "expired")
            else:
                self._enqueue(order)
                self.resting[symbol][order.order_id] = order
        return order

    def _enqueue(self, order: Order) -> None:
        """The order joins the back of its price level: behind every resting user order there
        and behind the public lots the book shows at that price now."""
        self._next_priority += 1
        order.priority = self._next_priority
        book = self.books[order.symbol]
        order.queue_ahead = (book.bids if order.side > 0 else book.asks).get(order.price_ticks, 0)

    def _validate_new(self, account, symbol, side, type_, tif, price_ticks, qty_lots, client_id,
                      reduce_only, post_only_rejects: bool = True) -> Order:
        spec = self.specs.get(symbol)
        if spec is None:
            raise SimReject("unknown_symbol", symbol)
        if qty_lots <= 0:
            raise SimReject("qty_nonpositive")
        book = self.books[symbol]
        self._check_filters(spec, type_, price_ticks, qty_lots)
        qty = qty_lots * spec.step
        if type_ == "limit":
            price = price_ticks * spec.tick
        else:
            ref = book.best_ask if side > 0 else book.best_bid
            if ref is None:
                raise SimReject("no_liquidity")
            price = ref * spec.tick
        if not reduce_only and price * qty < spec.min_notional - 1e-9:
            raise SimReject("min_notional", str(spec.min_notional))
        if client_id:
            for o in account.orders.values():
                if o.client_id == client_id:
                    raise SimReject("duplicate_client_id", client_id)
        self.accounting.check_new(account, spec, side, qty_lots, price, reduce_only)
        if (post_only_rejects and type_ == "limit" and tif == "gtx"
                and self._crosses(symbol, side, price_ticks)):
            raise SimReject("would_take")
        now = self.now_ms()
        oid = self._new_order_id()
        return Order(oid, client_id or f"sim-{secrets.token_hex(8)}", account, symbol, side, type_,
                     tif, price_ticks if type_ == "limit" else 0, qty_lots, reduce_only, now, now)

    @staticmethod
    def _check_filters(spec: SymbolSpec, type_: str, price_ticks: int, qty_lots: int) -> None:
        """The lot and price range filters, for new orders and amends alike."""
        qty = qty_lots * spec.step
        if qty < spec.min_qty - 1e-12 or qty > spec.max_qty + 1e-12:
            raise SimReject("lot_size", f"quantity {spec.qty_str(qty_lots)} outside "
                            f"[{spec.min_qty}, {spec.max_qty}]")
        if type_ == "limit":
            price = price_ticks * spec.tick
            if price_ticks <= 0 or price < spec.min_price - 1e-12 or price > spec.max_price + 1e-12:
                raise SimReject("price_filter", f"price {spec.price_str(price_ticks)} outside "
                                f"[{spec.min_price}, {spec.max_price}]")

    def _crosses(self, symbol: str, side: int, price_ticks: int) -> bool:
        book = self.books[symbol]
        best = book.best_ask if side > 0 else book.best_bid
        if best is not None and (price_ticks >= best if side > 0 else price_ticks <= best):
            return True
        for o in self.resting[symbol].values():     # the account's own orders too: they would match
            if o.side != side:
                if (side > 0 and o.price_ticks <= price_ticks) or (side < 0 and o.price_ticks >= price_ticks):
                    return True
        return False

    def _liquidity(self, order: Order) -> list[tuple[int, Order | None, int]]:
        """Crossing liquidity for an aggressive order, best price first: (ticks, maker order or
        None for the public book, lots)."""
        symbol, side = order.symbol, order.side
        limit = order.price_ticks if order.type == "limit" else None
        book = self.books[symbol]
        out: list[tuple[int, int, Order | None, int]] = []
        levels = book.asks if side > 0 else book.bids
        best = book.best_ask if side > 0 else book.best_bid
        if best is not None and (limit is None or (best <= limit if side > 0 else best >= limit)):
            need = order.remaining
            keys = sorted(levels) if side > 0 else sorted(levels, reverse=True)
            for t in keys:
                if limit is not None and (t > limit if side > 0 else t < limit):
                    break
                out.append((t, 1, None, levels[t]))
                need -= levels[t]
                if need <= 0:
                    break
        for o in self.resting[symbol].values():
            if o.side == side:
                continue       # own orders are liquidity too: _take applies self-trade prevention
            if limit is None or (o.price_ticks <= limit if side > 0 else o.price_ticks >= limit):
                out.append((o.price_ticks, 0, o, o.remaining))
        # best price first; at one price, users' resting orders (older) before the public level
        out.sort(key=lambda x: (x[0] if side > 0 else -x[0], x[1], x[2].priority if x[2] else 0))
        return [(t, o, n) for t, _, o, n in out]

    def _take(self, order: Order) -> None:
        if order.type == "limit" and order.tif == "gtx":
            return
        liquidity = self._liquidity(order)
        if order.tif == "fok":
            if sum(n for _, _, n in liquidity) < order.remaining:
                return
        stp = "none" if order.tif == "fok" else order.stp
        for ticks, maker, lots in liquidity:
            if order.remaining <= 0 or not order.is_open:
                break
            if maker is not None:
                if not maker.is_open:
                    continue       # expired by self-trade prevention earlier in this walk
                lots = maker.remaining
                if maker.account is order.account and stp != "none":
                    self._self_trade(order, maker, stp)
                    continue
            n = min(order.remaining, lots)
            if n <= 0:
                continue
            self._fill(order, n, ticks, is_maker=False)
            if maker is not None:
                self._fill(maker, n, ticks, is_maker=True)

    def _self_trade(self, taker: Order, maker: Order, stp: str) -> None:
        """The taker would match its own account's resting order: expire per the taker's mode,
        the prevented match recorded on both orders before anyone hears of the expiry."""
        seq = self.seq[taker.symbol]
        m = PreventedMatch(seq.prevented, taker, maker, maker.price_ticks, taker.remaining, maker.remaining)
        seq.prevented += 1
        taker.prevented.append(m)
        maker.prevented.append(m)
        if stp in ("expire_maker", "expire_both"):
            m.maker_lots = maker.remaining
            maker.reason, maker.stp_match = "stp", m
        if stp in ("expire_taker", "expire_both"):
            m.taker_lots = taker.remaining
            taker.reason, taker.stp_match = "stp", m
        if m.maker_lots:
            self._finish(maker, "expired")
        if m.taker_lots:
            self._finish(taker, "expired")

    def _fill(self, order: Order, lots: int, ticks: int, is_maker: bool) -> None:
        account = order.account
        spec = self.specs[order.symbol]
        notional = ticks * spec.tick * lots * spec.step
        effect = self.accounting.on_fill(order, lots, ticks, is_maker)
        now = self.now_ms()
        order.filled_lots += lots
        order.cum_quote += notional
        order.update_ms = order.last_trade_ms = now
        order.status = "filled" if order.remaining == 0 else "partially_filled"
        self._next_trade_id += 1
        self.counters["fills"] += 1
        self.counters["maker_fills" if is_maker else "taker_fills"] += 1
        if order.status == "filled":
            self._retire(order)
        order.fills.append(Fill(ticks, lots, effect.fee, effect.fee_asset, self._next_trade_id, is_maker, now,
                                effect.realized))
        self._publish(OrderEvent(order, "trade", now, lots, ticks, effect.fee, is_maker,
                                 self._next_trade_id, effect.realized, effect.fee_asset))
        self._publish(AccountEvent(account, "order", now, effect.assets, effect.changes, effect.positions))

    def _retire(self, order: Order) -> None:
        self._released = self.accounting.on_done(order)
        self.resting[order.symbol].pop(order.order_id, None)
        order.account.orders.pop(order.order_id, None)
        self.done[order.order_id] = order
        if len(self.done) > _DONE_KEEP:
            self.done.popitem(last=False)

    def _finish(self, order: Order, status: str) -> None:
        order.status = status
        order.update_ms = self.now_ms()
        self._retire(order)
        self.counters["orders_canceled" if status == "canceled" else "orders_expired"] += 1
        self._publish(OrderEvent(order, status, order.update_ms))
        if self._released:
            self._publish(AccountEvent(order.account, "order", order.update_ms, self._released))

    def find_order(self, account: Account, symbol: str, order_id: int | None = None,
                   client_id: str | None = None, include_done: bool = False) -> Order | None:
        if order_id is not None:
            o = account.orders.get(order_id)
            if o is None and include_done:
                o = self.done.get(order_id)
            if o is not None and o.account is account and o.symbol == symbol:
                return o
            return None
        if client_id:
            for o in account.orders.values():
                if o.client_id == client_id and o.symbol == symbol:
                    return o
            if include_done:
                for o in reversed(self.done.values()):
                    if o.client_id == client_id and o.account is account and o.symbol == symbol:
                        return o
        return None

    def cancel(self, account: Account, symbol: str, order_id: int | None = None,
               client_id: str | None = None) -> Order:
        if symbol not in self.specs:
            raise SimReject("unknown_symbol", symbol)
        order = self.find_order(account, symbol, order_id, client_id)
        if order is None or not order.is_open:
            raise SimReject("unknown_order")
        self._finish(order, "canceled")
        return order

    def cancel_all(self, account: Account, symbol: str, reason: str = "") -> list[Order]:
        """``reason``: why, when not the owner's request (a dead man's switch ran out)."""
        if symbol not in self.specs:
            raise SimReject("unknown_symbol", symbol)
        orders = [o for o in account.orders.values() if o.symbol == symbol]
        for o in orders:
            o.reason = reason
            self._finish(o, "canceled")
        return orders

    def modify(self, account: Account, symbol: str, order_id: int | None, client_id: str | None,
               side: int, price_ticks: int, qty_lots: int, stp: str | None = None,
               keep_priority: bool = False, ends_as: str | None = None) -> Order:
        """Amend price and quantity; `stp` replaces the order's self-trade prevention mode (None
        keeps it; Binance USD-M resets it to "none"). `keep_priority`: the exchange keeps the
        order's place in the queue for this amend (spot's amend.keepPriority, a quantity
        decrease); a new price always goes to the back of the new level. `ends_as`: the status
        an amend that leaves the order nothing to do gives it (a quantity at or below what has
        filled; a post-only order whose new price would take) instead of refusing it (USD-M:
        "canceled"; spot's keep-priority amend: "expired"); the order is then left as it was."""
        if symbol not in self.specs:
            raise SimReject("unknown_symbol", symbol)
        order = self.find_order(account, symbol, order_id, client_id)
        if order is None or not order.is_open:
            raise SimReject("unknown_order")
        if order.type != "limit":
            raise SimReject("modify_type")
        if side != order.side:
            raise SimReject("modify_side")
        self._check_filters(self.specs[symbol], order.type, price_ticks, qty_lots)
        if price_ticks == order.price_ticks and qty_lots == order.qty_lots:
            raise SimReject("no_change")
        done = qty_lots <= order.filled_lots or (order.tif == "gtx" and self._crosses(symbol, side, price_ticks))
        if done and ends_as is not None:
            order.amends += 1
            self._finish(order, ends_as)
            return order
        if qty_lots <= order.filled_lots:
            raise SimReject("modify_qty")
        if order.tif == "gtx" and self._crosses(symbol, side, price_ticks):
            raise SimReject("would_take")
        if stp is not None:
            if stp not in STP_MODES:
                raise SimReject("stp_mode", stp)
            order.stp = stp
        moved = price_ticks != order.price_ticks
        old_ticks, old_lots = order.price_ticks, order.qty_lots
        order.price_ticks = price_ticks
        order.qty_lots = qty_lots
        order.amends += 1
        order.update_ms = self.now_ms()
        changed = self.accounting.on_amend(order, old_ticks, old_lots)
        self._publish(OrderEvent(order, "amended", order.update_ms))
        if changed:
            self._publish(AccountEvent(account, "order", order.update_ms, changed))
        self._take(order)
        if order.is_open and (moved or not keep_priority):
            self._enqueue(order)
        return order

    def account_orders(self, account: Account, symbol: str) -> list[Order]:
        """Open and recent final orders of an account (history endpoints), oldest first."""
        orders = [o for o in self.done.values() if o.account is account and o.symbol == symbol]
        orders += [o for o in account.orders.values() if o.symbol == symbol]
        return sorted(orders, key=lambda o: o.order_id)

    def open_orders(self, account: Account, symbol: str | None = None) -> list[Order]:
        return [o for o in account.orders.values() if symbol is None or o.symbol == symbol]

    # ---- passive fills --------------------------------------------------------------------
    def _fill_on_trade(self, trade: Trade) -> None:
        left = trade.lots
        hits = [o for o in self.resting[trade.symbol].values()
                if (o.side > 0 and o.price_ticks > trade.ticks) or (o.side < 0 and o.price_ticks < trade.ticks)]
        hits.sort(key=lambda o: (-o.price_ticks * o.side, o.priority))
        for o in hits:
            if left <= 0:
                break
            n = min(o.remaining, left)
            left -= n
            self._fill(o, n, o.price_ticks, is_maker=True)
        self._fill_at_level(trade)

    def _fill_at_level(self, trade: Trade) -> None:
        """A trade at a resting order's own price, on the side the aggressor hit, fills it only
        beyond the public lots and the user orders ahead of it (queue priority)."""
        side = 1 if trade.buyer_is_maker else -1          # the resting side the trade hit
        level = sorted((o for o in self.resting[trade.symbol].values()
                        if o.side == side and o.price_ticks == trade.ticks), key=lambda o: o.priority)
        users_ahead = 0
        for o in level:
            n = min(o.remaining, max(0, trade.lots - o.queue_ahead - users_ahead))
            users_ahead += o.remaining
            o.queue_ahead = max(0, o.queue_ahead - trade.lots)
            if n > 0:
                self._fill(o, n, o.price_ticks, is_maker=True)

    def _shrink_queues(self, symbol: str) -> None:
        """Public lots that leave a level are taken to have been ahead of our orders there, as far
        as the level still has (risk-averse: a cancel never moves us up past what is left)."""
        book = self.books[symbol]
        for o in self.resting[symbol].values():
            left = (book.bids if o.side > 0 else book.asks).get(o.price_ticks, 0)
            if left < o.queue_ahead:
                o.queue_ahead = left

    def _fill_on_book_cross(self, symbol: str) -> None:
        book = self.books[symbol]
        bb, ba = book.best_bid, book.best_ask
        hits = [o for o in self.resting[symbol].values()
                if (o.side > 0 and ba is not None and o.price_ticks >= ba)
                or (o.side < 0 and bb is not None and o.price_ticks <= bb)]
        if not hits:
            return
        # best-priced orders first; each takes from what is offered at or through its price,
        # minus what better-priced orders already took on this update
        hits.sort(key=lambda o: (-o.price_ticks * o.side, o.priority))
        used = {1: 0, -1: 0}
        for o in hits:
            if not o.is_open:
                continue
            if o.side > 0:
                offered = sum(n for t, n in book.asks.items() if t <= o.price_ticks)
            else:
                offered = sum(n for t, n in book.bids.items() if t >= o.price_ticks)
            n = min(o.remaining, offered - used[o.side])
            if n <= 0:
                continue
            used[o.side] += n
            self._fill(o, n, o.price_ticks, is_maker=True)

    def _publish(self, event) -> None:
        for fn in self.user_listeners:
            fn(event)
