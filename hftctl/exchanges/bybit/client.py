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
import msgspec

from hftctl.exchanges.base import ExchangeClient, ExchangeSink, Instrument, NullSink, OrderRequest
from hftctl.exchanges.bybit import messages as wire
from hftctl.exchanges.bybit import schemas
from hftctl.exchanges.bybit.config import BybitConfig, load_config
from hftctl.exchanges.bybit.depth_sync import BookUpdate, BybitBookSync
from hftctl.exchanges.bybit.rest import BybitRest
from hftctl.exchanges.bybit.signing import bybit_ws_auth_signature
from hftctl.exchanges.bybit.venues import PATHS
from hftctl.exchanges.errors import ConnectFailed, OrderNotFound
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


def create_client(cfg: BybitConfig) -> "BybitClient":
    return BybitClient(cfg)


def _topic(raw: bytes) -> str | None:
    """The topic of a public message that names it first (Bybit's layout), without parsing it."""
    if not raw.startswith(b'{"topic":"'):
        return None
    end = raw.find(b'"', 10)
    return raw[10:end].decode("ascii", "replace") if end > 0 else None


class BybitClient(ExchangeClient):
    name = "bybit"

    def __init__(self, cfg: BybitConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rest = BybitRest(cfg, PATHS["time"])
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
            raise ConnectFailed(f"user data stream authentication failed: {msg}")

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
        raw = payload.encode() if isinstance(payload, str) else payload
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
        raw = payload.encode() if isinstance(payload, str) else payload
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
            else:
                log.error("user stream authentication failed: %s", m.ret_msg)
            if self._auth is not None and not self._auth.done():
                self._auth.set_result((ok, m.ret_msg))
        elif m.success is False:
            log.error("user stream request refused: %s", m.ret_msg)

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
        # An OutcomeUnknown goes to the connector, which finds the order (connector/outcomes.py).
        await self.rest.post(PATHS["create"], body, safe=False)
        return await self._read_back(inst, req.client_order_id)

    async def _read_back(self, inst: Instrument, cid: str) -> OrderUpdate | None:
        """The order's state after an acknowledged request; None leaves it to the stream."""
        try:
            return await self.query_order(inst, cid)
        except Exception as e:
            log.debug("read-back of %s failed (%s); the private stream will report it", cid, e)
            return None

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate | None:
        await self.rest.post(PATHS["cancel"], self._base(instrument, client_order_id), safe=True)
        return await self._read_back(instrument, client_order_id)

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate | None:
        body = {**self._base(instrument, client_order_id), "qty": fmt_step(qty, instrument.lot_size),
                "price": fmt_step(px, instrument.tick_size)}
        await self.rest.post(PATHS["amend"], body, safe=True)
        return await self._read_back(instrument, client_order_id)

    async def cancel_all(self, instrument: Instrument) -> None:
        await self.rest.post(PATHS["cancel_all"], {"category": self.cfg.category, "symbol": instrument.symbol},
                             safe=True)

    async def _rows(self, path: str, params: dict, row: type) -> list:
        res = await self.rest.get(path, params, into=schemas.ListResult)
        try:
            return msgspec.convert(res.rows, list[row], strict=False)
        except msgspec.ValidationError as e:
            raise wire.MalformedMessage(f"{path}: {e}") from None

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        rows = await self._rows(PATHS["realtime"], self._base(instrument, client_order_id), schemas.OrderRow)
        if not rows:
            raise OrderNotFound(110001, f"order {client_order_id} not found")
        return wire.order(rows[0], time.time_ns())

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        params = {"category": self.cfg.category, "openOnly": "0"}
        params.update({"symbol": symbol} if symbol else {"settleCoin": "USDT"})
        now = time.time_ns()
        return [u for u in (wire.order(o, now) for o in await self._rows(PATHS["realtime"], params, schemas.OrderRow))
                if u.status in ("new", "partially_filled")]

    async def positions(self) -> list[Position]:
        rows = await self._rows(PATHS["positions"], {"category": self.cfg.category, "settleCoin": "USDT"},
                                schemas.PositionRow)
        now = time.time_ns()
        return [wire.position(p, now) for p in rows]

    async def balances(self) -> list[Balance]:
        rows = await self._rows(PATHS["wallet"], {"accountType": "UNIFIED"}, schemas.Wallet)
        return [b for row in rows for b in wire.wallet(row)]

    def stats(self) -> dict[str, Any]:
        return {**self.rest.clock_stats(),
                "throttled": self.rest.throttled, "market_connects": self.public.connects,
                "rest_backoff_s": round(max(0.0, self.rest._hold_until - time.monotonic()), 1),
                "user_connects": self.private.connects,
                "depth_gaps": sum(s.gaps for s in self.syncs.values())}
