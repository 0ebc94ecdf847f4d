"""Market sources that drive the engine: a recording replay or a seeded synthetic market."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass

import orjson

from hftctl.errors import HftctlError
from hftctl.sim.adapter import DepthMsg, LiquidationMsg, MarkMsg, ReplayFormat, TickerMsg, TradeMsg
from hftctl.sim.engine import SimEngine
from hftctl.sim.recording import RecordingInfo, iter_lines, loads

log = logging.getLogger(__name__)


@dataclass
class SyntheticParams:
    interval_ms: float = 100.0      # one book update per symbol this often
    move_prob: float = 0.3          # chance per update that the mid moves one tick
    spread_ticks: int = 1
    levels: int = 50                # per side
    trades_per_s: float = 4.0
    mean_level_qty: float = 0.5     # in base units, scaled by level distance
    mean_trade_qty: float = 0.05
    # perpetuals' extras where the source has none (hftctl.sim.derivatives)
    mark_interval_ms: float = 1000.0
    liquidations_per_min: float = 6.0


class SyntheticMarket:
    """A random walk of the best bid with a dense book around it and trades at the touch.

    Seeded so that a test or demo sees the same market every run."""

    def __init__(self, engine: SimEngine, symbols: list[str], seed: int, params: SyntheticParams) -> None:
        self.engine = engine
        self.symbols = symbols
        self.params = params
        self.rng = random.Random(seed)
        self._src_id: dict[str, int] = {}
        self.running = True

    def _qty(self, spec, distance: int) -> int:
        mean = self.params.mean_level_qty * (1 + distance / 10)
        lots = round(self.rng.expovariate(1 / mean) / spec.step)
        return max(1, lots)

    def seed_books(self) -> None:
        p = self.params
        for s in self.symbols:
            spec = self.engine.specs[s]
            book = self.engine.books[s]
            bb = round(spec.start_price / spec.tick)
            bids = {bb - i: self._qty(spec, i) for i in range(p.levels)}
            asks = {bb + p.spread_ticks + i: self._qty(spec, i) for i in range(p.levels)}
            book.replace(bids, asks)
            start = 1_000_000 + self.rng.randrange(1_000_000)
            self._src_id[s] = start
            self.engine.seq[s].last_u = start
            book.last_update_id = start

    async def run(self) -> None:
        p = self.params
        dt = p.interval_ms / 1000
        next_t = time.monotonic()
        while self.running:
            for s in self.symbols:
                self._step(s, dt)
            next_t += dt
            delay = next_t - time.monotonic()
            if delay < -1:
                next_t = time.monotonic()      # fell far behind (suspended?): don't burst
            await asyncio.sleep(max(0.0, delay))

    def _step(self, symbol: str, dt: float) -> None:
        p, rng, engine = self.params, self.rng, self.engine
        spec = engine.specs[symbol]
        book = engine.books[symbol]
        bids, asks = book.bids, book.asks
        bb, ba = book.best_bid, book.best_ask
        if bb is None or ba is None:
            return
        changes_b: dict[int, int] = {}
        changes_a: dict[int, int] = {}
        # trades at the touch, consuming the level they hit
        n_trades = poisson(rng, p.trades_per_s * dt)
        for _ in range(n_trades):
            buyer_taker = rng.random() < 0.5
            level = ba if buyer_taker else bb
            side_levels = asks if buyer_taker else bids
            avail = side_levels.get(level, 0)
            lots = min(avail, max(1, round(rng.expovariate(1 / p.mean_trade_qty) / spec.step)))
            if lots <= 0:
                continue
            engine.market_trade(symbol, spec.price_str(level), spec.qty_str(lots), not buyer_taker)
            left = avail - lots
            (changes_a if buyer_taker else changes_b)[level] = left if left > 0 else self._qty(spec, 0)
        # random walk of the touch
        move = 0
        if rng.random() < p.move_prob:
            move = 1 if rng.random() < 0.5 else -1
        new_bb = bb + move
        new_ba = new_bb + p.spread_ticks
        if move:
            if move > 0:
                changes_a[ba] = 0 if new_ba > ba else changes_a.get(ba, asks.get(ba, 0))
                changes_b[new_bb] = self._qty(spec, 0)
                changes_a[new_ba + p.levels - 1] = self._qty(spec, p.levels)
                changes_b[new_bb - p.levels] = 0
            else:
                changes_b[bb] = 0
                changes_a[new_ba] = self._qty(spec, 0)
                changes_b[new_bb - p.levels + 1] = self._qty(spec, p.levels)
                changes_a[new_ba + p.levels] = 0
        # a few size changes inside the book
        for _ in range(3):
            i = rng.randrange(p.levels)
            changes_b.setdefault(new_bb - i, self._qty(spec, i))
            changes_a.setdefault(new_ba + i, self._qty(spec, i))
        # keep every level on its own side of the touch
        changes_b = {t: (n if t <= new_bb else 0) for t, n in changes_b.items() if t in bids or t <= new_bb}
        changes_a = {t: (n if t >= new_ba else 0) for t, n in changes_a.items() if t in asks or t >= new_ba}
        for t in [t for t in bids if t > new_bb]:
            changes_b[t] = 0
        for t in [t for t in asks if t < new_ba]:
            changes_a[t] = 0
        changes_b = {t: n for t, n in changes_b.items() if bids.get(t, 0) != n}
        changes_a = {t: n for t, n in changes_a.items() if asks.get(t, 0) != n}
        if not changes_b and not changes_a:
            return
        first = self._src_id[symbol] + 1
        last = first + rng.randrange(len(changes_b) + len(changes_a) + 1)
        self._src_id[symbol] = last
        wire_b = [[spec.price_str(t), spec.qty_str(n)] for t, n in sorted(changes_b.items(), reverse=True)]
        wire_a = [[spec.price_str(t), spec.qty_str(n)] for t, n in sorted(changes_a.items())]
        top_before = (book.best_bid, book.best_ask, bids.get(bb), asks.get(ba))
        engine.market_depth(symbol, wire_b, wire_a, first, last, trans_lag_ms=1)
        nb, na = book.best_bid, book.best_ask
        if nb is not None and na is not None and (nb, na, bids.get(nb), asks.get(na)) != top_before:
            engine.market_book_ticker(symbol, spec.price_str(nb), spec.qty_str(bids[nb]),
                                      spec.price_str(na), spec.qty_str(asks[na]), last)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


@dataclass
class ReplayStats:
    symbol: str
    lines_emitted: int = 0
    loops: int = 0
    recorded_elapsed_s: float = 0.0
    wall_elapsed_s: float = 0.0
    max_lag_ms: float = 0.0
    finished: bool = False
    skipped: int = 0              # malformed lines / messages left out

    @property
    def achieved_speed(self) -> float:
        return self.recorded_elapsed_s / self.wall_elapsed_s if self.wall_elapsed_s > 0 else 0.0


class ReplayMarket:
    """Re-emits a recording's messages at `speed` x real time with fresh timestamps.

    The book starts from the recording's REST snapshot (plus the diffs buffered before it, as a
    client would) so the sim's REST snapshot and diff stream agree; when looping, one synthetic
    diff turns the final book back into the starting book and ids keep increasing."""

    def __init__(self, engine: SimEngine, fmt: ReplayFormat, info: RecordingInfo, speed: float,
                 loop: bool) -> None:
        if speed <= 0:
            raise HftctlError(f"--speed must be > 0, got {speed}")
        self.engine = engine
        self.fmt = fmt
        self.path = info.path
        self.info = info
        self.symbol = self.info.symbol
        if self.symbol not in engine.specs:
            raise HftctlError(f"replay file {self.path}: symbol {self.symbol} is not listed by this exchange "
                              f"(known: {', '.join(sorted(engine.specs))})")
        self.speed = speed
        self.loop = loop
        self.stats = ReplayStats(self.symbol)
        self._start_book: tuple[dict, dict] | None = None
        self._first_u: int | None = None      # first depth id and trade id after the snapshot:
        self._first_t: int | None = None      # where a loop's ids restart from

    async def run(self) -> None:
        try:
            await self._run()
        except HftctlError as exc:
            log.error("replay stopped: %s", exc)
            self.stats.finished = True

    async def _run(self) -> None:
        engine, symbol = self.engine, self.symbol
        book = engine.books[symbol]
        seq = engine.seq[symbol]
        body_start = 0
        snap_i = self.info.snapshot_line
        if snap_i is not None:
            pending: list[DepthMsg] = []
            for i, (_ts, raw) in enumerate(iter_lines(self.path)):
                if i == snap_i:
                    snap = self._read(lambda: self.fmt.snapshot(loads(self.path, raw)), "snapshot")
                    book.replace({}, {})
                    book.apply_wire(snap.bids, snap.asks)
                    last = snap.last_id
                    for d in pending:
                        if d.last_id > last:
                            book.apply_wire(d.bids, d.asks)
                            last = d.last_id
                    seq.last_u = last
                    book.last_update_id = last
                    break
                msg = self._read(lambda: self.fmt.message(loads(self.path, raw)), "message")
                if type(msg) is DepthMsg:
                    pending.append(msg)
            body_start = snap_i + 1
        self._start_book = (dict(book.bids), dict(book.asks))
        first_body_ids: tuple[int, int] | None = None
        wall0 = time.monotonic()
        while True:
            ts0 = None
            for i, (ts, raw) in enumerate(iter_lines(self.path)):
                if i < body_start:
                    continue
                if ts0 is None:
                    ts0 = ts
                    loop_wall0 = time.monotonic()
                target = loop_wall0 + (ts - ts0) / 1e9 / self.speed
                now = time.monotonic()
                if target > now + 0.001:
                    await asyncio.sleep(target - now)
                else:
                    lag = (now - target) * 1000
                    if lag > self.stats.max_lag_ms:
                        self.stats.max_lag_ms = lag
                    if self.stats.lines_emitted % 200 == 0:
                        await asyncio.sleep(0)      # behind schedule: still serve clients
                ids = self._emit(raw)
                if ids is not None and (first_body_ids is None or not first_body_ids[1]):
                    first_body_ids = ids
                self.stats.lines_emitted += 1
                self.stats.wall_elapsed_s = time.monotonic() - wall0
                self.stats.recorded_elapsed_s = self.stats.loops * self._span() + (ts - ts0) / 1e9
            if not self.loop:
                self.stats.finished = True
                log.info("replay of %s finished (%d messages)", self.path, self.stats.lines_emitted)
                return
            self.stats.loops += 1
            # turn the final book back into the starting book with one ordinary diff
            bids, asks = book.diff_to(*self._start_book)
            nxt = seq.last_u + 1 - seq.offset
            engine.market_depth(symbol, bids, asks, nxt, nxt)
            if first_body_ids is not None:
                engine.rebase(symbol, first_body_ids[0], first_body_ids[1] or None)

    def _span(self) -> float:
        return (self.info.last_ts - self.info.first_ts) / 1e9

    def _read(self, parse, what: str):
        try:
            return parse()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise HftctlError(f"replay file {self.path}: malformed {what} ({exc})") from None

    def _emit(self, raw: bytes) -> tuple[int, int] | None:
        """Dispatch one recorded line; returns (first depth id, trade id) hints for looping."""
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.stats.skipped += 1
            log.warning("skipping malformed line in %s: %s", self.path, exc)
            return None
        engine, symbol = self.engine, self.symbol
        try:
            msg = self.fmt.message(obj)
            t = type(msg)
            if t is DepthMsg:
                engine.market_depth(symbol, msg.bids, msg.asks, msg.first_id, msg.last_id, msg.lag_ms)
                if self._first_u is None:
                    self._first_u = msg.first_id
            elif t is TradeMsg:
                engine.market_trade(symbol, msg.price, msg.qty, msg.buyer_is_maker, msg.trade_id, msg.lag_ms)
                if self._first_t is None and msg.trade_id is not None:
                    self._first_t = msg.trade_id
            elif t is TickerMsg:
                engine.market_book_ticker(symbol, msg.bid, msg.bid_qty, msg.ask, msg.ask_qty, msg.update_id,
                                          msg.lag_ms)
            elif t is MarkMsg:
                engine.market_mark_price(symbol, msg.mark, msg.index, msg.funding_rate, msg.next_funding_ms)
            elif t is LiquidationMsg:
                engine.market_liquidation(symbol, msg.long, msg.price, msg.qty, msg.lag_ms)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.stats.skipped += 1
            log.warning("skipping malformed message in %s: %s", self.path, exc)
            return None
        if self._first_u is not None:
            return self._first_u, self._first_t if self._first_t is not None else 0
        return None
