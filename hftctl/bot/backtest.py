"""The built-in backtest engine: hftbacktest's event loop, in Python, over an ``.npz`` event array.

As in hftbacktest, two processors read the same rows: the bot's side applies rows flagged
``LOCAL_EVENT`` at their ``local_ts`` to the book the strategy sees, the exchange's side applies
rows flagged ``EXCH_EVENT`` at their ``exch_ts`` to the book orders are matched against
(``VirtualExchange``, hftctl/bot/matching.py). Order requests and responses travel between the
two with the latency model's delays. Events at the same instant run in hftbacktest's order:
bot's data, responses reaching the bot, exchange's data, requests reaching the exchange.
One instrument per backtest; no partial fills (hftbacktest's engine has them, see runner.py).

Speed: both streams are merged once (numpy) into one sequence keyed by 4 * timestamp + that
order's rank, so one integer comparison orders data against the order bus; rows become Python
lists a chunk at a time, and the exchange is called only when the market touches one of our
prices, so most rows cost a couple of dict operations on a book.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hftctl.book import NO_ASK, NO_BID, OrderBook
from hftctl.bot.api import MAX_TRADES, Bot
from hftctl.bot.matching import INF, VirtualExchange
from hftctl.bot.models import ExecutionModel, latency_model, order_latency_table, queue_model, read_npz_array
from hftctl.bot.types import Instrument, Order, TradeTick
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

# hftbacktest event flags (hftbacktest.types): high bits say where/which side, low byte what.
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28
DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT = 1, 2, 3, 4, 5

REQUIRED_FIELDS = ("ev", "exch_ts", "local_ts", "px", "qty")

# Operations of the merged stream: the bot's side 0-8, the exchange's side the same + X.
SKIP, BID, ASK, TRADE_BUY, TRADE_SELL, CLEAR_BID, CLEAR_ASK, CLEAR_ALL, TRADE_NOSIDE = range(9)
X = 16
CLEARS = frozenset((CLEAR_BID, CLEAR_ASK, CLEAR_ALL, X + CLEAR_BID, X + CLEAR_ASK, X + CLEAR_ALL))
CHUNK = 1 << 16


def load_events(path: str | Path) -> np.ndarray:
    """Read the event array of an ``.npz`` (key ``data``, or its only array) with clear errors."""
    p = Path(path)
    data = read_npz_array(p, "backtest data", "event file")
    names = data.dtype.names or ()
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise HftctlError(f"{p}: not an hftbacktest event array (missing fields {', '.join(missing)})")
    if data.ndim != 1 or len(data) == 0:
        raise HftctlError(f"{p}: event array is empty")
    return data


def check_events(data: np.ndarray) -> None:
    """Each side's rows must be in its own time order, as both engines replay them in file order."""
    ev = data["ev"]
    for flag, field, who in ((LOCAL_EVENT, "local_ts", "local (bot-visible)"), (EXCH_EVENT, "exch_ts", "exchange")):
        ts = data[field][(ev & flag) != 0]
        if len(ts) == 0:
            raise HftctlError(f"backtest data has no {who} events")
        if np.any(np.diff(ts) < 0):
            raise HftctlError(f"backtest data: {who} events are not in time order")


def first_timestamp(data: np.ndarray) -> int:
    """When a replay starts: the earliest row either side sees (hftbacktest's first event)."""
    ev = data["ev"]
    firsts = [int(data[f][(ev & flag) != 0][0]) for flag, f in ((LOCAL_EVENT, "local_ts"), (EXCH_EVENT, "exch_ts"))
              if np.any((ev & flag) != 0)]
    return min(firsts)


def clip_duration(data: np.ndarray, duration_ns: int | None) -> np.ndarray:
    """The rows both sides see within ``duration_ns`` of the start (the same rows for both engines)."""
    if duration_ns is None:
        return data
    end = first_timestamp(data) + duration_ns
    ev = data["ev"]
    keep = ((((ev & LOCAL_EVENT) == 0) | (data["local_ts"] <= end))
            & (((ev & EXCH_EVENT) == 0) | (data["exch_ts"] <= end)))
    return data[keep]


def rows_replayed(data: np.ndarray, now: int) -> int:
    """Rows of ``data`` that either side has applied by time ``now``."""
    ev = data["ev"]
    seen = (((ev & LOCAL_EVENT) != 0) & (data["local_ts"] <= now)) | (((ev & EXCH_EVENT) != 0) & (data["exch_ts"] <= now))
    return int(np.count_nonzero(seen))


def _ops(ev: np.ndarray) -> np.ndarray:
    """Operation code (BID, ASK, ...) of each row for one side; 0 for rows it skips."""
    kind = ev & 0xFF
    buy, sell = (ev & BUY_EVENT) != 0, (ev & SELL_EVENT) != 0
    depth = (kind == DEPTH_EVENT) | (kind == DEPTH_SNAPSHOT_EVENT)
    op = np.zeros(len(ev), dtype=np.int64)
    op[depth & buy] = BID
    op[depth & sell & ~buy] = ASK
    op[(kind == TRADE_EVENT) & buy] = TRADE_BUY
    op[(kind == TRADE_EVENT) & sell & ~buy] = TRADE_SELL
    op[(kind == TRADE_EVENT) & ~buy & ~sell] = TRADE_NOSIDE
    op[(kind == DEPTH_CLEAR_EVENT) & buy] = CLEAR_BID
    op[(kind == DEPTH_CLEAR_EVENT) & sell & ~buy] = CLEAR_ASK
    op[(kind == DEPTH_CLEAR_EVENT) & ~buy & ~sell] = CLEAR_ALL
    # DEPTH_BBO_EVENT rows duplicate what the depth stream says: skipped, as hftbacktest does.
    return op


def clear_upto(book: OrderBook, side: int, px: float) -> None:
    """A depth-clear row: hftbacktest drops the levels from ``px`` up to the best (bids) or from
    the best up to ``px`` (asks); levels beyond ``px`` stay. A non-finite ``px`` clears the side."""
    if not math.isfinite(px):
        book.clear(side)
        return
    tick = book.to_tick(px)
    if side > 0:
        for t in [t for t in book.bids if t >= tick]:
            del book.bids[t]
        book.best_bid_tick = max(book.bids) if book.bids else NO_BID
    else:
        for t in [t for t in book.asks if t <= tick]:
            del book.asks[t]
        book.best_ask_tick = min(book.asks) if book.asks else NO_ASK


class ReplayBot(Bot):
    """What both backtest engines share: equity samples, progress, rows replayed."""

    engine = ""

    def __init__(self, data: np.ndarray | str | Path, instrument: Instrument, model: ExecutionModel | None,
                 duration_ns: int | None, record_interval_ns: int) -> None:
        super().__init__([instrument])
        if not isinstance(data, np.ndarray):
            data = load_events(data)
        check_events(data)
        self.data = data = clip_duration(data, duration_ns)
        self.model = model or ExecutionModel()
        self.end_timestamp = max(int(data["local_ts"].max()), int(data["exch_ts"].max()))
        self.start_timestamp = self.current_timestamp = first_timestamp(data)
        self.record_interval_ns = record_interval_ns
        self._next_record = self.start_timestamp
        # Equity curve samples: (ts, equity net of fees, position, mid).
        self.records: list[tuple[int, float, float, float]] = []
        # on_progress(done, total), called about every 0.5% of the run.
        self.on_progress: Callable[[int, int], None] | None = None
        self._next_progress = 0
        self.finished = False        # the engine replayed everything (its end of data)

    @property
    def events_processed(self) -> int:
        """Rows of the event array replayed so far (a row both sides see counts once)."""
        return len(self.data) if self.finished else rows_replayed(self.data, self.current_timestamp)

    def progress(self) -> tuple[int, int]:
        """(done, total) in the engine's own units, for a progress bar."""
        raise NotImplementedError

    def sample_equity(self) -> None:
        """Append an equity-curve sample if ``record_interval_ns`` has passed; report progress."""
        if self.on_progress is not None:
            done, total = self.progress()
            if done >= self._next_progress:
                self._next_progress = done + max(total // 200, 1)
                self.on_progress(done, total)
        ts = self.current_timestamp
        if ts >= self._next_record:
            mid = self.depth(0).mid
            if mid == mid:  # not NaN
                acc = self.account(0)
                self.records.append((ts, acc.equity(mid), acc.position, mid))
            self._next_record = ts + self.record_interval_ns


class BacktestBot(ReplayBot):
    """The bot API over recorded events and the built-in simulated exchange."""

    engine = "built-in"

    def __init__(self, data: np.ndarray | str | Path, instrument: Instrument,
                 model: ExecutionModel | None = None, *, duration_ns: int | None = None,
                 record_interval_ns: int = 1_000_000_000) -> None:
        super().__init__(data, instrument, model, duration_ns, record_interval_ns)
        data, model = self.data, self.model
        if model.partial_fills:
            raise HftctlError("the built-in engine has no partial fills; use hftbacktest's engine "
                              "(--engine hftbacktest, pip install 'hftctl[backtest]')")
        self._build_stream(data, instrument)
        self._xbook = OrderBook(instrument.tick_size, instrument.lot_size)
        self._ex = VirtualExchange(self._xbook, self._orders[0], self._accounts[0], model,
                                   latency=latency_model(model, order_latency_table(model, data)),
                                   queue=queue_model(model))

    def _build_stream(self, data: np.ndarray, instrument: Instrument) -> None:
        ev = data["ev"]
        loc = np.nonzero((ev & LOCAL_EVENT) != 0)[0]
        exc = np.nonzero((ev & EXCH_EVENT) != 0)[0]
        xops = _ops(ev[exc])
        xops = np.where((xops == SKIP) | (xops == TRADE_NOSIDE), X, xops + X)  # no side: ignored
        rows = np.concatenate([loc, exc])
        ops = np.concatenate([_ops(ev[loc]), xops])
        key = np.concatenate([data["local_ts"][loc] * 4, data["exch_ts"][exc] * 4 + 2])
        order = np.argsort(key, kind="stable")      # file order within a side and instant
        rows, key, ops = rows[order], key[order], ops[order]
        with np.errstate(invalid="ignore"):
            ticks = np.round(data["px"][rows] / instrument.tick_size)
        ticks[~np.isfinite(ticks)] = 0
        self._s_key, self._s_op, self._s_tick = key, ops, ticks.astype(np.int64)
        self._s_qty, self._s_px, self._s_row = data["qty"][rows], data["px"][rows], rows
        self._n_total = len(key)
        self._base = 0           # stream index of the current chunk's first event
        self._i = 0              # index in the current chunk
        self._load_chunk(0)

    def _load_chunk(self, base: int) -> bool:
        end = min(base + CHUNK, self._n_total)
        if base >= end:
            self._base = self._n_total
            self._key, self._op, self._tick, self._qty = [], [], [], []
            return False
        self._base = base
        self._key = self._s_key[base:end].tolist()
        self._op = self._s_op[base:end].tolist()
        self._tick = self._s_tick[base:end].tolist()
        self._qty = self._s_qty[base:end].tolist()
        return True

    def progress(self) -> tuple[int, int]:
        return self._base + self._i, self._n_total

    def order_seq(self, i: int = 0) -> int:
        return self._ex.seq

    # --- clock --------------------------------------------------------------------------------

    def elapse(self, duration_ns: int) -> bool:
        alive = self._advance(self.current_timestamp + duration_ns, wake=False)
        self.sample_equity()
        return alive

    def wait_next(self, timeout_ns: int) -> bool:
        alive = self._advance(self.current_timestamp + timeout_ns, wake=True)
        self.sample_equity()
        return alive

    def _advance(self, until: int, wake: bool) -> bool:
        """Apply data rows and order-bus messages up to ``until`` in hftbacktest's order; with
        ``wake``, stop after the first instant at which the bot received data or a response.
        False once no data and no message is left (hftbacktest's end of data).

        The hot loop keeps both books' best ticks and the exchange's trigger prices in locals
        and updates the books' dicts directly (the common cases of ``OrderBook.update_*_tick``);
        everything rare (crossing updates, deleting a best level, levels where we rest, trades
        reaching our prices) goes through the books' and the exchange's own methods, after which
        the loop re-reads everything the exchange may have changed.
        """
        ex = self._ex
        book, xbook = self._books[0], self._xbook
        bids, asks, xbids, xasks = book.bids, book.asks, xbook.bids, xbook.asks
        buy_ticks, sell_ticks = ex.buy_ticks, ex.sell_ticks
        until4 = until * 4 + 3
        # operation codes as locals: a comparison per row without global lookups
        x_bid, x_ask, l_bid, l_ask = X + BID, X + ASK, BID, ASK
        x_tbuy, x_tsell, l_tbuy, l_tsell, l_tnoside = X + TRADE_BUY, X + TRADE_SELL, TRADE_BUY, TRADE_SELL, TRADE_NOSIDE
        i = self._i
        keys, ops, ticks, qtys = self._key, self._op, self._tick, self._qty
        n = len(keys)
        try:
            while True:
                lo, xo = ex.next_local_ts, ex.next_exch_ts
                bus4 = min(lo * 4 + 1, xo * 4 + 3)
                limit = until4 if until4 < bus4 else bus4
                mb, ms = ex.max_buy_tick, ex.min_sell_tick
                bb, ba = book.best_bid_tick, book.best_ask_tick
                xb, xa = xbook.best_bid_tick, xbook.best_ask_tick
                slow = False
                while i < n:
                    k4 = keys[i]
                    if k4 > limit:
                        break
                    op = ops[i]
                    if op == x_bid:
                        t = ticks[i]
                        q = qtys[i]
                        if t in buy_ticks or t >= ms:
                            slow = True
                        elif q > 0:
                            xbids[t] = q
                            if t > xb:
                                if t >= xa:
                                    xbook.update_bid_tick(t, q)
                                    xb, xa = xbook.best_bid_tick, xbook.best_ask_tick
                                else:
                                    xb = xbook.best_bid_tick = t
                        elif t == xb:
                            xbook.update_bid_tick(t, 0.0)
                            xb = xbook.best_bid_tick
                        else:
                            xbids.pop(t, None)
                    elif op == x_ask:
                        t = ticks[i]
                        q = qtys[i]
                        if t in sell_ticks or t <= mb:
                            slow = True
                        elif q > 0:
                            xasks[t] = q
                            if t < xa:
                                if t <= xb:
                                    xbook.update_ask_tick(t, q)
                                    xb, xa = xbook.best_bid_tick, xbook.best_ask_tick
                                else:
                                    xa = xbook.best_ask_tick = t
                        elif t == xa:
                            xbook.update_ask_tick(t, 0.0)
                            xa = xbook.best_ask_tick
                        else:
                            xasks.pop(t, None)
                    elif op == l_bid:
                        t = ticks[i]
                        q = qtys[i]
                        if q > 0:
                            bids[t] = q
                            if t > bb:
                                if t >= ba:
                                    book.update_bid_tick(t, q)
                                    bb, ba = book.best_bid_tick, book.best_ask_tick
                                else:
                                    bb = book.best_bid_tick = t
                        elif t == bb:
                            book.update_bid_tick(t, 0.0)
                            bb = book.best_bid_tick
                        else:
                            bids.pop(t, None)
                    elif op == l_ask:
                        t = ticks[i]
                        q = qtys[i]
                        if q > 0:
                            asks[t] = q
                            if t < ba:
                                if t <= bb:
                                    book.update_ask_tick(t, q)
                                    bb, ba = book.best_bid_tick, book.best_ask_tick
                                else:
                                    ba = book.best_ask_tick = t
                        elif t == ba:
                            book.update_ask_tick(t, 0.0)
                            ba = book.best_ask_tick
                        else:
                            asks.pop(t, None)
                    elif op == x_tbuy:
                        slow = ticks[i] >= ms
                    elif op == x_tsell:
                        slow = ticks[i] <= mb
                    elif op == l_tbuy or op == l_tsell or op == l_tnoside:
                        self._trade(i, k4 >> 2, op)
                    elif op in CLEARS:
                        slow = True
                    if slow:
                        book.best_bid_tick, book.best_ask_tick = bb, ba
                        xbook.best_bid_tick, xbook.best_ask_tick = xb, xa
                        self._slow(i, k4 >> 2, op)
                        i += 1
                        break                        # re-read books, bus and trigger prices
                    i += 1
                    if wake and op < X:              # the bot received data at this instant
                        until4 = (k4 >> 2) * 4 + 3
                        limit = until4 if until4 < bus4 else bus4
                        wake = False
                else:
                    book.best_bid_tick, book.best_ask_tick = bb, ba
                    xbook.best_bid_tick, xbook.best_ask_tick = xb, xa
                    if self._load_chunk(self._base + n):
                        i, keys, ops, ticks, qtys = 0, self._key, self._op, self._tick, self._qty
                        n = len(keys)
                        continue
                    i, n, keys = 0, 0, []
                if slow:
                    continue
                book.best_bid_tick, book.best_ask_tick = bb, ba
                xbook.best_bid_tick, xbook.best_ask_tick = xb, xa
                if bus4 <= until4:                   # a message is next (data is past it)
                    if lo * 4 + 1 < xo * 4 + 3:
                        ex.deliver_one()
                        if wake:
                            until4 = lo * 4 + 3
                            wake = False
                    else:
                        ex.arrive_one()
                    continue
                if n == 0 and lo == INF and xo == INF:
                    self.finished = True
                    return False                     # the clock stays where it was, as hftbacktest's
                self.current_timestamp = until4 >> 2
                return True
        finally:
            self._i = i

    def _slow(self, i: int, ts: int, op: int) -> None:
        """The rare rows: exchange-side changes that touch our orders, and depth clears."""
        xbook, ex = self._xbook, self._ex
        t, q = self._tick[i], self._qty[i]
        if op == X + BID:
            prev, pb = xbook.bids.get(t, 0.0), xbook.best_bid_tick
            xbook.update_bid_tick(t, q)
            ex.on_bid_depth(ts, t, prev, q, pb, xbook.best_bid_tick)
        elif op == X + ASK:
            prev, pa = xbook.asks.get(t, 0.0), xbook.best_ask_tick
            xbook.update_ask_tick(t, q)
            ex.on_ask_depth(ts, t, prev, q, pa, xbook.best_ask_tick)
        elif op == X + TRADE_BUY or op == X + TRADE_SELL:
            ex.on_trade(ts, t, 1 if op == X + TRADE_BUY else -1, q)
        else:
            book = xbook if op > X else self._books[0]
            kind = op - X if op > X else op
            if kind == CLEAR_ALL:
                book.clear(0)
            else:
                clear_upto(book, 1 if kind == CLEAR_BID else -1, float(self._s_px[self._base + i]))

    def _trade(self, i: int, ts: int, op: int) -> None:
        trades = self._trades[0]
        if len(trades) < MAX_TRADES:
            j = self._base + i
            side = 1 if op == TRADE_BUY else (-1 if op == TRADE_SELL else 0)
            trades.append(TradeTick(ts, int(self.data["exch_ts"][self._s_row[j]]), side,
                                    float(self._s_px[j]), self._qty[i]))

    # --- requests -----------------------------------------------------------------------------

    def _send_new(self, i: int, order: Order) -> None:
        self._ex.request(self.current_timestamp, "new", order.order_id, order.px, order.qty)

    def _send_cancel(self, i: int, order: Order) -> None:
        self._ex.request(self.current_timestamp, "cancel", order.order_id)

    def _send_modify(self, i: int, order: Order, px: float, qty: float) -> None:
        self._ex.request(self.current_timestamp, "modify", order.order_id, px, qty)


__all__ = ["BacktestBot", "ReplayBot", "load_events", "check_events", "clip_duration", "rows_replayed"]
