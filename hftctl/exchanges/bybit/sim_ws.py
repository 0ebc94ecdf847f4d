"""The sim's Bybit v5 websockets: public linear (orderbook.{depth}.SYM with u/seq, publicTrade.SYM),
private (auth, then order/execution/position/wallet topics, and dcp.future/spot/option, which
put the connection under disconnection protection: sim_dcp.py) and trade (auth, then
order.create/order.amend/order.cancel), with the life cycle of docs/v5/websocket/wss-authentication.mdx.

Books: orderbook.1 is snapshot-only (every change is a snapshot; an unchanged book is pushed again
after 3 s with the same u); the deeper ones send a snapshot on subscribe, then deltas. Depths
Bybit no longer has (500) are refused the way Bybit was seen refusing unknown topics: the docs
show no failure answer, so ``{"success":false,"ret_msg":"error:handler not found,topic:<t>"}``
is observed behaviour.

Life cycle: each channel answers pings in its own documented shape; a connection that was sent
nothing (no data, no pong) for 10 minutes is cut, sooner on private and trade connections that
asked for ``?max_active_time=``; at most 500 connection attempts per 5 minutes per IP across the
three (one websocket domain). Connection ids: Bybit's are opaque strings; the sim's are "sim-N".
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import defaultdict
from urllib.parse import urlsplit

import msgspec
import orjson
from aiohttp import web

from hftctl.exchanges.bybit import schemas as w
from hftctl.exchanges.bybit import sim_messages as wire
from hftctl.exchanges.bybit.signing import bybit_ws_auth_signature
from hftctl.exchanges.bybit.sim_dcp import BybitDcp
from hftctl.exchanges.bybit.sim_rest import UNKNOWN_WS, BybitError, BybitOrders
from hftctl.exchanges.bybit.sim_tickers import TickerTopics
from hftctl.exchanges.bybit.venues import (BOOK_MS, CATEGORY, CONNECT_WINDOW_S, DCP_TOPICS, IDLE_CUT_S,
                                           MAX_CONNECTS, TOP_RESEND_S, TRADE_OPS, max_active_time_s)
from hftctl.exchanges.venues import Venue
from hftctl.exchanges.wire import verify
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import AccountEvent, DepthUpdate, OrderEvent, Trade
from hftctl.sim.wshub import WsClient, WsHub, WsLimits

log = logging.getLogger(__name__)

_PRIVATE_TOPICS = {"order", "execution", "position", "wallet"}
_IDLE_TICK_S = 30.0           # Bybit checks alive time "every 30s", so cuts are not exact
_conn_ids = itertools.count(1)


class _BookStream:
    """One orderbook.{depth}.{symbol} topic: what subscribers were last told, and its u."""

    def __init__(self, symbol: str, depth: int) -> None:
        self.symbol, self.depth = symbol, depth
        self.topic = f"orderbook.{depth}.{symbol}"
        self.interval = BOOK_MS[depth] / 1000
        self.snapshot_only = depth == 1
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.u = 0
        self.gap = False
        self.dirty = False
        self.next_due = 0.0
        self.last_sent = time.monotonic()
        self.clients: set[WsClient] = set()


def _send(client: WsClient, payload: dict) -> None:
    client.send(orjson.dumps(payload))


class BybitStreams:
    def __init__(self, engine: SimEngine, hub: WsHub, orders: BybitOrders, dcp: BybitDcp,
                 ping_interval_s: float) -> None:
        self.engine = engine
        self.hub = hub
        self.orders = orders
        self.dcp = dcp
        self.ping_interval_s = ping_interval_s
        # One rule set for the three endpoints: they share a domain, and the connection
        # attempt limit counts per domain.
        self.limits = WsLimits(max_connects=MAX_CONNECTS, connect_window_s=CONNECT_WINDOW_S)
        self.idle_cut_s = IDLE_CUT_S
        self.conns: set[WsClient] = set()
        self.books: dict[str, _BookStream] = {}
        self.trades: dict[str, set[WsClient]] = defaultdict(set)
        self.private: dict[int, set[WsClient]] = defaultdict(set)     # id(account) -> clients
        self._last_u: dict[str, int] = {}
        self._exec_seq = 0
        self.tickers = TickerTopics(engine)        # tickers and allLiquidation
        engine.market_listeners.append(self.on_market)
        engine.user_listeners.append(self.on_user)

    def routes(self, app: web.Application, venue: Venue) -> None:
        """The websockets ``venue`` has (demo: public and private, no trade), at its paths."""
        for route, handler in (("public", self.public), ("private", self.private_ws), ("trade", self.trade_ws)):
            if route in venue.ws:
                app.router.add_get(urlsplit(venue.ws[route]).path, handler)

    async def _serve(self, request: web.Request, on_frame, on_close, alive_param: bool = False):
        alive = None
        if alive_param:
            try:
                alive = max_active_time_s(str(request.url))
            except ValueError as e:
                return web.Response(status=400, text=str(e))    # docs silent: refused loudly

        async def on_open(client: WsClient) -> bool:
            client.state.update(conn_id=f"sim-{next(_conn_ids)}", topics=set(), account=None, req_ids=set(),
                                alive_s=alive, sent_seen=-1, active_at=time.monotonic())
            self.conns.add(client)
            return True

        def on_text(client: WsClient, text: str) -> None:
            try:
                req = orjson.loads(text)
            except orjson.JSONDecodeError:
                req = None
            if not isinstance(req, dict):
                _send(client, {"success": False, "ret_msg": "Invalid JSON", "conn_id": client.state["conn_id"],
                               "op": ""})
                return
            on_frame(client, req)

        def closed(client: WsClient) -> None:
            self.conns.discard(client)
            on_close(client)
        return await self.hub.serve(request, self.ping_interval_s, on_text, closed, on_open, limits=self.limits)

    async def run_idle_cut(self) -> None:
        """Cut connections that were sent nothing for their alive time (10 minutes, or the
        ``max_active_time`` they asked for): pongs and pushed data keep a connection alive."""
        while True:
            await asyncio.sleep(min(_IDLE_TICK_S, self.idle_cut_s / 4))
            now = time.monotonic()
            for c in list(self.conns):
                st = c.state
                if c.sent != st["sent_seen"]:
                    st["sent_seen"], st["active_at"] = c.sent, now
                elif now - st["active_at"] >= (st["alive_s"] or self.idle_cut_s):
                    log.info("websocket %s cut: nothing sent for %.0f s", st["conn_id"], now - st["active_at"])
                    self.conns.discard(c)
                    c.drop()

    def _reply(self, client: WsClient, req: dict, success: bool = True, msg: str = "") -> None:
        """Public channel answer (linear shape: conn_id, then req_id, then op)."""
        _send(client, {"success": success, "ret_msg": msg, "conn_id": client.state["conn_id"],
                       "req_id": req.get("req_id", ""), "op": req.get("op", "")})

    def _private_reply(self, client: WsClient, req: dict, success: bool = True, msg: str = "") -> None:
        """Private channel answer: op before conn_id, req_id only when the request had one."""
        _send(client, {"success": success, "ret_msg": msg, "op": req.get("op", ""),
                       "conn_id": client.state["conn_id"], **({"req_id": req["req_id"]} if "req_id" in req else {})})

    # ---- public -------------------------------------------------------------------------------
    async def public(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self._public_frame, self._public_close)

    def _public_frame(self, client: WsClient, req: dict) -> None:
        op = req.get("op")
        if op == "ping":
            self._reply(client, req, True, "pong")
            return
        if op not in ("subscribe", "unsubscribe"):
            self._reply(client, req, False, f"Invalid op {op!r}")
            return
        args = req.get("args")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            self._reply(client, req, False, "Invalid args")
            return
        bad = [a for a in args if self._topic(a) is None]
        if bad:
            self._reply(client, req, False, f"error:handler not found,topic:{bad[0]}")
            return
        self._reply(client, req)
        for topic in args:
            kind, symbol, depth = self._topic(topic)
            if op == "subscribe":
                client.state["topics"].add(topic)
                if kind in ("tickers", "liquidation"):
                    self.tickers.subscribe(client, kind, symbol)
                elif kind == "trade":
                    self.trades[symbol].add(client)
                else:
                    stream = self.books.get(topic)
                    if stream is None:
                        stream = self.books[topic] = _BookStream(symbol, depth)
                    if not stream.clients:
                        self._refresh(stream)
                    stream.clients.add(client)
                    self._snapshot(stream, client)
            else:
                client.state["topics"].discard(topic)
                self.tickers.unsubscribe(client, kind, symbol)
                self.trades.get(symbol, set()).discard(client)
                if topic in self.books:
                    self.books[topic].clients.discard(client)

    def _topic(self, topic: str):
        parts = topic.split(".")
        if len(parts) == 2 and parts[0] == "publicTrade" and parts[1] in self.engine.specs:
            return "trade", parts[1], 0
        if (len(parts) == 3 and parts[0] == "orderbook" and parts[1].isdigit() and int(parts[1]) in BOOK_MS
                and parts[2] in self.engine.specs):
            return "book", parts[2], int(parts[1])
        extra = self.tickers.kind(topic)
        return (*extra, 0) if extra else None

    def _public_close(self, client: WsClient) -> None:
        self.tickers.close(client)
        for clients in self.trades.values():
            clients.discard(client)
        for stream in self.books.values():
            stream.clients.discard(client)

    def _current(self, stream: _BookStream) -> tuple[dict, dict]:
        book = self.engine.books[stream.symbol]
        spec = book.spec
        return ({spec.price_str(t): spec.qty_str(n) for t, n in book.top(1, stream.depth)},
                {spec.price_str(t): spec.qty_str(n) for t, n in book.top(-1, stream.depth)})

    def _refresh(self, stream: _BookStream) -> None:
        """A topic nobody listened to starts again from the current book (its u goes on)."""
        stream.bids, stream.asks = self._current(stream)
        stream.u += 1
        stream.gap = False

    def _book_message(self, stream: _BookStream, kind: str, bids: list, asks: list, t: int) -> bytes:
        data = w.BookData(s=stream.symbol, b=bids, a=asks, u=stream.u,
                          seq=self.engine.books[stream.symbol].last_update_id)
        if stream.snapshot_only:
            return msgspec.json.encode(w.TopBookMessage(topic=stream.topic, ts=t, type=kind, data=data, cts=t))
        return msgspec.json.encode(w.BookMessage(topic=stream.topic, type=kind, ts=t, data=data, cts=t))

    def _snapshot_payload(self, stream: _BookStream) -> bytes:
        return self._book_message(stream, "snapshot", sorted(stream.bids.items(), key=lambda x: -float(x[0])),
                                  sorted(stream.asks.items(), key=lambda x: float(x[0])), self.engine.now_ms())

    def _snapshot(self, stream: _BookStream, client: WsClient) -> None:
        client.send(self._snapshot_payload(stream))

    def _push_book(self, stream: _BookStream, payload: bytes, now: float) -> None:
        stream.last_sent = now
        for c in stream.clients:
            c.send(payload)

    async def run_books(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.tickers.tick(now)
            for stream in self.books.values():
                if not stream.clients:
                    continue
                if stream.snapshot_only and now - stream.last_sent >= TOP_RESEND_S:
                    self._push_book(stream, self._snapshot_payload(stream), now)    # unchanged: same u
                if not stream.dirty or now < stream.next_due:
                    continue
                stream.next_due = now + stream.interval
                stream.dirty = False
                bids, asks = self._current(stream)
                db = [[p, q] for p, q in bids.items() if stream.bids.get(p) != q]
                db += [[p, "0"] for p in stream.bids if p not in bids]
                da = [[p, q] for p, q in asks.items() if stream.asks.get(p) != q]
                da += [[p, "0"] for p in stream.asks if p not in asks]
                if not db and not da:
                    continue
                stream.bids, stream.asks = bids, asks
                stream.u += 2 if stream.gap else 1          # an injected gap: one u never sent
                stream.gap = False
                if stream.snapshot_only:
                    self._push_book(stream, self._snapshot_payload(stream), now)
                    continue
                db.sort(key=lambda x: -float(x[0]))
                da.sort(key=lambda x: float(x[0]))
                self._push_book(stream, self._book_message(stream, "delta", db, da, self.engine.now_ms()), now)

    def on_market(self, ev) -> None:
        self.tickers.on_market(ev)
        if type(ev) is DepthUpdate:
            gap = ev.prev_id != self._last_u.get(ev.symbol, ev.prev_id)
            self._last_u[ev.symbol] = ev.last_id
            for stream in self.books.values():
                if stream.symbol == ev.symbol:
                    stream.dirty = True
                    stream.gap = stream.gap or gap
        elif type(ev) is Trade:
            clients = self.trades.get(ev.symbol)
            if clients:
                payload = msgspec.json.encode(w.TradeMessage(topic=f"publicTrade.{ev.symbol}", type="snapshot",
                                                             ts=ev.event_ms, data=[wire.public_trade(ev)]))
                for c in clients:
                    c.send(payload)

    # ---- private and trade ---------------------------------------------------------------------
    def _authorise(self, client: WsClient, req: dict) -> tuple[int, str]:
        """The ``auth`` op of the private and trade channels: (code, message), 0 when the
        connection is now the key's account's. Codes are the trade channel's (guideline.mdx);
        the private channel only says success or not."""
        args = req.get("args")
        if not isinstance(args, list) or len(args) != 3:
            return 10001, "Params Error"
        if client.state["account"] is not None:
            return 20001, "Repeat auth"
        key, expires, sig = args
        account = self.engine.account_for_key(str(key))
        try:
            expires_ms = int(expires)
        except (TypeError, ValueError):
            return 10001, "Params Error"
        if account is None:
            return 10003, "API key is invalid."
        if expires_ms <= self.engine.now_ms():
            return 10001, "Params Error: expires is in the past"
        if not verify(bybit_ws_auth_signature(account.secret, expires_ms), str(sig)):
            return 10004, "Invalid sign"
        client.state["account"] = account
        return 0, ""

    async def private_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self._private_frame, self._private_close, alive_param=True)

    def _private_frame(self, client: WsClient, req: dict) -> None:
        op = req.get("op")
        account = client.state["account"]
        if op == "auth":
            code, msg = self._authorise(client, req)
            self._private_reply(client, req, code == 0, msg)
        elif op == "ping":
            _send(client, {"req_id": req.get("req_id", ""), "op": "pong", "args": [str(self.engine.now_ms())],
                           "conn_id": client.state["conn_id"]})
            if account is not None:
                self.dcp.pinged(client, account)
        elif op in ("subscribe", "unsubscribe"):
            args = req.get("args")
            if account is None:
                self._private_reply(client, req, False, "Request not authorized")
                return
            if not isinstance(args, list) or not all(
                    isinstance(a, str) and (a in DCP_TOPICS or a.split(".")[0] in _PRIVATE_TOPICS) for a in args):
                self._private_reply(client, req, False, "Invalid topic")     # no documented text
                return
            for topic in args:
                # dcp topics are kept whole (dcp.future and dcp.spot are separate switches); the
                # others by their base, which is what the pushes are named
                name = topic if topic in DCP_TOPICS else topic.split(".")[0]
                if op == "subscribe":
                    client.state["topics"].add(name)
                    self.dcp.subscribed(client, account, topic)
                else:
                    client.state["topics"].discard(name)
                    self.dcp.unsubscribed(client, account, topic)
            self.private[id(account)].add(client)
            self._private_reply(client, req)
        else:
            self._private_reply(client, req, False, f"Invalid op {op!r}")

    def drop_private(self, conn_id: str | None) -> list[str]:
        """Cut private connections (all, or the one with ``conn_id``), as a lapsed session would;
        returns the names of their accounts."""
        out = []
        for clients in self.private.values():
            for c in list(clients):
                if conn_id is None or c.state.get("conn_id") == conn_id:
                    out.append(c.state["account"].name)
                    c.drop()
        return out

    def _private_close(self, client: WsClient) -> None:
        account = client.state.get("account")
        if account is not None:
            self.private[id(account)].discard(client)
            self.dcp.closed(client, account)

    def _push(self, account, topic: str, data: list) -> None:
        clients = [c for c in self.private.get(id(account), ()) if topic in c.state["topics"]]
        if not clients:
            return
        payload = msgspec.json.encode(w.PrivateMessage(id=str(uuid.uuid4()), topic=topic,
                                                       creationTime=self.engine.now_ms(), data=data))
        for c in clients:
            c.send(payload)

    def on_user(self, ev) -> None:
        if type(ev) is OrderEvent:
            o = ev.order
            if not self.private.get(id(o.account)):
                return
            spec = self.engine.specs[o.symbol]
            if ev.exec_type == "trade":
                self._exec_seq += 1
                self._push(o.account, "execution", [wire.execution(ev, spec, self.engine, self._exec_seq)])
            self._push(o.account, "order", [wire.order_row(o, spec)])
        elif type(ev) is AccountEvent:
            if not self.private.get(id(ev.account)):
                return
            if ev.positions:
                self._push(ev.account, "position", [wire.position(self.engine, ev.account, p) for p in ev.positions])
            self._push(ev.account, "wallet", [wire.wallet(self.engine, ev.account)])

    async def trade_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self._trade_frame, lambda c: None, alive_param=True)

    def _trade_frame(self, client: WsClient, req: dict) -> None:
        """Answers in the trade channel's envelope (guideline.mdx, ``schemas.TradeReply``):
        retCode/retMsg, camelCase reqId (echoed only when sent) and connId."""
        op = req.get("op")
        conn = client.state["conn_id"]
        echo = req["reqId"] if isinstance(req.get("reqId"), str) else msgspec.UNSET
        if op == "ping":
            client.send(msgspec.json.encode(w.TradeReply(retCode=0, retMsg="OK", op="pong",
                                                         data=[str(self.engine.now_ms())], connId=conn)))
            return
        if op == "auth":
            code, msg = self._authorise(client, req)
            client.send(msgspec.json.encode(w.TradeReply(reqId=echo, retCode=code, retMsg=msg or "OK", op="auth",
                                                         connId=conn)))
            return
        now = self.engine.now_ms()
        header = {"Traceid": uuid.uuid4().hex, "Timenow": str(now)}
        reply = w.TradeReply(reqId=echo, retCode=0, retMsg="OK", op=op if isinstance(op, str) else "", data={},
                             retExtInfo={}, header=header, connId=conn)
        try:
            account = client.state["account"]
            if account is None:
                raise BybitError(10005, "Permission denied: auth first")   # no documented code
            if "reqId" in req:
                if not isinstance(echo, str) or len(echo) > 36:
                    raise BybitError(10001, "params error: reqId must be a string of at most 36 characters")
                if echo in client.state["req_ids"]:
                    raise BybitError(20006, "reqId is duplicated")
                client.state["req_ids"].add(echo)
            handler = {"order.create": self.orders.create, "order.amend": self.orders.amend,
                       "order.cancel": self.orders.cancel}.get(op)
            if handler is None:
                raise BybitError(10404, f"op type is not found: {op!r}")
            head = req.get("header") if isinstance(req.get("header"), dict) else {}
            ts, recv = str(head.get("X-BAPI-TIMESTAMP", "")), str(head.get("X-BAPI-RECV-WINDOW", "5000"))
            if not ts.isdigit() or not recv.isdigit():
                raise BybitError(10001, "params error: header X-BAPI-TIMESTAMP is required")
            if not now - int(recv) <= int(ts) < now + 1000:
                raise BybitError(10002, "invalid request, please check your server timestamp or recv_window param")
            args = req.get("args")
            if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
                raise BybitError(10001, "params error: args must hold one order")
            if args[0].get("category") != CATEGORY:
                raise BybitError(10404, "category is not correct/supported")
            reply.header = {**self.orders.limit_headers(account, now, TRADE_OPS[op]), **header}
            reply.data = self.orders.guarded(handler, account, args[0], UNKNOWN_WS)
        except BybitError as exc:
            reply.retCode, reply.retMsg = exc.code, exc.msg
        client.send(msgspec.json.encode(reply))
