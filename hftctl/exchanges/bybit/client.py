"""Bybit v5 linear behind :class:`hftctl.exchanges.base.ExchangeClient`.

Public data on ``public_url`` (``orderbook.{depth}.{symbol}``, ``publicTrade.{symbol}``),
orders/positions/wallet on ``private_url`` after the ``auth`` op, orders placed over REST
(``/v5/order/create|amend|cancel``). Bybit acknowledges an order request with its ids only,
so the client reads the order back (``/v5/order/realtime``) to report its state at once; the
private stream then carries every later change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import orjson

from hftctl.exchanges.base import (AmbiguousResult, ExchangeClient, ExchangeRejected, ExchangeSink,
                                   Instrument, NullSink, OrderNotFound, OrderRequest)
from hftctl.exchanges.wire import fmt_step, load_frame
from hftctl.exchanges.bybit import messages as wire
from hftctl.exchanges.bybit.config import BybitConfig, load_config
from hftctl.exchanges.bybit.depth_sync import BybitBookSync
from hftctl.exchanges.bybit.rest import BybitRest
from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket
from hftctl.exchanges.signing import bybit_ws_auth_signature
from hftctl.ipc.schema import Balance, BestBidOffer, OrderUpdate, Position

log = logging.getLogger(__name__)

__all__ = ["BybitClient", "load_config", "create_client"]

SIDE = {1: "Buy", -1: "Sell"}
TIF = {"gtc": "GTC", "gtx": "PostOnly", "ioc": "IOC", "fok": "FOK"}
_PRIVATE_TOPICS = ["order", "position", "wallet"]


def create_client(cfg: BybitConfig) -> "BybitClient":
    return BybitClient(cfg)


class BybitClient(ExchangeClient):
    name = "bybit"

    def __init__(self, cfg: BybitConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rest = BybitRest(cfg)
        self.sink: ExchangeSink = NullSink()
        self.symbols: list[str] = []
        self.syncs: dict[str, BybitBookSync] = {}
        self._tops: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
        self._auth: asyncio.Future | None = None
        self.public = ReconnectingWebSocket("market", self._public_url, self._public_open, self._on_public,
                                            lambda s: self.sink.stream_state("market", s),
                                            cfg.reconnect_min_s, cfg.reconnect_max_s)
        self.private = ReconnectingWebSocket("user", self._private_url, self._private_open, self._on_private,
                                             lambda s: self.sink.stream_state("user", s),
                                             cfg.reconnect_min_s, cfg.reconnect_max_s)

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
            raise ExchangeRejected(-1, f"user data stream authentication failed: {msg}")

    async def close(self) -> None:
        await self.public.stop()
        await self.private.stop()
        await self._stop_tasks()
        await self.rest.close()

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.ping_interval_s)
            for ws in (self.public, self.private):
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
        return self.cfg.public_url

    async def _public_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        if connects > 1:
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

    def _on_public(self, payload: bytes | str, local_ts: int) -> None:
        raw, m = load_frame(payload, log, "market")
        topic = m.get("topic") if isinstance(m, dict) else None
        if not isinstance(topic, str):
            if isinstance(m, dict) and m.get("success") is False:
                self._subscribe_failed(str(m.get("ret_msg", "")))
            return
        kind, _, sym = topic.rpartition(".")
        self.sink.raw(sym, topic, local_ts, raw)
        try:
            if kind == "orderbook.1" and self.cfg.book_depth != 1:
                self._on_top(wire.book(m), local_ts)
            elif kind.startswith("orderbook"):
                sync = self.syncs.get(sym)
                if sync is None:
                    return
                for msg in sync.on_message(wire.book(m), local_ts):
                    self.sink.market(msg)
                if sync.needs_resubscribe:
                    sync.needs_resubscribe = False
                    self._spawn(self._resubscribe_book(sym))
            elif kind == "publicTrade":
                for t in wire.trades(m, local_ts):
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

    def _on_top(self, b: wire.BookMessage, local_ts: int) -> None:
        """orderbook.1 -> BestBidOffer (a one-level book: snapshot replaces, delta updates)."""
        bids, asks = self._tops.setdefault(b.symbol, ({}, {}))
        if b.is_snapshot:
            bids.clear()
            asks.clear()
        for side, levels in ((bids, b.bids), (asks, b.asks)):
            for px, qty in levels:
                if qty > 0:
                    side[px] = qty
                else:
                    side.pop(px, None)
        if bids and asks:
            bp, ap = max(bids), min(asks)
            self.sink.market(BestBidOffer(b.symbol, b.exch_ts, local_ts, bp, bids[bp], ap, asks[ap]))

    # --- user data ----------------------------------------------------------------------------

    async def _private_url(self) -> str:
        return self.cfg.private_url

    async def _private_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        expires = self.rest.now_ms() + 10_000
        await ws.send_json({"op": "auth", "args": [
            self.cfg.api_key.reveal(), expires, bybit_ws_auth_signature(self.cfg.secret.reveal(), expires)]})
        if connects > 1:
            self.sink.user_stream_reconnected()

    def _on_private(self, payload: bytes | str, local_ts: int) -> None:
        try:
            m = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("user stream: undecodable message skipped")
            return
        if not isinstance(m, dict):
            return
        if m.get("op") == "auth":
            ok = bool(m.get("success"))
            if ok:
                self._spawn(self.private.send_json({"op": "subscribe", "args": _PRIVATE_TOPICS}))
            else:
                log.error("user stream authentication failed: %s", m.get("ret_msg"))
            if self._auth is not None and not self._auth.done():
                self._auth.set_result((ok, m.get("ret_msg", "")))
            return
        topic = m.get("topic")
        try:
            if topic == "order":
                for o in m.get("data", []):
                    self.sink.order(wire.order(o, local_ts))
            elif topic == "position":
                now = time.time_ns()
                for p in m.get("data", []):
                    self.sink.position(wire.position(p, now))
            elif topic == "wallet":
                for w in m.get("data", []):
                    for b in wire.wallet(w):
                        self.sink.balance(b)
        except wire.MalformedMessage as e:
            log.warning("user stream: malformed %s skipped: %s", topic, e)

    # --- orders -------------------------------------------------------------------------------

    def _base(self, inst: Instrument, cid: str) -> dict[str, str]:
        return {"category": self.cfg.category, "symbol": inst.symbol, "orderLinkId": cid}

    async def submit(self, req: OrderRequest) -> OrderUpdate | None:
        inst = req.instrument
        body = {**self._base(inst, req.client_order_id), "side": SIDE[req.side],
                "orderType": "Market" if req.order_type == "market" else "Limit",
                "qty": fmt_step(req.qty, inst.lot_size)}
        if req.order_type == "limit":
            body["price"] = fmt_step(req.px, inst.tick_size)
            body["timeInForce"] = TIF[req.time_in_force]
        try:
            await self.rest.post("/v5/order/create", body, safe=False)
        except AmbiguousResult as e:
            log.warning("submit %s: outcome unknown (%s); querying by orderLinkId", req.client_order_id, e)
            return await self.resolve_ambiguous_submit(req)
        return await self._read_back(inst, req.client_order_id)

    async def _read_back(self, inst: Instrument, cid: str) -> OrderUpdate | None:
        """The order's state after an acknowledged request; None leaves it to the stream."""
        try:
            return await self.query_order(inst, cid)
        except Exception as e:
            log.debug("read-back of %s failed (%s); the private stream will report it", cid, e)
            return None

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate | None:
        await self.rest.post("/v5/order/cancel", self._base(instrument, client_order_id), safe=True)
        return await self._read_back(instrument, client_order_id)

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate | None:
        body = {**self._base(instrument, client_order_id), "qty": fmt_step(qty, instrument.lot_size),
                "price": fmt_step(px, instrument.tick_size)}
        await self.rest.post("/v5/order/amend", body, safe=True)
        return await self._read_back(instrument, client_order_id)

    async def cancel_all(self, instrument: Instrument) -> None:
        await self.rest.post("/v5/order/cancel-all", {"category": self.cfg.category,
                                                      "symbol": instrument.symbol}, safe=True)

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        res = await self.rest.get("/v5/order/realtime", self._base(instrument, client_order_id))
        rows = (res or {}).get("list") or []
        if not rows:
            raise OrderNotFound(110001, f"order {client_order_id} not found")
        return wire.order(rows[0], time.time_ns())

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        params = {"category": self.cfg.category, "openOnly": "0"}
        params.update({"symbol": symbol} if symbol else {"settleCoin": "USDT"})
        res = await self.rest.get("/v5/order/realtime", params)
        now = time.time_ns()
        return [u for u in (wire.order(o, now) for o in (res or {}).get("list") or [])
                if u.status in ("new", "partially_filled")]

    async def positions(self) -> list[Position]:
        res = await self.rest.get("/v5/position/list", {"category": self.cfg.category, "settleCoin": "USDT"})
        now = time.time_ns()
        return [wire.position(p, now) for p in (res or {}).get("list") or []]

    async def balances(self) -> list[Balance]:
        res = await self.rest.get("/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        return [b for w in (res or {}).get("list") or [] for b in wire.wallet(w)]

    def stats(self) -> dict[str, Any]:
        return {**self.rest.clock_stats(),
                "throttled": self.rest.throttled, "market_connects": self.public.connects,
                "user_connects": self.private.connects,
                "depth_gaps": sum(s.gaps for s in self.syncs.values())}
