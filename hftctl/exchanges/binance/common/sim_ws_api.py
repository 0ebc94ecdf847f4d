"""What the sim's Binance WebSocket APIs (spot ``/ws-api/v3``, USD-M ``/ws-fapi/v1``) share:
the documented envelopes, signed requests, weights and ``rateLimits``, and order methods that
are the REST routes' own actions.

Both markets' docs (spot web-socket-api.md; USD-M websocket-api-general-info, checked
2026-12-01): one JSON request per text frame, ``{id, method, params}``; answers ``{id, status,
result | error, rateLimits}`` with the id echoed as sent and HTTP's status codes; ``rateLimits``
unless ``returnRateLimits=false`` (per request, or in the connection URL); SIGNED requests carry
``apiKey``, ``timestamp`` and an HMAC over all params but ``signature``, sorted by name. Rate
limits are shared with REST: one weight counter per IP and one order count per account for both
transports. An order method runs the very function its REST route runs
(``BinanceRestBase.run_action``), so validation, errors, weights, order counts and the
unknown-outcome faults cannot differ between them.

A market's subclass names its path, its connection rules and weight, its methods, and what an
over-the-limit answer looks like.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import orjson
from aiohttp import web

from hftctl.exchanges.binance.common.signing import ws_api_signature_ok
from hftctl.exchanges.binance.common.sim_errors import (BAD_API_KEY, BAD_RECV_WINDOW, BAD_SIGNATURE, BinanceError,
                                                       err, illegal, missing)
from hftctl.exchanges.binance.common.sim_rest import BinanceRestBase, Request, check_timing
from hftctl.sim.accounts import Account
from hftctl.sim.wshub import WsClient, WsHub, WsLimits

MALFORMED = (400, -1102, "A mandatory parameter was not sent, was empty/null, or malformed.")
UNSUPPORTED = (400, -1020, "This operation is not supported.")
_INTERVALS = {10: ("SECOND", 10), 60: ("MINUTE", 1), 86400: ("DAY", 1)}
_MICROSECONDS = 10 ** 14                   # a timestamp this large is in µs (spot: ms or µs)

Handler = Callable[[WsClient, dict, Account | None], Any]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BinanceWsApiBase:
    PATH: str                              # e.g. /ws-api/v3
    LIMITS: WsLimits                       # the server's connection rules
    PING_INTERVAL_S: float                 # the server's ping period
    CONNECT_WEIGHT: int                    # what opening a connection costs
    VERSION_PREFIX: str                    # a method may carry it ("v3/order.place")

    def __init__(self, rest: BinanceRestBase, hub: WsHub, ping_interval_s: float) -> None:
        self.rest = rest
        self.engine = rest.engine
        self.hub = hub
        self.ping_interval_s = min(ping_interval_s, self.PING_INTERVAL_S)
        self.clients: set[WsClient] = set()
        self.requests = 0
        # method -> (handler(client, params, account), weight, signed); order methods weigh 0 here
        # and are charged by run_action, by outcome
        self.methods: dict[str, tuple[Handler, int, bool]] = {}
        self.counted: frozenset[str] = frozenset()       # methods that count as orders

    def order_methods(self, actions: dict[str, Callable]) -> None:
        for name, action in actions.items():
            self.methods[name] = (self._order_method(action), 0, True)

    def routes(self, app: web.Application) -> None:
        app.router.add_get(self.PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rate_limits = request.query.get("returnRateLimits", "true").lower() != "false"

        async def on_open(client: WsClient) -> bool:
            client.state.update(rate_limits=rate_limits, since=self.engine.now_ms())
            self.opened(client)
            self.rest.weight.add(self.CONNECT_WEIGHT)
            self.clients.add(client)
            return True
        return await self.hub.serve(request, self.ping_interval_s, self._on_frame, self._on_close, on_open,
                                    limits=self.LIMITS)

    def opened(self, client: WsClient) -> None:
        """A new connection's own state (spot: its subscriptions)."""

    def _on_close(self, client: WsClient) -> None:
        self.clients.discard(client)

    # ---- requests ---------------------------------------------------------------------------------
    def _on_frame(self, client: WsClient, text: str) -> None:
        self.requests += 1
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
        method = method.removeprefix(self.VERSION_PREFIX)
        account = None
        try:
            self.check_method(method)
            spec = self.methods.get(method)
            if spec is None:
                raise err(UNSUPPORTED)
            handler, weight, signed = spec
            used = self.rest.weight.add(weight)
            limits = self.rest.config.rate_limits
            if limits.enabled and used > limits.weight_per_min:
                raise self.weight_exceeded(limits.weight_per_min)
            if signed:
                account = self._authenticate(params)
            result = handler(client, params, account)
        except BinanceError as e:
            self._reply(client, rid, None, e, self._rate_limits(account if method in self.counted else None), show)
            return
        self._reply(client, rid, result, None, self._rate_limits(account if method in self.counted else None), show)

    def check_method(self, method: str) -> None:
        """Refuse a method the market has retired (spot's listenKey methods)."""

    def weight_exceeded(self, limit: int) -> BinanceError:
        raise NotImplementedError

    def _order_method(self, action: Callable) -> Handler:
        def handler(client: WsClient, params: dict, account: Account | None) -> Any:
            req = Request({k: _text(v) for k, v in params.items()}, "", "")
            req.account = account
            return self.rest.run_action(action, req, {})
        return handler

    def _authenticate(self, params: dict) -> Account:
        """SIGNED requests: apiKey, timestamp and an HMAC over the sorted params; the timing rule
        (``timestamp < serverTime + 1 s``, ``serverTime - timestamp <= recvWindow``)."""
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
        check_timing(self.engine.now_ms(), ts, recv)
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
            out["error"] = error.body()
        if show:
            out["rateLimits"] = rate_limits
        client.send(msgspec.json.encode(out))
