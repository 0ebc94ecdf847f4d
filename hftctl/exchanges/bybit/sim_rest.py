"""The sim's Bybit v5 REST API (linear category): X-BAPI-* signing, retCode envelopes, limits.

Signature: HMAC-SHA256(timestamp + api_key + recv_window + payload), payload being the raw query
string (GET) or the raw JSON body (POST), as in Bybit's "Integration Guidance" docs. Business
errors are HTTP 200 with a non-zero retCode, as Bybit answers them.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import msgspec
import orjson
from aiohttp import web

from hftctl.exchanges.bybit import sim_messages as wire
from hftctl.exchanges.bybit.schemas import ListResult, RestEnvelope
from hftctl.exchanges.bybit.signing import bybit_signature
from hftctl.exchanges.bybit.venues import CATEGORY, PATHS, SNAPSHOT_LIMIT
from hftctl.exchanges.wire import verify
from hftctl.sim.accounts import Account
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.errors import SimReject
from hftctl.sim.faults import Faults
from hftctl.sim.instruments import BadNumber, SymbolSpec
from hftctl.sim.ratelimit import WindowCounter

JSON = "application/json"
_SIDES = {"Buy": 1, "Sell": -1}

REJECTS = {
    "unknown_symbol": (10001, "params error: symbol invalid"),
    "qty_nonpositive": (10001, "params error: qty must be greater than 0"),
    "lot_size": (10001, "The number of contracts exceeds maximum limit allowed: too large"),
    "price_filter": (10001, "params error: price out of permissible range"),
    "min_notional": (110094, "Order does not meet minimum order value 5USDT"),
    "no_liquidity": (110024, "no liquidity on the opposite side"),
    "duplicate_client_id": (110072, "OrderLinkedID is duplicate"),
    "reduce_only": (110017, "Reduce-only rule not satisfied"),
    "margin": (110007, "ab not enough for new order"),
    "unknown_order": (110001, "order not exists or too late to cancel"),
    "modify_type": (10001, "params error: only limit orders can be amended"),
    "modify_side": (10001, "params error: side"),
    "modify_qty": (10001, "params error: qty must be greater than the executed quantity"),
    "no_change": (10001, "The order remains unchanged as the parameters entered match the existing ones."),
}


class BybitError(Exception):
    def __init__(self, code: int, msg: str, http: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.http = code, msg, http


def envelope(result, now_ms: int, code: int = 0, msg: str = "OK") -> bytes:
    return msgspec.json.encode(RestEnvelope(retCode=code, retMsg=msg, result=result if result is not None else {},
                                            retExtInfo={}, time=now_ms))


class BybitOrders:
    """Order operations shared by REST (/v5/order/*) and the trade websocket (order.create ...)."""

    def __init__(self, engine: SimEngine, config: SimConfig) -> None:
        self.engine = engine
        self.config = config
        self.per_second: dict[str, WindowCounter] = {}

    def limit_headers(self, account: Account, now_ms: int) -> dict[str, str]:
        """Bybit's per-UID order limit (orders_per_10s / 10 per second); 10006 when over."""
        limit = max(1, self.config.rate_limits.orders_per_10s // 10)
        counter = self.per_second.setdefault(account.api_key, WindowCounter(1))
        used = counter.add()
        headers = {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(max(0, limit - used)),
                   "X-Bapi-Limit-Reset-Timestamp": str((now_ms // 1000 + 1) * 1000)}
        if self.config.rate_limits.enabled and used > limit:
            raise BybitError(10006, "Too many visits!")
        return headers

    def spec(self, p: dict) -> SymbolSpec:
        if p.get("category") != CATEGORY:
            raise BybitError(10001, "params error: category only support linear")
        symbol = p.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise BybitError(10001, "params error: symbol is required")
        spec = self.engine.specs.get(symbol.upper())
        if spec is None:
            raise BybitError(10001, "params error: symbol invalid")
        return spec

    def _num(self, spec: SymbolSpec, p: dict, name: str, price: bool) -> int:
        value = p.get(name)
        if not isinstance(value, str) or not value:
            raise BybitError(10001, f"params error: {name} is required")
        try:
            return spec.ticks(value) if price else spec.lots(value)
        except BadNumber as e:
            if e.reason == "illegal":
                raise BybitError(10001, f"params error: {name} invalid") from None
            raise BybitError(10001, "params error: price must be a multiple of tickSize" if price
                             else "params error: qty must be a multiple of qtyStep") from None

    def _reject(self, exc: SimReject) -> BybitError:
        code, msg = REJECTS.get(exc.reason, (10001, exc.reason))
        return BybitError(code, msg)

    def _find(self, account: Account, spec: SymbolSpec, p: dict, include_done: bool = False):
        oid = p.get("orderId")
        link = p.get("orderLinkId")
        if not oid and not link:
            raise BybitError(10001, "params error: orderId or orderLinkId is required")
        order_id = wire.order_int(oid) if oid else None
        if oid and order_id is None:
            raise BybitError(110001, "order not exists or too late to cancel")
        return self.engine.find_order(account, spec.symbol, order_id, link or None, include_done)

    def create(self, account: Account, p: dict) -> dict:
        spec = self.spec(p)
        side = _SIDES.get(p.get("side"))
        if side is None:
            raise BybitError(10001, "params error: side invalid")
        otype = p.get("orderType")
        if otype not in ("Limit", "Market"):
            raise BybitError(10001, "params error: orderType invalid")
        tif = wire.TIF_IN.get(p.get("timeInForce", "GTC" if otype == "Limit" else "IOC"))
        if tif is None:
            raise BybitError(10001, "params error: timeInForce invalid")
        qty = self._num(spec, p, "qty", price=False)
        price = self._num(spec, p, "price", price=True) if otype == "Limit" else 0
        link = p.get("orderLinkId") or None
        if link is not None and (not isinstance(link, str) or len(link) > 36):
            raise BybitError(10001, "params error: orderLinkId invalid")
        reduce_only = p.get("reduceOnly") in (True, "true")
        try:
            order = self.engine.place(account, spec.symbol, side, otype.lower(), tif if otype == "Limit" else "ioc",
                                      price, qty, link, reduce_only, post_only_rejects=False)
        except SimReject as exc:
            raise self._reject(exc) from None
        return {"orderId": wire.order_uuid(order.order_id), "orderLinkId": order.client_id}

    def amend(self, account: Account, p: dict) -> dict:
        spec = self.spec(p)
        order = self._find(account, spec, p)
        if order is None:
            raise BybitError(110001, "order not exists or too late to amend")
        qty = self._num(spec, p, "qty", price=False) if p.get("qty") else order.qty_lots
        price = self._num(spec, p, "price", price=True) if p.get("price") else order.price_ticks
        try:
            self.engine.modify(account, spec.symbol, order.order_id, None, order.side, price, qty)
        except SimReject as exc:
            raise self._reject(exc) from None
        return {"orderId": wire.order_uuid(order.order_id), "orderLinkId": order.client_id}

    def cancel(self, account: Account, p: dict) -> dict:
        spec = self.spec(p)
        order = self._find(account, spec, p)
        if order is None:
            raise BybitError(110001, "order not exists or too late to cancel")
        self.engine.cancel(account, spec.symbol, order.order_id)
        return {"orderId": wire.order_uuid(order.order_id), "orderLinkId": order.client_id}


class BybitRest:
    def __init__(self, engine: SimEngine, config: SimConfig, faults: Faults) -> None:
        self.engine = engine
        self.config = config
        self.faults = faults
        self.orders = BybitOrders(engine, config)
        self.requests = 0

    def routes(self, app: web.Application) -> None:
        p = PATHS
        for method, path, handler, signed in (
            ("GET", p["time"], self.server_time, False),
            ("GET", p["instruments"], self.instruments, False),
            ("GET", p["orderbook"], self.orderbook, False),
            ("POST", p["create"], self.create, True),
            ("POST", p["amend"], self.amend, True),
            ("POST", p["cancel"], self.cancel, True),
            ("POST", p["cancel_all"], self.cancel_all, True),
            ("GET", p["realtime"], self.realtime, True),
            ("GET", p["positions"], self.positions, True),
            ("GET", p["wallet"], self.wallet, True),
        ):
            app.router.add_route(method, path, self._wrap(handler, signed))

    def _wrap(self, handler, signed: bool):
        async def endpoint(request: web.Request) -> web.Response:
            self.requests += 1
            now = self.engine.now_ms()
            headers: dict[str, str] = {}
            try:
                fault = await self.faults.rest_call()
                if fault == 503:
                    return web.Response(status=503, body=envelope(None, now, 10016, "Internal server error."),
                                        content_type=JSON)
                if fault == 429:
                    raise BybitError(10006, "Too many visits!")
                raw_query = request.rel_url.raw_query_string
                raw_body = await request.text() if request.can_read_body else ""
                if request.method == "GET":
                    params = dict(parse_qsl(raw_query, keep_blank_values=True))
                else:
                    try:
                        params = orjson.loads(raw_body or "{}")
                    except orjson.JSONDecodeError:
                        raise BybitError(10001, "params error: request body is not JSON") from None
                    if not isinstance(params, dict):
                        raise BybitError(10001, "params error: request body must be a JSON object")
                account = None
                if signed:
                    account = self._authenticate(request, raw_query if request.method == "GET" else raw_body)
                result = await handler(account, params, headers)
                return web.Response(body=envelope(result, self.engine.now_ms()), content_type=JSON,
                                    headers=headers)
            except BybitError as exc:
                return web.Response(status=exc.http, body=envelope(None, now, exc.code, exc.msg),
                                    content_type=JSON, headers=headers)
        return endpoint

    def _authenticate(self, request: web.Request, payload: str) -> Account:
        h = request.headers
        key = h.get("X-BAPI-API-KEY", "")
        account = self.engine.account_for_key(key)
        if account is None:
            raise BybitError(10003, "API key is invalid.", http=401)
        ts, sign = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-SIGN", "")
        recv = h.get("X-BAPI-RECV-WINDOW", "5000")
        if not ts.isdigit() or not recv.isdigit():
            raise BybitError(10001, "params error: X-BAPI-TIMESTAMP and X-BAPI-RECV-WINDOW must be integers")
        if not verify(bybit_signature(account.secret, ts, key, recv, payload), sign):
            raise BybitError(10004, "error sign! origin_string[" + ts + key + recv + payload + "]")
        now = self.engine.now_ms()
        if not now - int(recv) <= int(ts) < now + 1000:
            raise BybitError(10002, "invalid request, please check your server timestamp or recv_window param. "
                             f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]")
        return account

    # ---- public ---------------------------------------------------------------------------
    async def server_time(self, account, p, headers):
        ns = time.time_ns() + self.faults.clock_shift_ms * 1_000_000
        return {"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)}

    async def instruments(self, account, p, headers):
        if p.get("category") != CATEGORY:
            raise BybitError(10001, "params error: category only support linear")
        rows = wire.instruments(self.engine)
        if p.get("symbol"):
            rows = [r for r in rows if r["symbol"] == p["symbol"].upper()]
            if not rows:
                raise BybitError(10001, "params error: symbol invalid")
        return ListResult(category=CATEGORY, rows=rows, nextPageCursor="")

    async def orderbook(self, account, p, headers):
        spec = self.orders.spec(p)
        try:
            limit = int(p.get("limit", "25"))
        except ValueError:
            raise BybitError(10001, "params error: limit invalid") from None
        if not 1 <= limit <= SNAPSHOT_LIMIT:
            raise BybitError(10001, f"params error: limit must be in [1, {SNAPSHOT_LIMIT}]")
        book = self.engine.books[spec.symbol]
        now = self.engine.now_ms()
        return {"s": spec.symbol, "b": book.wire_levels(1, limit), "a": book.wire_levels(-1, limit),
                "ts": now, "u": book.last_update_id, "seq": book.last_update_id, "cts": now}

    # ---- orders ---------------------------------------------------------------------------
    async def create(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms()))
        return self.orders.create(account, p)

    async def amend(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms()))
        return self.orders.amend(account, p)

    async def cancel(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms()))
        return self.orders.cancel(account, p)

    async def cancel_all(self, account, p, headers):
        spec = self.orders.spec(p)
        orders = self.engine.cancel_all(account, spec.symbol)
        return {"list": [{"orderId": wire.order_uuid(o.order_id), "orderLinkId": o.client_id} for o in orders],
                "success": "1"}

    async def realtime(self, account, p, headers):
        if p.get("category") != CATEGORY:
            raise BybitError(10001, "params error: category only support linear")
        if p.get("orderId") or p.get("orderLinkId"):
            order = self.orders._find(account, self.orders.spec(p), p, include_done=True)
            orders = [order] if order else []
        else:
            symbol = p.get("symbol")
            orders = self.engine.open_orders(account, symbol.upper() if symbol else None)
        return ListResult(category=CATEGORY, nextPageCursor="",
                          rows=[wire.order_row(o, self.engine.specs[o.symbol]) for o in orders])

    async def positions(self, account, p, headers):
        if p.get("category") != CATEGORY:
            raise BybitError(10001, "params error: category only support linear")
        symbols = [self.orders.spec(p).symbol] if p.get("symbol") else list(self.engine.specs)
        return ListResult(category=CATEGORY, nextPageCursor="",
                          rows=[wire.position(self.engine, account, account.position(s)) for s in symbols])

    async def wallet(self, account, p, headers):
        if p.get("accountType") not in ("UNIFIED", "CONTRACT"):
            raise BybitError(10001, "params error: accountType only support UNIFIED")
        return {"list": [wire.wallet(self.engine, account)]}
