"""The grid market maker of the testnet guide (hftbacktest's gridtrading example).

Each step: quote ``grid_num`` prices per side, the nearest ``half_spread`` (a fraction of mid)
away from the mid, then every ``grid_interval`` (a fraction of mid, at least one tick); never
inside the current best bid/ask. A side gets only as many quotes as can fill without |position|
exceeding ``max_position`` (none once the limit is reached). Quotes that leave the grid are
cancelled. ``skew`` (optional, default 0) shifts both sides against the position.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hftctl.bot.api import Bot
from hftctl.bot.types import BUY, SELL
from hftctl.strategies import base
from hftctl.strategies.config import build, read_toml, require_non_negative, require_positive


@dataclass
class GridConfig:
    connector: str = "bf"
    symbol: str = "btcusdt"
    tick_size: float = 0.1
    lot_size: float = 0.001
    half_spread: float = 0.0005
    grid_interval: float = 0.0002
    grid_num: int = 5
    order_qty: float = 0.001
    max_position: float = 0.01
    skew: float = 0.0
    interval_ms: int = 100
    status_every: int = 10

    def __post_init__(self) -> None:
        require_positive("mm config", tick_size=self.tick_size, lot_size=self.lot_size,
                         order_qty=self.order_qty, max_position=self.max_position,
                         grid_num=self.grid_num, interval_ms=self.interval_ms,
                         status_every=self.status_every)
        require_non_negative("mm config", half_spread=self.half_spread,
                             grid_interval=self.grid_interval, skew=self.skew)


def load_grid_config(path: str | Path | None, overrides: dict[str, Any]) -> GridConfig:
    """File values (flat keys, or a [mm] table) overlaid with the CLI flags that were given."""
    values: dict[str, Any] = {}
    where = "mm config"
    if path is not None:
        raw = read_toml(path)
        values = dict(raw.get("mm", raw))
        values.pop("backtest", None)          # simulated execution: hftctl/bot/settings.py
        where = str(path)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return build(GridConfig, values, where, partial=True)


class GridMarketMaker:
    """Plain strategy over the bot API; the same object runs live, dry-run and backtest."""

    def __init__(self, bot: Bot, cfg: GridConfig, out: base.Printer = print, i: int = 0) -> None:
        self.bot, self.cfg, self.out, self.i = bot, cfg, out, i
        self.iteration = 0
        self.decimals = base.price_decimals(bot.depth(i).tick_size)
        self.guard = base.RejectionGuard(out)
        self._decided: tuple | None = None    # inputs of the last reconcile, see step()

    def banner(self) -> str:
        c = self.cfg
        rule = "=" * 38
        return "\n".join([
            rule, " Simple Market Making Strategy", rule,
            f"Connector: {c.connector}", f"Symbol: {c.symbol}",
            f"Half Spread: {c.half_spread * 100:.2f}%", f"Grid Num: {c.grid_num}",
            f"Order Qty: {c.order_qty}", f"Max Position: {c.max_position}", rule, "",
            "Strategy started. Waiting for market data...",
        ])

    def step(self) -> None:
        """One decision. When no order response arrived since the last one (``order_seq``)
        and the grid came out the same, the orders already are what reconciling would make
        them, so the step stops there: most steps of a backtest, since the grid moves only when
        the mid crosses a grid step."""
        bot, c, i = self.bot, self.cfg, self.i
        seq = bot.order_seq(i)
        decided = self._decided
        if seq is None or decided is None or seq != decided[0]:
            paused = self.guard.check(bot, i)
            bot.clear_inactive_orders(i)
        else:
            paused = self.guard.paused(bot.current_timestamp)
        book = bot.depth(i)
        if not book.ready:
            return
        self.iteration += 1
        tick = book.tick_size
        best_bid, best_ask = book.best_bid, book.best_ask
        mid = book.mid
        pos = bot.position(i)
        norm = pos / c.order_qty
        bid_px = min(mid * (1.0 - (c.half_spread + c.skew * norm)), best_bid)
        ask_px = max(mid * (1.0 + (c.half_spread - c.skew * norm)), best_ask)
        step = max(round(c.grid_interval * mid / tick) * tick, tick)
        bid_px = math.floor(bid_px / step + 1e-9) * step
        ask_px = math.ceil(ask_px / step - 1e-9) * step

        n_bids = min(c.grid_num, base.max_quotes(pos, c.max_position, c.order_qty, BUY))
        n_asks = min(c.grid_num, base.max_quotes(pos, c.max_position, c.order_qty, SELL))
        key = (seq, bid_px, ask_px, step, n_bids, n_asks, pos, paused)
        if seq is None or key != decided:
            self._decided = key
            if not paused:
                base.reconcile_grid(bot, i, base.grid(book, bid_px, step, n_bids, BUY),
                                    base.grid(book, ask_px, step, n_asks, SELL),
                                    c.order_qty, pos, c.max_position)

        if self.iteration % c.status_every == 0:
            self.out(base.status_line(self.iteration, mid, best_bid, best_ask, pos, self.decimals))

    def run(self, stop: threading.Event | None = None, max_iterations: int | None = None) -> None:
        base.run_loop(self.bot, self.step, self.cfg.interval_ms * 1_000_000, stop, max_iterations)

    def shutdown(self) -> int:
        return base.shutdown(self.bot)
