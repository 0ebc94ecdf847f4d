"""Binance USD-M futures in the sim: instruments, accounting, REST, websocket routes and the
WebSocket API (orders), replay."""

from __future__ import annotations

from hftctl.exchanges.binance.common.sim_adapter import BinanceReplay, installer
from hftctl.exchanges.binance.futures.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binance.futures.sim_rest import BinanceFuturesRest
from hftctl.exchanges.binance.futures.sim_ws import BinanceFuturesStreams
from hftctl.exchanges.binance.futures.sim_ws_api import BinanceFuturesWsApi
from hftctl.exchanges.binance.futures.venues import ws_root
from hftctl.exchanges.venues import Venue
from hftctl.sim.accounting import LinearAccounting
from hftctl.sim.adapter import SimAdapter



def ready_urls(local: Venue) -> dict:
    """The venue's layout on the sim: ``ws_root`` is what a connector config names (the
    routes hang off it), ``ws_url`` the public route's raw-stream base (depth, bookTicker),
    each route's ``/ws`` base by name, and ``ws_api_url`` the WebSocket API (a connector config
    derives it from the root)."""
    root = ws_root(local)
    return {"rest_url": local.rest, "ws_url": f"{local.ws['public']}/ws", "ws_root": root,
            **{f"{route}_ws_url": f"{local.ws[route]}/ws" for route in ("public", "market", "private")},
            "ws_api_url": local.ws["api"], "connector_config": {"stream_url": root, "api_url": local.rest}}


ADAPTER = SimAdapter(
    specs=SPECS,
    default_symbols=tuple(DEFAULT_SYMBOLS),
    default_balances={"USDT": 100_000.0},
    # USD-M: 2400 weight/min per IP, 1200 orders/min and 300 orders/10 s per account.
    default_rate_limits={"weight_per_min": 2400, "orders_per_min": 1200, "orders_per_10s": 300},
    accounting=LinearAccounting,
    # The REST side marks served snapshots, the streams widen the next diff to cover them.
    install=installer(BinanceFuturesRest, BinanceFuturesStreams, lambda: {"snapshot_marks": set()},
                      ws_api_cls=BinanceFuturesWsApi),
    ready_urls=ready_urls,
    replay=BinanceReplay(),
)
