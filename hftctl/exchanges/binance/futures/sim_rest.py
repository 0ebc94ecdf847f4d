"""The sim's Binance USD-M futures REST API (/fapi/...): routes, weights, bodies, and the order
actions its WebSocket API (``sim_ws_api.py``) shares.

Each order action (place, cancel, modify, query) is written once, here, as a function of a
parsed request and a dict of usage headers; the REST routes and the WebSocket API methods both
call it, so validation, errors, weights, order counts and the unknown-outcome faults cannot
differ between the two transports.
"""

from __future__ import annotations

import re
from typing import Any

from hftctl.exchanges.binance.common.schemas import DepthSnapshot
from hftctl.exchanges.binance.common.sim_errors import (INVALID_SIDE, INVALID_SYMBOL, INVALID_TIF, INVALID_TYPE,
                                                        BinanceError, err, illegal)
from hftctl.exchanges.binance.common.sim_rest import SIDES, BinanceRestBase, Request
from hftctl.exchanges.binance.futures import sim_messages as wire
from hftctl.exchanges.binance.futures.schemas import CountdownCancelAll
from hftctl.exchanges.binance.futures.venues import PATHS
from hftctl.sim.errors import SimReject

_CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_DEPTH_WEIGHT = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}

BAD_CLIENT_ID = (400, -4015, "Client order id is not valid.")
BAD_RESP_TYPE = (400, -1136, "Invalid newOrderRespType.")
BAD_STP_MODE = (400, -5039, "Invalid self trade prevention mode")
# The answers USD-M documents as "execution status unknown" (General Info § HTTP Return Codes,
# Error Codes). The code of the 503 body is not documented: -1000 (UNKNOWN) stands in.
UNKNOWN_OUTCOME = ((503, -1000, "Unknown error, please check your request or try again later."),
                   (408, -1007, "Timeout waiting for response from backend server. Send status unknown; "
                    "execution status unknown."),
                   (503, -1006, "An unexpected response was received from the message bus. Execution "
                    "status unknown."))
# REST New Order's default (the spec behind the official SDK); the WS API documents NONE.
DEFAULT_STP = "EXPIRE_MAKER"
# Notional and leverage brackets the sim lists for every symbol (a tier table shaped like the
# exchange's; the sim's margin model does not use them).
BRACKETS = ((125, 50_000, 0.004), (100, 250_000, 0.005), (50, 3_000_000, 0.01), (20, 20_000_000, 0.025),
            (10, 50_000_000, 0.05), (5, 100_000_000, 0.1), (1, 500_000_000, 0.25))
PRICE_TICK = (400, -4014, "Price not increased by tick size.")
# Request weights of the order actions, on REST and the WebSocket API alike: New Order "0 on IP
# rate limit", Modify / Cancel / Query Order 1 (trade/rest-api and websocket-api pages).
ACTION_WEIGHTS = {"place": 0, "modify": 1, "cancel": 1, "query": 1}
QTY_PRECISION = (400, -1111, "Precision is over the maximum defined for this asset.")
BAD_LEVERAGE = (400, -4028, "Leverage {value} is not valid")

# engine rejections (SimReject.reason) -> USD-M's answer
REJECTS = {
    "unknown_symbol": INVALID_SYMBOL,
    "qty_nonpositive": (400, -4003, "Quantity less than or equal to zero."),
    "lot_size": (400, -1013, "Filter failure: LOT_SIZE"),
    "price_filter": (400, -1013, "Filter failure: PRICE_FILTER"),
    "min_notional": (400, -4164, "Order's notional must be no smaller than {detail} (unless you choose reduce only)."),
    "no_liquidity": (400, -2010, "Order would not be executed: no liquidity on the opposite side."),
    "duplicate_client_id": (400, -4116, "ClientOrderId is duplicated."),
    "reduce_only": (400, -2022, "ReduceOnly Order is rejected."),
    "margin": (400, -2019, "Margin is insufficient."),
    "would_take": (400, -5022, "Due to the order could not be executed as maker, the Post Only order will be "
                   "rejected. The order will not be recorded in the order history"),
    "unknown_order": (400, -2011, "Unknown order sent."),
    "modify_type": (400, -1116, "Invalid orderType."),
    "modify_side": (400, -1117, "Invalid side."),
    "modify_qty": (400, -4003, "Quantity less than or equal to executed quantity."),
    "no_change": (400, -5027, "No need to modify the order."),
}



class BinanceFuturesRest(BinanceRestBase):
    """/fapi routes with USD-M's weights and bodies."""

    REJECTS = REJECTS
    WIRE = wire
    ORDER_WINDOWS = (("10S", 10, "orders_per_10s", "TEN_SECONDS"), ("1M", 60, "orders_per_min", "ONE_MINUTE"))
    PRICE_TICK_ERR = PRICE_TICK
    QTY_STEP_ERR = QTY_PRECISION
    PATHS = PATHS

    def __init__(self, *args, snapshot_marks: set[str]) -> None:
        super().__init__(*args)
        # A REST snapshot was served for these symbols: the next diff must cover its id (the
        # first-event rule U <= lastUpdateId <= u), see BinanceFuturesStreams.
        self.snapshot_marks = snapshot_marks

    def route_table(self) -> list[tuple]:
        p = self.PATHS
        # (method, path, handler, request weight (0: depends on parameters), signed)
        return [
            ("GET", "/fapi/v1/ping", self.ping, 1, False),
            ("GET", p["time"], self.time, 1, False),
            ("GET", p["exchange_info"], self.exchange_info, 1, False),
            ("GET", p["depth"], self.depth, 0, False),
            ("GET", "/fapi/v1/ticker/bookTicker", self.ticker_book, 2, False),
            # order actions: weight 0 here, charged by run_action (ACTION_WEIGHTS)
            ("POST", p["order"], self._route(self.place), 0, True),
            ("PUT", p["order"], self._route(self.modify), 0, True),
            ("DELETE", p["order"], self._route(self.cancel), 0, True),
            ("GET", p["order"], self._route(self.query), 0, True),
            ("DELETE", p["cancel_all"], self.cancel_all, 1, True),
            ("POST", p["countdown_cancel_all"], self.countdown_cancel_all, 10, True),
            ("GET", p["open_orders"], self.open_orders, 1, True),
            ("GET", "/fapi/v1/allOrders", self.all_orders, 5, True),
            ("GET", "/fapi/v1/userTrades", self.user_trades, 5, True),
            ("GET", p["position_risk"], self.position_risk, 5, True),
            ("GET", "/fapi/v3/positionRisk", self.position_risk_v3, 5, True),
            ("GET", "/fapi/v2/account", self.account, 5, True),
            ("GET", "/fapi/v3/account", self.account, 5, True),
            ("GET", p["balance"], self.balance, 5, True),
            ("GET", "/fapi/v3/balance", self.balance, 5, True),
            ("POST", "/fapi/v1/leverage", self.leverage, 1, True),
            ("GET", p["leverage_bracket"], self.leverage_bracket, 1, True),
            ("POST", p["listen_key"], self.listen_key_new, 1, False),
            ("PUT", p["listen_key"], self.listen_key_keepalive, 1, False),
            ("DELETE", p["listen_key"], self.listen_key_close, 1, False),
        ]

    def depth_weight(self, limit: int) -> int:
        return _DEPTH_WEIGHT.get(limit, 20)

    async def depth(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        try:
            limit = int(req.get("limit", "500"))
        except ValueError:
            raise illegal("limit") from None
        if limit not in _DEPTH_WEIGHT:
            raise BinanceError(400, -1120, "Invalid limit: must be one of 5, 10, 20, 50, 100, 500, 1000.")
        book = self.engine.books[spec.symbol]
        self.snapshot_marks.add(spec.symbol)
        return DepthSnapshot(lastUpdateId=book.last_update_id, E=self.engine.now_ms(),
                             T=self.engine.book_trans_ms(spec.symbol),
                             bids=book.wire_levels(1, limit), asks=book.wire_levels(-1, limit))

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

    def action_weight(self, name: str, req: Request, body: Any) -> int:
        return ACTION_WEIGHTS[name]

    def place(self, req: Request, headers: dict) -> Any:
        spec = self._symbol(req)
        self._count_order(req.account, headers)
        side = SIDES.get(req.need("side"))
        if side is None:
            raise err(INVALID_SIDE)
        type_ = wire.TYPE_IN.get(req.need("type"))
        if type_ is None:
            raise err(INVALID_TYPE)
        tif = "gtc"
        if type_ == "limit":
            tif = wire.TIF_IN.get(req.need("timeInForce"))
            if tif is None:
                raise err(INVALID_TIF)
        price, qty = self._order_fields(req, spec, type_)
        client_id = req.get("newClientOrderId")
        if client_id is not None and not _CLIENT_ID_RE.match(client_id):
            raise err(BAD_CLIENT_ID)
        resp_type = req.get("newOrderRespType", "ACK")     # COIN-M/PM tables say "default ACK"
        if resp_type not in ("ACK", "RESULT"):
            raise err(BAD_RESP_TYPE)
        stp = wire.STP_IN.get(req.get("selfTradePreventionMode", DEFAULT_STP))
        if stp is None:
            raise err(BAD_STP_MODE)
        reduce_only = req.get("reduceOnly", "false").lower() == "true"
        fault = self._unknown_fault()
        try:
            order = self.engine.place(req.account, spec.symbol, side, type_, tif, price, qty,
                                      client_id, reduce_only, stp=stp)
        except SimReject as exc:
            raise self._reject(exc) from None
        self._unknown_after(fault)
        return wire.order_body(order, spec, ack=resp_type == "ACK")

    def _unknown_fault(self) -> str | None:
        """The unknown-outcome fault for an order request: "before" answers now, unexecuted."""
        fault = self.faults.unknown_outcome()
        if fault == "before":
            raise err(self.faults.rng.choice(UNKNOWN_OUTCOME))
        return fault

    def _unknown_after(self, fault: str | None) -> None:
        if fault == "after":
            raise err(self.faults.rng.choice(UNKNOWN_OUTCOME))

    def cancel(self, req: Request, headers: dict) -> Any:
        spec = self._symbol(req)
        oid, cid = self._find_ids(req)
        fault = self._unknown_fault()
        try:
            order = self.engine.cancel(req.account, spec.symbol, oid, cid)
        except SimReject as exc:
            raise self._reject(exc) from None
        self._unknown_after(fault)
        return wire.order_body(order, spec)

    def modify(self, req: Request, headers: dict) -> Any:
        """Modify Order: both price and quantity, to the back of the queue ("modified orders will
        be reordered in the match queue"); a partially filled order whose new quantity is not
        above its filled one, and a GTX order the new price would make take, are cancelled
        (``trade/rest-api/Modify-Order``, ``websocket-api/Modify-Order``)."""
        spec = self._symbol(req)
        self._count_order(req.account, headers)
        oid, cid = self._find_ids(req)
        side = SIDES.get(req.need("side"))
        if side is None:
            raise err(INVALID_SIDE)
        price, qty = self._order_fields(req, spec, "limit")
        fault = self._unknown_fault()
        try:
            # "Modifying an order resets its selfTradePreventionMode to NONE" (STP FAQ)
            order = self.engine.modify(req.account, spec.symbol, oid, cid, side, price, qty, stp="none",
                                       keep_priority=False, ends_as="canceled")
        except SimReject as exc:
            if exc.reason == "unknown_order":
                raise BinanceError(400, -2013, "Order does not exist.") from None
            raise self._reject(exc) from None
        self._unknown_after(fault)
        return wire.order_body(order, spec)

    def query(self, req: Request, headers: dict) -> Any:
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

    async def countdown_cancel_all(self, req: Request, headers) -> CountdownCancelAll:
        """"Auto-Cancel All Open Orders": per account and symbol, each call replaces the running
        countdown; when one runs out every open order of the symbol is cancelled (the user stream
        shows each as CANCELED); 0 stops it. countdownTime is a LONG: anything but digits (a
        negative value too) is refused like any malformed number (-1100)."""
        spec = self._symbol(req)
        raw = req.need("countdownTime")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
            raise illegal("countdownTime")
        ms = int(raw)
        self.engine.countdowns.arm(req.account, spec.symbol, ms)
        return CountdownCancelAll(symbol=spec.symbol, countdownTime=str(ms))

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
        return [wire.position_risk(self.engine, req.account, s) for s in symbols]

    async def position_risk_v3(self, req: Request, headers) -> list:
        rows = await self.position_risk(req, headers)
        # v3 lists only symbols with a position or open orders
        return [r for r in rows if float(r.positionAmt) != 0 or float(r.bidNotional) or float(r.askNotional)]

    async def account(self, req: Request, headers) -> dict:
        return wire.account(self.engine, req.account, self.engine.now_ms())

    async def balance(self, req: Request, headers) -> list:
        return wire.balances(self.engine, req.account, self.engine.now_ms())

    async def leverage_bracket(self, req: Request, headers) -> dict | list:
        """USD-M's "Notional and Leverage Brackets": one object when ``symbol`` is sent, else an array."""
        spec = self._symbol(req, required=False)
        rows = [{"symbol": sym, "brackets": _brackets()} for sym in ([spec.symbol] if spec else self.engine.specs)]
        return rows[0] if spec else rows

    async def leverage(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        value = req.need("leverage")
        if not value.isdigit() or not 1 <= int(value) <= 125:
            raise err(BAD_LEVERAGE, value=value)
        req.account.leverage = int(value)
        return {"leverage": int(value), "maxNotionalValue": "20000000", "symbol": spec.symbol}


def _brackets() -> list[dict]:
    out, floor, cum = [], 0, 0.0
    for i, (lev, cap, mmr) in enumerate(BRACKETS):
        prev_mmr = BRACKETS[i - 1][2] if i else mmr
        cum += floor * (mmr - prev_mmr)          # maintenance amount: continuous across tiers
        out.append({"bracket": i + 1, "initialLeverage": lev, "notionalCap": cap, "notionalFloor": floor,
                    "maintMarginRatio": mmr, "cum": round(cum, 2)})
        floor = cap
    return out
