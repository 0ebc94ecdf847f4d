"""What the sim's Binance REST APIs (USD-M /fapi and spot /api/v3) share: parameters, HMAC auth,
request weights, order counts, listen keys and the handlers whose bodies differ only in shape.

Parameters may come in the query string or a form body, and the signature covers the raw query
string concatenated with the raw body, exactly as Binance's "SIGNED Endpoint Examples" describe.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from aiohttp import web

from hftctl.exchanges.binance.common.signing import binance_signature
from hftctl.exchanges.binance.common.sim_errors import (
    AHEAD_OF_SERVER, BAD_API_KEY, BAD_RECV_WINDOW, BAD_SIGNATURE, INTERNAL, INVALID_SYMBOL,
    LISTEN_KEY_UNKNOWN, OUTSIDE_RECV_WINDOW, TOO_MANY_ORDERS, TOO_MANY_REQUESTS, BinanceError, err, illegal,
    missing)
from hftctl.exchanges.binance.common.sim_listen_keys import ListenKeys
from hftctl.exchanges.wire import verify
from hftctl.sim.accounts import Account
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.errors import SimReject
from hftctl.sim.faults import Faults
from hftctl.sim.instruments import BadNumber, SymbolSpec
from hftctl.sim.ratelimit import WindowCounter

log = logging.getLogger(__name__)

_SIG_RE = re.compile(r"(^|&)signature=([^&]*)")
SIDES = {"BUY": 1, "SELL": -1}
JSON = "application/json"


def parse_params(raw: str) -> dict[str, str]:
    """application/x-www-form-urlencoded -> dict; a fast path for the usual unescaped query."""
    out: dict[str, str] = {}
    for part in raw.split("&"):
        if part:
            key, _, value = part.partition("=")
            if "%" in part or "+" in part:
                key, value = unquote_plus(key), unquote_plus(value)
            out[key] = value
    return out


def check_timing(now_ms: int, ts_ms: int, recv_window: float) -> None:
    """Binance's timing rule for SIGNED requests: ``timestamp < serverTime + 1000`` and
    ``serverTime - timestamp <= recvWindow`` (both markets, REST and WebSocket API)."""
    if ts_ms > now_ms + 1000:
        raise err(AHEAD_OF_SERVER)
    if now_ms - ts_ms > recv_window:
        raise err(OUTSIDE_RECV_WINDOW)


class Request:
    """One REST call's merged parameters plus what the signature check needs."""

    __slots__ = ("params", "account", "raw_query", "raw_body")

    def __init__(self, params: dict[str, str], raw_query: str, raw_body: str) -> None:
        self.params = params
        self.raw_query = raw_query
        self.raw_body = raw_body
        self.account: Account | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        v = self.params.get(name)
        return default if v is None or v == "" else v

    def need(self, name: str) -> str:
        v = self.params.get(name)
        if v is None or v == "":
            raise missing(name)
        return v


class BinanceRestBase:
    """What Binance's REST APIs share: parameters, HMAC auth, weights, order counts, listen keys.

    A market sets its error table, body module, order-count windows, paths and route table."""

    REJECTS: dict[str, tuple[int, int, str]]      # engine rejection reason -> (HTTP, code, msg)
    WIRE: ModuleType                              # the module that renders this API's bodies
    # order-count windows: (header suffix, seconds, RateLimits field, name in the -1015 message)
    ORDER_WINDOWS: tuple[tuple[str, int, str, str], ...]
    PRICE_TICK_ERR: tuple[int, int, str]
    QTY_STEP_ERR: tuple[int, int, str]
    PATHS: dict[str, str]
    DEFAULT_DEPTH_LIMIT = 500

    def __init__(self, engine: SimEngine, config: SimConfig, faults: Faults, keys: ListenKeys) -> None:
        self.engine = engine
        self.config = config
        self.faults = faults
        self.keys = keys
        self.weight = WindowCounter(60)
        self.order_counts: dict[str, tuple[WindowCounter, WindowCounter]] = {}
        self.requests = 0
        self.on_listen_key_closed = lambda key: None

    def routes(self, app: web.Application) -> None:
        for method, path, handler, weight, signed in self.route_table():
            app.router.add_route(method, path, self._wrap(handler, weight, signed))

    def _wrap(self, handler, weight: int, signed: bool):
        async def endpoint(request: web.Request) -> web.Response:
            self.requests += 1
            headers: dict[str, str] = {}
            try:
                fault = await self.faults.rest_call()
                if fault == 503:
                    raise err(INTERNAL)
                raw_query = request.rel_url.raw_query_string
                raw_body = (await request.text()) if request.can_read_body else ""
                params = parse_params(raw_query)
                if raw_body:
                    params.update(parse_params(raw_body))
                req = Request(params, raw_query, raw_body)
                w = weight or self._dynamic_weight(handler, req)
                used = self.weight.add(w)
                headers["X-MBX-USED-WEIGHT-1M"] = str(used)
                if fault == 429 or (self.config.rate_limits.enabled
                                    and used > self.config.rate_limits.weight_per_min):
                    e = err(TOO_MANY_REQUESTS, limit=self.config.rate_limits.weight_per_min)
                    e.headers["Retry-After"] = str(max(1, 60 - int(time.time()) % 60))
                    raise e
                if signed:
                    self._authenticate(request, req)
                elif handler.__name__.startswith("listen_key"):
                    req.account = self._api_key(request)
                body = await handler(req, headers)
                return web.Response(body=msgspec.json.encode(body), content_type=JSON, headers=headers)
            except BinanceError as exc:
                exc.headers.update(headers)
                return exc.response()
        return endpoint

    # --- order actions: written once, run by the REST routes and the WebSocket API alike ----------

    def _route(self, action: Callable[[Request, dict], Any]) -> Callable:
        """A REST handler for an order action (its route's weight is 0: ``run_action`` charges)."""
        async def handler(req: Request, headers: dict) -> Any:
            return self.run_action(action, req, headers)
        handler.__name__ = action.__name__
        return handler

    def run_action(self, action: Callable[[Request, dict], Any], req: Request, headers: dict) -> Any:
        """Run one order action for ``req.account`` and charge its weight by its outcome."""
        try:
            body = action(req, headers)
        except BinanceError:
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.weight.add(self.action_weight(action.__name__, req, None)))
            raise
        headers["X-MBX-USED-WEIGHT-1M"] = str(self.weight.add(self.action_weight(action.__name__, req, body)))
        return body

    def action_weight(self, name: str, req: Request, body: Any) -> int:
        """The weight of order action ``name`` (the market's table) given its answer (None: it
        failed)."""
        raise NotImplementedError

    def _dynamic_weight(self, handler, req: Request) -> int:
        if handler == self.depth:
            try:
                return self.depth_weight(int(req.get("limit", str(self.DEFAULT_DEPTH_LIMIT))))
            except ValueError:
                return self.depth_weight(self.DEFAULT_DEPTH_LIMIT)
        return 0

    def depth_weight(self, limit: int) -> int:
        raise NotImplementedError

    def _api_key(self, request: web.Request) -> Account:
        key = request.headers.get("X-MBX-APIKEY", "")
        account = self.engine.account_for_key(key)
        if account is None:
            raise err(BAD_API_KEY)
        return account

    def _authenticate(self, request: web.Request, req: Request) -> None:
        account = self._api_key(request)
        ts = req.need("timestamp")
        sig = req.need("signature")
        try:
            ts_ms = int(ts)
            recv = int(req.get("recvWindow", "5000"))
        except ValueError:
            raise illegal("timestamp") from None
        if recv <= 0 or recv > 60000:
            raise err(BAD_RECV_WINDOW)
        # the signed payload: raw query without its signature + raw body without its signature
        payload = _SIG_RE.sub("", req.raw_query).lstrip("&") + _SIG_RE.sub("", req.raw_body).lstrip("&")
        if not verify(binance_signature(account.secret, payload), sig):
            raise err(BAD_SIGNATURE)
        check_timing(self.engine.now_ms(), ts_ms, recv)
        req.account = account

    def _count_order(self, account: Account, headers: dict[str, str]) -> None:
        counters = self.order_counts.get(account.api_key)
        if counters is None:
            counters = self.order_counts[account.api_key] = tuple(
                WindowCounter(seconds) for _, seconds, _, _ in self.ORDER_WINDOWS)
        now = time.time()
        limits = self.config.rate_limits
        over = None
        for counter, (suffix, _, field, interval) in zip(counters, self.ORDER_WINDOWS):
            n = counter.add(1, now)
            headers[f"X-MBX-ORDER-COUNT-{suffix}"] = str(n)
            if over is None and limits.enabled and n > getattr(limits, field):
                over = (getattr(limits, field), interval)
        if over:
            raise err(TOO_MANY_ORDERS, limit=over[0], interval=over[1])

    def _symbol(self, req: Request, required: bool = True) -> SymbolSpec | None:
        s = req.get("symbol")
        if s is None:
            if required:
                raise missing("symbol")
            return None
        spec = self.engine.specs.get(s.upper())
        if spec is None:
            raise err(INVALID_SYMBOL)
        return spec

    def _order_fields(self, req: Request, spec: SymbolSpec, type_: str) -> tuple[int, int]:
        """(price ticks, qty lots) of an order request; ``type_`` in the engine's vocabulary."""
        try:
            qty = spec.lots(req.need("quantity"))
        except BadNumber as e:
            raise (illegal("quantity") if e.reason == "illegal" else err(self.QTY_STEP_ERR)) from None
        price = 0
        if type_ == "limit":
            try:
                price = spec.ticks(req.need("price"))
            except BadNumber as e:
                raise (illegal("price") if e.reason == "illegal" else err(self.PRICE_TICK_ERR)) from None
        return price, qty

    def _reject(self, exc: SimReject) -> BinanceError:
        status, code, msg = self.REJECTS.get(exc.reason, (400, -1013, exc.reason))
        return BinanceError(status, code, msg.format(detail=exc.detail) if "{detail}" in msg else msg)

    def _find_ids(self, req: Request) -> tuple[int | None, str | None]:
        oid = req.get("orderId")
        cid = req.get("origClientOrderId")
        if oid is None and cid is None:
            raise missing("orderId")
        try:
            return (int(oid) if oid is not None else None), cid
        except ValueError:
            raise illegal("orderId") from None

    async def ping(self, req: Request, headers) -> dict:
        return {}

    async def time(self, req: Request, headers) -> dict:
        return {"serverTime": self.engine.now_ms()}

    async def exchange_info(self, req: Request, headers) -> dict:
        return self.WIRE.exchange_info(self.engine, self.config.rate_limits, self.engine.now_ms())

    async def listen_key_new(self, req: Request, headers) -> dict:
        return {"listenKey": self.keys.create(req.account, time.monotonic())}

    async def listen_key_keepalive(self, req: Request, headers) -> dict:
        key = req.get("listenKey")
        if key is None:
            # Binance futures keeps alive the account's current key when none is named
            live = self.keys.live(req.account, time.monotonic())
            if not live:
                raise err(LISTEN_KEY_UNKNOWN)
            key = live[0]
        if not self.keys.keepalive(key, req.account, time.monotonic()):
            raise err(LISTEN_KEY_UNKNOWN)
        return {"listenKey": key}

    async def listen_key_close(self, req: Request, headers) -> dict:
        key = req.get("listenKey")
        keys = [key] if key else self.keys.live(req.account, time.monotonic())
        for k in keys:
            if self.keys.owner.get(k) is req.account:
                self.keys.close(k)
                self.on_listen_key_closed(k)
        return {}


