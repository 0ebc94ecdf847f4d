"""The sim's Binance spot WebSocket API (``/ws-api/v3``): requests and answers in the documented
envelopes, user data subscriptions and their events.

web-socket-api.md (checked 2026-12-01): one JSON request per text frame, ``{id, method,
params}``; answers ``{id, status, result | error, rateLimits}`` with the id echoed as sent and
HTTP's status codes; ``rateLimits`` unless ``returnRateLimits=false`` (per request, or in the
connection URL). User data is subscribed with ``userDataStream.subscribe.signature`` (any key
type) and arrives as ``{"subscriptionId", "event"}``; ``userDataStream.unsubscribe`` ends it
with ``eventStreamTerminated``; ``serverShutdown`` (no subscriptionId) warns of a disconnection.
``session.logon`` and ``userDataStream.subscribe`` need Ed25519 keys: the sim's accounts have
HMAC keys, so they are refused (docs/protocols.md says with what).

The order methods call the very functions the REST routes call (``BinanceSpotRest``), with the
same weights, order counts and faults; weight is one per-IP counter for both transports.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import orjson
from aiohttp import web

from hftctl.exchanges.binance.common.sim_errors import (AHEAD_OF_SERVER, BAD_API_KEY, BAD_RECV_WINDOW,
                                                       BAD_SIGNATURE, OUTSIDE_RECV_WINDOW, BinanceError, err,
                                                       illegal, missing)
from hftctl.exchanges.binance.common.sim_rest import Request
from hftctl.exchanges.binance.spot import sim_messages as wire
from hftctl.exchanges.binance.spot.signing import ws_api_signature_ok
from hftctl.exchanges.binance.spot.sim_rest import RETIRED, BinanceSpotRest, SpotError, error_body
from hftctl.exchanges.binance.spot.venues import WS_API_PATH
from hftctl.sim.accounts import Account
from hftctl.sim.events import AccountEvent, OrderEvent
from hftctl.sim.wshub import WsClient, WsHub, WsLimits


SUBSCRIPTION_ACTIVE = (400, -2035, "User Data Stream subscription already active.")
MAX_SUBSCRIPTION_IDS = (400, -2042, "Maximum subscription ID reached for this connection.")
MALFORMED = (400, -1102, "A mandatory parameter was not sent, was empty/null, or malformed.")
UNSUPPORTED = (400, -1020, "This operation is not supported.")
WEIGHT_EXCEEDED = (429, -1003, "Too much request weight used; current limit is {limit} request weight per "
                   "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.")
MAX_SUBSCRIPTIONS = 65_535                 # per connection, over its lifetime
_RETIRED_METHODS = ("userDataStream.start", "userDataStream.ping", "userDataStream.stop")
_INTERVALS = {10: ("SECOND", 10), 86400: ("DAY", 1)}
_MICROSECONDS = 10 ** 14                   # a timestamp this large is in µs (docs: ms or µs)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BinanceSpotWsApi:
    """Connections at /ws-api/v3 and their user data subscriptions."""

    # web-socket-api.md § General API Information / § Connection limits: a connection lives 24 h,
    # 300 connection attempts per 5 minutes per IP. No per-connection message rate is documented.
    LIMITS = WsLimits(max_lifetime_s=24 * 3600, max_connects=300, connect_window_s=300)
    PING_INTERVAL_S = 20.0                 # the server's ping period; a pong is due within a minute

    def __init__(self, rest: BinanceSpotRest, hub: WsHub, ping_interval_s: float) -> None:
        self.rest = rest
        self.engine = rest.engine
        self.hub = hub
        self.ping_interval_s = min(ping_interval_s, self.PING_INTERVAL_S)
        self.subs: dict[Account, dict[WsClient, int]] = defaultdict(dict)   # account -> {conn: id}
        self.clients: set[WsClient] = set()
        self.engine.user_listeners.append(self.on_user)
        # method -> (handler(client, params, account), weight, signed)
        self.methods: dict[str, tuple[Callable, int, bool]] = {
            "ping": (lambda c, p, a: {}, 1, False),
            "time": (lambda c, p, a: {"serverTime": self.engine.now_ms()}, 1, False),
            "exchangeInfo": (lambda c, p, a: wire.exchange_info(self.engine, rest.config.rate_limits,
                                                                self.engine.now_ms()), 20, False),
            "session.logon": (self.session_logon, 2, False),
            "session.status": (self.session_status, 2, False),
            "session.logout": (self.session_status, 2, False),
            "session.subscriptions": (self.session_subscriptions, 2, False),
            "userDataStream.subscribe": (self.subscribe_logged_on, 2, False),
            "userDataStream.subscribe.signature": (self.subscribe, 2, True),
            "userDataStream.unsubscribe": (self.unsubscribe, 2, False),
            "account.status": (lambda c, p, a: wire.account(a, self.engine.now_ms()), 20, True),
        }
        for name, action in (("order.place", rest.place), ("order.cancel", rest.cancel),
                             ("order.cancelReplace", rest.cancel_replace), ("order.status", rest.query),
                             ("openOrders.status", rest.open_orders), ("openOrders.cancelAll", rest.cancel_all)):
            self.methods[name] = (self._order_method(action), 0, True)    # weight by outcome: run_action
        self.counted = frozenset({"order.place", "order.cancelReplace"})     # methods that count as orders

    def routes(self, app: web.Application) -> None:
        app.router.add_get(WS_API_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rate_limits = request.query.get("returnRateLimits", "true").lower() != "false"

        async def on_open(client: WsClient) -> bool:
            client.state.update(rate_limits=rate_limits, since=self.engine.now_ms(), next_sub=0, subs={})
            self.rest.weight.add(2)                       # "Connecting to WebSocket API costs 2 weight."
            self.clients.add(client)
            return True
        return await self.hub.serve(request, self.ping_interval_s, self._on_frame, self._on_close, on_open,
                                    limits=self.LIMITS)

    def _on_close(self, client: WsClient) -> None:
        self.clients.discard(client)
        for account in list(client.state.get("subs", {})):
            self.subs[account].pop(client, None)

    # ---- requests ---------------------------------------------------------------------------------
    def _on_frame(self, client: WsClient, text: str) -> None:
        rid: Any = None
        try:
            req = orjson.loads(text)
            if not isinstance(req, dict):
                raise err(MALFORMED)
            rid = req.get("id")
            if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int | str)):
                rid = None
                raise err(MALFORMED)
            method, params = req.get("method"), req.get("params", {})
            if not isinstance(method, str) or not isinstance(params, dict):
                raise err(MALFORMED)
        except (orjson.JSONDecodeError, BinanceError):
            self._reply(client, rid, None, err(MALFORMED), self._rate_limits(None), client.state["rate_limits"])
            return
        # a request parameter like any other (so it is signed with the rest)
        show = params.get("returnRateLimits", client.state["rate_limits"]) is not False
        method = method.removeprefix("v3/")
        account = None
        try:
            if method in _RETIRED_METHODS:
                raise err(RETIRED)
            spec = self.methods.get(method)
            if spec is None:
                raise err(UNSUPPORTED)
            handler, weight, signed = spec
            used = self.rest.weight.add(weight)
            limits = self.rest.config.rate_limits
            if limits.enabled and used > limits.weight_per_min:
                now_ms = self.engine.now_ms()
                raise SpotError(WEIGHT_EXCEEDED[:2] + (WEIGHT_EXCEEDED[2].format(limit=limits.weight_per_min),),
                                {"serverTime": now_ms, "retryAfter": (now_ms // 60_000 + 1) * 60_000})
            if signed:
                account = self._authenticate(params)
            result = handler(client, params, account)
        except BinanceError as e:
            self._reply(client, rid, None, e, self._rate_limits(account if method in self.counted else None), show)
            return
        self._reply(client, rid, result, None, self._rate_limits(account if method in self.counted else None), show)

    def _order_method(self, action: Callable) -> Callable:
        def handler(client: WsClient, params: dict, account: Account) -> Any:
            req = Request({k: _text(v) for k, v in params.items()}, "", "")
            req.account = account
            return self.rest.run_action(action, req, {})
        return handler

    def _authenticate(self, params: dict) -> Account:
        """SIGNED requests: apiKey, timestamp and an HMAC over the sorted params; the timing rule of
        web-socket-api.md § Timing security."""
        for name in ("apiKey", "signature", "timestamp"):
            if params.get(name) in (None, ""):
                raise missing(name)
        account = self.engine.account_for_key(str(params["apiKey"]))
        if account is None:
            raise err(BAD_API_KEY)
        try:
            ts = int(params["timestamp"])
        except (ValueError, TypeError):
            raise illegal("timestamp") from None
        try:
            recv = Decimal(_text(params.get("recvWindow", 5000)))
        except InvalidOperation:
            raise illegal("recvWindow") from None
        if ts >= _MICROSECONDS:
            ts //= 1000
        if not 0 < recv <= 60000 or recv.as_tuple().exponent < -3:
            raise err(BAD_RECV_WINDOW)
        if not ws_api_signature_ok(account.secret, params):
            raise err(BAD_SIGNATURE)
        now = self.engine.now_ms()
        if ts > now + 1000:
            raise err(AHEAD_OF_SERVER)
        if now - ts > recv:
            raise err(OUTSIDE_RECV_WINDOW)
        return account

    def _rate_limits(self, account: Account | None) -> list[dict]:
        """The limits a request touched: the account's order counts (orders only), the IP's weight."""
        limits = self.rest.config.rate_limits
        out = []
        counters = self.rest.order_counts.get(account.api_key) if account is not None else None
        if counters is not None:
            for counter, (_, seconds, field, _) in zip(counters, self.rest.ORDER_WINDOWS):
                interval, num = _INTERVALS[seconds]
                out.append({"rateLimitType": "ORDERS", "interval": interval, "intervalNum": num,
                            "limit": getattr(limits, field), "count": counter.current()})
        out.append({"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                    "limit": limits.weight_per_min, "count": self.rest.weight.current()})
        return out

    @staticmethod
    def _reply(client: WsClient, rid: Any, result: Any, error: BinanceError | None, rate_limits: list,
               show: bool) -> None:
        out: dict[str, Any] = {"id": rid}
        if error is None:
            out["status"] = 200
            out["result"] = result
        else:
            out["status"] = error.status
            out["error"] = error_body(error)
        if show:
            out["rateLimits"] = rate_limits
        client.send(msgspec.json.encode(out))

    # ---- sessions and subscriptions --------------------------------------------------------------
    def session_status(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """session.status / session.logout: never authenticated (no Ed25519 keys in the sim)."""
        return {"apiKey": None, "authorizedSince": None, "connectedSince": client.state["since"],
                "returnRateLimits": client.state["rate_limits"], "serverTime": self.engine.now_ms(),
                "userDataStream": bool(client.state["subs"])}

    def session_logon(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """Only Ed25519 keys may log on; an HMAC key's signature does not verify as one."""
        for name in ("apiKey", "signature", "timestamp"):
            if params.get(name) in (None, ""):
                raise missing(name)
        if self.engine.account_for_key(str(params["apiKey"])) is None:
            raise err(BAD_API_KEY)
        raise err(BAD_SIGNATURE)

    def subscribe_logged_on(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """userDataStream.subscribe needs a logged-on (Ed25519) session, which this one is not."""
        raise err(BAD_API_KEY)

    def session_subscriptions(self, client: WsClient, params: dict, account: Account | None) -> list:
        return [{"subscriptionId": sid} for sid in sorted(client.state["subs"].values())]

    def subscribe(self, client: WsClient, params: dict, account: Account) -> dict:
        subs = client.state["subs"]
        if account in subs:
            raise err(SUBSCRIPTION_ACTIVE)         # one subscription per account per connection
        if client.state["next_sub"] >= MAX_SUBSCRIPTIONS:
            raise err(MAX_SUBSCRIPTION_IDS)
        sid = client.state["next_sub"]
        client.state["next_sub"] = sid + 1
        subs[account] = sid
        self.subs[account][client] = sid
        return {"subscriptionId": sid}

    def unsubscribe(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """Without ``subscriptionId`` every subscription of the connection ends; with one, that one
        if it exists. Each ended one gets ``eventStreamTerminated`` (before this answer)."""
        sid = params.get("subscriptionId")
        if sid is not None and (isinstance(sid, bool) or not isinstance(sid, int)):
            raise illegal("subscriptionId")
        for acct, s in list(client.state["subs"].items()):
            if sid is None or s == sid:
                self._terminate(client, acct)
        return {}

    def _terminate(self, client: WsClient, account: Account) -> None:
        sid = client.state["subs"].pop(account)
        self.subs[account].pop(client, None)
        client.send(_wrap(sid, msgspec.json.encode(wire.event_stream_terminated(self.engine.now_ms()))))

    def terminate(self, api_key: str | None) -> list[str]:
        """End every subscription (or those of the account with ``api_key``), as an unsubscribe
        would: the fault behind ``expire_user_stream``. Returns the accounts' names."""
        names = []
        for account, conns in list(self.subs.items()):
            if conns and (api_key is None or account.api_key == api_key):
                for client in list(conns):
                    self._terminate(client, account)
                names.append(account.name)
        return names

    def active(self, account: Account) -> int:
        return len(self.subs.get(account, ()))

    def shutdown_notice(self, grace_s: float) -> int:
        """``serverShutdown`` to every connection, which is then cut after ``grace_s`` (a client
        that did not move to a new connection by then loses its stream)."""
        clients = list(self.clients)
        raw = b'{"event":' + msgspec.json.encode(wire.server_shutdown(self.engine.now_ms())) + b"}"
        for c in clients:
            c.send(raw)
        loop = asyncio.get_running_loop()
        for c in clients:
            loop.call_later(grace_s, c.drop)
        return len(clients)

    # ---- events -------------------------------------------------------------------------------------
    def on_user(self, ev) -> None:
        if type(ev) is OrderEvent:
            account = ev.order.account
            conns = self.subs.get(account)
            if conns:
                self._send(conns, msgspec.json.encode(wire.execution_report(ev, self.engine.specs[ev.order.symbol])))
        elif type(ev) is AccountEvent:
            conns = self.subs.get(ev.account)
            if conns:
                self._send(conns, msgspec.json.encode(wire.outbound_account_position(ev)))

    @staticmethod
    def _send(conns: dict[WsClient, int], raw: bytes) -> None:
        for client, sid in conns.items():
            client.send(_wrap(sid, raw))


def _wrap(sid: int, raw_event: bytes) -> bytes:
    return b'{"subscriptionId":%d,"event":%s}' % (sid, raw_event)
