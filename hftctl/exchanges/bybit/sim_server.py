"""Bybit v5 linear protocol adapter for the sim: instruments, REST and the three websockets."""

from __future__ import annotations

from aiohttp import web

from hftctl.exchanges.bybit.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.bybit.sim_rest import BybitRest
from hftctl.exchanges.bybit.sim_ws import BybitStreams
from hftctl.sim.accounting import LinearAccounting
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.wshub import WsHub

DEFAULT_BALANCES = {"USDT": 100_000.0}
DEFAULT_RATE_LIMITS = {"orders_per_10s": 100}      # Bybit: 10 order requests per second per UID
# Bybit's websockets are separate endpoints; the ready file lists them next to ws_url
READY_URLS = {"ws_url": "ws://{host}:{port}/v5/public/linear",
              "private_ws_url": "ws://{host}:{port}/v5/private",
              "trade_ws_url": "ws://{host}:{port}/v5/trade"}
__all__ = ["DEFAULT_BALANCES", "DEFAULT_SYMBOLS", "READY_URLS", "SPECS", "accounting", "install"]


def accounting() -> LinearAccounting:
    return LinearAccounting()


def install(app: web.Application, engine: SimEngine, hub: WsHub, config: SimConfig,
            ping_interval_s: float) -> list:
    rest = BybitRest(engine, config, hub.faults)
    streams = BybitStreams(engine, hub, rest.orders, ping_interval_s)
    rest.routes(app)
    streams.routes(app)
    app["rest_stats"] = rest
    return [streams.run_books()]
