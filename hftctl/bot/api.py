"""The bot API strategies are written against; back-ends differ only in where data and fills come from.

Modelled on hftbacktest's ``Bot`` so its examples port line by line: per-instrument depth,
last trades, own orders keyed by a bot-chosen ``order_id``, position, submit/cancel/modify, and
a clock driven by ``elapse(duration_ns)`` / ``wait_next(timeout_ns)``. Both return False once the
run is over (end of data, stop signal, dead connector), so strategies loop with
``while bot.elapse(step):``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

from hftctl.book import OrderBook
from hftctl.bot.types import BUY, GTX, LIMIT, SELL, Account, Instrument, Order, TradeTick
from hftctl.errors import HftctlError

__all__ = ["Bot", "BotError"]

# Trades kept between clear_last_trades() calls; a strategy that never clears must not leak.
MAX_TRADES = 10_000


class BotError(HftctlError):
    """A request the bot API refuses (unknown instrument, duplicate order id, bad quantity)."""


class Bot(ABC):
    """Common state and order bookkeeping; subclasses move requests and market data."""

    def __init__(self, instruments: Sequence[Instrument]) -> None:
        if not instruments:
            raise BotError("a bot needs at least one instrument")
        self.instruments = [i.require_steps() for i in instruments]
        self._books = [OrderBook(i.tick_size, i.lot_size) for i in self.instruments]
        self._orders: list[dict[int, Order]] = [{} for _ in self.instruments]
        self._trades: list[list[TradeTick]] = [[] for _ in self.instruments]
        self._accounts = [Account() for _ in self.instruments]
        self.current_timestamp = 0

    # --- market and own state ---------------------------------------------------------------

    def depth(self, i: int = 0) -> OrderBook:
        return self._books[i]

    def last_trades(self, i: int = 0) -> list[TradeTick]:
        return self._trades[i]

    def clear_last_trades(self, i: int | None = None) -> None:
        for k in self._indices(i):
            self._trades[k].clear()

    def orders(self, i: int = 0) -> dict[int, Order]:
        return self._orders[i]

    def position(self, i: int = 0) -> float:
        return self._accounts[i].position

    def account(self, i: int = 0) -> Account:
        return self._accounts[i]

    def order_seq(self, i: int = 0) -> int | None:
        """A number that changes whenever an order response reaches the bot, or None when the
        back-end cannot tell (then strategies must assume anything may have changed).

        Strategies use it to skip re-deciding their quotes when neither the market inputs nor
        any order changed since the last step: the backtest engines' hot path."""
        return None

    def trading_ok(self) -> bool:
        """False while the back-end cannot see this bot's fills (a live connector whose user
        stream is down): new quotes then add risk nobody would see filled."""
        return True

    def clear_inactive_orders(self, i: int | None = None) -> None:
        for k in self._indices(i):
            orders = self._orders[k]
            for oid in [oid for oid, o in orders.items() if not o.active and o.req is None]:
                del orders[oid]

    # --- requests ---------------------------------------------------------------------------

    def submit_buy_order(self, i: int, order_id: int, px: float, qty: float,
                         time_in_force: str = GTX, order_type: str = LIMIT, wait: bool = False) -> Order:
        return self.submit_order(i, BUY, order_id, px, qty, time_in_force, order_type, wait)

    def submit_sell_order(self, i: int, order_id: int, px: float, qty: float,
                          time_in_force: str = GTX, order_type: str = LIMIT, wait: bool = False) -> Order:
        return self.submit_order(i, SELL, order_id, px, qty, time_in_force, order_type, wait)

    def submit_order(self, i: int, side: int, order_id: int, px: float, qty: float,
                     time_in_force: str = GTX, order_type: str = LIMIT, wait: bool = False) -> Order:
        inst = self._instrument(i)
        old = self._orders[i].get(order_id)
        if old is not None and (old.active or old.req is not None):
            raise BotError(f"order id {order_id} is already in use on {inst.symbol}")
        lots = round(qty / inst.lot_size)
        if not (math.isfinite(px) and lots > 0):
            raise BotError(f"invalid order {inst.symbol} px={px} qty={qty}")
        book = self._books[i]
        px = book.to_price(book.to_tick(px))
        qty = round(lots * inst.lot_size, 12)
        o = Order(order_id, side, px, qty, time_in_force, order_type, leaves_qty=qty,
                  req="new", local_ts=self.current_timestamp)
        self._orders[i][order_id] = o
        self._send_new(i, o)
        if wait:
            self._wait_response(i, order_id)
        return o

    def cancel(self, i: int, order_id: int, wait: bool = False) -> bool:
        """Request a cancel; False (and nothing sent) if the order is not cancellable now."""
        o = self._orders[i].get(order_id)
        if o is None or not o.cancellable:
            return False
        o.req, o.local_ts = "cancel", self.current_timestamp
        self._send_cancel(i, o)
        if wait:
            self._wait_response(i, order_id)
        return True

    def modify(self, i: int, order_id: int, px: float, qty: float, wait: bool = False) -> bool:
        o = self._orders[i].get(order_id)
        if o is None or not o.cancellable:
            return False
        inst = self.instruments[i]
        lots = round(qty / inst.lot_size)
        if not (math.isfinite(px) and lots > 0):
            raise BotError(f"invalid modify {inst.symbol} px={px} qty={qty}")
        book = self._books[i]
        o.req, o.local_ts = "modify", self.current_timestamp
        self._send_modify(i, o, book.to_price(book.to_tick(px)), round(lots * inst.lot_size, 12))
        if wait:
            self._wait_response(i, order_id)
        return True

    def cancel_all(self, i: int | None = None) -> int:
        """Cancel every cancellable order (of one instrument or all); returns how many."""
        n = 0
        for k in self._indices(i):
            for oid in list(self._orders[k]):
                n += self.cancel(k, oid)
        return n

    def open_orders(self, i: int | None = None) -> int:
        """Orders still working or with a request in flight."""
        return sum(1 for k in self._indices(i) for o in self._orders[k].values()
                   if o.active or o.req is not None)

    # --- clock --------------------------------------------------------------------------------

    @abstractmethod
    def elapse(self, duration_ns: int) -> bool:
        """Let ``duration_ns`` pass, applying market data and responses; False when the run is over."""

    @abstractmethod
    def wait_next(self, timeout_ns: int) -> bool:
        """Return at the next market event or order response, or after ``timeout_ns``."""

    def close(self) -> None:
        """Release resources; back-ends with real orders cancel them first."""

    # --- back-end hooks -----------------------------------------------------------------------

    @abstractmethod
    def _send_new(self, i: int, order: Order) -> None: ...

    @abstractmethod
    def _send_cancel(self, i: int, order: Order) -> None: ...

    @abstractmethod
    def _send_modify(self, i: int, order: Order, px: float, qty: float) -> None: ...

    # --- helpers ------------------------------------------------------------------------------

    def _wait_response(self, i: int, order_id: int, timeout_ns: int = 5_000_000_000) -> None:
        deadline = self.current_timestamp + timeout_ns
        while self._orders[i][order_id].req is not None and self.current_timestamp < deadline:
            if not self.wait_next(deadline - self.current_timestamp):
                return

    def _instrument(self, i: int) -> Instrument:
        if not 0 <= i < len(self.instruments):
            raise BotError(f"no instrument #{i} (this bot has {len(self.instruments)})")
        return self.instruments[i]

    def _indices(self, i: int | None) -> range:
        return range(len(self.instruments)) if i is None else range(i, i + 1)
