"""Mark price, funding and liquidations for perpetuals where the market source has none.

A synthetic market has neither, and a recording made without ``collect --streams`` lacks them;
the exchanges' mark-price, ticker and liquidation streams still need something to carry. This
feed makes it up, seeded so runs repeat: every ``mark_interval_ms`` a mark price and an index at
the book's mid with a constant funding rate (0.01 % per 8 h, the base rate both Binance and Bybit
charge when mark and index agree), and liquidations at ``liquidations_per_min`` (Poisson), each
selling a long into the best bid or buying a short back at the best ask, a few lots at a time.
Symbols whose recording carries the real thing are left alone.
"""

from __future__ import annotations

import asyncio
import random

from hftctl.sim.engine import SimEngine
from hftctl.sim.market import SyntheticParams, poisson

FUNDING_RATE = 0.0001
FUNDING_INTERVAL_MS = 8 * 3600 * 1000


def next_funding_ms(now_ms: int) -> int:
    """The next funding time: 00:00, 08:00 and 16:00 UTC."""
    return (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


class DerivativesFeed:
    def __init__(self, engine: SimEngine, mark_symbols: list[str], liquidation_symbols: list[str], seed: int,
                 params: SyntheticParams) -> None:
        self.engine = engine
        self.mark_symbols = mark_symbols
        self.liquidation_symbols = liquidation_symbols
        self.params = params
        self.rng = random.Random(seed + 1)      # not the book's stream of numbers

    async def run(self) -> None:
        dt = self.params.mark_interval_ms / 1000
        while True:
            await asyncio.sleep(dt)
            self.step(dt)

    def step(self, dt: float) -> None:
        engine = self.engine
        for symbol in self.mark_symbols:
            book = engine.books[symbol]
            if book.best_bid is None or book.best_ask is None:
                continue
            spec = engine.specs[symbol]
            mid = (book.best_bid + book.best_ask) / 2 * spec.tick
            engine.market_mark_price(symbol, mid, mid, FUNDING_RATE, next_funding_ms(engine.now_ms()))
        for symbol in self.liquidation_symbols:
            for _ in range(poisson(self.rng, self.params.liquidations_per_min / 60 * dt)):
                book = engine.books[symbol]
                long = self.rng.random() < 0.5
                level = book.best_bid if long else book.best_ask
                if level is None:
                    continue
                spec = engine.specs[symbol]
                lots = 1 + int(self.rng.expovariate(1 / 3))
                engine.market_liquidation(symbol, long, spec.price_str(level), spec.qty_str(lots))
