"""Binance spot in the sim: instruments, accounting, REST, market streams, the WebSocket API
(orders and user data), replay."""

from __future__ import annotations

from aiohttp import web

from hftctl.exchanges.binance.common.sim_adapter import BinanceProtocol, BinanceReplay, installer
from hftctl.exchanges.binance.common.sim_adapter import ready_urls as binance_ready_urls
from hftctl.exchanges.binance.spot.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binance.spot.sim_rest import BinanceSpotRest
from hftctl.exchanges.binance.spot.sim_ws import BinanceSpotStreams
from hftctl.exchanges.binance.spot.sim_ws_api import BinanceSpotWsApi
from hftctl.exchanges.venues import Venue
from hftctl.sim.accounting import SpotAccounting
from hftctl.sim.accounts import Account
from hftctl.sim.adapter import SimAdapter
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.wshub import WsHub

_install_binance = installer(BinanceSpotRest, BinanceSpotStreams, ws_api_cls=BinanceSpotWsApi)


class SpotProtocol:
    """Spot's user-data sessions are WebSocket API subscriptions, not listen keys."""

    def __init__(self, binance: BinanceProtocol, ws_api: BinanceSpotWsApi) -> None:
        self.binance = binance
        self.ws_api = ws_api

    @property
    def requests(self) -> int:
        return self.binance.requests

    def background(self) -> list:
        return [self.binance.streams.run_aggregators()]

    def expire_user_streams(self, only: str | None) -> list[str]:
        """The subscriptions end with ``eventStreamTerminated`` (all, or the account whose API key
        is ``only``), as after an unsubscribe; the connections stay open."""
        return self.ws_api.terminate(only)

    def user_streams(self, account: Account) -> int:
        return self.ws_api.active(account)

    def session_keys(self, account: Account) -> list[str]:
        return []            # a subscription id is no credential


def install(app: web.Application, engine: SimEngine, hub: WsHub, config: SimConfig,
            ping_interval_s: float) -> SpotProtocol:
    binance = _install_binance(app, engine, hub, config, ping_interval_s)
    assert isinstance(binance.ws_api, BinanceSpotWsApi)
    return SpotProtocol(binance, binance.ws_api)


def ready_urls(local: Venue) -> dict:
    """Binance's URLs plus the WebSocket API's (a connector config derives it from stream_url)."""
    return {**binance_ready_urls(local), "ws_api_url": local.ws["api"]}


ADAPTER = SimAdapter(
    specs=SPECS,
    default_symbols=tuple(DEFAULT_SYMBOLS),
    default_balances={"USDT": 100_000.0, "BTC": 1.0, "ETH": 10.0},
    default_rate_limits={"weight_per_min": 6000, "orders_per_10s": 100, "orders_per_day": 200_000},
    accounting=SpotAccounting,
    install=install,
    ready_urls=ready_urls,
    replay=BinanceReplay(),
)
