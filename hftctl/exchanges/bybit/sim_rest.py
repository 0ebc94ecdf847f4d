"""The sim's Bybit v5 REST API (linear category): X-BAPI-* signing, retCode envelopes, limits.

Signature: HMAC-SHA256(timestamp + api_key + recv_window + payload), payload being the raw query
string (GET) or the raw JSON body (POST), as in Bybit's "Integration Guidance" docs. Business
errors are HTTP 200 with a non-zero retCode, as Bybit answers them (a bad signature too: the docs
give no HTTP status for 10004, and clients report it with HTTP 200).

Lists page as docs/v5/order/open-order.mdx, order-list.mdx and position/position.mdx say:
``limit`` (default 20; at most 50 for orders, 200 for positions) and an opaque ``cursor`` taken
from ``nextPageCursor`` ("" on the last page). ``order/realtime`` shows open orders, and by id
(or with ``openOnly=1``) the account's 500 most recent closed ones; ``order/history`` shows
closed orders in 7-day windows, fully cancelled or rejected ones only for 24 hours;
``position/list`` with ``settleCoin`` lists only non-zero positions.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import msgspec
import orjson
from aiohttp import web

from hftctl.exchanges.bybit import sim_messages as wire
from hftctl.exchanges.bybit.schemas import ListResult, RestEnvelope
from hftctl.exchanges.bybit.signing import bybit_signature
from hftctl.exchanges.bybit.sim_smp import SMP_TYPES
from hftctl.exchanges.bybit.venues import (AMEND_KEEPS_PRIORITY, CATEGORY, CLOSED_KEPT, DCP_PER_S,
                                           HISTORY_WINDOW_MS, PATHS, SNAPSHOT_LIMIT, UNFILLED_KEPT_MS)
from hftctl.exchanges.wire import verify
from hftctl.sim.accounts import Account
from hftctl.sim.config import SimConfig
from hftctl.sim.engine import SimEngine
from hftctl.sim.errors import SimReject
from hftctl.sim.events import OrderEvent
from hftctl.sim.faults import Faults
from hftctl.sim.instruments import BadNumber, SymbolSpec
from hftctl.sim.orders import Order
from hftctl.sim.ratelimit import WindowCounter

if TYPE_CHECKING:
    from hftctl.exchanges.bybit.sim_dcp import BybitDcp

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
    "modify_qty": (110064, "The modified contract quantity cannot be less than or equal to the filled quantity."),
    "no_change": (10001, "The order remains unchanged as the parameters entered match the existing ones."),
}


class BybitError(Exception):
    def __init__(self, code: int, msg: str, http: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.http = code, msg, http


def envelope(result, now_ms: int, code: int = 0, msg: str = "OK") -> bytes:
    return msgspec.json.encode(RestEnvelope(retCode=code, retMsg=msg, result=result if result is not None else {},
                                            retExtInfo={}, time=now_ms))


# The answers Bybit gives when it cannot tell whether an order request was carried out: REST
# answers 10000 and 10016 in turn (with HTTP 200), the trade websocket 10016 (error.mdx).
UNKNOWN_REST = ((10000, "Server Timeout"), (10016, "Server error."))
UNKNOWN_WS = ((10016, "internal server error"),)


class BybitOrders:
    """Order operations shared by REST (/v5/order/*) and the trade websocket (order.create ...)."""

    def __init__(self, engine: SimEngine, config: SimConfig, faults: Faults) -> None:
        self.engine = engine
        self.config = config
        self.faults = faults
        self.per_second: dict[tuple[str, str], WindowCounter] = {}     # (api key, path)
        self._unknown_answers = 0
        # per account: its most recent closed orders, as order/realtime keeps them
        self.closed: dict[int, OrderedDict[int, Order]] = defaultdict(OrderedDict)
        engine.user_listeners.append(self._on_user)

    def _on_user(self, ev) -> None:
        if type(ev) is OrderEvent and not ev.order.is_open:
            kept = self.closed[id(ev.order.account)]
            kept[ev.order.order_id] = ev.order
            kept.move_to_end(ev.order.order_id)
            while len(kept) > CLOSED_KEPT:
                kept.popitem(last=False)

    def guarded(self, handler: Callable[[Account, dict], dict], account: Account, p: dict,
                answers: tuple[tuple[int, str], ...]) -> dict:
        """Run an order request under the unknown-outcome fault: "before" answers one of
        ``answers`` without running it, "after" runs it (whatever it decides) and then answers."""
        fault = self.faults.unknown_outcome()
        if fault is None:
            return handler(account, p)
        if fault == "after":
            try:
                handler(account, p)
            except BybitError:
                pass            # refused; the answer saying so is what gets lost
        code, msg = answers[self._unknown_answers % len(answers)]
        self._unknown_answers += 1
        raise BybitError(code, msg)

    def limit_headers(self, account: Account, now_ms: int, path: str) -> dict[str, str]:
        """Bybit's per-UID limit of one endpoint (rate-limit.mdx: per second, per UID, "for
        current endpoint"; the trade websocket counts its op type against the same budget):
        create, amend and cancel orders_per_10s / 10 each (10/s), the DCP endpoints 5/s. 10006
        when over."""
        limit = DCP_PER_S if path in (PATHS["dcp"], PATHS["dcp_info"]) else \
            max(1, self.config.rate_limits.orders_per_10s // 10)
        counter = self.per_second.setdefault((account.api_key, path), WindowCounter(1))
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

    def _find(self, account: Account, spec: SymbolSpec, p: dict) -> Order | None:
        """An open order by orderId (which wins) or orderLinkId."""
        oid = p.get("orderId")
        link = p.get("orderLinkId")
        if not oid and not link:
            raise BybitError(10001, "params error: orderId or orderLinkId is required")
        order_id = wire.order_int(oid) if oid else None
        if oid and order_id is None:
            raise BybitError(110001, "order not exists or too late to cancel")
        return self.engine.find_order(account, spec.symbol, order_id, link or None)

    def find_recent(self, account: Account, p: dict) -> Order | None:
        """order/realtime by id: an open order, or one of the account's recent closed ones."""
        spec = self.spec(p)
        found = self._find(account, spec, p)
        if found is not None:
            return found
        oid = wire.order_int(p["orderId"]) if p.get("orderId") else None
        for o in reversed(self.closed[id(account)].values()):
            if o.symbol == spec.symbol and (o.order_id == oid if oid is not None else o.client_id == p["orderLinkId"]):
                return o
        return None

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
        smp_type = p.get("smpType") or "None"
        if smp_type not in SMP_TYPES:
            raise BybitError(10001, "params error: smpType invalid")
        try:
            order = self.engine.place(account, spec.symbol, side, otype.lower(), tif if otype == "Limit" else "ioc",
                                      price, qty, link, reduce_only, post_only_rejects=False,
                                      stp=SMP_TYPES[smp_type])
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
            self.engine.modify(account, spec.symbol, order.order_id, None, order.side, price, qty,
                               keep_priority=AMEND_KEEPS_PRIORITY)
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


def _int_param(p: dict, name: str, default: int, lo: int, hi: int) -> int:
    raw = p.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BybitError(10001, f"params error: {name} invalid") from None
    if not lo <= value <= hi:
        raise BybitError(10001, f"params error: {name} must be in [{lo}, {hi}]")
    return value


def page(p: dict, rows: list, key: Callable[[object], tuple[int, ...]], max_limit: int) -> tuple[list, str]:
    """One page of ``rows`` (sorted by ``key``, descending): ``limit`` (default 20) rows after
    the ``cursor``, and the cursor of the next page ("" when this is the last)."""
    limit = _int_param(p, "limit", 20, 1, max_limit)
    cursor = p.get("cursor")
    if cursor:
        try:
            after = tuple(int(x) for x in cursor.split(":"))
        except ValueError:
            raise BybitError(10001, "params error: cursor invalid") from None
        rows = [r for r in rows if key(r) < after]
    shown = rows[:limit]
    more = len(rows) > limit
    return shown, (":".join(map(str, key(shown[-1]))) if more else "")


def _order_key(o: Order) -> tuple[int, int]:
    return (o.create_ms, o.order_id)


class BybitRest:
    def __init__(self, engine: SimEngine, config: SimConfig, faults: Faults, dcp: BybitDcp) -> None:
        self.engine = engine
        self.config = config
        self.faults = faults
        self.orders = BybitOrders(engine, config, faults)
        self.dcp = dcp
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
            ("GET", p["history"], self.history, True),
            ("GET", p["positions"], self.positions, True),
            ("GET", p["wallet"], self.wallet, True),
            ("GET", p["coin_info"], self.coin_info, True),
            ("GET", p["api_key_info"], self.api_key_info, True),
            ("GET", p["account_info"], self.account_info, True),
            ("POST", p["dcp"], self.set_dcp, True),
            ("GET", p["dcp_info"], self.dcp_info, True),
        ):
            # the DCP pages' examples answer "success" where the order pages say "OK"
            ok_msg = "success" if path in (p["dcp"], p["dcp_info"]) else "OK"
            app.router.add_route(method, path, self._wrap(handler, signed, ok_msg))

    def _wrap(self, handler, signed: bool, ok_msg: str):
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
                return web.Response(body=envelope(result, self.engine.now_ms(), msg=ok_msg), content_type=JSON,
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
        category = p.get("category")
        if category in OTHER_CATEGORIES:
            # a real product type the sim does not trade: listed empty, as a venue without such
            # instruments would, so clients that load every category (ccxt) still start
            return ListResult(category=category, rows=[], nextPageCursor="")
        if category != CATEGORY:
            raise BybitError(10001, "params error: category invalid")
        rows = wire.instruments(self.engine)
        if p.get("symbol"):
            rows = [r for r in rows if r["symbol"] == p["symbol"].upper()]
            if not rows:
                raise BybitError(10001, "params error: symbol invalid")
        return ListResult(category=CATEGORY, rows=rows, nextPageCursor="")

    async def orderbook(self, account, p, headers):
        spec = self.orders.spec(p)
        limit = _int_param(p, "limit", 25, 1, SNAPSHOT_LIMIT)
        book = self.engine.books[spec.symbol]
        now = self.engine.now_ms()
        return {"s": spec.symbol, "b": book.wire_levels(1, limit), "a": book.wire_levels(-1, limit),
                "ts": now, "u": book.last_update_id, "seq": book.last_update_id, "cts": now}

    # ---- orders ---------------------------------------------------------------------------
    async def create(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms(), PATHS["create"]))
        return self.orders.guarded(self.orders.create, account, p, UNKNOWN_REST)

    async def amend(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms(), PATHS["amend"]))
        return self.orders.guarded(self.orders.amend, account, p, UNKNOWN_REST)

    async def cancel(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms(), PATHS["cancel"]))
        return self.orders.guarded(self.orders.cancel, account, p, UNKNOWN_REST)

    async def set_dcp(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms(), PATHS["dcp"]))
        self.dcp.set_window(account, p)
        return None

    async def dcp_info(self, account, p, headers):
        headers.update(self.orders.limit_headers(account, self.engine.now_ms(), PATHS["dcp_info"]))
        return self.dcp.info(account)

    async def cancel_all(self, account, p, headers):
        spec = self.orders.spec(p)
        orders = self.engine.cancel_all(account, spec.symbol)
        return {"list": [{"orderId": wire.order_uuid(o.order_id), "orderLinkId": o.client_id} for o in orders],
                "success": "1"}

    def _scope(self, p: dict, required: bool = True) -> Callable[[str], bool]:
        """Which symbols a linear list request covers: ``symbol``, ``baseCoin`` or ``settleCoin``
        in that order of priority (order/realtime and position/list require one)."""
        if p.get("category") != CATEGORY:
            raise BybitError(10001, "params error: category only support linear")
        if p.get("symbol"):
            symbol = self.orders.spec(p).symbol
            return lambda s: s == symbol
        specs = self.engine.specs
        if p.get("baseCoin"):
            return lambda s: specs[s].base == p["baseCoin"]
        if p.get("settleCoin"):
            return lambda s: specs[s].quote == p["settleCoin"]
        if not required:
            return lambda s: True
        raise BybitError(10001, "params error: symbol, baseCoin or settleCoin is required for linear")

    def _order_list(self, p: dict, orders: list[Order]) -> ListResult:
        orders.sort(key=_order_key, reverse=True)             # newest first
        shown, cursor = page(p, orders, _order_key, 50)
        return ListResult(category=CATEGORY, nextPageCursor=cursor,
                          rows=[wire.order_row(o, self.engine.specs[o.symbol]) for o in shown])

    async def realtime(self, account, p, headers):
        in_scope = self._scope(p)
        if p.get("orderId") or p.get("orderLinkId"):
            order = self.orders.find_recent(account, p)       # openOnly does not apply
            orders = [order] if order else []
        elif p.get("openOnly") in (None, "", "0"):
            orders = [o for o in account.orders.values() if in_scope(o.symbol)]
        elif p.get("openOnly") == "1":
            orders = [o for o in self.orders.closed[id(account)].values() if in_scope(o.symbol)]
        else:
            raise BybitError(10001, "params error: openOnly invalid")
        return self._order_list(p, orders)

    async def history(self, account, p, headers):
        in_scope = self._scope(p, required=False)
        now = self.engine.now_ms()
        start = _int_param(p, "startTime", 0, 0, 1 << 62) or None
        end = _int_param(p, "endTime", 0, 0, 1 << 62) or None
        if start is None and end is None:
            start, end = now - HISTORY_WINDOW_MS, now
        elif end is None:
            end = start + HISTORY_WINDOW_MS
        elif start is None:
            start = end - HISTORY_WINDOW_MS
        if not 0 <= end - start <= HISTORY_WINDOW_MS:
            raise BybitError(10001, "params error: endTime - startTime must be within 7 days")
        oid = wire.order_int(p["orderId"]) if p.get("orderId") else None
        link = p.get("orderLinkId") or None
        status = p.get("orderStatus") or None
        orders = [o for o in self.engine.done.values()
                  if o.account is account and in_scope(o.symbol)
                  and start <= o.create_ms <= end and _still_listed(o, now)
                  and (oid is None or o.order_id == oid) and (link is None or o.client_id == link)
                  and (status is None or wire.status(o) == status)]
        return self._order_list(p, orders)

    async def positions(self, account, p, headers):
        in_scope = self._scope(p)
        symbols = [s for s in self.engine.specs if in_scope(s)]
        rows = [account.position(s) for s in symbols]
        if not p.get("symbol"):
            rows = [pos for pos in rows if pos.lots != 0]      # settleCoin: open positions only
        order = {s: i for i, s in enumerate(self.engine.specs)}
        rows.sort(key=lambda pos: order[pos.symbol], reverse=True)
        shown, cursor = page(p, rows, lambda pos: (order[pos.symbol],), 200)
        return ListResult(category=CATEGORY, nextPageCursor=cursor,
                          rows=[wire.position(self.engine, account, pos) for pos in shown])

    async def wallet(self, account, p, headers):
        if p.get("accountType") not in ("UNIFIED", "CONTRACT"):
            raise BybitError(10001, "params error: accountType only support UNIFIED")
        return {"list": [wire.wallet(self.engine, account)]}

    async def coin_info(self, account, p, headers):
        """docs/v5/asset/coin-info.mdx: the coins the sim's symbols trade, each on one chain whose
        deposits and withdrawals are suspended ("0"): the sim moves no coins in or out."""
        coins = sorted({c for spec in self.engine.specs.values() for c in (spec.base, spec.quote)})
        if p.get("coin"):
            coins = [c for c in coins if c == p["coin"]]
        chain = {"chain": "SIM", "chainType": "hftctl sim", "confirmation": "1", "withdrawFee": "",
                 "depositMin": "0", "withdrawMin": "0", "minAccuracy": "8", "chainDeposit": "0",
                 "chainWithdraw": "0", "withdrawPercentageFee": "0", "contractAddress": "",
                 "safeConfirmNumber": "1", "withdrawMax": "0"}
        return {"rows": [{"name": c, "coin": c, "remainAmount": "0", "chains": [chain]} for c in coins]}

    async def api_key_info(self, account, p, headers):
        """docs/v5/user/apikey-info.mdx: a read-write unified-account key with trade permissions
        (the secret is never echoed: the docs' answer carries it as "")."""
        uid = 1_000_000 + self.engine.accounts.index(account)
        return {"id": str(uid), "note": f"hftctl sim account {account.name}", "apiKey": account.api_key,
                "readOnly": 0, "secret": "",
                "permissions": {"ContractTrade": ["Order", "Position"], "Spot": [], "Wallet": [], "Options": [],
                                "Derivatives": ["DerivativesTrade"], "CopyTrading": [], "BlockTrade": [],
                                "Exchange": [], "NFT": [], "Affiliate": [], "Earn": []},
                "ips": [], "type": 1, "deadlineDay": -1, "expiredAt": "1970-01-01T00:00:00Z",
                "createdAt": "2026-01-01T00:00:00Z", "unified": 0, "uta": 1, "userID": uid,
                "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0,
                "rsaPublicKey": "", "isMaster": True, "parentUid": "0", "kycLevel": "LEVEL_1",
                "kycRegion": "", "userIDInt64": str(uid), "inviterIDInt64": "0", "affiliateIDInt64": "0"}

    async def account_info(self, account, p, headers):
        """docs/v5/account/account-info.mdx: a unified trading account 2.0 (unifiedMarginStatus 5,
        enum.mdx) in regular margin; dcpStatus/timeWindow/smpGroup are deprecated constants."""
        return {"marginMode": "REGULAR_MARGIN", "updatedTime": str(self.engine.now_ms()), "unifiedMarginStatus": 5,
                "dcpStatus": "OFF", "timeWindow": 0, "smpGroup": 0, "isMasterTrader": False,
                "spotHedgingStatus": "OFF"}

# docs/v5/market/instrument.mdx § Request Parameters: category spot, linear, inverse, option
OTHER_CATEGORIES = ("spot", "inverse", "option")


def _still_listed(order: Order, now_ms: int) -> bool:
    """order/history keeps orders without fills that were cancelled or rejected for 24 hours
    (counted from when they closed); everything that traded stays."""
    return order.filled_lots > 0 or now_ms - order.update_ms <= UNFILLED_KEPT_MS
