"""Backtest back-end: replays an hftbacktest-format ``.npz`` event array through the bot API.

Only rows flagged ``LOCAL_EVENT`` are replayed, at their ``local_ts``: that is the feed a live
bot would have seen, in the order it would have seen it (hftbacktest's converter keeps those
rows sorted by local time). Orders go through ``VirtualExchange`` (see hftctl/bot/matching.py
for the latency, fill and fee model). One instrument per backtest.

Speed: the event columns are turned into plain Python lists once, and the replay loop touches
the simulated exchange only when the market reaches one of our resting prices, so most rows
cost a couple of dict operations on the book.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hftctl.bot.api import MAX_TRADES, Bot
from hftctl.bot.matching import ExecutionModel, VirtualExchange
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


def load_events(path: str | Path) -> np.ndarray:
    """Read the event array of an ``.npz`` (key ``data``, or its only array) with clear errors."""
    p = Path(path)
    if not p.is_file():
        raise HftctlError(f"backtest data not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            if not keys:
                raise HftctlError(f"{p}: no arrays in file")
            data = z["data"] if "data" in keys else z[keys[0]]
    except HftctlError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise HftctlError(f"{p}: not a readable .npz event file ({exc})") from None
    names = data.dtype.names or ()
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise HftctlError(f"{p}: not an hftbacktest event array (missing fields {', '.join(missing)})")
    if data.ndim != 1 or len(data) == 0:
        raise HftctlError(f"{p}: event array is empty")
    return data


class BacktestBot(Bot):
    """The bot API over recorded events and a simulated exchange."""

    def __init__(self, data: np.ndarray | str | Path, instrument: Instrument,
                 model: ExecutionModel | None = None, *, duration_ns: int | None = None,
                 record_interval_ns: int = 1_000_000_000) -> None:
        super().__init__([instrument])
        if not isinstance(data, np.ndarray):
            data = load_events(data)
        local = data[(data["ev"] & LOCAL_EVENT) != 0]
        if len(local) == 0:
            raise HftctlError("backtest data has no local (bot-visible) events")
        ts = local["local_ts"]
        if np.any(np.diff(ts) < 0):
            raise HftctlError("backtest data: local events are not in time order")
        if duration_ns is not None:
            local = local[ts <= ts[0] + duration_ns]
        ev = local["ev"]
        self._ts: list[int] = local["local_ts"].tolist()
        self._exch_ts: list[int] = local["exch_ts"].tolist()
        self._kinds: list[int] = (ev & 0xFF).astype(np.int64).tolist()
        self._sides: list[int] = np.where((ev & BUY_EVENT) != 0, 1,
                                          np.where((ev & SELL_EVENT) != 0, -1, 0)).tolist()
        with np.errstate(invalid="ignore"):
            ticks = np.round(local["px"] / instrument.tick_size)
        ticks[~np.isfinite(ticks)] = 0
        self._ticks: list[int] = ticks.astype(np.int64).tolist()
        self._px: list[float] = local["px"].tolist()
        self._qty: list[float] = local["qty"].tolist()
        self._n = len(self._ts)
        self._i = 0
        self.model = model or ExecutionModel()
        self._ex = VirtualExchange(self._books[0], self._orders[0], self._accounts[0], self.model)
        self.current_timestamp = self._ts[0]
        self.start_timestamp = self._ts[0]
        self.end_timestamp = self._ts[-1]
        self.record_interval_ns = record_interval_ns
        self._next_record = self._ts[0]
        # Equity curve samples: (ts, equity net of fees, position, mid).
        self.records: list[tuple[int, float, float, float]] = []
        # on_progress(events_done, events_total), called about every 0.5% of the data.
        self.on_progress: Callable[[int, int], None] | None = None
        self._next_progress = 0

    @property
    def events_processed(self) -> int:
        return self._i

    @property
    def events_total(self) -> int:
        return self._n

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
        """Replay rows and exchange traffic up to ``until`` (or the first event if ``wake``).

        The hot loop keeps the book's best ticks and the exchange's trigger prices in locals and
        updates the book's dicts directly (the common cases of ``OrderBook.update_*_tick``);
        everything rare (crossing updates, deleting the best level, fills) goes through the
        book's and exchange's own methods after syncing the locals back.
        """
        i, n = self._i, self._n
        ts_l, kinds, sides, ticks, qtys = self._ts, self._kinds, self._sides, self._ticks, self._qty
        book, ex = self._books[0], self._ex
        trades = self._trades[0]
        bids, asks = book.bids, book.asks
        woke = False
        try:
            while True:
                q = ex.next_ts
                limit = until if until < q else q
                mb, ms = ex.max_buy_tick, ex.min_sell_tick
                bb, ba = book.best_bid_tick, book.best_ask_tick
                while i < n:
                    t_row = ts_l[i]
                    if t_row > limit:
                        break
                    k = kinds[i]
                    if k == DEPTH_EVENT or k == DEPTH_SNAPSHOT_EVENT:
                        t = ticks[i]
                        qty = qtys[i]
                        if sides[i] > 0:
                            if qty > 0:
                                bids[t] = qty
                                if t > bb:
                                    if t >= ba:
                                        book.update_bid_tick(t, qty)
                                        bb, ba = book.best_bid_tick, book.best_ask_tick
                                    else:
                                        bb = book.best_bid_tick = t
                            elif t == bb:
                                book.update_bid_tick(t, 0.0)
                                bb = book.best_bid_tick
                            else:
                                bids.pop(t, None)
                        else:
                            if qty > 0:
                                asks[t] = qty
                                if t < ba:
                                    if t <= bb:
                                        book.update_ask_tick(t, qty)
                                        bb, ba = book.best_bid_tick, book.best_ask_tick
                                    else:
                                        ba = book.best_ask_tick = t
                            elif t == ba:
                                book.update_ask_tick(t, 0.0)
                                ba = book.best_ask_tick
                            else:
                                asks.pop(t, None)
                        if ba <= mb or bb >= ms:
                            ex.on_depth(t_row)
                            mb, ms = ex.max_buy_tick, ex.min_sell_tick
                            nq = ex.next_ts
                            if nq < limit:
                                limit = nq
                    elif k == TRADE_EVENT:
                        if len(trades) < MAX_TRADES:
                            trades.append(TradeTick(t_row, self._exch_ts[i], sides[i], self._px[i], qtys[i]))
                        tk = ticks[i]
                        if tk < mb or tk > ms:
                            ex.on_trade(t_row, tk)
                            mb, ms = ex.max_buy_tick, ex.min_sell_tick
                            nq = ex.next_ts
                            if nq < limit:
                                limit = nq
                    elif k == DEPTH_CLEAR_EVENT:
                        book.clear(sides[i])
                        bb, ba = book.best_bid_tick, book.best_ask_tick
                    # DEPTH_BBO_EVENT rows duplicate what the depth stream says: skipped.
                    i += 1
                    if wake and (i >= n or ts_l[i] != t_row):
                        self.current_timestamp = t_row
                        woke = True
                        break
                if woke:
                    return True
                q = ex.next_ts
                if q <= until and (i >= n or q < ts_l[i]):
                    self.current_timestamp = q
                    if ex.process_until(q) and wake:
                        return True
                    continue
                if i >= n:
                    self.current_timestamp = max(self.current_timestamp, min(until, self._ts[-1]))
                    return False
                self.current_timestamp = until
                return True
        finally:
            self._i = i

    def sample_equity(self) -> None:
        """Append an equity-curve sample if ``record_interval_ns`` has passed; report progress."""
        if self.on_progress is not None and self._i >= self._next_progress:
            self._next_progress = self._i + max(self._n // 200, 1)
            self.on_progress(self._i, self._n)
        ts = self.current_timestamp
        if ts >= self._next_record:
            book = self._books[0]
            mid = book.mid
            if mid == mid:  # not NaN
                acc = self._accounts[0]
                self.records.append((ts, acc.equity(mid), acc.position, mid))
            self._next_record = ts + self.record_interval_ns

    # --- requests -----------------------------------------------------------------------------

    def _send_new(self, i: int, order: Order) -> None:
        self._ex.request(self.current_timestamp, "new", order.order_id, order.px, order.qty)

    def _send_cancel(self, i: int, order: Order) -> None:
        self._ex.request(self.current_timestamp, "cancel", order.order_id)

    def _send_modify(self, i: int, order: Order, px: float, qty: float) -> None:
        self._ex.request(self.current_timestamp, "modify", order.order_id, px, qty)


__all__ = ["BacktestBot", "load_events"]
