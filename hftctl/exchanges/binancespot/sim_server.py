"""Binance spot protocol adapter for the sim: instruments, REST and websocket routes."""

from __future__ import annotations

from aiohttp import web

from hftctl.exchanges.binancefutures.sim_server import install_binance
from hftctl.exchanges.binancespot.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binancespot.sim_rest import BinanceSpotRest
from hftctl.exchanges.binancespot.sim_ws import BinanceSpotStreams
from hftctl.sim.accounting import SpotAccounting
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.wshub import WsHub

DEFAULT_BALANCES = {"USDT": 100_000.0, "BTC": 1.0, "ETH": 10.0}
DEFAULT_RATE_LIMITS = {"weight_per_min": 6000, "orders_per_10s": 100, "orders_per_day": 200_000}
__all__ = ["DEFAULT_BALANCES", "DEFAULT_RATE_LIMITS", "DEFAULT_SYMBOLS", "SPECS", "accounting", "install"]


def accounting() -> SpotAccounting:
    return SpotAccounting()


def install(app: web.Application, engine: SimEngine, hub: WsHub, config: SimConfig,
            ping_interval_s: float) -> list:
    return install_binance(BinanceSpotRest, BinanceSpotStreams, app, engine, hub, config, ping_interval_s)
