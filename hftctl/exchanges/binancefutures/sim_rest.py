"""The sim's Binance USD-M futures REST API (/fapi/...): auth, limits, errors and order routes.

Parameters may come in the query string or a form body, and the signature covers the raw query
string concatenated with the raw body, exactly as Binance's "SIGNED Endpoint Examples" describe.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import unquote_plus

import orjson
from aiohttp import web

from hftctl.exchanges.binancefutures import sim_messages as wire
from hftctl.exchanges.binancefutures.sim_errors import (
    AHEAD_OF_SERVER, BAD_API_KEY, BAD_CLIENT_ID, BAD_LEVERAGE, BAD_RECV_WINDOW, BAD_SIGNATURE, INTERNAL,
    INVALID_SIDE, INVALID_SYMBOL, INVALID_TIF, INVALID_TYPE, LISTEN_KEY_UNKNOWN, OUTSIDE_RECV_WINDOW,
    PRICE_TICK, QTY_PRECISION, REJECTS, TOO_MANY_ORDERS, TOO_MANY_REQUESTS, BinanceError, err, illegal,
    missing)
from hftctl.exchanges.signing import binance_signature, verify
from hftctl.sim.accounts import Account
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine, SimReject
from hftctl.sim.faults import Faults
from hftctl.sim.instruments import BadNumber, SymbolSpec
from hftctl.sim.ratelimit import WindowCounter

log = logging.getLogger(__name__)

_SIG_RE = re.compile(r"(^|&)signature=([^&]*)")
_CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_SIDES = {"BUY": 1, "SELL": -1}
_DEPTH_WEIGHT = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
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
    """What Binance's REST APIs share: parameters, HMAC auth, weights, order counts, listen keys."""

    REJECTS = REJECTS
    WIRE = wire           # the module that renders this API's bodies
    # order-count windows: (header suffix, seconds, RateLimits field, name in the -1015 message)
    ORDER_WINDOWS = (("10S", 10, "orders_per_10s", "TEN_SECONDS"), ("1M", 60, "orders_per_min", "ONE_MINUTE"))
    PRICE_TICK_ERR = PRICE_TICK
    QTY_STEP_ERR = QTY_PRECISION

    def __init__(self, engine: SimEngine, config: SimConfig, faults: Faults) -> None:
        self.engine = engine
        self.config = config
        self.faults = faults
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
                return web.Response(body=orjson.dumps(body), content_type=JSON, headers=headers)
            except BinanceError as exc:
                exc.headers.update(headers)
                return exc.response()
        return endpoint

    def _dynamic_weight(self, handler, req: Request) -> int:
        if handler == self.depth:
            try:
                return self.depth_weight(int(req.get("limit", "500")))
            except ValueError:
                return 20
        return 0

    def depth_weight(self, limit: int) -> int:
        return _DEPTH_WEIGHT.get(limit, 20)

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
        now = self.engine.now_ms()
        if ts_ms > now + 1000:
            raise err(AHEAD_OF_SERVER)
        if now - ts_ms > recv:
            raise err(OUTSIDE_RECV_WINDOW)
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
        try:
            qty = spec.lots(req.need("quantity"))
        except BadNumber as e:
            raise (illegal("quantity") if e.reason == "illegal" else err(self.QTY_STEP_ERR)) from None
        price = 0
        if type_ == "LIMIT":
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
        key = self.engine.create_listen_key(req.account, self.config.listen_key_ttl_s, time.monotonic())
        return {"listenKey": key}

    async def listen_key_keepalive(self, req: Request, headers) -> dict:
        key = req.get("listenKey")
        if key is None:
            # Binance futures keeps alive the account's current key when none is named
            live = [k for k, exp in req.account.listen_keys.items() if exp > time.monotonic()]
            if not live:
                raise err(LISTEN_KEY_UNKNOWN)
            key = live[0]
        if self.engine.listen_keys.get(key) is not req.account or not self.engine.keepalive_listen_key(
                key, self.config.listen_key_ttl_s, time.monotonic()):
            raise err(LISTEN_KEY_UNKNOWN)
        return {"listenKey": key}

    async def listen_key_close(self, req: Request, headers) -> dict:
        key = req.get("listenKey")
        keys = [key] if key else list(req.account.listen_keys)
        for k in keys:
            if self.engine.listen_keys.get(k) is req.account:
                self.engine.close_listen_key(k)
                self.on_listen_key_closed(k)
        return {}


class BinanceFuturesRest(BinanceRestBase):
    """/fapi routes with USD-M's weights; the snapshot marks the next diff (see engine)."""

    def route_table(self) -> list[tuple]:
        # (method, path, handler, request weight (0: depends on parameters), signed)
        return [
            ("GET", "/fapi/v1/ping", self.ping, 1, False),
            ("GET", "/fapi/v1/time", self.time, 1, False),
            ("GET", "/fapi/v1/exchangeInfo", self.exchange_info, 1, False),
            ("GET", "/fapi/v1/depth", self.depth, 0, False),
            ("GET", "/fapi/v1/ticker/bookTicker", self.ticker_book, 2, False),
            ("POST", "/fapi/v1/order", self.new_order, 0, True),
            ("PUT", "/fapi/v1/order", self.modify_order, 1, True),
            ("DELETE", "/fapi/v1/order", self.cancel_order, 1, True),
            ("GET", "/fapi/v1/order", self.query_order, 1, True),
            ("DELETE", "/fapi/v1/allOpenOrders", self.cancel_all, 1, True),
            ("GET", "/fapi/v1/openOrders", self.open_orders, 1, True),
            ("GET", "/fapi/v1/allOrders", self.all_orders, 5, True),
            ("GET", "/fapi/v1/userTrades", self.user_trades, 5, True),
            ("GET", "/fapi/v2/positionRisk", self.position_risk, 5, True),
            ("GET", "/fapi/v3/positionRisk", self.position_risk_v3, 5, True),
            ("GET", "/fapi/v2/account", self.account, 5, True),
            ("GET", "/fapi/v3/account", self.account, 5, True),
            ("GET", "/fapi/v2/balance", self.balance, 5, True),
            ("GET", "/fapi/v3/balance", self.balance, 5, True),
            ("POST", "/fapi/v1/leverage", self.leverage, 1, True),
            ("POST", "/fapi/v1/listenKey", self.listen_key_new, 1, False),
            ("PUT", "/fapi/v1/listenKey", self.listen_key_keepalive, 1, False),
            ("DELETE", "/fapi/v1/listenKey", self.listen_key_close, 1, False),
        ]

    async def depth(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        try:
            limit = int(req.get("limit", "500"))
        except ValueError:
            raise illegal("limit") from None
        if limit not in _DEPTH_WEIGHT:
            raise BinanceError(400, -1120, "Invalid limit: must be one of 5, 10, 20, 50, 100, 500, 1000.")
        book = self.engine.books[spec.symbol]
        self.engine.snapshot_served(spec.symbol)
        return {"lastUpdateId": book.last_update_id, "E": self.engine.now_ms(),
                "T": self.engine.book_trans_ms(spec.symbol),
                "bids": book.wire_levels(1, limit), "asks": book.wire_levels(-1, limit)}

    async def ticker_book(self, req: Request, headers):
        spec = self._symbol(req, required=False)
        specs = [spec] if spec else list(self.engine.specs.values())
        out = []
        for sp in specs:
            book = self.engine.books[sp.symbol]
            bb, ba = book.best_bid, book.best_ask
            out.append({"symbol": sp.symbol,
                        "bidPrice": sp.price_str(bb) if bb is not None else "0",
                        "bidQty": sp.qty_str(book.bids[bb]) if bb is not None else "0",
                        "askPrice": sp.price_str(ba) if ba is not None else "0",
                        "askQty": sp.qty_str(book.asks[ba]) if ba is not None else "0",
                        "time": self.engine.now_ms(), "lastUpdateId": book.last_update_id})
        return out[0] if spec else out

    async def new_order(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        self._count_order(req.account, headers)
        side = _SIDES.get(req.need("side"))
        if side is None:
            raise err(INVALID_SIDE)
        type_ = req.need("type")
        if type_ not in ("LIMIT", "MARKET"):
            raise err(INVALID_TYPE)
        tif = "GTC"
        if type_ == "LIMIT":
            tif = req.need("timeInForce")
            if tif not in ("GTC", "IOC", "FOK", "GTX"):
                raise err(INVALID_TIF)
        price, qty = self._order_fields(req, spec, type_)
        client_id = req.get("newClientOrderId")
        if client_id is not None and not _CLIENT_ID_RE.match(client_id):
            raise err(BAD_CLIENT_ID)
        reduce_only = req.get("reduceOnly", "false").lower() == "true"
        try:
            order = self.engine.place(req.account, spec.symbol, side, type_, tif, price, qty,
                                      client_id, reduce_only)
        except SimReject as exc:
            raise self._reject(exc) from None
        return wire.order_body(order, spec)

    async def cancel_order(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        oid, cid = self._find_ids(req)
        try:
            order = self.engine.cancel(req.account, spec.symbol, oid, cid)
        except SimReject as exc:
            raise self._reject(exc) from None
        return wire.order_body(order, spec)

    async def modify_order(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        self._count_order(req.account, headers)
        oid, cid = self._find_ids(req)
        side = _SIDES.get(req.need("side"))
        if side is None:
            raise err(INVALID_SIDE)
        price, qty = self._order_fields(req, spec, "LIMIT")
        try:
            order = self.engine.modify(req.account, spec.symbol, oid, cid, side, price, qty)
        except SimReject as exc:
            if exc.reason == "unknown_order":
                raise BinanceError(400, -2013, "Order does not exist.") from None
            raise self._reject(exc) from None
        return wire.order_body(order, spec)

    async def query_order(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        oid, cid = self._find_ids(req)
        order = self.engine.find_order(req.account, spec.symbol, oid, cid, include_done=True)
        if order is None:
            raise BinanceError(400, -2013, "Order does not exist.")
        return wire.order_body(order, spec, with_time=True)

    async def cancel_all(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        self.engine.cancel_all(req.account, spec.symbol)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    async def open_orders(self, req: Request, headers) -> list:
        spec = self._symbol(req, required=False)
        if spec is None:
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.weight.add(39))
        orders = self.engine.open_orders(req.account, spec.symbol if spec else None)
        return [wire.order_body(o, self.engine.specs[o.symbol], with_time=True) for o in orders]

    def _history_limit(self, req: Request) -> int:
        try:
            limit = int(req.get("limit", "500"))
        except ValueError:
            raise illegal("limit") from None
        return max(1, min(limit, 1000))

    async def all_orders(self, req: Request, headers) -> list:
        spec = self._symbol(req)
        orders = self.engine.account_orders(req.account, spec.symbol)[-self._history_limit(req):]
        return [wire.order_body(o, spec, with_time=True) for o in orders]

    async def user_trades(self, req: Request, headers) -> list:
        spec = self._symbol(req)
        return wire.user_trades(self.engine.account_orders(req.account, spec.symbol), spec)[-self._history_limit(req):]

    async def position_risk(self, req: Request, headers) -> list:
        spec = self._symbol(req, required=False)
        symbols = [spec.symbol] if spec else list(self.engine.specs)
        now = self.engine.now_ms()
        return [wire.position_risk(self.engine, req.account, s, now) for s in symbols]

    async def position_risk_v3(self, req: Request, headers) -> list:
        rows = await self.position_risk(req, headers)
        # v3 lists only symbols with a position or open orders
        return [r for r in rows if float(r["positionAmt"]) != 0 or float(r["bidNotional"]) or float(r["askNotional"])]

    async def account(self, req: Request, headers) -> dict:
        return wire.account(self.engine, req.account, self.engine.now_ms())

    async def balance(self, req: Request, headers) -> list:
        return wire.balances(self.engine, req.account, self.engine.now_ms())

    async def leverage(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        value = req.need("leverage")
        if not value.isdigit() or not 1 <= int(value) <= 125:
            raise err(BAD_LEVERAGE, value=value)
        req.account.leverage = int(value)
        return {"leverage": int(value), "maxNotionalValue": "20000000", "symbol": spec.symbol}

