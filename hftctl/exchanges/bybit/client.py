"""Bybit v5 linear behind :class:`hftctl.exchanges.base.ExchangeClient`.

Public data on ``public_url`` (``orderbook.{depth}.{symbol}``, ``publicTrade.{symbol}``),
orders/positions/wallet on ``private_url`` after the ``auth`` op. Orders go over the trade
websocket (``trade_url``, trade_ws.py) with ``order_transport = "ws"``, and over REST
(``/v5/order/create|amend|cancel``) with "rest" or while that socket is down. Bybit acknowledges
an order request with its ids only; the private stream carries the order's state. After a REST
request the client also reads the order back (``/v5/order/realtime``) to report its state at
once; after a websocket request it does not: the stream is quicker than another HTTP round trip.

Bybit's own dead man's switch is disconnection protection (DCP): once the account's window is
set and a private connection subscribed ``dcp.future``, Bybit cancels every derivatives order of
the account when all such connections have been gone for the window (``arm_dead_man``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from hftctl.exchanges.base import ExchangeClient, ExchangeSink, Instrument, NullSink, OrderRequest
from hftctl.exchanges.bybit import messages as wire
from hftctl.exchanges.bybit import schemas
from hftctl.exchanges.bybit.config import BybitConfig, load_config
from hftctl.exchanges.bybit.depth_sync import RESTART_U, BookUpdate, BybitBookSync
from hftctl.exchanges.bybit.rest import BybitRest
from hftctl.exchanges.bybit.signing import bybit_ws_auth_signature
from hftctl.exchanges.bybit.trade_ws import BybitTradeSocket, NotSent
from hftctl.exchanges.bybit.venues import CONNECT_WINDOW_S, DCP_WINDOW_S, MAX_CONNECTS, PATHS
from hftctl.exchanges.errors import (ConnectFailed, ExchangeRejected, NotSupported, OrderNotFound, RateLimited,
                                     Unavailable)
from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket
from hftctl.exchanges.wire import fmt_step, load_frame
from hftctl.ipc.schema import Balance, BestBidOffer, OrderUpdate, Position

log = logging.getLogger(__name__)

__all__ = ["BybitClient", "load_config", "create_client"]

SIDE = {1: "Buy", -1: "Sell"}
TIF = {"gtc": "GTC", "gtx": "PostOnly", "ioc": "IOC", "fok": "FOK"}
_PRIVATE_TOPICS = ["order", "position", "wallet"]
_PRIVATE = msgspec.json.Decoder(schemas.PrivateMessage)
_ACK = msgspec.json.Decoder(schemas.Ack)
_ROWS = {"order": list[schemas.OrderRow], "position": list[schemas.PositionRow], "wallet": list[schemas.Wallet]}
_DCP_TOPIC = "dcp.future"     # derivatives (websocket/private/dcp.mdx; the bare "dcp" is deprecated)
_DCP_PRODUCT = "DERIVATIVES"  # disconnected-cancel-all's product (OPTIONS if left out: order/dcp.mdx)
ORDER_WS_WAIT_S = 5.0         # connect_user waits this long for the order websocket's auth
SETTLE_COIN = "USDT"          # the linear symbols hftctl trades settle in USDT
ORDERS_PAGE = 50              # order/realtime: limit [1, 50] (open-order.mdx)
POSITIONS_PAGE = 200          # position/list: limit [1, 200] (position.mdx)
MAX_PAGES = 100


def create_client(cfg: BybitConfig) -> "BybitClient":
    return BybitClient(cfg)


class ConnectBudget:
    """Bybit refuses more than 500 websocket connections per 5 minutes per IP and domain
    (wss-authentication.mdx § IP Limits). Other processes on the host (collectors, other
    connectors) share that budget, so one client keeps to a fifth of it: a reconnect that would
    exceed it waits for room instead of getting the IP refused."""

    def __init__(self, limit: int = MAX_CONNECTS // 5, window_s: float = CONNECT_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self.waited = 0
        self._times: dict[str, deque[float]] = defaultdict(deque)

    async def take(self, url: str) -> str:
        times = self._times[urlsplit(url).hostname or ""]
        while True:
            now = time.monotonic()
            while times and now - times[0] >= self.window_s:
                times.popleft()
            if len(times) < self.limit:
                times.append(now)
                return url
            wait = times[0] + self.window_s - now
            self.waited += 1
            log.warning("%d websocket connections to %s in %.0f s: waiting %.1f s before the next",
                        len(times), urlsplit(url).hostname, self.window_s, wait)
            await asyncio.sleep(wait)


def _topic(raw: bytes) -> str | None:
    """The topic of a public message that names it first (Bybit's layout), without parsing it."""
    if not raw.startswith(b'{"topic":"'):
        return None
    end = raw.find(b'"', 10)
    return raw[10:end].decode("ascii", "replace") if end > 0 else None


class BybitClient(ExchangeClient):
    name = "bybit"
    dead_man_mechanism = "DCP"

    def __init__(self, cfg: BybitConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rest = BybitRest(cfg, PATHS["time"])
        self.sink: ExchangeSink = NullSink()
        self.symbols: list[str] = []
        self.syncs: dict[str, BybitBookSync] = {}
        self._top_u: dict[str, int] = {}
        self._top_delta_warned: set[str] = set()
        self._auth: asyncio.Future | None = None
        self.connect_budget = ConnectBudget()
        self._position_symbols: set[str] = set()
        self.public = ReconnectingWebSocket("market", self._public_url, self._public_open, self._on_public,
                                            lambda s: self.sink.stream_state("market", s),
                                            cfg.reconnect_min_s, cfg.reconnect_max_s)
        self.private = ReconnectingWebSocket("user", self._private_url, self._private_open, self._on_private,
                                             lambda s: self.sink.stream_state("user", s),
                                             cfg.reconnect_min_s, cfg.reconnect_max_s)
        self.trade = (BybitTradeSocket(cfg, self.rest, self._trade_url, lambda s: self.sink.stream_state("orders", s))
                      if cfg.order_transport == "ws" else None)
        self.rest_fallbacks = 0            # order requests sent over REST while the websocket was down
        self._on_rest = False              # falling back now (logged once per outage)
        # DCP: the window set at Bybit (0: not yet), whether the private stream should carry
        # dcp.future, and the private connection (its connect count) whose subscription Bybit confirmed
        self._dcp_window = 0
        self._dcp_wanted = False
        self._dcp_confirmed = 0
        self._dcp_acks: dict[str, asyncio.Future] = {}

    def urls(self) -> dict[str, str]:
        return self.cfg.urls()

    # --- lifecycle ----------------------------------------------------------------------------

    async def connect_market(self, sink: ExchangeSink, timeout_s: float = 30.0) -> None:
        self.sink = sink
        await self._start_rest(self.rest, self.cfg.time_resync_s)
        self._spawn(self.public.run())
        self._spawn(self._ping_loop())
        await self._wait_up(self.public.connected.wait(), f"market data stream at {self.cfg.public_url}", timeout_s)

    async def connect_user(self, timeout_s: float = 30.0) -> None:
        self._auth = asyncio.get_running_loop().create_future()
        self._spawn(self.private.run())
        ok, msg = await self._wait_up(self._auth, f"user data stream at {self.cfg.private_url}", timeout_s)
        if not ok:
            raise ConnectFailed(f"user data stream authentication failed: {msg}")
        if self.trade is None:
            log.info("orders go over REST (order_transport = \"rest\")")
            return
        self._spawn(self.trade.run())
        # not worth holding the start up for: orders go over REST until the socket is there
        ok, msg = await self.trade.first_answer(min(timeout_s, ORDER_WS_WAIT_S))
        if ok:
            log.info("orders go over the order websocket at %s", self.cfg.trade_url)
        else:
            log.warning("order websocket at %s not up (%s): orders go over REST until it is",
                        self.cfg.trade_url, msg)

    async def close(self) -> None:
        """A clean stop: the private socket leaves DCP first, so Bybit does not cancel what the
        connector chose to leave resting (cancel_on_stop "own" or "none")."""
        if self._dcp_wanted:
            try:
                await asyncio.wait_for(self.disarm_dead_man(self.symbols), 3.0)
            except Exception as e:
                log.warning("could not take the user stream out of DCP before closing: %s", e)
        await self.public.stop()
        await self.private.stop()
        if self.trade is not None:
            await self.trade.stop()
        await self._stop_tasks()
        await self.rest.close()

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.ping_interval_s)
            for ws in (self.public, self.private, *((self.trade.ws,) if self.trade else ())):
                try:
                    await ws.send_json({"op": "ping"})
                except Exception as e:
                    log.debug("ping failed: %s", e)

    # --- market data --------------------------------------------------------------------------

    def _topics(self, symbol: str) -> list[str]:
        topics = [f"orderbook.{self.cfg.book_depth}.{symbol}", f"publicTrade.{symbol}"]
        if self.cfg.book_depth != 1:
            topics.append(f"orderbook.1.{symbol}")     # best bid/offer, as hftbacktest records it
        return topics

    async def _public_url(self) -> str:
        return await self.connect_budget.take(self.cfg.public_url)

    async def _public_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        if connects > 1:
            self._top_u.clear()
            for sync in self.syncs.values():
                for m in sync.reset("market stream reconnected"):
                    self.sink.market(m)
        if self.symbols:
            await ws.send_json({"op": "subscribe", "args": [t for s in self.symbols for t in self._topics(s)]})

    async def subscribe(self, instrument: Instrument) -> None:
        sym = instrument.symbol
        if sym in self.syncs:
            return
        self.syncs[sym] = BybitBookSync(sym)
        self.symbols.append(sym)
        await self.public.send_json({"op": "subscribe", "args": self._topics(sym)})
        log.info("subscribed %s", ", ".join(self._topics(sym)))

    async def resync(self, symbol: str, reason: str) -> None:
        sync = self.syncs.get(symbol)
        if sync is not None:
            for m in sync.reset(reason):
                self.sink.market(m)
            await self._resubscribe_book(symbol)

    async def _resubscribe_book(self, symbol: str) -> None:
        topic = f"orderbook.{self.cfg.book_depth}.{symbol}"
        await self.public.send_json({"op": "unsubscribe", "args": [topic]})
        await self.public.send_json({"op": "subscribe", "args": [topic]})

    async def raw_snapshot(self, symbol: str) -> None:
        # Bybit sends a topic's snapshot on (re)subscription; the book takes it as a reset.
        if symbol in self.syncs:
            await self._resubscribe_book(symbol)

    def book_states(self) -> dict[str, str]:
        return {s: d.state for s, d in self.syncs.items()}

    def _on_public(self, raw: bytes, local_ts: int) -> None:
        topic = _topic(raw)
        if topic is None:
            _, m = load_frame(raw, log, "market")
            topic = m.get("topic") if isinstance(m, dict) else None
            if not isinstance(topic, str):
                if isinstance(m, dict) and m.get("success") is False:
                    self._subscribe_failed(str(m.get("ret_msg", "")))
                return
        kind, _, sym = topic.rpartition(".")
        self.sink.raw(sym, topic, local_ts, raw)
        try:
            if kind == "orderbook.1" and self.cfg.book_depth != 1:
                self._on_top(wire.book(raw), local_ts)
            elif kind.startswith("orderbook"):
                sync = self.syncs.get(sym)
                if sync is None:
                    return
                for msg in sync.on_message(wire.book(raw), local_ts):
                    self.sink.market(msg)
                if sync.needs_resubscribe:
                    sync.needs_resubscribe = False
                    self._spawn(self._resubscribe_book(sym))
            elif kind == "publicTrade":
                for t in wire.trades(raw, local_ts):
                    self.sink.market(t)
        except wire.MalformedMessage as e:
            log.warning("market stream %s: malformed message skipped: %s", topic, e)

    def _subscribe_failed(self, why: str) -> None:
        """Bybit names the refused topic in ret_msg ("...topic:orderbook.50.XYZ"): drop that symbol."""
        log.error("market stream subscription refused: %s", why)
        for sym in [x for x in self.symbols if why.endswith(f".{x}")]:
            self.symbols.remove(sym)
            self.syncs.pop(sym, None)
            self.sink.symbol_error(sym, -1, f"{sym}: subscription refused by the exchange ({why})")

    def _on_top(self, b: BookUpdate, local_ts: int) -> None:
        """orderbook.1 -> BestBidOffer. Level 1 is snapshot-only (orderbook.mdx, since
        2025-03-20): every snapshot is the new top; the 3-second re-push of an unchanged top
        (same u) is not news. A delta is not expected there any more: it is skipped, and the
        next snapshot (on the next change, or within 3 s) brings the top."""
        if not b.replaces:
            if b.symbol not in self._top_delta_warned:
                self._top_delta_warned.add(b.symbol)
                log.warning("%s: orderbook.1 sent a delta (documented as snapshot-only); skipped", b.symbol)
            return
        if self._top_u.get(b.symbol) == b.update_id != RESTART_U:
            return
        self._top_u[b.symbol] = b.update_id
        if b.bids and b.asks:
            (bp, bq), (ap, aq) = b.bids[0], b.asks[0]
            self.sink.market(BestBidOffer(b.symbol, b.exch_ts, local_ts, bp, bq, ap, aq))

    # --- user data ----------------------------------------------------------------------------

    async def _private_url(self) -> str:
        return await self.connect_budget.take(self.cfg.private_url)

    async def _trade_url(self) -> str:
        return await self.connect_budget.take(self.cfg.trade_url)

    async def _private_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        expires = self.rest.now_ms() + 10_000
        await ws.send_json({"op": "auth", "args": [
            self.cfg.api_key.reveal(), expires, bybit_ws_auth_signature(self.cfg.secret.reveal(), expires)]})
        if connects > 1:
            self.sink.user_stream_reconnected()

    def _on_private(self, raw: bytes, local_ts: int) -> None:
        if not raw.startswith(b'{"id"') and b'"topic"' not in raw[:80]:
            self._on_private_control(raw)
            return
        try:
            m = _PRIVATE.decode(raw)
            rows = msgspec.convert(m.data, _ROWS[m.topic], strict=False) if m.topic in _ROWS else []
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            log.warning("user stream: malformed message skipped: %s", e)
            return
        try:
            if m.topic == "order":
                for o in rows:
                    self.sink.order(wire.order(o, local_ts))
            elif m.topic == "position":
                now = time.time_ns()
                for p in rows:
                    self._position_symbols.add(p.symbol)
                    self.sink.position(wire.position(p, now))
            elif m.topic == "wallet":
                for row in rows:
                    for b in wire.wallet(row):
                        self.sink.balance(b)
        except wire.MalformedMessage as e:
            log.warning("user stream: malformed %s skipped: %s", m.topic, e)

    def _on_private_control(self, raw: bytes) -> None:
        """auth / subscribe answers and pongs."""
        try:
            m = _ACK.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("user stream: undecodable message skipped: %r", raw[:120])
            return
        if m.op == "auth":
            ok = m.success is True
            if ok:
                self._spawn(self.private.send_json({"op": "subscribe", "args": _PRIVATE_TOPICS}))
                if self._dcp_wanted:
                    self._spawn(self._dcp_resubscribe())
            else:
                log.error("user stream authentication failed: %s", m.ret_msg)
            if self._auth is not None and not self._auth.done():
                self._auth.set_result((ok, m.ret_msg))
        elif isinstance(m.req_id, str) and m.req_id in self._dcp_acks:
            self._dcp_answer(m.req_id, m.success is True, m.ret_msg)
        elif m.success is False:
            log.error("user stream request refused: %s", m.ret_msg)

    # --- orders -------------------------------------------------------------------------------

    def _base(self, inst: Instrument, cid: str) -> dict[str, str]:
        return {"category": self.cfg.category, "symbol": inst.symbol, "orderLinkId": cid}

    async def _order(self, kind: str, body: dict, *, safe: bool) -> bool:
        """Send create/amend/cancel: over the order websocket when it is up (True), else over REST
        (False). Only a request that was surely not carried out moves to REST (trade_ws.NotSent);
        an unknown outcome is the caller's to resolve, never re-sent."""
        if self.trade is not None:
            try:
                await self.trade.request(f"order.{kind}", body)
                if self._on_rest:
                    self._on_rest = False
                    log.info("orders go over the order websocket again")
                return True
            except NotSent as e:
                self.rest_fallbacks += 1
                if not self._on_rest:
                    self._on_rest = True
                    log.warning("orders go over REST until the order websocket is back (%s)", e)
        await self.rest.post(PATHS[kind], body, safe=safe)
        return False

    async def submit(self, req: OrderRequest) -> OrderUpdate | None:
        inst = req.instrument
        body = {**self._base(inst, req.client_order_id), "side": SIDE[req.side],
                "orderType": "Market" if req.order_type == "market" else "Limit",
                "qty": fmt_step(req.qty, inst.lot_size)}
        if req.order_type == "limit":
            body["price"] = fmt_step(req.px, inst.tick_size)
            body["timeInForce"] = TIF[req.time_in_force]
        # An OutcomeUnknown goes to the connector, which finds the order (connector/outcomes.py).
        if await self._order("create", body, safe=False):
            return None
        return await self._read_back(inst, req.client_order_id)

    async def _read_back(self, inst: Instrument, cid: str) -> OrderUpdate | None:
        """The order's state after an acknowledged request; None leaves it to the stream."""
        try:
            return await self.query_order(inst, cid)
        except Exception as e:
            log.debug("read-back of %s failed (%s); the private stream will report it", cid, e)
            return None

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate | None:
        if await self._order("cancel", self._base(instrument, client_order_id), safe=True):
            return None
        return await self._read_back(instrument, client_order_id)

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate | None:
        """Bybit's amend: the same order (orderId and orderLinkId kept) at a new price and/or
        quantity, reported on the order stream as that order changed. Side cannot change."""
        body = {**self._base(instrument, client_order_id), "qty": fmt_step(qty, instrument.lot_size),
                "price": fmt_step(px, instrument.tick_size)}
        if await self._order("amend", body, safe=True):
            return None
        return await self._read_back(instrument, client_order_id)

    async def cancel_all(self, instrument: Instrument) -> None:
        await self.rest.post(PATHS["cancel_all"], {"category": self.cfg.category, "symbol": instrument.symbol},
                             safe=True)

    async def _rows(self, path: str, params: dict, row: type, page_limit: int | None = None) -> list:
        """A list endpoint's rows; with ``page_limit``, every page: Bybit's lists page by
        ``limit`` (20 by default) and hand out ``nextPageCursor`` for the next page."""
        out: list = []
        seen: set[str] = set()
        if page_limit is not None:
            params = {**params, "limit": str(page_limit)}
        for _ in range(MAX_PAGES):
            res = await self.rest.get(path, params, into=schemas.ListResult)
            try:
                out += msgspec.convert(res.rows, list[row], strict=False)
            except msgspec.ValidationError as e:
                raise wire.MalformedMessage(f"{path}: {e}") from None
            cursor = res.nextPageCursor
            if page_limit is None or not cursor or not res.rows or cursor in seen:
                return out
            seen.add(cursor)
            params = {**params, "cursor": cursor}
        log.warning("%s: stopped after %d pages", path, MAX_PAGES)
        return out

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        """order/realtime knows open orders and the account's 500 most recent closed ones (none
        after a Bybit restart); older closed orders are found in order/history."""
        base = self._base(instrument, client_order_id)
        rows = (await self._rows(PATHS["realtime"], base, schemas.OrderRow)
                or await self._rows(PATHS["history"], base, schemas.OrderRow))
        if not rows:
            raise OrderNotFound(110001, f"order {client_order_id} not found")
        return wire.order(rows[0], time.time_ns())

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        params = {"category": self.cfg.category, "openOnly": "0"}
        params.update({"symbol": symbol} if symbol else {"settleCoin": SETTLE_COIN})
        now = time.time_ns()
        rows = await self._rows(PATHS["realtime"], params, schemas.OrderRow, ORDERS_PAGE)
        return [u for u in (wire.order(o, now) for o in rows) if u.status in ("new", "partially_filled")]

    async def positions(self) -> list[Position]:
        """Every non-zero position, and a flat one for each symbol this client trades or saw a
        position in but position/list leaves out: with ``settleCoin`` it lists only non-zero
        positions (position.mdx), so absent means flat."""
        rows = await self._rows(PATHS["positions"], {"category": self.cfg.category, "settleCoin": SETTLE_COIN},
                                schemas.PositionRow, POSITIONS_PAGE)
        now = time.time_ns()
        out = [wire.position(p, now) for p in rows]
        held = {p.symbol for p in out}
        self._position_symbols |= held
        out += [Position(sym, 0.0, 0.0, now) for sym in sorted((set(self.symbols) | self._position_symbols) - held)]
        return out

    async def balances(self) -> list[Balance]:
        rows = await self._rows(PATHS["wallet"], {"accountType": "UNIFIED"}, schemas.Wallet)
        return [b for row in rows for b in wire.wallet(row)]

    # --- disconnection protection (DCP) -------------------------------------------------------

    async def arm_dead_man(self, symbols: Sequence[str], window_s: float) -> None:
        """Set the account's DCP window (``product`` DERIVATIVES: it covers every linear order
        of the account, not only ``symbols``) and keep ``dcp.future`` subscribed on the private
        stream. Bybit offers DCP to institutional accounts only (order/dcp.mdx, 2026-03-10): a
        refusal, or an account query-dcp-info shows without DERIVATIVES on, is NotSupported."""
        window = int(window_s)
        lo, hi = DCP_WINDOW_S
        if not lo <= window <= hi:
            raise NotSupported(f"Bybit DCP takes a window of {lo} to {hi} whole seconds (order/dcp.mdx); "
                               f"{window_s:g} s asked")
        if window != self._dcp_window:
            try:
                await self.rest.post(PATHS["dcp"], {"product": _DCP_PRODUCT, "timeWindow": window}, safe=True)
            except RateLimited:
                raise
            except ExchangeRejected as e:
                raise NotSupported(f"Bybit refused DCP for this account ({e.code} {e.reason}); it is offered "
                                   "to institutional accounts only") from None
            info = await self.rest.get(PATHS["dcp_info"], {}, into=schemas.DcpInfos)
            on = [d for d in info.dcpInfos if d.product == _DCP_PRODUCT and d.dcpStatus == "ON"]
            if not on:
                raise NotSupported("DCP is not on for derivatives on this account (query-dcp-info lists none): "
                                   "Bybit enables it for institutional accounts through their account manager")
            self._dcp_window = window
            log.info("DCP armed: Bybit cancels the account's derivatives orders %d s after the user stream "
                     "is lost (query-dcp-info: %s s)", window, on[0].timeWindow)
        self._dcp_wanted = True
        if self._dcp_confirmed != self.private.connects or not self.private.connected.is_set():
            await self._dcp_request("subscribe")

    async def disarm_dead_man(self, symbols: Sequence[str]) -> None:
        """Bybit has no request that switches DCP off (order/dcp.mdx: ask the account manager);
        the private socket unsubscribes ``dcp.future`` instead, so closing it triggers nothing."""
        self._dcp_wanted = False
        if self._dcp_confirmed == self.private.connects and self.private.connected.is_set():
            await self._dcp_request("unsubscribe")
        self._dcp_confirmed = 0

    async def _dcp_resubscribe(self) -> None:
        """A new private connection carries dcp.future again (DCP counts connections, not keys)."""
        try:
            await self._dcp_request("subscribe")
        except Exception as e:
            log.error("user stream reconnected without %s (%s): DCP may cancel the account's orders; "
                      "retried on the next arm", _DCP_TOPIC, e)

    async def _dcp_request(self, op: str) -> None:
        """(Un)subscribe dcp.future on the current private connection and wait for Bybit's answer;
        after a subscription, ping at once: DCP counts a connection back only once its heartbeat
        resumes (order/dcp.mdx)."""
        if not self.private.connected.is_set():
            raise Unavailable("the user stream is down: dcp.future is subscribed once it is back")
        req_id = f"dcp-{op}-{self.private.connects}"
        ack = self._dcp_acks.get(req_id)
        try:
            if ack is None:             # else the same request is already on its way: share its answer
                ack = self._dcp_acks[req_id] = asyncio.get_running_loop().create_future()
                await self.private.send_json({"req_id": req_id, "op": op, "args": [_DCP_TOPIC]})
            ok, msg = await asyncio.wait_for(asyncio.shield(ack), self.cfg.request_timeout_s)
        except asyncio.TimeoutError:
            raise Unavailable(f"no answer to the {_DCP_TOPIC} {op} within {self.cfg.request_timeout_s:g}s") from None
        finally:
            self._dcp_acks.pop(req_id, None)
        if not ok:
            raise NotSupported(f"Bybit refused the {_DCP_TOPIC} {op}: {msg}")
        if op == "subscribe":
            await self.private.send_json({"op": "ping"})

    def _dcp_answer(self, req_id: str, ok: bool, msg: str) -> None:
        op, connects = req_id.split("-")[1], int(req_id.rsplit("-", 1)[1])
        if ok and op == "subscribe" and connects == self.private.connects:
            self._dcp_confirmed = connects
        elif not ok:
            log.error("user stream: %s of %s refused: %s", op, _DCP_TOPIC, msg)
        ack = self._dcp_acks.get(req_id)
        if ack is not None and not ack.done():
            ack.set_result((ok, msg))

    def stats(self) -> dict[str, Any]:
        return {**self.rest.clock_stats(),
                "throttled": self.rest.throttled, "market_connects": self.public.connects,
                "rest_backoff_s": round(self.rest.backoff_s(), 1),
                "user_connects": self.private.connects, "connect_waits": self.connect_budget.waited,
                "depth_gaps": sum(s.gaps for s in self.syncs.values()),
                "order_ws_connects": self.trade.ws.connects if self.trade else 0,
                "order_ws_requests": self.trade.sent if self.trade else 0,
                "order_ws_lost_in_flight": self.trade.lost if self.trade else 0,
                "order_rest_fallbacks": self.rest_fallbacks, "dcp_window_s": self._dcp_window}
