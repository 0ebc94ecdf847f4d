"""What the sim's Binance websockets (USD-M and spot) share: market streams and user data.

URLs as Binance serves them, under each of the market's route prefixes (USD-M: /public,
/market, /private; spot: none): /ws/<stream>[/<stream>...] (raw payloads), /stream?streams=a/b
(combined {"stream","data"} envelopes), /ws/<listenKey> or ?listenKey=<key>&events=<E1>/<E2>
(user data); live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS frames answered with
{"result": ..., "id": ...}. A stream asked for on a route that does not serve it is accepted
and stays silent, as the exchange documents for unrouted connections. A path name that is
neither a stream nor a listenKey (clients put connection ids there) opens a connection that
waits for SUBSCRIBE. Depth streams are aggregated per update speed. Each market's ``sim_ws.py``
says which routes and speeds exist and how each message is encoded.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import defaultdict
from types import ModuleType

import msgspec
import orjson
from aiohttp import web

from hftctl.exchanges.binance.common.sim_listen_keys import ListenKeys
from hftctl.sim.accounts import Account
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import AccountEvent, BookTicker, DepthUpdate, OrderEvent, Trade
from hftctl.sim.wshub import WsClient, WsHub, WsLimits

log = logging.getLogger(__name__)

_DEPTH_RE = re.compile(r"^([a-z0-9]+)@depth(5|10|20)?(?:@(\d+ms))?$")
_PAYLOAD_KEYS = ("method", "params", "id")


def _normalize(name: str) -> str:
    """Binance stream names: lower-case symbol, camel-case kind (btcusdt@bookTicker)."""
    sym, at, kind = name.partition("@")
    return sym.lower() + at + kind if at else name


class _DepthAggregator:
    """One update-speed's depth stream for a symbol: levels merged over the interval, U of the
    first and u of the last merged event, pu = this stream's previous u (gaps propagate)."""

    def __init__(self, symbol: str, interval_ms: int, levels: int | None) -> None:
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.levels = levels
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.first = 0
        self.last = 0
        self.prev = None          # u of this stream's previous message
        self.gap = False
        self.next_due = time.monotonic()

    def add(self, ev: DepthUpdate, first_id: int) -> None:
        if not self.first:
            self.first = first_id
            if self.prev is None:
                self.prev = ev.prev_id
        elif ev.prev_id != self.last:
            self.gap = True
        self.last = ev.last_id
        if self.levels is None:
            for p, q in ev.bids:
                self.bids[p] = q
            for p, q in ev.asks:
                self.asks[p] = q


class BinanceStreamsBase:
    """Connections, subscriptions and fan-out shared by Binance's websocket APIs; subclasses say
    which update speeds exist and how each message is encoded."""

    SPEEDS_MS: tuple[int, ...]
    DEFAULT_MS: int
    LIMITS = WsLimits()   # the market's connection rules (web-socket-streams / WebSocket limits)
    # Streams one connection may hold: 1024 on both markets (spot web-socket-streams.md § WebSocket
    # Limits; USD-M Change Log 2025-07-02). The docs name the limit, not the answer, so a URL naming
    # more is refused before the upgrade and a SUBSCRIBE that would pass it is refused whole.
    MAX_STREAMS = 1024
    WIRE: ModuleType      # the market's sim_messages: trade, agg_trade, book_ticker, ...

    def __init__(self, engine: SimEngine, hub: WsHub, ping_interval_s: float, keys: ListenKeys,
                 legacy_paths: bool = False) -> None:
        self.legacy_paths = legacy_paths     # also serve a routed market's retired unrouted paths
        self.engine = engine
        self.hub = hub
        self.keys = keys
        keys.on_expired.append(self.on_key_expired)
        self.ping_interval_s = ping_interval_s
        self.subs: dict[str, set[WsClient]] = defaultdict(set)
        self.user_conns: dict[str, set[WsClient]] = defaultdict(set)
        self.aggs: dict[str, _DepthAggregator] = {}
        engine.market_listeners.append(self.on_market)
        engine.user_listeners.append(self.on_user)

    # ---- routes: which URL prefix serves which streams ----------------------------------------
    def path_routes(self) -> dict[str, str | None]:
        """URL prefix -> route name served there; None: an unrouted API that serves everything."""
        return {"": None}

    def serves(self, route: str | None, name: str) -> bool:
        """Does a connection on ``route`` receive stream ``name`` (a listenKey for user data)?"""
        return True

    def needs_listen_key(self, route: str | None) -> bool:
        """Must a bare name on this route be a live listenKey (else the connection is refused)?"""
        return False

    def routes(self, app: web.Application) -> None:
        for prefix, route in self.path_routes().items():
            ws, combined = self._handlers(route)
            app.router.add_get(f"{prefix}/ws", ws)
            app.router.add_get(f"{prefix}/ws/{{streams:.+}}", ws)
            app.router.add_get(f"{prefix}/stream", combined)

    def _handlers(self, route: str | None):
        async def handle_ws(request: web.Request) -> web.StreamResponse:
            path = request.match_info.get("streams", "")
            return await self._serve(request, route, [s for s in path.split("/") if s], combined=False)

        async def handle_combined(request: web.Request) -> web.StreamResponse:
            streams = request.query.get("streams", "")
            return await self._serve(request, route, [s for s in streams.split("/") if s], combined=True)
        return handle_ws, handle_combined

    # ---- connections -------------------------------------------------------------------------
    async def _serve(self, request: web.Request, route: str | None, streams: list[str], combined: bool):
        if len(set(streams)) > self.MAX_STREAMS:
            return web.Response(status=400, text=f"Too many streams: at most {self.MAX_STREAMS} per connection")
        keyed = _listen_key_params(request)

        async def on_open(client: WsClient) -> bool:
            client.state["combined"] = combined
            client.state["route"] = route
            client.state["streams"] = set()
            client.state["events"] = {}
            for name, events in [*((n, None) for n in streams), *keyed]:
                if not self._subscribe(client, name, events):
                    await client.ws.close(code=1008, message=b"invalid listen key")
                    return False
            return True
        return await self.hub.serve(request, self.ping_interval_s, self._on_frame, self._unsubscribe_all,
                                    on_open, limits=self.LIMITS)

    def _subscribe(self, client: WsClient, name: str, events: frozenset[str] | None = None) -> bool:
        """Add a stream (or a listenKey's user data) to a connection; False only for a name that
        must be a listenKey and is not a live one. Streams this route does not serve are listed
        but never sent."""
        route = client.state["route"]
        if "@" not in name and not name.startswith("!"):
            if self.keys.account(name, time.monotonic()) is None:
                return not self.needs_listen_key(route)     # a connection id: wait for SUBSCRIBE
            client.state["streams"].add(name)
            if self.serves(route, name):
                self.user_conns[name].add(client)
                client.state["events"][name] = events
            return True
        name = _normalize(name)
        client.state["streams"].add(name)
        if not self.serves(route, name):
            return True
        m = _DEPTH_RE.match(name)
        if m:
            symbol, levels, speed = m.group(1).upper(), m.group(2), m.group(3)
            interval = self.DEFAULT_MS if speed is None else int(speed[:-2])
            if interval not in self.SPEEDS_MS:
                return True          # Binance accepts unknown stream names and sends nothing
            if levels or interval:
                if name not in self.aggs and symbol in self.engine.specs:
                    self.aggs[name] = _DepthAggregator(symbol, interval or self.DEFAULT_MS,
                                                       int(levels) if levels else None)
        self.subs[name].add(client)
        return True

    def _unsubscribe(self, client: WsClient, name: str) -> None:
        self.subs.get(name, set()).discard(client)
        self.user_conns.get(name, set()).discard(client)
        client.state["streams"].discard(name)
        client.state["events"].pop(name, None)

    def _unsubscribe_all(self, client: WsClient) -> None:
        for name in list(client.state.get("streams", ())):
            self._unsubscribe(client, name)

    def _on_frame(self, client: WsClient, text: str) -> None:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            client.send(orjson.dumps({"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}, "id": None}))
            return
        if not isinstance(req, dict):
            client.send(orjson.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": None}))
            return
        rid = req.get("id")
        method = req.get("method")
        params = req.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                client.send(orjson.dumps({"error": {"code": 2, "msg": "Invalid request: params must be "
                                                    "a list of stream names"}, "id": rid}))
                return
            if (method == "SUBSCRIBE"
                    and len(client.state["streams"] | {_normalize(p) for p in params}) > self.MAX_STREAMS):
                client.send(orjson.dumps({"error": {"code": 2, "msg": "Invalid request: too many parameters"},
                                          "id": rid}))
                return
            for name in params:
                if method == "SUBSCRIBE":
                    self._subscribe(client, name)
                else:
                    self._unsubscribe(client, _normalize(name))
            client.send(orjson.dumps({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            client.send(orjson.dumps({"result": sorted(client.state["streams"]), "id": rid}))
        elif method == "SET_PROPERTY":
            if isinstance(params, list) and len(params) == 2 and params[0] == "combined":
                client.state["combined"] = bool(params[1])
                client.send(orjson.dumps({"result": None, "id": rid}))
            else:
                client.send(orjson.dumps({"error": {"code": 0, "msg": "Unknown property"}, "id": rid}))
        elif method == "GET_PROPERTY":
            if params == ["combined"]:
                client.send(orjson.dumps({"result": client.state["combined"], "id": rid}))
            else:
                client.send(orjson.dumps({"error": {"code": 0, "msg": "Unknown property"}, "id": rid}))
        else:
            client.send(orjson.dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"},
                                      "id": rid}))

    # ---- fan-out ------------------------------------------------------------------------------
    def _send(self, name: str, clients: set[WsClient], payload: msgspec.Struct) -> None:
        raw = msgspec.json.encode(payload)
        wrapped = None
        for c in clients:
            if c.state["combined"]:
                if wrapped is None:
                    wrapped = b'{"stream":"' + name.encode() + b'","data":' + raw + b"}"
                c.send(wrapped)
            else:
                c.send(raw)

    def on_market(self, ev) -> None:
        subs = self.subs
        if type(ev) is DepthUpdate:
            sym = ev.symbol.lower()
            name = sym + "@depth@0ms"
            clients = subs.get(name)
            first = self.first_id(ev)
            if clients:
                self._send(name, clients, self.encode_depth(ev, first))
            for agg in self.aggs.values():
                if agg.symbol == ev.symbol:
                    agg.add(ev, first)
        elif type(ev) is Trade:
            sym = ev.symbol.lower()
            clients = subs.get(sym + "@trade")
            if clients:
                self._send(sym + "@trade", clients, self.encode_trade(ev))
            clients = subs.get(sym + "@aggTrade")
            if clients:
                self._send(sym + "@aggTrade", clients, self.encode_agg_trade(ev))
        elif type(ev) is BookTicker:
            name = ev.symbol.lower() + "@bookTicker"
            clients = subs.get(name)
            if clients:
                self._send(name, clients, self.encode_book_ticker(ev))

    async def run_aggregators(self) -> None:
        """Flush the 100/250/500 ms depth streams and partial-book streams on their cadence."""
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            for name, agg in self.aggs.items():
                if now < agg.next_due:
                    continue
                agg.next_due = now + agg.interval_ms / 1000
                if not agg.first:
                    continue
                clients = self.subs.get(name)
                book = self.engine.books[agg.symbol]
                t = self.engine.now_ms()
                pu = agg.prev + 1 if agg.gap else agg.prev
                if agg.levels is None:
                    payload = self.encode_merged_depth(agg, t, pu, [[p, q] for p, q in agg.bids.items()],
                                                       [[p, q] for p, q in agg.asks.items()])
                else:
                    payload = self.encode_partial_depth(agg, t, pu, book.wire_levels(1, agg.levels),
                                                        book.wire_levels(-1, agg.levels))
                agg.prev = agg.last
                agg.first = 0
                agg.gap = False
                agg.bids = {}
                agg.asks = {}
                if clients:
                    self._send(name, clients, payload)
            self.tick(now)

    def tick(self, now: float) -> None:
        """Streams a market pushes on a cadence of its own (USD-M's mark price, liquidations)."""

    def first_id(self, ev: DepthUpdate) -> int:
        """The first update id a diff shows (a market may widen it, see USD-M's first-event rule)."""
        return ev.first_id

    def on_user(self, ev) -> None:
        if type(ev) is OrderEvent:
            self._send_user(ev.order.account, self.encode_order, ev)
        elif type(ev) is AccountEvent:
            self._send_user(ev.account, self.encode_account, ev)

    def on_key_expired(self, account: Account, key: str) -> None:
        clients = self.user_conns.pop(key, set())
        if clients:
            self._send(key, clients, self.WIRE.listen_key_expired(key, self.engine.now_ms()))
            for c in clients:
                c.finish()

    def encode_trade(self, ev: Trade) -> msgspec.Struct:
        return self.WIRE.trade(ev)

    def encode_agg_trade(self, ev: Trade) -> msgspec.Struct:
        return self.WIRE.agg_trade(ev)

    def encode_book_ticker(self, ev: BookTicker) -> msgspec.Struct:
        return self.WIRE.book_ticker(ev)

    def _send_user(self, account, encode, ev) -> None:
        """To every user-data connection of the account's listen keys that asked for this event
        type (``events=``; all if it named none); encoded only if one exists."""
        payload = None
        for key, clients in self.user_conns.items():
            if clients and self.keys.owner.get(key) is account:
                if payload is None:
                    payload = encode(ev)
                    kind = type(payload).__struct_config__.tag
                wanted = {c for c in clients if _wants(c.state["events"].get(key), kind)}
                if wanted:
                    self._send(key, wanted, payload)

    def close_listen_key(self, key: str) -> None:
        for c in self.user_conns.pop(key, set()):
            c.finish()


def _wants(events: frozenset[str] | None, kind: str) -> bool:
    return events is None or kind in events


def _listen_key_params(request: web.Request) -> list[tuple[str, frozenset[str] | None]]:
    """``?listenKey=K1&events=A/B&listenKey=K2&events=C``: each key with the event types named
    after it (None: every type), in URL order."""
    out: list[tuple[str, frozenset[str] | None]] = []
    for k, v in request.query.items():
        if k == "listenKey" and v:
            out.append((v, None))
        elif k == "events" and out and out[-1][1] is None:
            out[-1] = (out[-1][0], frozenset(e for e in v.split("/") if e) or None)
    return out
