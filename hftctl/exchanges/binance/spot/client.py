"""Binance spot behind :class:`hftctl.exchanges.base.ExchangeClient`, on the shared Binance base.

What differs from USD-M futures: /api/v3 paths, the depth bridge rule (``U <= lastUpdateId+1``),
post-only as ``LIMIT_MAKER``, no positions, no amend (ModifyOrder is refused with a clear
error), and user data over the WebSocket API (``ws_api.py``) since the listenKey retirement,
which can also carry the orders (``order_api = "websocket"``). On both transports a new order
answered with 5XX, -1006 or -1007 raises OutcomeUnknown (``outcomes.py``); the connector finds it.
Market stream control messages are paced under spot's 5 incoming messages per second.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from hftctl.exchanges.base import Instrument, OrderRequest
from hftctl.exchanges.binance.common import orders
from hftctl.exchanges.binance.common.client import BinanceClient
from hftctl.exchanges.binance.spot import messages as spot_wire
from hftctl.exchanges.binance.spot import schemas
from hftctl.exchanges.binance.spot.config import SpotConfig, load_config
from hftctl.exchanges.binance.spot.outcomes import reclassify
from hftctl.exchanges.binance.spot.venues import PATHS, STREAMS
from hftctl.exchanges.binance.spot.ws_api import SpotWsApi
from hftctl.exchanges.errors import ExchangeRejected, NotSupported
from hftctl.ipc.schema import Balance, OrderUpdate, Position

__all__ = ["BinanceSpotClient", "load_config", "create_client"]


# order action -> (REST method, path key) and WebSocket API method
_REST = {"place": ("POST", "order"), "cancel": ("DELETE", "order"), "query": ("GET", "order"),
         "open_orders": ("GET", "open_orders"), "cancel_all": ("DELETE", "cancel_all")}
_WS = {"place": "order.place", "cancel": "order.cancel", "query": "order.status",
       "open_orders": "openOrders.status", "cancel_all": "openOrders.cancelAll"}


def create_client(cfg: SpotConfig) -> "BinanceSpotClient":
    return BinanceSpotClient(cfg)


class BinanceSpotClient(BinanceClient):
    name = "binancespot"
    wire = spot_wire
    paths = PATHS
    streams = STREAMS
    order_body = schemas.OrderBody
    depth_first_offset = 1
    # web-socket-streams.md § WebSocket Limits: 5 incoming messages per second, pings and pongs
    # included; MessagePacer keeps two of them for our ping and the pong to the server's.
    messages_per_s = 5
    cfg: SpotConfig

    def __init__(self, cfg: SpotConfig) -> None:
        super().__init__(cfg)

    async def open_rest(self) -> None:
        self.cfg = replace(self.cfg, order_api="rest")     # no WebSocket API session to carry them
        await super().open_rest()

    # --- user data: the WebSocket API ------------------------------------------------------------

    def _init_user_stream(self, cfg: SpotConfig) -> None:
        self.user_api = SpotWsApi(
            cfg.ws_api_url, cfg.api_key, cfg.secret, now_ms=self.rest.now_ms, recv_window_ms=cfg.recv_window_ms,
            timeout_s=cfg.request_timeout_s, limiter=self.rest.limiter, clock_rejected=self.rest._clock_rejected,
            on_event=self._user_event, on_resubscribed=lambda: self.sink.user_stream_reconnected(),
            on_state=lambda s: self.sink.stream_state("user", s), min_s=cfg.reconnect_min_s,
            max_s=cfg.reconnect_max_s)

    async def connect_user(self, timeout_s: float = 30.0) -> None:
        await self.user_api.start(timeout_s)

    async def _close_user(self) -> None:
        await self.user_api.close()

    def _user_stats(self) -> dict[str, Any]:
        api = self.user_api
        return {"user_connects": api.ws.connects, "user_resubscribes": api.resubscribes,
                "server_shutdowns": api.shutdowns}

    def _user_event(self, ev: Any, local_ts: int) -> None:
        if type(ev) is schemas.ExecutionReport:
            self.sink.order(spot_wire.execution_report(ev, local_ts))
        elif type(ev) is schemas.OutboundAccountPosition:
            for b in spot_wire.account_position(ev):
                self.sink.balance(b)
        # balanceUpdate (deposits, transfers) is followed by outboundAccountPosition's totals

    # --- orders -------------------------------------------------------------------------------

    async def _order_call(self, action: str, params: dict[str, str], *, safe: bool, into: Any) -> Any:
        """One order action on the configured transport, spot's unknown outcomes made typed."""
        if self.cfg.order_api == "websocket":
            return await self.user_api.request(_WS[action], params, safe=safe, into=into)
        method, path = _REST[action]
        try:
            return await self.rest.signed(method, self.paths[path], params, safe=safe,
                                          is_order=action == "place", into=into)
        except ExchangeRejected as e:
            raise reclassify(e, f"{method} {self.paths[path]}", safe=safe) from None

    async def submit(self, req: OrderRequest) -> OrderUpdate:
        # An OutcomeUnknown goes to the connector, which finds the order (connector/outcomes.py).
        body = await self._order_call("place", self.new_order_params(req), safe=False, into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    def new_order_params(self, req: OrderRequest) -> dict[str, str]:
        p = orders.new_order_params(req)
        if req.order_type == "limit" and req.time_in_force == "gtx":
            p["type"] = "LIMIT_MAKER"        # spot's post-only; it takes no timeInForce
            del p["timeInForce"]
        return p

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self._order_call("cancel", orders.by_client_id(instrument, client_order_id), safe=True,
                                      into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    async def cancel_all(self, instrument: Instrument) -> None:
        await self._order_call("cancel_all", {"symbol": instrument.symbol}, safe=True, into=list[self.order_body])

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self._order_call("query", orders.by_client_id(instrument, client_order_id), safe=True,
                                      into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        body = await self._order_call("open_orders", {"symbol": symbol} if symbol else {}, safe=True,
                                      into=list[self.order_body])
        now = time.time_ns()
        return [self.wire.order_body(o, now) for o in body]

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate:
        raise NotSupported("binancespot has no order amend; cancel and submit instead")

    async def positions(self) -> list[Position]:
        return []     # spot has balances only

    async def balances(self) -> list[Balance]:
        body = await self.rest.signed("GET", self.paths["account"], {}, safe=True, into=schemas.Account)
        return spot_wire.account_balances(body)
