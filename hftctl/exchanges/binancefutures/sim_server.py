"""Binance USD-M futures protocol adapter for the sim: instruments, REST and websocket routes."""

from __future__ import annotations

from aiohttp import web

from hftctl.exchanges.binancefutures.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binancefutures.sim_rest import BinanceFuturesRest, BinanceRestBase
from hftctl.exchanges.binancefutures.sim_ws import BinanceFuturesStreams, BinanceStreamsBase
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
    return install_binance(BinanceFuturesRest, BinanceFuturesStreams, app, engine, hub, config,
                           ping_interval_s)


def install_binance(rest_cls: type[BinanceRestBase], streams_cls: type[BinanceStreamsBase],
                    app: web.Application, engine: SimEngine, hub: WsHub, config: SimConfig,
                    ping_interval_s: float) -> list:
    """Binance spot and futures wire their REST and websocket halves together the same way:
    closing a listenKey over REST must drop its user-data websockets."""
    rest = rest_cls(engine, config, hub.faults)
    streams = streams_cls(engine, hub, ping_interval_s)
    rest.on_listen_key_closed = streams.close_listen_key
    rest.routes(app)
    streams.routes(app)
    app["rest_stats"] = rest
    return [streams.run_aggregators()]
