"""The sim's Binance spot REST API (/api/v3/...) and the order actions its WebSocket API shares.

Each order action (place, cancel, cancelReplace, amend keep-priority, query, open orders, cancel
all) is written once, here, as a function of a parsed request and a dict of usage headers; the
REST routes below and the WebSocket API methods (``sim_ws_api.py``) both call it, so
validation, errors, order counts, weights and the unknown-outcome fault cannot differ between
the two transports.
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections.abc import Callable
from typing import Any

from hftctl.exchanges.binance.common.schemas import DepthSnapshot
from hftctl.exchanges.binance.common.sim_errors import (INVALID_SIDE, INVALID_TIF, INVALID_TYPE, BinanceError, err,
                                                       illegal, missing)
from hftctl.exchanges.binance.common.sim_rest import SIDES, BinanceRestBase, Request
from hftctl.exchanges.binance.spot import sim_messages as wire
from hftctl.exchanges.binance.spot.sim_stp import DEFAULT_MODE, MODES, NOT_ALLOWED
from hftctl.exchanges.binance.spot.venues import PATHS, RETIRED_PATHS
from hftctl.sim.errors import SimReject
from hftctl.sim.instruments import BadNumber
from hftctl.sim.orders import Order

PRICE_FILTER = (400, -1013, "Filter failure: PRICE_FILTER")
LOT_SIZE = (400, -1013, "Filter failure: LOT_SIZE")
UNKNOWN_ORDER = (400, -2011, "Unknown order sent.")
REJECTS = {
    "unknown_symbol": (400, -1121, "Invalid symbol."),
    "qty_nonpositive": LOT_SIZE,
    "lot_size": LOT_SIZE,
    "price_filter": PRICE_FILTER,
    "min_notional": (400, -1013, "Filter failure: NOTIONAL"),
    "no_liquidity": (400, -2010, "Order would not be executed: no liquidity."),
    "duplicate_client_id": (400, -2010, "Duplicate order sent."),
    "balance": (400, -2010, "Account has insufficient balance for requested action."),
    "would_take": (400, -2010, "Order would immediately match and take."),
    "unknown_order": UNKNOWN_ORDER,
}
# errors.md -1007 TIMEOUT, the API's answer when the matching engine did not reply in 10 s: the
# docs give no HTTP status; 5XX is the documented "execution status unknown" class.
UNKNOWN_OUTCOME = (500, -1007, "Timeout waiting for response from backend server. "
                   "Send status unknown; execution status unknown.")
# The listenKey endpoints' answer since their retirement: the docs do not say; errors.md's -1016
# SERVICE_SHUTTING_DOWN with HTTP 410 Gone (docs/protocols.md records the decision).
RETIRED = (410, -1016, "This service is no longer available.")
NOT_CANCELED = (400, -2011, "Order was not canceled due to cancel restrictions.")
BAD_RESTRICTION = (400, -1145, "`cancelRestrictions` has to be either `ONLY_NEW` or `ONLY_PARTIALLY_FILLED`.")
WRONG_CLIENT_ID = (400, -2039, "Client order ID is not correct for this order ID.")
NO_SUCH_ORDER = (400, -2013, "Order does not exist.")
REPLACE_PARTIAL = (409, -2021, "Order cancel-replace partially failed.")
REPLACE_FAILED = (400, -2022, "Order cancel-replace failed.")
RESP_TYPES = ("ACK", "RESULT", "FULL")
RESTRICTIONS = {"ONLY_NEW": "new", "ONLY_PARTIALLY_FILLED": "partially_filled"}
REPLACE_MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")
# Order Amend Keep Priority refusals: -2038 ORDER_AMEND_REJECTED with the matching engine's
# messages (errors.md § Messages for ... -2038); filters.md: too many amends is -2038 too.
AMEND_INCREASE = (400, -2038, "Order amend (quantity increase) is not supported.")
AMEND_NO_CHANGE = (400, -2038, "The requested action would change no state; rejecting")
AMEND_LIMIT = (400, -2038, "Filter failure: MAX_NUM_ORDER_AMENDS")
AMEND_UNKNOWN = (400, -2038, "Unknown order sent.")
AMEND_DUPLICATE = (400, -2038, "Duplicate order sent.")
RATE_MODES = ("DO_NOTHING", "CANCEL_ONLY")


def enum(req: Request, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    """An enum parameter (mandatory unless it has a default); errors.md -1100's form for others."""
    value = req.need(name) if default is None else req.get(name, default)
    if value not in allowed:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                           f"'{', '.join(allowed)}'.")
    return value


def _random_client_id() -> str:
    """An exchange-generated client order id (22 letters and digits, like the docs' examples)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))


class BinanceSpotRest(BinanceRestBase):
    REJECTS = REJECTS
    WIRE = wire
    ORDER_WINDOWS = (("10S", 10, "orders_per_10s", "TEN_SECONDS"), ("1D", 86400, "orders_per_day", "ONE_DAY"))
    PRICE_TICK_ERR = PRICE_FILTER
    QTY_STEP_ERR = LOT_SIZE
    PATHS = PATHS
    DEFAULT_DEPTH_LIMIT = 100

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._execution_ids = itertools.count(1)

    def route_table(self) -> list[tuple]:
        p = self.PATHS
        routes = [
            ("GET", "/api/v3/ping", self.ping, 1, False),
            ("GET", p["time"], self.time, 1, False),
            ("GET", p["exchange_info"], self.exchange_info, 20, False),
            ("GET", p["depth"], self.depth, 0, False),
            ("GET", "/api/v3/ticker/bookTicker", self.ticker_book, 2, False),
            # order actions: weight 0 here, charged by outcome in run_action
            ("POST", p["order"], self._route(self.place), 0, True),
            ("POST", p["cancel_replace"], self._route(self.cancel_replace), 0, True),
            ("PUT", p["amend"], self._route(self.amend), 0, True),
            ("DELETE", p["order"], self._route(self.cancel), 0, True),
            ("GET", p["order"], self._route(self.query), 0, True),
            ("GET", p["open_orders"], self._route(self.open_orders), 0, True),
            ("DELETE", p["cancel_all"], self._route(self.cancel_all), 0, True),
            ("GET", "/api/v3/allOrders", self.all_orders, 20, True),
            ("GET", "/api/v3/myTrades", self.my_trades, 20, True),
            ("GET", p["account"], self.account, 20, True),
        ]
        return routes + [(m, path, self.retired, 2, False) for path in RETIRED_PATHS for m in ("POST", "PUT", "DELETE")]

    async def retired(self, req: Request, headers) -> None:
        raise err(RETIRED)

    # --- order actions, shared with the WebSocket API -------------------------------------------

    def action_weight(self, name: str, req: Request, body: Any) -> int:
        """rest-api.md / web-socket-api.md weights; placing, cancelling and cancel-replacing cost
        0 when they succeed and their weight when they fail (CHANGELOG.md § 2026-03-27, from
        2026-04-02); an amend costs 4 unless it expired the order (§ 2026-04-02)."""
        if name in ("place", "cancel", "cancel_replace", "cancel_all"):
            return 0 if body is not None else 1
        if name == "amend":
            return 0 if body is not None and body.amendedOrder.status == "EXPIRED" else 4
        if name == "query":
            return 4
        return 6 if req.get("symbol") else 80          # open_orders

    def _unknown_before(self) -> str | None:
        """The unknown-outcome fault for an order request: "before" answers -1007 at once."""
        fault = self.faults.unknown_outcome()
        if fault == "before":
            raise err(UNKNOWN_OUTCOME)
        return fault

    @staticmethod
    def _unknown_after(fault: str | None) -> None:
        if fault == "after":
            raise err(UNKNOWN_OUTCOME)

    def _new_order(self, req: Request, spec) -> tuple[Callable[[], Order], str]:
        """Validate a new order's parameters (filters first, as the API does) and return the
        placement to run and the response type it asked for."""
        side = SIDES.get(req.need("side"))
        if side is None:
            raise err(INVALID_SIDE)
        wire_type = req.need("type")
        if wire_type not in wire.TYPE_IN:
            raise err(INVALID_TYPE)
        type_, tif = wire.TYPE_IN[wire_type]
        if tif is None:
            tif = wire.TIF_IN.get(req.need("timeInForce"))
            if tif is None:
                raise err(INVALID_TIF)
        if wire_type == "MARKET" and req.get("quantity") is None:
            raise missing("quantity")
        # MARKET and LIMIT default to FULL, every other type to ACK (rest-api.md § New order)
        resp_type = enum(req, "newOrderRespType", RESP_TYPES, "FULL" if wire_type in ("LIMIT", "MARKET") else "ACK")
        stp = MODES.get(req.get("selfTradePreventionMode", DEFAULT_MODE))    # the symbol's default
        if stp is None:
            raise err(NOT_ALLOWED)
        price, qty = self._order_fields(req, spec, type_)
        client_id = req.get("newClientOrderId")

        def place() -> Order:
            try:
                return self.engine.place(req.account, spec.symbol, side, type_, tif, price, qty, client_id, stp=stp)
            except SimReject as exc:
                raise self._reject(exc) from None
        return place, resp_type

    def place(self, req: Request, headers: dict) -> Any:
        spec = self._symbol(req)
        self._count_order(req.account, headers)
        place, resp_type = self._new_order(req, spec)
        fault = self._unknown_before()
        order = place()
        self._unknown_after(fault)
        return self._placed(order, spec, resp_type)

    def _placed(self, order: Order, spec, resp_type: str) -> Any:
        return wire.placed(order, spec, resp_type)

    def _body(self, order: Order) -> Any:
        return wire.order_body(order, self.engine.specs[order.symbol])

    def _order_of(self, req: Request, spec, id_name: str, cid_name: str, *, query: bool) -> Order:
        """The order a request names by ``id_name`` and/or ``cid_name``; with both, found by id and
        its client id checked (CHANGELOG.md § 2025-04-07)."""
        oid, cid = req.get(id_name), req.get(cid_name)
        if oid is None and cid is None:
            raise BinanceError(400, -1102, f"Param '{cid_name}' or '{id_name}' must be sent, but both were empty/null!")
        try:
            order_id = int(oid) if oid is not None else None
        except ValueError:
            raise illegal(id_name) from None
        order = self.engine.find_order(req.account, spec.symbol, order_id, None if order_id is not None else cid,
                                       include_done=query)
        if order is None or (not query and not order.is_open):
            raise err(NO_SUCH_ORDER if query else UNKNOWN_ORDER)
        if order_id is not None and cid is not None and order.client_id != cid:
            raise err(WRONG_CLIENT_ID if query else UNKNOWN_ORDER)
        return order

    def _cancel(self, req: Request, spec, id_name: str, cid_name: str, new_cid_name: str) -> Any:
        restriction = req.get("cancelRestrictions")
        if restriction is not None and restriction not in RESTRICTIONS:
            raise err(BAD_RESTRICTION)
        order = self._order_of(req, spec, id_name, cid_name, query=False)
        if restriction is not None and order.status != RESTRICTIONS[restriction]:
            raise err(NOT_CANCELED)
        try:
            self.engine.cancel(req.account, spec.symbol, order.order_id)
        except SimReject as exc:
            raise self._reject(exc) from None
        return wire.canceled(order, spec, self.engine.now_ms(), req.get(new_cid_name))

    def cancel(self, req: Request, headers: dict) -> Any:
        spec = self._symbol(req)
        fault = self._unknown_before()
        body = self._cancel(req, spec, "orderId", "origClientOrderId", "newClientOrderId")
        self._unknown_after(fault)
        return body

    def cancel_replace(self, req: Request, headers: dict) -> Any:
        """Cancel, then place; not transactional (rest-api.md / web-socket-api.md § Cancel and
        replace order): 200 when both succeed, 409/-2021 when one does, 400/-2022 when neither."""
        spec = self._symbol(req)
        mode = enum(req, "cancelReplaceMode", REPLACE_MODES)
        rate_mode = enum(req, "orderRateLimitExceededMode", RATE_MODES, "DO_NOTHING")
        place, resp_type = self._new_order(req, spec)      # filters are evaluated before either step
        new_error: dict | None = None
        try:
            self._count_order(req.account, headers)        # counted even if the new order is not attempted
        except BinanceError as e:
            if rate_mode == "DO_NOTHING":
                raise
            new_error = e.body()                      # CANCEL_ONLY: cancel anyway
        fault = self._unknown_before()
        try:
            cancel_response, cancel_ok = self._cancel(req, spec, "cancelOrderId", "cancelOrigClientOrderId",
                                                       "cancelNewClientOrderId"), True
        except BinanceError as e:
            cancel_response, cancel_ok = e.body(), False
        if not cancel_ok and mode == "STOP_ON_FAILURE":
            new_result, new_response = "NOT_ATTEMPTED", None
        elif new_error is not None:
            new_result, new_response = "FAILURE", new_error
        else:
            try:
                new_result, new_response = "SUCCESS", self._placed(place(), spec, resp_type)
            except BinanceError as e:
                new_result, new_response = "FAILURE", e.body()
        self._unknown_after(fault)
        result = {"cancelResult": "SUCCESS" if cancel_ok else "FAILURE", "newOrderResult": new_result,
                  "cancelResponse": cancel_response, "newOrderResponse": new_response}
        if cancel_ok and new_result == "SUCCESS":
            return result
        raise err(REPLACE_PARTIAL if cancel_ok or new_result == "SUCCESS" else REPLACE_FAILED, result)

    def amend(self, req: Request, headers: dict) -> Any:
        """Order Amend Keep Priority: a smaller quantity, the place in the queue kept, at most
        MAX_NUM_ORDER_AMENDS per order; a new quantity at or below the filled one expires the
        order. The order gets ``newClientOrderId``, or a random id when it is not sent
        (web-socket-api.md / rest-api.md § Order Amend Keep Priority; faqs/order_amend_keep_priority.md;
        filters.md § MAX_NUM_ORDER_AMENDS)."""
        spec = self._symbol(req)
        try:
            order = self._order_of(req, spec, "orderId", "origClientOrderId", query=False)
        except BinanceError as e:
            if e.code == UNKNOWN_ORDER[1]:
                raise err(AMEND_UNKNOWN) from None
            raise
        try:
            lots = spec.lots(req.need("newQty"))
        except BadNumber as e:
            raise (illegal("newQty") if e.reason == "illegal" else err(LOT_SIZE)) from None
        if lots > order.qty_lots:
            raise err(AMEND_INCREASE)
        if lots == order.qty_lots:
            raise err(AMEND_NO_CHANGE)
        if order.amends >= wire.MAX_AMENDS:
            raise err(AMEND_LIMIT)
        orig_cid = order.client_id
        new_cid = req.get("newClientOrderId") or _random_client_id()
        if new_cid != orig_cid and any(o.client_id == new_cid for o in req.account.orders.values()):
            raise err(AMEND_DUPLICATE)
        fault = self._unknown_before()
        order.client_id = new_cid            # the amend's execution report carries the new id
        try:
            self.engine.modify(req.account, spec.symbol, order.order_id, None, order.side, order.price_ticks, lots,
                               keep_priority=True, ends_as="expired")
        except SimReject as exc:
            order.client_id = orig_cid
            raise self._reject(exc) from None
        self._unknown_after(fault)
        return wire.amended(order, spec, orig_cid, self.engine.now_ms(), next(self._execution_ids))

    def query(self, req: Request, headers: dict) -> Any:
        spec = self._symbol(req)
        return self._body(self._order_of(req, spec, "orderId", "origClientOrderId", query=True))

    def open_orders(self, req: Request, headers: dict) -> list:
        spec = self._symbol(req, required=False)
        return [self._body(o) for o in self.engine.open_orders(req.account, spec.symbol if spec else None)]

    def cancel_all(self, req: Request, headers: dict) -> list:
        spec = self._symbol(req)
        orders = self.engine.cancel_all(req.account, spec.symbol)
        if not orders:
            raise err(UNKNOWN_ORDER)
        now = self.engine.now_ms()
        return [wire.canceled(o, spec, now) for o in orders]

    # --- market data and history ------------------------------------------------------------------

    def depth_weight(self, limit: int) -> int:
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    async def depth(self, req: Request, headers) -> DepthSnapshot:
        spec = self._symbol(req)
        try:
            limit = int(req.get("limit", "100"))
        except ValueError:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'limit'.") from None
        if not 1 <= limit <= 5000:
            raise BinanceError(400, -1120, "Invalid limit: must be between 1 and 5000.")
        book = self.engine.books[spec.symbol]
        return DepthSnapshot(lastUpdateId=book.last_update_id, bids=book.wire_levels(1, limit),
                             asks=book.wire_levels(-1, limit))

    async def ticker_book(self, req: Request, headers):
        spec = self._symbol(req, required=False)
        out = []
        for sp in ([spec] if spec else list(self.engine.specs.values())):
            book = self.engine.books[sp.symbol]
            bb, ba = book.best_bid, book.best_ask
            out.append({"symbol": sp.symbol,
                        "bidPrice": sp.price_str(bb) if bb is not None else wire._f(0),
                        "bidQty": sp.qty_str(book.bids[bb]) if bb is not None else wire._f(0),
                        "askPrice": sp.price_str(ba) if ba is not None else wire._f(0),
                        "askQty": sp.qty_str(book.asks[ba]) if ba is not None else wire._f(0)})
        return out[0] if spec else out

    def _history_limit(self, req: Request) -> int:
        try:
            return max(1, min(int(req.get("limit", "500")), 1000))
        except ValueError:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'limit'.") from None

    async def all_orders(self, req: Request, headers) -> list:
        spec = self._symbol(req)
        orders = self.engine.account_orders(req.account, spec.symbol)[-self._history_limit(req):]
        return [self._body(o) for o in orders]

    async def my_trades(self, req: Request, headers) -> list:
        spec = self._symbol(req)
        return wire.my_trades(self.engine.account_orders(req.account, spec.symbol), spec)[-self._history_limit(req):]

    async def account(self, req: Request, headers) -> dict:
        return wire.account(req.account, self.engine.now_ms())
