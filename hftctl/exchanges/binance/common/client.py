"""What Binance USD-M futures and spot share behind :class:`ExchangeClient`: the REST client,
the market stream with book sync, the user stream with its listenKey upkeep, and order requests.

A market (``futures/client.py``, ``spot/client.py``) subclasses :class:`BinanceClient` and
names its paths, streams and wire module; only what differs lives there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import ModuleType
from typing import Any

from hftctl.exchanges.base import ExchangeClient, ExchangeSink, Instrument, NullSink, OrderRequest
from hftctl.exchanges.binance.common import orders
from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.common.depth_sync import DepthSync
from hftctl.exchanges.binance.common.listen_key import ListenKey
from hftctl.exchanges.binance.common.market_stream import MarketStream
from hftctl.exchanges.binance.common.rest import BinanceRest
from hftctl.exchanges.binance.common.schemas import DepthSnapshot
from hftctl.exchanges.binance.common.user_stream import UserStream
from hftctl.exchanges.errors import ExchangeRejected
from hftctl.exchanges.wire import MalformedMessage
from hftctl.ipc.schema import OrderUpdate

log = logging.getLogger(__name__)

_SNAPSHOT_RETRY_S = 0.25   # doubled per consecutive failure, up to _SNAPSHOT_RETRY_MAX_S: a
_SNAPSHOT_RETRY_MAX_S = 8.0  # 1000-level snapshot weighs 20, hammering it would hit the limit
_UNKNOWN_SYMBOL = -1121
_SUBSCRIBE_SETTLE_S = 0.3   # snapshot this long after (re)subscribing, even if no event came
_QUIET_S = 1.0              # a held snapshot with no event after this long is taken as the book


class BinanceClient(ExchangeClient):
    """The shared Binance machinery; subclasses set the market's tables and wire module."""

    name = ""
    wire: ModuleType            # depth_update, depth_snapshot, trade, book_ticker, order_body, user_event
    paths: dict[str, str]       # the market's REST paths (venues.PATHS)
    streams: tuple[str, ...]    # stream kinds per symbol (venues.STREAMS)
    order_body: type            # the market's REST order body schema
    depth_first_offset = 0      # see DepthSync
    listen_key_param = False    # PUT/DELETE listenKey take the key as a parameter (spot)

    def __init__(self, cfg: BinanceConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rest = BinanceRest(cfg, self.paths["time"])
        self.listen_key = ListenKey(self.rest, cfg.listen_key_keepalive_s, self.paths["listen_key"],
                                    self.listen_key_param)
        self.sink: ExchangeSink = NullSink()
        self.syncs: dict[str, DepthSync] = {}
        self._snapshot_tasks: dict[str, asyncio.Task] = {}
        self._snapshot_failures: dict[str, int] = {}
        self.market = MarketStream(lambda: f"{cfg.ws_root}/stream", self.symbol_streams,
                                   self._on_market_event, self._on_market_reconnect,
                                   lambda s: self.sink.stream_state("market", s),
                                   cfg.reconnect_min_s, cfg.reconnect_max_s)
        self.user = UserStream(lambda key: f"{cfg.ws_root}/ws/{key}", self.listen_key, self._on_user_event,
                               self._on_user_reconnect, lambda s: self.sink.stream_state("user", s),
                               cfg.reconnect_min_s, cfg.reconnect_max_s)

    def symbol_streams(self, symbol: str) -> list[str]:
        s = symbol.lower()
        return [f"{s}@{kind}" for kind in self.streams]

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
        if self.listen_key.key and not self.account_shared:   # one key per account: shared
            try:   # a courtesy (the key lapses anyway): never wait out a REST back-off for it
                await asyncio.wait_for(self.rest.with_key("DELETE", self.paths["listen_key"],
                                                          self.listen_key.params()), 2)
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

    def _on_market_event(self, stream: str, raw: bytes, local_ts: int) -> None:
        sym_l, _, kind = stream.partition("@")
        sym = sym_l.upper()
        self.sink.raw(sym, stream, local_ts, raw)
        try:
            if kind.startswith("depth"):
                sync = self.syncs.get(sym)
                if sync is None:
                    return
                _, ev = self.wire.depth_update(raw)
                for m in sync.on_update(ev, local_ts):
                    self.sink.market(m)
                if sync.needs_snapshot and sync.buffer:
                    self._fetch_snapshot(sym, 0.0)
            elif kind == "trade":
                self.sink.market(self.wire.trade(raw, local_ts))
            elif kind == "bookTicker":
                self.sink.market(self.wire.book_ticker(raw, local_ts))
        except MalformedMessage as e:
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
            raw = await self.rest.public(self.paths["depth"], {"symbol": symbol, "limit": self.cfg.snapshot_limit},
                                         into=bytes)
            local_ts = time.time_ns()
            # The collector records snapshots as the raw REST body, no envelope.
            self.sink.raw(symbol, "depthSnapshot", local_ts, raw)
            if sync.needs_snapshot:
                body = self.rest.decode(raw, DepthSnapshot, "depth snapshot")
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

    def _on_user_event(self, raw: bytes, local_ts: int) -> None:
        try:
            ev = self.wire.user_event(raw)
            if ev is None:
                log.debug("user stream: event ignored: %r", raw[:80])
            elif type(ev).__name__ == "ListenKeyExpired":
                self.user.key_expired()
            else:
                self._user_event(ev, local_ts)
        except MalformedMessage as e:
            log.warning("user stream: malformed event skipped: %s", e)

    def _user_event(self, ev: Any, local_ts: int) -> None:
        """Hand one decoded user-data event to the sink."""
        raise NotImplementedError

    async def _on_user_reconnect(self) -> None:
        self.sink.user_stream_reconnected()

    # --- orders -------------------------------------------------------------------------------

    async def submit(self, req: OrderRequest) -> OrderUpdate:
        # An OutcomeUnknown goes to the connector, which finds the order (connector/outcomes.py).
        body = await self.rest.signed("POST", self.paths["order"], self.new_order_params(req),
                                      safe=False, is_order=True, into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    def new_order_params(self, req: OrderRequest) -> dict[str, str]:
        return orders.new_order_params(req)

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self.rest.signed("DELETE", self.paths["order"],
                                      orders.by_client_id(instrument, client_order_id), safe=True,
                                      into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    async def cancel_all(self, instrument: Instrument) -> None:
        await self.rest.signed("DELETE", self.paths["cancel_all"], {"symbol": instrument.symbol}, safe=True)

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self.rest.signed("GET", self.paths["order"],
                                      orders.by_client_id(instrument, client_order_id), safe=True,
                                      into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        body = await self.rest.signed("GET", self.paths["open_orders"],
                                      {"symbol": symbol} if symbol else {}, safe=True,
                                      into=list[self.order_body])
        now = time.time_ns()
        return [self.wire.order_body(o, now) for o in body]

    # --- status -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            **self.rest.clock_stats(),
            "throttled": self.rest.limiter.throttled,
            "rest_backoff_s": round(max(0.0, self.rest.limiter.banned_until - time.monotonic()), 1),
            "market_connects": self.market.ws.connects,
            "user_connects": self.user.ws.connects,
            "listen_key_renewals": self.listen_key.renewals,
            "depth_gaps": sum(s.gaps for s in self.syncs.values()),
            "depth_resyncs": sum(s.resyncs for s in self.syncs.values()),
        }
