"""Binance USD-M futures protocol adapter for the sim: instruments, REST and websocket routes."""

from __future__ import annotations

from aiohttp import web

from hftctl.exchanges.binancefutures.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binancefutures.sim_rest import BinanceFuturesRest
from hftctl.exchanges.binancefutures.sim_ws import BinanceFuturesStreams
from hftctl.sim.accounting import LinearAccounting
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.wshub import WsHub

DEFAULT_BALANCES = {"USDT": 100_000.0}
__all__ = ["DEFAULT_BALANCES", "DEFAULT_SYMBOLS", "SPECS", "accounting", "install"]


def accounting() -> LinearAccounting:
    return LinearAccounting()


def install(app: web.Application, engine: SimEngine, hub: WsHub, config: SimConfig,
            ping_interval_s: float) -> list:
    """Register routes; returns the background coroutines the adapter needs running."""
    rest = BinanceFuturesRest(engine, config, hub.faults)
    streams = BinanceFuturesStreams(engine, hub, ping_interval_s)
    rest.on_listen_key_closed = streams.close_listen_key
    rest.routes(app)
    streams.routes(app)
    app["rest_stats"] = rest
    return [streams.run_aggregators()]
