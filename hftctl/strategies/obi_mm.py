"""The order-book-imbalance market maker (hftbacktest's OBI tutorial, as the testnet guide runs it).

Every ``update_interval_ns`` of exchange time (checked each second):
1. every ``volatility_interval_ns``: record the mid change since the last interval, update the
   rolling volatility (``volatility_window`` changes; ``volatility_mean`` until that many) and
   re-evaluate the stop loss on (volatility, change);
2. alpha = z-score of the order book imbalance within ``looking_depth`` over ``window`` samples;
3. quotes from signals.obi_quote_prices (fair = mid + c1*alpha*mid, skewed by position, half
   spread widened by volatility), a grid of ``grid_num`` prices ``grid_interval`` apart;
4. quotes not in the new grid are cancelled once older than ``live_seconds``; new grid prices
   are submitted post-only while position plus 0.3 per working quote stays inside
   ``max_position`` (the tutorial's rule), and never more than can fill within max_position;
5. while the stop loss is on: cancel everything and flatten with a market order.

Config file: the guide's ``[global]``, ``[params]``, ``[stop_loss]`` tables (configs/obi_mm.toml).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hftctl.bot.api import Bot
from hftctl.bot.types import BUY, IOC, MARKET, SELL
from hftctl.errors import HftctlError
from hftctl.strategies import base
from hftctl.strategies.config import build, read_toml, require_non_negative, require_positive
from hftctl.strategies.signals import (RollingStd, RollingZScore, StopLoss, obi_quote_prices,
                                       order_book_imbalance, volatility_ratio)

STOP_LOSS_ORDER_ID = 1   # quote ids are tick*2 (+1), never 1 for a real price
STEP_NS = 1_000_000_000


@dataclass
class GlobalConfig:
    order_qty: float
    max_position: float
    grid_num: int
    grid_interval: float
    roi_lb: float = 0.0
    roi_ub: float = 1e12


@dataclass
class ParamsConfig:
    looking_depth: float
    window: int
    half_spread: float
    skew: float
    c1: float
    power: float
    live_seconds: float
    update_interval_ns: int
    volatility_interval_ns: int
    volatility_window: int = 60


@dataclass
class ObiConfig:
    glob: GlobalConfig
    params: ParamsConfig
    stop_loss: StopLoss


def load_obi_config(path: str | Path) -> ObiConfig:
    raw = read_toml(path)
    unknown = sorted(set(raw) - {"global", "params", "stop_loss", "backtest"})
    if unknown:
        raise HftctlError(f"{path}: unknown table(s) {', '.join(unknown)} (expected [global], [params], "
                          f"[stop_loss], optional [backtest])")
    for name in ("global", "params", "stop_loss"):
        if name not in raw:
            raise HftctlError(f"{path}: missing table [{name}]")
    cfg = ObiConfig(build(GlobalConfig, raw["global"], f"{path} [global]"),
                    build(ParamsConfig, raw["params"], f"{path} [params]"),
                    build(StopLoss, raw["stop_loss"], f"{path} [stop_loss]"))
    validate(cfg, str(path))
    return cfg


def validate(cfg: ObiConfig, where: str) -> None:
    g, p, s = cfg.glob, cfg.params, cfg.stop_loss
    require_positive(f"{where} [global]", order_qty=g.order_qty, max_position=g.max_position,
                     grid_num=g.grid_num)
    require_non_negative(f"{where} [global]", grid_interval=g.grid_interval)
    require_positive(f"{where} [params]", looking_depth=p.looking_depth, window=p.window,
                     update_interval_ns=p.update_interval_ns,
                     volatility_interval_ns=p.volatility_interval_ns,
                     volatility_window=p.volatility_window)
    require_non_negative(f"{where} [params]", half_spread=p.half_spread, skew=p.skew,
                         live_seconds=p.live_seconds)
    require_positive(f"{where} [stop_loss]", volatility_mean=s.volatility_mean)
    require_non_negative(f"{where} [stop_loss]", volatility_std=s.volatility_std,
                         change_std=s.change_std)


class ObiMarketMaker:
    """Plain strategy over the bot API; the same object runs live, dry-run and backtest."""

    def __init__(self, bot: Bot, cfg: ObiConfig, *, connector: str = "", symbol: str = "",
                 out: base.Printer = print, i: int = 0, status_every: int = 1) -> None:
        self.bot, self.cfg, self.out, self.i = bot, cfg, out, i
        self.connector, self.symbol = connector, symbol
        self.status_every = status_every
        p = cfg.params
        self.zscore = RollingZScore(p.window)
        self.vol = RollingStd(p.volatility_window)
        self.volatility = cfg.stop_loss.volatility_mean
        self.last_period = -1
        self.last_vol_period = -1
        self.last_price = 0.0
        self.change = 0.0
        self.stopped = False          # stop loss active
        self.stop_loss_count = 0
        self.iteration = 0
        self.alpha = 0.0
        self.decimals = base.price_decimals(bot.depth(i).tick_size)
        self.guard = base.RejectionGuard(out)

    def banner(self) -> str:
        g, p = self.cfg.glob, self.cfg.params
        rule = "=" * 38
        return "\n".join([
            rule, " OBI MM Strategy", rule,
            f"Connector: {self.connector}", f"Symbol: {self.symbol}",
            f"Order Qty: {g.order_qty}", f"Max Position: {g.max_position}",
            f"Grid Num: {g.grid_num}", f"Grid Interval: {g.grid_interval}",
            f"Half Spread: {p.half_spread * 100:.2f}%", f"Looking Depth: {p.looking_depth * 100:.2f}%",
            f"Window: {p.window}", rule, "",
            "Strategy started. Waiting for market data...",
        ])

    def step(self) -> None:
        bot, i = self.bot, self.i
        g, p = self.cfg.glob, self.cfg.params
        paused = self.guard.check(bot, i)
        bot.clear_inactive_orders(i)
        now = bot.current_timestamp
        period = now // p.update_interval_ns
        if period <= self.last_period:
            return
        book = bot.depth(i)
        if not book.ready:
            return
        self.last_period = period
        self.iteration += 1
        mid, best_bid, best_ask = book.mid, book.best_bid, book.best_ask
        pos = bot.position(i)

        vol_period = now // p.volatility_interval_ns
        if vol_period > self.last_vol_period:
            self.change = mid / self.last_price - 1.0 if self.last_price > 0 else 0.0
            self.vol.update(self.change)
            self.volatility = (self.vol.std if self.vol.count >= p.volatility_window
                               else self.cfg.stop_loss.volatility_mean)
            was = self.stopped
            self.stopped = self.cfg.stop_loss.triggered(self.volatility, self.change)
            if self.stopped and not was:
                self.stop_loss_count += 1
                self.out(f"STOP LOSS: volatility {self.volatility:.6f} change {self.change:+.6f}; "
                         f"cancelling quotes and closing position {pos:.4f}")
            self.last_price = mid
            self.last_vol_period = vol_period

        self.alpha = self.zscore.update(order_book_imbalance(book, p.looking_depth))
        if self.stopped:
            self._flatten(mid, pos)
        else:
            bid_px, ask_px = obi_quote_prices(
                mid=mid, best_bid=best_bid, best_ask=best_ask, alpha=self.alpha, c1=p.c1,
                half_spread=p.half_spread,
                vol_ratio=volatility_ratio(self.volatility, self.cfg.stop_loss.volatility_mean, p.power),
                skew=p.skew, position=pos, order_qty=g.order_qty, tick_size=book.tick_size)
            self._quote(bid_px, ask_px, pos, now, paused)
        if self.iteration % self.status_every == 0:
            self.out(base.status_line(self.iteration, mid, best_bid, best_ask, pos, self.decimals,
                                      f" | Alpha: {self.alpha:+.2f} | Vol: {self.volatility:.5f}"))

    def _quote(self, bid_px: float, ask_px: float, pos: float, now: int, paused: bool) -> None:
        bot, i, g, p = self.bot, self.i, self.cfg.glob, self.cfg.params
        book = bot.depth(i)
        new_bids = base.grid(book, bid_px, g.grid_interval, g.grid_num if pos < g.max_position else 0, BUY)
        new_asks = base.grid(book, ask_px, g.grid_interval, g.grid_num if pos > -g.max_position else 0, SELL)
        live_ns = p.live_seconds * 1e9

        def keep(_oid: int, o: Any) -> bool:       # too young to cancel
            return now - o.exch_ts < live_ns

        orders = bot.orders(i)
        exposure = base.working_qty(bot, i)     # counted before cancels: those may still fill
        working = {BUY: 0, SELL: 0}
        for oid, o in list(orders.items()):
            if not o.cancellable:
                continue
            wanted = new_bids if o.side == BUY else new_asks
            if oid not in wanted and not keep(oid, o):
                bot.cancel(i, oid)
            else:
                working[o.side] += 1
        if paused:
            return
        for grid, side in ((new_bids, BUY), (new_asks, SELL)):
            for oid, px in grid.items():
                if oid in orders:
                    continue
                effective = pos + side * 0.3 * working[side] * g.order_qty
                hard = side * pos + exposure[side] + g.order_qty
                if side * effective < g.max_position and hard <= g.max_position + 1e-9:
                    bot.submit_order(i, side, oid, px, g.order_qty)
                    exposure[side] += g.order_qty

    def _flatten(self, mid: float, pos: float) -> None:
        bot, i = self.bot, self.i
        for oid, o in list(bot.orders(i).items()):
            if o.cancellable and oid != STOP_LOSS_ORDER_ID:
                bot.cancel(i, oid)
        lot = bot.instruments[i].lot_size
        if abs(pos) >= lot * 0.5:
            o = bot.orders(i).get(STOP_LOSS_ORDER_ID)
            if o is not None and (o.active or o.req is not None):
                return
            bot.orders(i).pop(STOP_LOSS_ORDER_ID, None)
            tick = bot.depth(i).tick_size
            side = SELL if pos > 0 else BUY
            px = mid + side * 200 * tick      # a market order; the price only bounds slippage
            bot.submit_order(i, side, STOP_LOSS_ORDER_ID, px, abs(pos), IOC, MARKET)

    def run(self, stop: threading.Event | None = None, max_iterations: int | None = None) -> None:
        base.run_loop(self.bot, self.step, STEP_NS, stop, max_iterations)

    def shutdown(self) -> int:
        return base.shutdown(self.bot)
