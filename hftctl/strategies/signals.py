"""Signals of the market makers, as small pure pieces that can be checked by hand.

Formulas follow hftbacktest's "Market Making with Alpha - Order Book Imbalance" tutorial and the
obi_mm strategy the testnet guide ships:

- imbalance = (bid qty within looking_depth below mid) - (ask qty within looking_depth above mid)
- alpha = z-score of the imbalance over the last ``window`` samples (population std; 0 while
  the std is ~0, e.g. with a single sample)
- volatility = population std of the last ``volatility_window`` per-interval mid changes
- fair = mid + c1 * alpha * mid; reservation = fair - skew * (position / order_qty) * mid
- half spread = half_spread * (volatility / volatility_mean) ** power, as a fraction of mid
- stop loss: (volatility - vol_mean) / vol_std > vol_threshold or
  |change - change_mean| / change_std > change_threshold
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from hftctl.book import OrderBook

__all__ = ["order_book_imbalance", "RollingZScore", "RollingStd", "StopLoss", "reservation_price",
           "obi_quote_prices", "volatility_ratio"]


def order_book_imbalance(book: OrderBook, looking_depth: float) -> float:
    """Bid minus ask quantity within ``looking_depth`` (a fraction of mid) of the mid price.

    Bands as in the tutorial: asks from the best ask up to, not including,
    floor(mid * (1 + depth) / tick); bids from the best bid down to, not including,
    ceil(mid * (1 - depth) / tick). NaN when the book is one-sided.
    """
    if not book.ready:
        return math.nan
    mid = book.mid
    tick = book.tick_size
    ask_upto = math.floor(mid * (1.0 + looking_depth) / tick)
    bid_upto = math.ceil(mid * (1.0 - looking_depth) / tick)
    ask_qty = book.qty_between_ticks(-1, book.best_ask_tick, ask_upto - 1)
    bid_qty = book.qty_between_ticks(1, bid_upto + 1, book.best_bid_tick)
    return bid_qty - ask_qty


class RollingStd:
    """Mean and population std of the last ``window`` values in O(1) per update.

    Running sums drift with float error over millions of updates, so they are recomputed from
    the window every ``window`` updates.
    """

    __slots__ = ("window", "_values", "_sum", "_sumsq", "_since_refresh")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        self._values: deque[float] = deque()
        self._sum = 0.0
        self._sumsq = 0.0
        self._since_refresh = 0

    def update(self, x: float) -> None:
        v = self._values
        v.append(x)
        self._sum += x
        self._sumsq += x * x
        if len(v) > self.window:
            old = v.popleft()
            self._sum -= old
            self._sumsq -= old * old
        self._since_refresh += 1
        if self._since_refresh >= self.window:
            self._sum = math.fsum(v)
            self._sumsq = math.fsum(y * y for y in v)
            self._since_refresh = 0

    @property
    def count(self) -> int:
        return len(self._values)

    @property
    def mean(self) -> float:
        n = len(self._values)
        return self._sum / n if n else math.nan

    @property
    def std(self) -> float:
        n = len(self._values)
        if n == 0:
            return math.nan
        m = self._sum / n
        var = self._sumsq / n - m * m
        return math.sqrt(var) if var > 0 else 0.0


class RollingZScore:
    """z-score of each new value against the window that includes it (the tutorial's order)."""

    __slots__ = ("stats", "min_std")

    def __init__(self, window: int, min_std: float = 1e-10) -> None:
        self.stats = RollingStd(window)
        self.min_std = min_std

    def update(self, x: float) -> float:
        self.stats.update(x)
        s = self.stats.std
        if not s > self.min_std:
            return 0.0
        return (x - self.stats.mean) / s


@dataclass(frozen=True)
class StopLoss:
    """Flatten when volatility or the last price change is extreme against historical stats."""

    volatility_mean: float
    volatility_std: float
    change_mean: float
    change_std: float
    volatility_threshold: float
    change_threshold: float

    def volatility_z(self, volatility: float) -> float:
        return (volatility - self.volatility_mean) / self.volatility_std if self.volatility_std > 0 else 0.0

    def change_z(self, change: float) -> float:
        return abs(change - self.change_mean) / self.change_std if self.change_std > 0 else 0.0

    def triggered(self, volatility: float, change: float) -> bool:
        return (self.volatility_z(volatility) > self.volatility_threshold
                or self.change_z(change) > self.change_threshold)


def volatility_ratio(volatility: float, volatility_mean: float, power: float) -> float:
    """How much wider than normal the spread should be: (vol / vol_mean) ** power."""
    if volatility_mean <= 0:
        return 1.0
    return (volatility / volatility_mean) ** power


def reservation_price(fair: float, position: float, order_qty: float, skew: float, mid: float) -> float:
    """Shift the quote centre against the position: long -> lower, short -> higher."""
    return fair - skew * (position / order_qty) * mid


def obi_quote_prices(*, mid: float, best_bid: float, best_ask: float, alpha: float, c1: float,
                     half_spread: float, vol_ratio: float, skew: float, position: float,
                     order_qty: float, tick_size: float) -> tuple[float, float]:
    """Best bid and ask quote of the OBI market maker, on the tick grid and never crossing."""
    fair = mid + c1 * alpha * mid
    r = reservation_price(fair, position, order_qty, skew, mid)
    hs = half_spread * vol_ratio * mid
    bid = min(r - hs, best_bid)
    ask = max(r + hs, best_ask)
    # 1e-9 absorbs float error so an exact tick multiple is not pushed one tick away.
    bid = math.floor(bid / tick_size + 1e-9) * tick_size
    ask = math.ceil(ask / tick_size - 1e-9) * tick_size
    return bid, ask
