"""The bot API on hftbacktest's own engine (optional ``bench`` extra), to cross-check our backtest.

The same strategy objects run unchanged on ``hftbacktest.HashMapMarketDepthBacktest`` configured
as close to ``ExecutionModel`` as hftbacktest allows: constant order latency, no partial fills,
trading-value fees. hftbacktest's risk-averse queue model (fills once the quantity ahead at our
price has traded) is the closest to our queue-free "trade through" rule; docs/bots.md explains
the remaining differences and the tolerance the comparison test uses.

Calls go through numba's Python boxing, so this is slow per step; it is for validation, not speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hftctl.book import tick_decimals
from hftctl.bot.matching import ExecutionModel
from hftctl.bot.types import BUY, FOK, GTC, GTX, IOC, LIMIT, MARKET, Instrument
from hftctl.errors import HftctlError

_STATUS = {0: "none", 1: "new", 2: "expired", 3: "filled", 4: "canceled", 5: "partially_filled",
           6: "rejected"}
_TIF = {GTC: 0, GTX: 1, FOK: 2, IOC: 3}
_TYPE = {LIMIT: 0, MARKET: 1}
_FINAL = {"expired", "filled", "canceled", "rejected"}


@dataclass(slots=True)
class HbtOrder:
    order_id: int
    side: int
    px: float
    qty: float
    leaves_qty: float
    status: str
    req: str | None
    exch_ts: int
    cancellable: bool
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.status not in _FINAL


class HbtDepth:
    """The OrderBook queries strategies use, answered from hftbacktest's depth."""

    def __init__(self, hbt, tick_size: float) -> None:
        self._hbt = hbt
        self.tick_size = tick_size
        self._inv = 1.0 / tick_size
        self._decimals = tick_decimals(tick_size)

    @property
    def _d(self):
        return self._hbt.depth(0)

    @property
    def best_bid_tick(self) -> int:
        return self._d.best_bid_tick

    @property
    def best_ask_tick(self) -> int:
        return self._d.best_ask_tick

    @property
    def best_bid(self) -> float:
        return self.to_price(self._d.best_bid_tick) if self.ready else math.nan

    @property
    def best_ask(self) -> float:
        return self.to_price(self._d.best_ask_tick) if self.ready else math.nan

    @property
    def ready(self) -> bool:
        d = self._d
        return math.isfinite(d.best_bid) and math.isfinite(d.best_ask) and d.best_bid > 0 and d.best_ask > 0

    @property
    def mid(self) -> float:
        d = self._d
        return (d.best_bid_tick + d.best_ask_tick) * 0.5 * self.tick_size

    def to_tick(self, px: float) -> int:
        return round(px * self._inv)

    def to_price(self, tick: int) -> float:
        return round(tick * self.tick_size, self._decimals)

    def qty_between_ticks(self, side: int, lo: int, hi: int) -> float:
        d = self._d
        if side > 0:
            hi = min(hi, d.best_bid_tick)
            return sum(d.bid_qty_at_tick(t) for t in range(lo, hi + 1))
        lo = max(lo, d.best_ask_tick)
        return sum(d.ask_qty_at_tick(t) for t in range(lo, hi + 1))


class HbtBot:
    """Duck-typed Bot over hftbacktest (the subset of the API the strategies use)."""

    def __init__(self, data: str | Path, instrument: Instrument, model: ExecutionModel, *,
                 duration_ns: int | None = None) -> None:
        try:
            from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest
        except ImportError:
            raise HftctlError("hftbacktest is not installed: pip install 'hftctl[bench]'") from None
        asset = (BacktestAsset().data([str(data)]).linear_asset(1.0)
                 .constant_order_latency(model.entry_latency_ns, model.response_latency_ns)
                 .risk_adverse_queue_model().no_partial_fill_exchange()
                 .trading_value_fee_model(model.maker_fee, model.taker_fee)
                 .tick_size(instrument.tick_size).lot_size(instrument.lot_size))
        self.hbt = HashMapMarketDepthBacktest([asset])
        self.instruments = [instrument]
        self._depth = HbtDepth(self.hbt, instrument.tick_size)
        self._duration_ns = duration_ns
        self._start: int | None = None

    @property
    def current_timestamp(self) -> int:
        return self.hbt.current_timestamp

    def depth(self, i: int = 0) -> HbtDepth:
        return self._depth

    def position(self, i: int = 0) -> float:
        return self.hbt.position(0)

    def orders(self, i: int = 0) -> dict[int, HbtOrder]:
        out: dict[int, HbtOrder] = {}
        values = self.hbt.orders(0).values()
        while values.has_next():
            o = values.get()
            out[o.order_id] = HbtOrder(o.order_id, o.side, o.price, o.qty, o.leaves_qty,
                                       _STATUS.get(o.status, "none"), None if o.req == 0 else "pending",
                                       o.exch_timestamp, o.cancellable)
        return out

    def submit_order(self, i: int, side: int, order_id: int, px: float, qty: float,
                     time_in_force: str = GTX, order_type: str = LIMIT, wait: bool = False) -> None:
        submit = self.hbt.submit_buy_order if side == BUY else self.hbt.submit_sell_order
        submit(0, order_id, px, qty, _TIF[time_in_force], _TYPE[order_type], wait)

    def cancel(self, i: int, order_id: int, wait: bool = False) -> bool:
        return self.hbt.cancel(0, order_id, wait) == 0

    def clear_inactive_orders(self, i: int | None = None) -> None:
        self.hbt.clear_inactive_orders(0)

    def elapse(self, duration_ns: int) -> bool:
        if self.hbt.elapse(duration_ns) != 0:
            return False
        if self._start is None:
            self._start = self.current_timestamp - duration_ns
        return self._duration_ns is None or self.current_timestamp - self._start <= self._duration_ns

    def state(self) -> dict[str, float]:
        sv = self.hbt.state_values(0)
        return {"position": sv.position, "balance": sv.balance, "fee": sv.fee,
                "trades": sv.num_trades, "volume": sv.trading_volume, "value": sv.trading_value}

    def close(self) -> None:
        self.hbt.close()
