"""A price-level order book keyed by integer tick, shared by the connector (book sync) and bots.

Prices are stored as integer ticks (``round(px / tick_size)``) so that levels compare exactly:
float prices such as 0.1 * 3 do not. Each side is a plain dict tick -> qty with a cached best
tick. Updating the best level is O(1); deleting it walks down (bids) / up (asks) tick by tick for
a short distance, then falls back to a full ``max``/``min`` scan. On liquid books the next level
is almost always within a few ticks, so the hot path stays a handful of dict operations, the
same trade-off as hftbacktest's ``HashMapMarketDepth``.

Like hftbacktest, an update that crosses the book (a bid at or above the best ask, or the
reverse) removes the crossed levels of the other side: a bid at ``p`` proves there is no ask at
or below ``p`` any more, and a stale crossed level would otherwise poison the mid price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hftctl.errors import HftctlError

__all__ = ["OrderBook", "NO_BID", "NO_ASK", "tick_decimals"]

# Sentinels for an empty side: ints, so hot-path comparisons need no None checks.
NO_BID = -(1 << 62)
NO_ASK = 1 << 62

# How far to walk from a deleted best level before scanning the whole side.
_WALK_LIMIT = 32


def tick_decimals(step: float) -> int:
    """Decimal places of a price step (0.1 -> 1, 0.0001 -> 4, 5.0 -> 0)."""
    for d in range(16):
        if abs(round(step, d) - step) <= step * 1e-9:
            return d
    return 16


class OrderBook:
    """Bids and asks by integer tick, with cached best bid/ask ticks."""

    __slots__ = ("tick_size", "lot_size", "bids", "asks", "best_bid_tick", "best_ask_tick",
                 "_inv_tick", "_decimals")

    def __init__(self, tick_size: float, lot_size: float = 0.0) -> None:
        if not (tick_size > 0 and math.isfinite(tick_size)):
            raise HftctlError(f"tick_size must be a positive number, got {tick_size!r}")
        if not (lot_size >= 0 and math.isfinite(lot_size)):
            raise HftctlError(f"lot_size must be a non-negative number, got {lot_size!r}")
        self.tick_size = float(tick_size)
        self.lot_size = float(lot_size)
        self._inv_tick = 1.0 / self.tick_size
        self._decimals = tick_decimals(self.tick_size)
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}
        self.best_bid_tick = NO_BID
        self.best_ask_tick = NO_ASK

    # --- price <-> tick ---------------------------------------------------------------------

    def to_tick(self, px: float) -> int:
        return round(px * self._inv_tick)

    def to_price(self, tick: int) -> float:
        # Multiplying by tick_size gives 0.30000000000000004 for 3 * 0.1; rounding to the
        # tick's own decimals keeps prices sent to exchanges and printed clean.
        return round(tick * self.tick_size, self._decimals)

    # --- updates ----------------------------------------------------------------------------

    def clear(self, side: int = 0) -> None:
        """Drop the bids (side=+1), the asks (side=-1) or both (side=0)."""
        if side >= 0:
            self.bids.clear()
            self.best_bid_tick = NO_BID
        if side <= 0:
            self.asks.clear()
            self.best_ask_tick = NO_ASK

    def apply_snapshot(self, bids: Iterable[tuple[float, float]],
                       asks: Iterable[tuple[float, float]]) -> None:
        """Replace the whole book; zero-quantity levels in a snapshot are ignored."""
        inv = self._inv_tick
        self.bids = {round(px * inv): float(q) for px, q in bids if q > 0}
        self.asks = {round(px * inv): float(q) for px, q in asks if q > 0}
        self.best_bid_tick = max(self.bids) if self.bids else NO_BID
        self.best_ask_tick = min(self.asks) if self.asks else NO_ASK

    def apply_diff(self, bids: Iterable[tuple[float, float]],
                   asks: Iterable[tuple[float, float]]) -> None:
        """Apply changed levels; a quantity of 0 deletes the level."""
        inv = self._inv_tick
        for px, q in bids:
            self.update_bid_tick(round(px * inv), q)
        for px, q in asks:
            self.update_ask_tick(round(px * inv), q)

    def update_bid(self, px: float, qty: float) -> None:
        self.update_bid_tick(round(px * self._inv_tick), qty)

    def update_ask(self, px: float, qty: float) -> None:
        self.update_ask_tick(round(px * self._inv_tick), qty)

    def update_bid_tick(self, tick: int, qty: float) -> None:
        bids = self.bids
        if qty > 0:
            bids[tick] = qty
            if tick > self.best_bid_tick:
                self.best_bid_tick = tick
                if tick >= self.best_ask_tick:
                    self._drop_asks_upto(tick)
        elif bids.pop(tick, None) is not None and tick == self.best_bid_tick:
            self.best_bid_tick = self._next_bid(tick)

    def update_ask_tick(self, tick: int, qty: float) -> None:
        asks = self.asks
        if qty > 0:
            asks[tick] = qty
            if tick < self.best_ask_tick:
                self.best_ask_tick = tick
                if tick <= self.best_bid_tick:
                    self._drop_bids_from(tick)
        elif asks.pop(tick, None) is not None and tick == self.best_ask_tick:
            self.best_ask_tick = self._next_ask(tick)

    def _next_bid(self, below: int) -> int:
        bids = self.bids
        if not bids:
            return NO_BID
        for t in range(below - 1, below - 1 - _WALK_LIMIT, -1):
            if t in bids:
                return t
        return max(bids)

    def _next_ask(self, above: int) -> int:
        asks = self.asks
        if not asks:
            return NO_ASK
        for t in range(above + 1, above + 1 + _WALK_LIMIT):
            if t in asks:
                return t
        return min(asks)

    def _drop_asks_upto(self, tick: int) -> None:
        asks = self.asks
        if tick - self.best_ask_tick < len(asks):
            # Usually a bid a tick or two through a stale ask: walk the crossed ticks only.
            for t in range(self.best_ask_tick, tick + 1):
                asks.pop(t, None)
            self.best_ask_tick = self._next_ask(tick)
            return
        for t in [t for t in asks if t <= tick]:
            del asks[t]
        self.best_ask_tick = min(asks) if asks else NO_ASK

    def _drop_bids_from(self, tick: int) -> None:
        bids = self.bids
        if self.best_bid_tick - tick < len(bids):
            for t in range(tick, self.best_bid_tick + 1):
                bids.pop(t, None)
            self.best_bid_tick = self._next_bid(tick)
            return
        for t in [t for t in bids if t >= tick]:
            del bids[t]
        self.best_bid_tick = max(bids) if bids else NO_BID

    # --- queries ----------------------------------------------------------------------------

    @property
    def has_bid(self) -> bool:
        return self.best_bid_tick != NO_BID

    @property
    def has_ask(self) -> bool:
        return self.best_ask_tick != NO_ASK

    @property
    def ready(self) -> bool:
        """Both sides present: mid, spread and quotes make sense."""
        return self.best_bid_tick != NO_BID and self.best_ask_tick != NO_ASK

    @property
    def best_bid(self) -> float:
        """Best bid price, NaN when there are no bids."""
        t = self.best_bid_tick
        return math.nan if t == NO_BID else self.to_price(t)

    @property
    def best_ask(self) -> float:
        """Best ask price, NaN when there are no asks."""
        t = self.best_ask_tick
        return math.nan if t == NO_ASK else self.to_price(t)

    @property
    def best_bid_qty(self) -> float:
        return self.bids.get(self.best_bid_tick, 0.0)

    @property
    def best_ask_qty(self) -> float:
        return self.asks.get(self.best_ask_tick, 0.0)

    @property
    def mid(self) -> float:
        """Mid price, NaN unless both sides are present."""
        if self.best_bid_tick == NO_BID or self.best_ask_tick == NO_ASK:
            return math.nan
        return (self.best_bid_tick + self.best_ask_tick) * 0.5 * self.tick_size

    @property
    def spread_ticks(self) -> int:
        if not self.ready:
            raise HftctlError("book has no two-sided quote yet")
        return self.best_ask_tick - self.best_bid_tick

    def bid_qty_at_tick(self, tick: int) -> float:
        return self.bids.get(tick, 0.0)

    def ask_qty_at_tick(self, tick: int) -> float:
        return self.asks.get(tick, 0.0)

    def bid_qty(self, px: float) -> float:
        return self.bids.get(round(px * self._inv_tick), 0.0)

    def ask_qty(self, px: float) -> float:
        return self.asks.get(round(px * self._inv_tick), 0.0)

    def bid_levels(self, n: int | None = None) -> list[tuple[float, float]]:
        """Best ``n`` bid levels (all when None) as (px, qty), best first."""
        ticks = sorted(self.bids, reverse=True)
        if n is not None:
            ticks = ticks[:n]
        return [(self.to_price(t), self.bids[t]) for t in ticks]

    def ask_levels(self, n: int | None = None) -> list[tuple[float, float]]:
        """Best ``n`` ask levels (all when None) as (px, qty), best first."""
        ticks = sorted(self.asks)
        if n is not None:
            ticks = ticks[:n]
        return [(self.to_price(t), self.asks[t]) for t in ticks]

    def levels_in_range(self, side: int, lo_px: float, hi_px: float) -> list[tuple[float, float]]:
        """Levels of one side (+1 bids, -1 asks) with lo_px <= px <= hi_px, best first."""
        lo, hi = math.ceil(lo_px * self._inv_tick - 1e-9), math.floor(hi_px * self._inv_tick + 1e-9)
        levels = self.bids if side > 0 else self.asks
        ticks = sorted((t for t in levels if lo <= t <= hi), reverse=side > 0)
        return [(self.to_price(t), levels[t]) for t in ticks]

    def qty_in_band(self, side: int, lo_px: float, hi_px: float) -> float:
        """Total quantity of one side (+1 bids, -1 asks) priced within [lo_px, hi_px]."""
        lo = math.ceil(lo_px * self._inv_tick - 1e-9)
        hi = math.floor(hi_px * self._inv_tick + 1e-9)
        return self.qty_between_ticks(side, lo, hi)

    def qty_between_ticks(self, side: int, lo: int, hi: int) -> float:
        """Total quantity of one side with lo <= tick <= hi.

        Walks the band tick by tick when it is narrower than the side (the usual case for
        imbalance signals looking a few basis points deep), else scans the side.
        """
        levels = self.bids if side > 0 else self.asks
        if not levels:
            return 0.0
        if side > 0:
            hi = min(hi, self.best_bid_tick)
        else:
            lo = max(lo, self.best_ask_tick)
        if hi < lo:
            return 0.0
        if hi - lo + 1 <= len(levels):
            get = levels.get
            return sum(get(t, 0.0) for t in range(lo, hi + 1))
        return sum(q for t, q in levels.items() if lo <= t <= hi)

    def __repr__(self) -> str:
        return (f"OrderBook(tick={self.tick_size}, bid={self.best_bid}x{self.best_bid_qty}, "
                f"ask={self.best_ask}x{self.best_ask_qty}, levels={len(self.bids)}/{len(self.asks)})")
