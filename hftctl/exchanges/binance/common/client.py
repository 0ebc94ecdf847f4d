"""What Binance USD-M futures and spot share behind :class:`ExchangeClient`: the REST client,
the market stream with book sync, the user stream with its listenKey upkeep, and order requests
on the configured transport.

A market (``futures/client.py``, ``spot/client.py``) subclasses :class:`BinanceClient` and
names its paths, streams, order methods and wire module; only what differs lives there.

Orders (``order_transport``): "ws" sends every order action the market's WebSocket API has over
that session (``common/ws_api.py``) while it is up, and over REST while it is down (it
reconnects in the background; a request that never left falls back too); "rest" uses REST only.
Both transports share one rate limiter, so the budget is counted once.
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
from hftctl.exchanges.binance.common.rest import ALL_5XX_UNKNOWN, BinanceRest, ErrorOutcomes
from hftctl.exchanges.binance.common.schemas import DepthSnapshot
from hftctl.exchanges.binance.common.user_stream import UserStream
from hftctl.exchanges.binance.common.ws_api import BinanceWsApi, NotSent
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
    # Messages a client may send per stream connection per second, control frames included:
    # the strictest Binance limit (spot's 5) unless the market says otherwise.
    messages_per_s: float = 5
    # How error answers read (executed or not): spot's documented rule unless the market has its own.
    outcomes: ErrorOutcomes = ALL_5XX_UNKNOWN
    # Order action -> its REST (method, path key) and its WebSocket API method ("" or absent: REST only).
    order_rest: dict[str, tuple[str, str]] = {
        "place": ("POST", "order"), "cancel": ("DELETE", "order"), "query": ("GET", "order"),
        "open_orders": ("GET", "open_orders"), "cancel_all": ("DELETE", "cancel_all")}
    order_ws: dict[str, str] = {}
    counted_actions = frozenset({"place"})      # actions that count against the order budget

    def __init__(self, cfg: BinanceConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rest = BinanceRest(cfg, self.paths["time"], self.outcomes)
        # The WebSocket API session orders use (None: order_transport = "rest"); the market sets it.
        self.order_api: BinanceWsApi | None = None
        self.rest_fallbacks = 0         # order requests sent over REST because the session was down
        self.sink: ExchangeSink = NullSink()
        self.syncs: dict[str, DepthSync] = {}
        self._snapshot_tasks: dict[str, asyncio.Task] = {}
        self._snapshot_failures: dict[str, int] = {}
        self.market = MarketStream(self.market_routes(), self.symbol_streams,
                                   self._on_market_event, self._on_market_reconnect,
                                   lambda s: self.sink.stream_state("market", s),
                                   cfg.reconnect_min_s, cfg.reconnect_max_s, self.messages_per_s)
        self._init_user_stream(cfg)

    def _init_user_stream(self, cfg: BinanceConfig) -> None:
        """The user data stream and what keeps it authorised: a listenKey (USD-M). Spot, whose
        listenKeys were retired, overrides this and the other ``_user`` hooks."""
        self.listen_key = ListenKey(self.rest, cfg.listen_key_keepalive_s, self.paths["listen_key"],
                                    self.listen_key_param)
        self.user = UserStream(self.user_url, self.listen_key, self._on_user_event,
                               self._on_user_reconnect, lambda s: self.sink.stream_state("user", s),
                               cfg.reconnect_min_s, cfg.reconnect_max_s)

    # --- where streams live (a routed market overrides these three) -----------------------------

    def market_routes(self) -> dict[str, str]:
        """Route name -> combined-stream URL: one unrouted socket for everything."""
        return {"market": f"{self.cfg.ws_root}/stream"}

    def symbol_streams(self, symbol: str) -> dict[str, list[str]]:
        """Route name -> the symbol's streams there."""
        s = symbol.lower()
        return {"market": [f"{s}@{kind}" for kind in self.streams]}

    def user_url(self, listen_key: str) -> str:
        return f"{self.cfg.ws_root}/ws/{listen_key}"

    def urls(self) -> dict[str, str]:
        return self.cfg.urls()

    # --- lifecycle ----------------------------------------------------------------------------

    async def connect_market(self, sink: ExchangeSink, timeout_s: float = 30.0) -> None:
        self.sink = sink
        await self._start_rest(self.rest, self.cfg.time_resync_s)
        for runner in self.market.runners():
            self._spawn(runner)
        await self._wait_up(self.market.wait_connected(),
                            f"market data stream at {', '.join(self.market_routes().values())}", timeout_s)

    async def connect_user(self, timeout_s: float = 30.0) -> None:
        await self.listen_key.create()
        self._spawn(self.user.ws.run())
        self._spawn(self.listen_key.keepalive_loop(self.user.ws.drop))
        await self._wait_up(self.user.ws.connected.wait(),
                            f"user data stream at {self.user_url('<listenKey>')}", timeout_s)

    async def close(self) -> None:
        await self.market.stop()
        await self._close_user()
        await self._stop_tasks(*self._snapshot_tasks.values())
        await self.rest.close()

    async def _close_user(self) -> None:
        await self.user.ws.stop()
        if self.listen_key.key and not self.account_shared:   # one key per account: shared
            try:   # a courtesy (the key lapses anyway): never wait out a REST back-off for it
                await asyncio.wait_for(self.rest.with_key("DELETE", self.paths["listen_key"],
                                                          self.listen_key.params()), 2)
            except Exception as e:
                log.debug("closing listenKey failed: %s", e)

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

    async def _on_market_reconnect(self, route: str) -> None:
        # Depth events sent while we were away are gone: every book must be rebuilt. A route
        # without depth (trades) lost nothing a book needs.
        if not any("@depth" in n for n in self.market.route_streams(route, list(self.syncs))):
            return
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

    async def order_call(self, action: str, params: dict[str, str], *, changes: bool, safe: bool,
                         into: Any) -> Any:
        """One order action on the configured transport. ``changes``: it changes state at the
        exchange (an unknown outcome raises OutcomeUnknown, never a resend); ``safe``: it may be
        repeated when the exchange says it was not executed (see ``ws_api.request``)."""
        api, method = self.order_api, self.order_ws.get(action)
        if api is not None and method:
            if api.up:
                try:
                    return await api.request(method, params, changes=changes, safe=safe, into=into)
                except NotSent as e:
                    log.info("%s over REST: %s", method, e)
            self.rest_fallbacks += 1
        verb, path = self.order_rest[action]
        return await self.rest.signed(verb, self.paths[path], params, safe=safe,
                                      is_order=action in self.counted_actions, into=into)

    @classmethod
    def counted_methods(cls) -> frozenset[str]:
        """The WebSocket API methods that count against the order budget."""
        return frozenset(cls.order_ws[a] for a in cls.counted_actions if a in cls.order_ws)

    async def open_rest(self) -> None:
        # REST only (the guardian): no session to send orders on, so REST is the transport, not
        # a fallback
        self.order_api = None
        await super().open_rest()

    async def _start_order_api(self, timeout_s: float) -> None:
        """Open the order session in the background; orders go over REST until it is up."""
        api = self.order_api
        if api is None:
            return
        api.run()
        if not await api.wait_up(timeout_s):
            log.warning("WebSocket API at %s not connected yet: orders go over REST until it is", api.url)

    async def submit(self, req: OrderRequest) -> OrderUpdate:
        # An OutcomeUnknown goes to the connector, which finds the order (connector/outcomes.py).
        body = await self.order_call("place", self.new_order_params(req), changes=True, safe=False,
                                     into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    def new_order_params(self, req: OrderRequest) -> dict[str, str]:
        return orders.new_order_params(req)

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self.order_call("cancel", orders.by_client_id(instrument, client_order_id), changes=True,
                                     safe=True, into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    async def cancel_all(self, instrument: Instrument) -> None:
        await self.order_call("cancel_all", {"symbol": instrument.symbol}, changes=True, safe=True, into=None)

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        body = await self.order_call("query", orders.by_client_id(instrument, client_order_id), changes=False,
                                     safe=True, into=self.order_body)
        return self.wire.order_body(body, time.time_ns())

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        body = await self.order_call("open_orders", {"symbol": symbol} if symbol else {}, changes=False,
                                     safe=True, into=list[self.order_body])
        now = time.time_ns()
        return [self.wire.order_body(o, now) for o in body]

    # --- status -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        api = self.order_api
        return {
            **self.rest.clock_stats(),
            "throttled": self.rest.limiter.throttled,
            "rest_backoff_s": round(max(0.0, self.rest.limiter.banned_until - time.monotonic()), 1),
            "order_transport": self.cfg.order_transport,
            "order_api_connects": api.ws.connects if api is not None else 0,
            "order_api_lost": api.lost if api is not None else 0,
            "order_rest_fallbacks": self.rest_fallbacks,
            "market_connects": self.market.connects,
            **self._user_stats(),
            "depth_gaps": sum(s.gaps for s in self.syncs.values()),
            "depth_resyncs": sum(s.resyncs for s in self.syncs.values()),
        }

    def _user_stats(self) -> dict[str, Any]:
        return {"user_connects": self.user.ws.connects, "listen_key_renewals": self.listen_key.renewals}
