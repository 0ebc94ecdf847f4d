"""Binance behind :class:`hftctl.exchanges.base.ExchangeClient`: :class:`BinanceClient` holds
everything USD-M futures and spot share (REST client, market stream + book sync, user stream +
listenKey upkeep); :class:`BinanceFuturesClient` adds the USD-M paths and messages. Spot
(``hftctl.exchanges.binancespot.client``) subclasses the same base.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import ModuleType
from typing import Any

import orjson

from hftctl.exchanges.base import (AmbiguousResult, ExchangeClient, ExchangeRejected, ExchangeSink,
                                   Instrument, NullSink, OrderRequest)
from hftctl.exchanges.binancefutures import messages as futures_wire
from hftctl.exchanges.binancefutures import orders
from hftctl.exchanges.binancefutures.config import BinanceConfig, load_config
from hftctl.exchanges.binancefutures.depth_sync import DepthSync
from hftctl.exchanges.binancefutures.listen_key import ListenKey
from hftctl.exchanges.binancefutures.market_stream import MarketStream
from hftctl.exchanges.binancefutures.rest import BinanceRest
from hftctl.exchanges.binancefutures.user_stream import UserStream
from hftctl.exchanges.endpoints import TESTNET
from hftctl.ipc.schema import Balance, OrderUpdate, Position

log = logging.getLogger(__name__)

_SNAPSHOT_RETRY_S = 0.25   # doubled per consecutive failure, up to _SNAPSHOT_RETRY_MAX_S: a
_SNAPSHOT_RETRY_MAX_S = 8.0  # 1000-level snapshot weighs 20, hammering it would hit the limit
_UNKNOWN_SYMBOL = -1121
_SUBSCRIBE_SETTLE_S = 0.3   # snapshot this long after (re)subscribing, even if no event came
_QUIET_S = 1.0              # a held snapshot with no event after this long is taken as the book

__all__ = ["BinanceClient", "BinanceFuturesClient", "load_config", "create_client"]


def create_client(cfg: BinanceConfig) -> "BinanceFuturesClient":
    return BinanceFuturesClient(cfg)


class BinanceClient(ExchangeClient):
    """The shared Binance machinery; subclasses set the paths and the wire module."""

    name = ""
    wire: ModuleType            # depth_update, depth_snapshot, trade, book_ticker, order_body
    time_path = ""
    order_path = ""
    open_orders_path = ""
    cancel_all_path = ""
    listen_key_path = ""
    depth_first_offset = 0      # see DepthSync
    listen_key_param = False    # PUT/DELETE listenKey take the key as a parameter (spot)

    def __init__(self, cfg: BinanceConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.depth_path = TESTNET[self.name].snapshot_path
        self.rest = BinanceRest(cfg, self.time_path)
        self.listen_key = ListenKey(self.rest, cfg.listen_key_keepalive_s, self.listen_key_path,
                                    self.listen_key_param)
        self.sink: ExchangeSink = NullSink()
        self.syncs: dict[str, DepthSync] = {}
        self._snapshot_tasks: dict[str, asyncio.Task] = {}
        self._snapshot_failures: dict[str, int] = {}
        self.market = MarketStream(cfg.ws_root, self.name, self._on_market_event,
                                   self._on_market_reconnect,
                                   lambda s: self.sink.stream_state("market", s),
                                   cfg.reconnect_min_s, cfg.reconnect_max_s)
        self.user = UserStream(cfg.ws_root, self.listen_key, self._on_user_event,
                               self._on_user_reconnect, lambda s: self.sink.stream_state("user", s),
                               cfg.reconnect_min_s, cfg.reconnect_max_s)

    def urls(self) -> dict[str, str]:
        return self.cfg.urls()

    # --- lifecycle ----------------------------------------------------------------------------

    async def connect_market(self, sink: ExchangeSink, timeout_s: float = 30.0) -> None:
        self.sink = sink
        await self._start_rest(self.rest, self.cfg.time_resync_s)
        self._spawn(self.market.ws.run())
        await self._wait_up(self.market.ws.connected.wait(),
                            f"market data stream at {self.cfg.ws_root}", timeout_s)

    async def connect_user(self, timeout_s: float = 30.0) -> None:
        await self.listen_key.create()
        self._spawn(self.user.ws.run())
        self._spawn(self.listen_key.keepalive_loop(self.user.ws.drop))
        await self._wait_up(self.user.ws.connected.wait(),
                            f"user data stream at {self.cfg.ws_root}", timeout_s)

    async def close(self) -> None:
        await self.market.ws.stop()
        await self.user.ws.stop()
        await self._stop_tasks(*self._snapshot_tasks.values())
        if self.listen_key.key:
            try:
                await self.rest.with_key("DELETE", self.listen_key_path, self.listen_key.params())
            except Exception as e:
                log.debug("closing listenKey failed: %s", e)
        await self.rest.close()

    # --- market data --------------------------------------------------------------------------

    async def subscribe(self, instrument: Instrument) -> None:
        sym = instrument.symbol
        if sym not in self.syncs:
            self.syncs[sym] = DepthSync(sym, self.depth_first_offset)
        if await self.market.subscribe(sym):
            self._fetch_snapshot(sym, _SUBSCRIBE_SETTLE_S)

    async def resync(self, symbol: str, reason: str) -> None:
        sync = self.syncs.get(symbol)
        if sync is None:
            return
        for m in sync.reset(reason):
            self.sink.market(m)
        self._fetch_snapshot(symbol, 0.0)

    async def raw_snapshot(self, symbol: str) -> None:
        # _snapshot publishes every REST body raw; it only touches the book if that needs one.
        if symbol in self.syncs:
            self._fetch_snapshot(symbol, 0.0)

    def book_states(self) -> dict[str, str]:
        return {s: d.state for s, d in self.syncs.items()}

    def _on_market_event(self, stream: str, data: dict, raw: bytes, local_ts: int) -> None:
        sym = data.get("s")
        if not isinstance(sym, str):
            return
        self.sink.raw(sym, stream, local_ts, raw)
        kind = stream.partition("@")[2]
        try:
            if kind.startswith("depth"):
                sync = self.syncs.get(sym)
                if sync is None:
                    return
                for m in sync.on_update(self.wire.depth_update(data), local_ts):
                    self.sink.market(m)
                if sync.needs_snapshot and sync.buffer:
                    self._fetch_snapshot(sym, 0.0)
            elif kind == "trade":
                self.sink.market(self.wire.trade(data, local_ts))
            elif kind == "bookTicker":
                self.sink.market(self.wire.book_ticker(data, local_ts))
        except futures_wire.MalformedMessage as e:
            log.warning("market stream %s: malformed message skipped: %s", stream, e)

    def _fetch_snapshot(self, symbol: str, delay: float) -> None:
        task = self._snapshot_tasks.get(symbol)
        if task is not None and not task.done():
            return
        self._snapshot_tasks[symbol] = asyncio.get_running_loop().create_task(
            self._snapshot(symbol, delay))

    async def _snapshot(self, symbol: str, delay: float) -> None:
        sync = self.syncs[symbol]
        try:
            if delay:
                await asyncio.sleep(delay)
            body = await self.rest.public(self.depth_path,
                                          {"symbol": symbol, "limit": self.cfg.snapshot_limit})
            local_ts = time.time_ns()
            # The collector records snapshots as the raw REST body, no envelope.
            self.sink.raw(symbol, "depthSnapshot", local_ts, orjson.dumps(body))
            if sync.needs_snapshot:
                for m in sync.on_snapshot(self.wire.depth_snapshot(body), local_ts):
                    self.sink.market(m)
            self._snapshot_failures[symbol] = 0
            if sync.waiting_for_bridge:
                await asyncio.sleep(_QUIET_S)
                for m in sync.accept_quiet_snapshot():
                    self.sink.market(m)
        except asyncio.CancelledError:
            raise
        except ExchangeRejected as e:
            if e.code == _UNKNOWN_SYMBOL:
                # Not a transient problem: stop asking and tell the bots that registered it.
                log.error("%s: %s; not subscribing", symbol, e.reason)
                self.syncs.pop(symbol, None)
                await self.market.unsubscribe(symbol)
                self.sink.symbol_error(symbol, e.code, f"{symbol}: {e.reason}")
                self._snapshot_tasks.pop(symbol, None)
                return
            self._snapshot_failed(symbol, sync, e)
        except Exception as e:
            self._snapshot_failed(symbol, sync, e)
        finally:
            self._snapshot_tasks.pop(symbol, None)
        if sync.needs_snapshot and symbol in self.syncs:
            n = self._snapshot_failures.get(symbol, 0)
            self._fetch_snapshot(symbol, min(_SNAPSHOT_RETRY_MAX_S, _SNAPSHOT_RETRY_S * 2 ** n))

    def _snapshot_failed(self, symbol: str, sync: DepthSync, e: Exception) -> None:
        log.warning("%s depth snapshot failed: %s", symbol, e)
        sync.needs_snapshot = True
        self._snapshot_failures[symbol] = self._snapshot_failures.get(symbol, 0) + 1

    async def _on_market_reconnect(self) -> None:
        # Events sent while we were away are gone: every book must be rebuilt.
        for sym, sync in self.syncs.items():
            for m in sync.reset("market stream reconnected"):
                self.sink.market(m)
            self._fetch_snapshot(sym, _SUBSCRIBE_SETTLE_S)

    # --- user data ----------------------------------------------------------------------------

    def _on_user_event(self, msg: dict, local_ts: int) -> None:
        kind = msg.get("e")
        try:
            if not self._user_event(kind, msg, local_ts):
                log.debug("user stream: %s ignored", kind)
        except futures_wire.MalformedMessage as e:
            log.warning("user stream: malformed %s skipped: %s", kind, e)

    def _user_event(self, kind: Any, msg: dict, local_ts: int) -> bool:
        """Hand one user-data event to the sink; False for kinds this market does not use."""
        raise NotImplementedError

    async def _on_user_reconnect(self) -> None:
        self.sink.user_stream_reconnected()

    # --- orders -------------------------------------------------------------------------------

    async def submit(self, req: OrderRequest) -> OrderUpdate:
        try:
            body = await self.rest.signed("POST", self.order_path, self.new_order_params(req),
                                          safe=False, is_order=True)
        except AmbiguousResult as e:
            log.warning("submit %s: outcome unknown (%s); querying by client id",
                        req.client_order_id, e)
            return await self.resolve_ambiguous_submit(req)
        return self.wire.order_body(body, time.time_ns())

    def new_order_params(self, req: OrderRequest) -> dict[str, str]:
        return orders.new_order_params(req)

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self.rest.signed("DELETE", self.order_path,
                                      orders.by_client_id(instrument, client_order_id), safe=True)
        return self.wire.order_body(body, time.time_ns())

    async def cancel_all(self, instrument: Instrument) -> None:
        await self.rest.signed("DELETE", self.cancel_all_path, {"symbol": instrument.symbol}, safe=True)

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self.rest.signed("GET", self.order_path,
                                      orders.by_client_id(instrument, client_order_id), safe=True)
        return self.wire.order_body(body, time.time_ns())

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        body = await self.rest.signed("GET", self.open_orders_path,
                                      {"symbol": symbol} if symbol else {}, safe=True)
        now = time.time_ns()
        return [self.wire.order_body(o, now) for o in body or []]

    # --- status -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            **self.rest.clock_stats(),
            "throttled": self.rest.limiter.throttled,
            "market_connects": self.market.ws.connects,
            "user_connects": self.user.ws.connects,
            "listen_key_renewals": self.listen_key.renewals,
            "depth_gaps": sum(s.gaps for s in self.syncs.values()),
            "depth_resyncs": sum(s.resyncs for s in self.syncs.values()),
        }


class BinanceFuturesClient(BinanceClient):
    """USD-M futures: /fapi paths, ORDER_TRADE_UPDATE / ACCOUNT_UPDATE, positions, amend."""

    name = "binancefutures"
    wire = futures_wire
    time_path = "/fapi/v1/time"
    order_path = "/fapi/v1/order"
    open_orders_path = "/fapi/v1/openOrders"
    cancel_all_path = "/fapi/v1/allOpenOrders"
    listen_key_path = "/fapi/v1/listenKey"
    depth_first_offset = 0

    def _user_event(self, kind: Any, msg: dict, local_ts: int) -> bool:
        if kind == "ORDER_TRADE_UPDATE":
            self.sink.order(futures_wire.order_trade_update(msg, local_ts))
        elif kind == "ACCOUNT_UPDATE":
            positions, balances = futures_wire.account_update(msg)
            for p in positions:
                self.sink.position(p)
            for b in balances:
                self.sink.balance(b)
        else:
            return False
        return True

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate:
        # Binance's amend is idempotent for equal parameters, so a retry after a 5xx is safe.
        body = await self.rest.signed("PUT", self.order_path,
                                      orders.modify_params(instrument, client_order_id, side, px, qty),
                                      safe=True, is_order=True)
        return futures_wire.order_body(body, time.time_ns())

    async def positions(self) -> list[Position]:
        body = await self.rest.signed("GET", "/fapi/v2/positionRisk", {}, safe=True)
        now = time.time_ns()
        return [futures_wire.position_risk(p, now) for p in body or []
                if p.get("positionSide", "BOTH") == "BOTH"]

    async def balances(self) -> list[Balance]:
        body = await self.rest.signed("GET", "/fapi/v2/balance", {}, safe=True)
        return [futures_wire.balance(b) for b in body or []]
