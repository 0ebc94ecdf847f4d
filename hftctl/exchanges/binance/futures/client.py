"""Binance USD-M futures behind the shared Binance client: /fapi paths, the routed websockets,
ORDER_TRADE_UPDATE / ACCOUNT_UPDATE, positions, amend, self-trade prevention.

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
from hftctl.exchanges.binance.futures import messages as futures_wire
from hftctl.exchanges.binance.futures import schemas
from hftctl.exchanges.binance.futures.venues import PATHS, STREAMS, route_urls, stream_route
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
    cfg = binance_config.load_config(r, weight_limit_1m=2400, order_limit_10s=300, order_limit_1m=1200)
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
        # Binance's amend is idempotent for equal parameters, so a retry after a 5xx is safe.
        body = await self.rest.signed("PUT", self.paths["order"],
                                      orders.modify_params(instrument, client_order_id, side, px, qty),
                                      safe=True, is_order=True, into=schemas.OrderBody)
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
