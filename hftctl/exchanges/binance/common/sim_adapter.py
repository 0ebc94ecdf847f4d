"""How a Binance market plugs into the sim: its REST and websocket halves wired together, listen
keys expiring on their own, and Binance recordings read for ``--replay``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hftctl.exchanges.binance.common.sim_listen_keys import ListenKeys
from hftctl.exchanges.binance.common.sim_rest import BinanceRestBase
from hftctl.exchanges.binance.common.sim_ws import BinanceStreamsBase
from hftctl.exchanges.binance.common.sim_ws_api import BinanceWsApiBase
from hftctl.exchanges.venues import Venue
from hftctl.sim.accounts import Account
from hftctl.sim.adapter import (LIQUIDATION, MARK, DepthMsg, LiquidationMsg, MarketMsg, MarkMsg, SnapshotMsg,
                                TickerMsg, TradeMsg)
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.wshub import WsHub

log = logging.getLogger(__name__)

_ENVELOPE = b'{"stream":"'


class BinanceProtocol:
    """One Binance market installed on a sim: its REST API, websockets, WebSocket API and listen keys."""

    def __init__(self, rest: BinanceRestBase, streams: BinanceStreamsBase, keys: ListenKeys,
                 ws_api: BinanceWsApiBase | None) -> None:
        self.rest = rest
        self.streams = streams
        self.keys = keys
        self.ws_api = ws_api
        # closing a listenKey over REST drops its user-data websockets
        rest.on_listen_key_closed = streams.close_listen_key

    @property
    def requests(self) -> int:
        return self.rest.requests

    def background(self) -> list:
        return [self.streams.run_aggregators(), self._expire_listen_keys()]

    async def _expire_listen_keys(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for key in self.keys.expire(time.monotonic()):
                log.info("listenKey %s... expired", key[:8])

    def expire_user_streams(self, only: str | None) -> list[str]:
        owners = dict(self.keys.owner)
        return [owners[k].name for k in self.keys.expire(time.monotonic(), only, everything=only is None)]

    def user_streams(self, account: Account) -> int:
        return len(self.keys.live(account, time.monotonic()))

    def session_keys(self, account: Account) -> list[str]:
        return [k for k, a in self.keys.owner.items() if a is account]


def installer(rest_cls: type[BinanceRestBase], streams_cls: type[BinanceStreamsBase],
              extra: Callable[[], dict[str, Any]] = dict,
              ws_api_cls: type[BinanceWsApiBase] | None = None) -> Callable[..., BinanceProtocol]:
    """``install`` for a market: ``extra()`` builds keyword arguments REST and the streams share
    (USD-M passes its snapshot marks); the WebSocket API (a market that takes orders) runs
    REST's order actions."""
    def install(app: web.Application, engine: SimEngine, hub: WsHub, config: SimConfig,
                ping_interval_s: float) -> BinanceProtocol:
        keys = ListenKeys(config.listen_key_ttl_s)
        shared = extra()
        rest = rest_cls(engine, config, hub.faults, keys, **shared)
        streams = streams_cls(engine, hub, ping_interval_s, keys, legacy_paths=config.legacy_ws_paths, **shared)
        ws_api = ws_api_cls(rest, hub, ping_interval_s) if ws_api_cls is not None else None
        rest.routes(app)
        streams.routes(app)
        if ws_api is not None:
            ws_api.routes(app)
        return BinanceProtocol(rest, streams, keys, ws_api)
    return install


def ready_urls(local: Venue) -> dict:
    """REST and the websocket base, and the URL keys of a connector config for this sim."""
    rest, ws = local.rest, f"{local.ws['public']}/ws"
    return {"rest_url": rest, "ws_url": ws, "connector_config": {"stream_url": ws, "api_url": rest}}


class BinanceReplay:
    """Binance recordings (hftbacktest's collector): combined-stream envelopes plus REST depth
    snapshots (``{"lastUpdateId", "bids", "asks"}``) without one."""

    def symbol(self, raw: bytes) -> str | None:
        if not raw.startswith(_ENVELOPE):
            return None
        end = raw.find(b'"', len(_ENVELOPE))
        stream = raw[len(_ENVELOPE):end].decode("ascii", "replace")
        return stream.split("@", 1)[0].upper() or None

    def is_snapshot(self, raw: bytes) -> bool:
        return b'"lastUpdateId"' in raw[:40]

    def carries(self, raw: bytes) -> str | None:
        head = raw[:64]
        if b"@markPrice" in head:
            return MARK
        if b"@forceOrder" in head:
            return LIQUIDATION
        return None

    def snapshot(self, msg: Any) -> SnapshotMsg:
        return SnapshotMsg(int(msg["lastUpdateId"]), msg["bids"], msg["asks"])

    def message(self, msg: Any) -> MarketMsg | None:
        if not isinstance(msg, dict):
            raise ValueError("not a JSON object")
        stream, d = msg.get("stream"), msg.get("data")
        if not isinstance(stream, str) or not isinstance(d, dict):
            return None
        kind = stream.split("@", 1)[1] if "@" in stream else ""
        if kind.startswith("depth"):
            # E - T: the exchange's publishing lag, kept on replay (spot has no T: no lag)
            return DepthMsg(d["b"], d["a"], d["U"], d["u"], d.get("E", 0) - d.get("T", d.get("E", 0)))
        if kind == "trade":
            return TradeMsg(d["p"], d["q"], d["m"], d["t"], d["E"] - d["T"])
        if kind == "aggTrade":
            return TradeMsg(d["p"], d["q"], d["m"], d["a"], d["E"] - d["T"])
        if kind == "bookTicker":
            return TickerMsg(d["b"], d["B"], d["a"], d["A"], d.get("u"),
                             d.get("E", 0) - d.get("T", d.get("E", 0)))
        if kind.startswith("markPrice"):
            # delivery contracts send funding "" and next funding time 0
            return MarkMsg(float(d["p"]), float(d["i"]), float(d["r"] or 0), int(d["T"]))
        if kind == "forceOrder":
            o = d["o"]
            return LiquidationMsg(o["S"] == "SELL", o["ap"], o["z"], d["E"] - o["T"])
        return None
