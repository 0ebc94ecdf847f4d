"""Bybit v5 linear in the sim: instruments, accounting, REST and the three websockets."""

from __future__ import annotations

from aiohttp import web

from hftctl.exchanges.bybit.sim_dcp import BybitDcp
from hftctl.exchanges.bybit.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.bybit.sim_rest import BybitRest
from hftctl.exchanges.bybit.sim_ws import BybitStreams
from hftctl.exchanges.bybit.venues import VENUES, config_urls
from hftctl.exchanges.venues import Venue
from hftctl.sim.accounting import LinearAccounting
from hftctl.sim.accounts import Account
from hftctl.sim.adapter import SimAdapter
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.wshub import WsHub


class BybitProtocol:
    def __init__(self, rest: BybitRest, streams: BybitStreams) -> None:
        self.rest = rest
        self.streams = streams

    @property
    def requests(self) -> int:
        return self.rest.requests

    def background(self) -> list:
        return [self.streams.run_books(), self.streams.run_idle_cut()]

    def expire_user_streams(self, only: str | None) -> list[str]:
        """Bybit's private stream is authorised per connection: lapsing it means dropping it."""
        return self.streams.drop_private(only)

    def user_streams(self, account: Account) -> int:
        return len(self.streams.private.get(id(account), ()))

    def session_keys(self, account: Account) -> list[str]:
        return []         # a private connection is authorised by a signature, no session key


def install(app: web.Application, engine: SimEngine, hub: WsHub, config: SimConfig,
            ping_interval_s: float) -> BybitProtocol:
    dcp = BybitDcp(engine)
    rest = BybitRest(engine, config, hub.faults, dcp)
    streams = BybitStreams(engine, hub, rest.orders, dcp, ping_interval_s)
    rest.routes(app)
    streams.routes(app, VENUES[config.venue])
    return BybitProtocol(rest, streams)


def ready_urls(local: Venue) -> dict:
    """Bybit's websockets are separate endpoints: the ready file lists each (demo has no trade
    websocket)."""
    trade = {"trade_ws_url": local.ws["trade"]} if "trade" in local.ws else {}
    return {"rest_url": local.rest, "ws_url": local.ws["public"], "private_ws_url": local.ws["private"],
            **trade, "connector_config": config_urls(local)}


ADAPTER = SimAdapter(
    specs=SPECS,
    default_symbols=tuple(DEFAULT_SYMBOLS),
    default_balances={"USDT": 100_000.0},
    default_rate_limits={"orders_per_10s": 100},      # Bybit: 10 order requests per second per UID
    accounting=LinearAccounting,
    install=install,
    ready_urls=ready_urls,
)
