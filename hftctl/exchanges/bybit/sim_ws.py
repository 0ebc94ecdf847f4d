"""The sim's Bybit v5 websockets: public linear (orderbook.{depth}.SYM snapshot/delta with u/seq,
publicTrade.SYM), private (auth, then order/execution/position/wallet topics) and trade (auth,
then order.create/order.amend/order.cancel)."""

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
from hftctl.exchanges.bybit.sim_rest import BybitError, BybitOrders
from hftctl.exchanges.bybit.venues import BOOK_MS, VENUES
from hftctl.exchanges.venues import TESTNET
from hftctl.exchanges.wire import verify
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import AccountEvent, DepthUpdate, OrderEvent, Trade
from hftctl.sim.wshub import WsClient, WsHub

log = logging.getLogger(__name__)

_PRIVATE_TOPICS = {"order", "execution", "position", "wallet"}
_conn_ids = itertools.count(1)


class _BookStream:
    """One orderbook.{depth}.{symbol} topic: what subscribers were last told, and its u."""

    def __init__(self, symbol: str, depth: int) -> None:
        self.symbol, self.depth = symbol, depth
        self.topic = f"orderbook.{depth}.{symbol}"
        self.interval = BOOK_MS[depth] / 1000
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
    def __init__(self, engine: SimEngine, hub: WsHub, orders: BybitOrders, ping_interval_s: float) -> None:
        self.engine = engine
        self.hub = hub
        self.orders = orders
        self.ping_interval_s = ping_interval_s
        self.books: dict[str, _BookStream] = {}
        self.trades: dict[str, set[WsClient]] = defaultdict(set)
        self.private: dict[int, set[WsClient]] = defaultdict(set)     # id(account) -> clients
        self._last_u: dict[str, int] = {}
        self._exec_seq = 0
        engine.market_listeners.append(self.on_market)
        engine.user_listeners.append(self.on_user)

    def routes(self, app: web.Application) -> None:
        for route, handler in (("public", self.public), ("private", self.private_ws), ("trade", self.trade_ws)):
            app.router.add_get(urlsplit(VENUES[TESTNET].ws[route]).path, handler)

    async def _serve(self, request: web.Request, on_frame, on_close) -> web.WebSocketResponse:
        async def on_open(client: WsClient) -> bool:
            client.state.update(conn_id=f"sim-{next(_conn_ids)}", topics=set(), account=None)
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
        return await self.hub.serve(request, self.ping_interval_s, on_text, on_close, on_open)

    def _reply(self, client: WsClient, req: dict, success: bool = True, msg: str = "") -> None:
        _send(client, {"success": success, "ret_msg": msg, "conn_id": client.state["conn_id"],
                       "req_id": req.get("req_id", ""), "op": req.get("op", "")})

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
                if kind == "trade":
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
        return None

    def _public_close(self, client: WsClient) -> None:
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
        """A topic nobody listened to restarts from the current book (u counts from 1 again)."""
        stream.bids, stream.asks = self._current(stream)
        stream.u += 1
        stream.gap = False

    def _book_message(self, stream: _BookStream, kind: str, bids: list, asks: list, t: int) -> bytes:
        return msgspec.json.encode(w.BookMessage(
            topic=stream.topic, type=kind, ts=t,
            data=w.BookData(s=stream.symbol, b=bids, a=asks, u=stream.u,
                            seq=self.engine.books[stream.symbol].last_update_id), cts=t))

    def _snapshot(self, stream: _BookStream, client: WsClient) -> None:
        client.send(self._book_message(
            stream, "snapshot", sorted(stream.bids.items(), key=lambda x: -float(x[0])),
            sorted(stream.asks.items(), key=lambda x: float(x[0])), self.engine.now_ms()))

    async def run_books(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            for stream in self.books.values():
                if stream.depth == 1 and stream.clients and now - stream.last_sent >= 3.0:
                    # Bybit re-sends a level-1 snapshot after 3 s without a change
                    stream.last_sent = now
                    for c in stream.clients:
                        self._snapshot(stream, c)
                if not stream.clients or not stream.dirty or now < stream.next_due:
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
                stream.last_sent = now
                stream.u += 2 if stream.gap else 1          # an injected gap: one u never sent
                stream.gap = False
                db.sort(key=lambda x: -float(x[0]))
                da.sort(key=lambda x: float(x[0]))
                payload = self._book_message(stream, "delta", db, da, self.engine.now_ms())
                for c in stream.clients:
                    c.send(payload)

    def on_market(self, ev) -> None:
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
    def _auth(self, client: WsClient, req: dict) -> None:
        args = req.get("args")
        ok = False
        msg = "Params Error"
        if isinstance(args, list) and len(args) == 3:
            key, expires, sig = args
            account = self.engine.account_for_key(str(key))
            try:
                expires_ms = int(expires)
            except (TypeError, ValueError):
                expires_ms = 0
            if account is None:
                msg = "API key is invalid."
            elif expires_ms <= self.engine.now_ms():
                msg = "Params Error: expires is in the past"
            elif not verify(bybit_ws_auth_signature(account.secret, expires_ms), str(sig)):
                msg = "Request not authorized"
            else:
                ok, msg = True, ""
                client.state["account"] = account
        _send(client, {"success": ok, "ret_msg": msg, "op": "auth", "conn_id": client.state["conn_id"],
                       **({"req_id": req["req_id"]} if "req_id" in req else {})})

    async def private_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self._private_frame, self._private_close)

    def _private_frame(self, client: WsClient, req: dict) -> None:
        op = req.get("op")
        if op == "auth":
            self._auth(client, req)
        elif op == "ping":
            _send(client, {"req_id": req.get("req_id", ""), "op": "pong", "args": [str(self.engine.now_ms())],
                           "conn_id": client.state["conn_id"]})
        elif op in ("subscribe", "unsubscribe"):
            account = client.state["account"]
            args = req.get("args")
            if account is None:
                self._reply(client, req, False, "Request not authorized")
                return
            if not isinstance(args, list) or not all(isinstance(a, str) and a.split(".")[0] in _PRIVATE_TOPICS
                                                     for a in args):
                self._reply(client, req, False, "Invalid topic")
                return
            for topic in args:
                base = topic.split(".")[0]
                if op == "subscribe":
                    client.state["topics"].add(base)
                else:
                    client.state["topics"].discard(base)
            self.private[id(account)].add(client)
            self._reply(client, req)
        else:
            self._reply(client, req, False, f"Invalid op {op!r}")

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
        return await self._serve(request, self._trade_frame, lambda c: None)

    def _trade_frame(self, client: WsClient, req: dict) -> None:
        op = req.get("op")
        if op == "auth":
            self._auth(client, req)
            return
        if op == "ping":
            _send(client, {"req_id": req.get("req_id", ""), "op": "pong", "args": [str(self.engine.now_ms())],
                           "conn_id": client.state["conn_id"]})
            return
        now = self.engine.now_ms()
        reply = {"reqId": req.get("reqId", ""), "retCode": 0, "retMsg": "OK", "op": op, "data": {},
                 "retExtInfo": {}, "header": {"Traceid": uuid.uuid4().hex, "Timenow": str(now)},
                 "connId": client.state["conn_id"]}
        try:
            account = client.state["account"]
            if account is None:
                raise BybitError(10003, "Request not authorized")
            handler = {"order.create": self.orders.create, "order.amend": self.orders.amend,
                       "order.cancel": self.orders.cancel}.get(op)
            if handler is None:
                raise BybitError(10001, f"params error: unknown op {op!r}")
            header = req.get("header") if isinstance(req.get("header"), dict) else {}
            ts, recv = str(header.get("X-BAPI-TIMESTAMP", "")), str(header.get("X-BAPI-RECV-WINDOW", "5000"))
            if not ts.isdigit() or not recv.isdigit():
                raise BybitError(10001, "params error: header X-BAPI-TIMESTAMP is required")
            if not now - int(recv) <= int(ts) < now + 1000:
                raise BybitError(10002, "invalid request, please check your server timestamp or recv_window param")
            args = req.get("args")
            if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
                raise BybitError(10001, "params error: args must hold one order")
            reply["header"].update(self.orders.limit_headers(account, now))
            reply["data"] = handler(account, args[0])
        except BybitError as exc:
            reply["retCode"], reply["retMsg"] = exc.code, exc.msg
        _send(client, reply)
