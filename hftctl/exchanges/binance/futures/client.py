"""Binance USD-M futures behind the shared Binance client: /fapi paths, the routed websockets,
ORDER_TRADE_UPDATE / ACCOUNT_UPDATE, positions, amend, self-trade prevention, and orders over
the WebSocket API (``ws-fapi``: ``order.place``, ``order.cancel``, ``order.modify``,
``order.status``; open orders and cancel-all have no method there and stay on REST).

Streams: ``stream_url`` names the root (a route URL or the old ``.../ws`` work too, see
``venues.route_urls``); depth, bookTicker and trades come over ``<root>/public/stream`` (a stream
kind of another route would get that route's socket), user data over
``<root>/private/ws/<listenKey>``. Of the
two private forms the docs show, the path form is the one the User Data Streams page documents
and it carries every event type; the Change Notice's ``?listenKey=&events=`` form leaves
undocumented what an omitted or unlisted event type (``listenKeyExpired``) does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from hftctl.configfile import ConfigReader
from hftctl.exchanges.base import Instrument, OrderRequest
from hftctl.exchanges.binance.common import config as binance_config
from hftctl.exchanges.binance.common import orders
from hftctl.exchanges.binance.common.client import BinanceClient
from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.common.rest import ErrorOutcomes
from hftctl.exchanges.binance.common.ws_api import BinanceWsApi
from hftctl.exchanges.binance.futures import messages as futures_wire
from hftctl.exchanges.binance.futures import schemas
from hftctl.exchanges.binance.futures.venues import (PATHS, SNAPSHOT_LIMITS, STREAMS, VENUES, route_urls,
                                                    stream_route)
from hftctl.exchanges.wire import MalformedMessage
from hftctl.ipc.schema import Balance, OrderUpdate, Position

__all__ = ["BinanceFuturesClient", "load_config", "create_client"]


# USD-M "General Info" § HTTP Return Codes and "Error Codes": 408 (backend timeout), 503 "Unknown
# error, please check your request or try again later." ("may have been executed"), -1006,
# -1007 leave the outcome unknown; 503 "Service Unavailable." ("100% failure"), "Internal error;
# unable to process your request. Please try again." (failed, retry at once) and -1008
# ("Request throttled by system-level protection", 100% failure) were not executed.
OUTCOMES = ErrorOutcomes(
    unknown_statuses=frozenset({408}),
    unknown_messages=("Unknown error, please check your request or try again later.",),
    not_executed_codes=frozenset({-1008}),
    not_executed_messages=("Service Unavailable.", "Internal error; unable to process your request. Please try again."),
)


# Sent with every new order: the docs disagree on the default (REST New Order: EXPIRE_MAKER; WS
# API order.place: NONE). EXPIRE_MAKER is the REST default: a new quote that would cross one of
# the account's own resting orders retires that stale order instead of trading with it.
STP_MODE = "EXPIRE_MAKER"


def load_config(r: ConfigReader) -> BinanceConfig:
    """Binance's keys with USD-M's request budgets (2400 weight/min, 300 orders/10 s, 1200/min)."""
    cfg = binance_config.load_config(r, weight_limit_1m=2400, order_limit_10s=300, order_limit_1m=1200,
                                     snapshot_limits=SNAPSHOT_LIMITS, venues=VENUES)
    route_urls(cfg.stream_url)      # a stream_url routes cannot hang off fails here, in one line
    return cfg


def create_client(cfg: BinanceConfig) -> "BinanceFuturesClient":
    return BinanceFuturesClient(cfg)


class BinanceFuturesClient(BinanceClient):
    name = "binancefutures"
    wire = futures_wire
    paths = PATHS
    streams = STREAMS
    order_body = schemas.OrderBody
    depth_first_offset = 0
    messages_per_s = 10         # "Websocket Market Streams": 10 incoming messages per second
    outcomes = OUTCOMES
    order_rest = {**BinanceClient.order_rest, "modify": ("PUT", "order")}
    order_ws = {"place": "order.place", "cancel": "order.cancel", "modify": "order.modify", "query": "order.status"}
    # New Order and Modify Order: "1 on 10s order rate limit; 1 on 1min order rate limit"
    counted_actions = frozenset({"place", "modify"})

    def __init__(self, cfg: BinanceConfig) -> None:
        super().__init__(cfg)
        if cfg.order_transport == "ws":
            self.order_api = BinanceWsApi(
                "order", cfg.ws_api_url, cfg.api_key, cfg.secret, now_ms=self.rest.now_ms,
                recv_window_ms=cfg.recv_window_ms, timeout_s=cfg.request_timeout_s, limiter=self.rest.limiter,
                outcomes=OUTCOMES, order_methods=self.counted_methods(),
                clock_rejected=self.rest._clock_rejected, on_state=lambda st: self.sink.stream_state("order", st),
                min_s=cfg.reconnect_min_s, max_s=cfg.reconnect_max_s, retry_after_cap_s=cfg.retry_after_cap_s)

    async def connect_user(self, timeout_s: float = 30.0) -> None:
        await super().connect_user(timeout_s)
        await self._start_order_api(min(timeout_s, 5.0))

    async def _close_user(self) -> None:
        if self.order_api is not None:
            await self.order_api.close()
        await super()._close_user()

    def market_routes(self) -> dict[str, str]:
        """One socket per route the market streams live on."""
        routes = route_urls(self.cfg.stream_url)
        used = dict.fromkeys(stream_route(f"x@{kind}") or "market" for kind in self.streams)
        return {r: f"{routes[r]}/stream" for r in used}

    def symbol_streams(self, symbol: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind in self.streams:
            name = f"{symbol.lower()}@{kind}"
            out.setdefault(stream_route(name) or "market", []).append(name)
        return out

    def user_url(self, listen_key: str) -> str:
        return f"{route_urls(self.cfg.stream_url)['private']}/ws/{listen_key}"

    def new_order_params(self, req: OrderRequest) -> dict[str, str]:
        return {**orders.new_order_params(req), "selfTradePreventionMode": STP_MODE}

    def _user_event(self, ev: Any, local_ts: int) -> None:
        if type(ev) is schemas.OrderTradeUpdate:
            self.sink.order(futures_wire.order_trade_update(ev, local_ts))
        elif type(ev) is schemas.AccountUpdate:
            positions, balances = futures_wire.account_update(ev)
            for p in positions:
                self.sink.position(p)
            for b in balances:
                self.sink.balance(b)

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate:
        """``PUT /fapi/v1/order`` / ``order.modify`` with both price and quantity, as Modify Order
        requires; the order goes to the back of the queue (even for a smaller quantity), a GTX
        order that would now cross is cancelled, and a partially filled one whose new quantity is
        not above its filled quantity is cancelled: the answer says which."""
        body = await self.order_call("modify", orders.modify_params(instrument, client_order_id, side, px, qty),
                                     changes=True, safe=True, into=schemas.OrderBody)
        return futures_wire.order_body(body, time.time_ns())

    # --- the dead man's switch: trade/rest-api/Auto-Cancel-All-Open-Orders ---------------------
    # Per symbol: each call replaces the countdown; when it runs out the exchange cancels every
    # open order of the account on that symbol; countdownTime 0 stops it. Weight 10 a call.
    dead_man_mechanism = "countdownCancelAll"

    async def arm_dead_man(self, symbols: Sequence[str], window_s: float) -> None:
        await self._countdowns(symbols, max(1, round(window_s * 1000)))

    async def disarm_dead_man(self, symbols: Sequence[str]) -> None:
        await self._countdowns(symbols, 0)

    async def _countdowns(self, symbols: Sequence[str], ms: int) -> None:
        """Every symbol is tried, so one refused symbol does not leave the others' timers to lapse;
        the first failure is raised after."""
        results = await asyncio.gather(*(self._countdown(sym, ms) for sym in symbols), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]

    async def _countdown(self, symbol: str, ms: int) -> None:
        # Idempotent (a resend just restarts the countdown), so retried like a GET.
        body = await self.rest.signed("POST", self.paths["countdown_cancel_all"],
                                      {"symbol": symbol, "countdownTime": ms}, safe=True,
                                      into=schemas.CountdownCancelAll)
        if body.symbol != symbol or body.countdownTime != str(ms):
            raise MalformedMessage(f"countdownCancelAll {symbol} {ms}: answered {body.symbol} {body.countdownTime}")

    async def positions(self) -> list[Position]:
        body = await self.rest.signed("GET", self.paths["position_risk"], {}, safe=True,
                                      into=list[schemas.PositionRisk])
        now = time.time_ns()
        return [futures_wire.position_risk(p, now) for p in body if p.positionSide == "BOTH"]

    async def balances(self) -> list[Balance]:
        body = await self.rest.signed("GET", self.paths["balance"], {}, safe=True,
                                      into=list[schemas.BalanceRow])
        return [futures_wire.balance(b) for b in body]
