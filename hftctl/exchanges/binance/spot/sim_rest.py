"""The sim's Binance spot REST API (/api/v3/...): same auth and limits as the futures sim,
spot's order types (LIMIT, LIMIT_MAKER, MARKET), bodies and error codes."""

from __future__ import annotations

import time

from hftctl.exchanges.binance.common.schemas import DepthSnapshot
from hftctl.exchanges.binance.common.sim_errors import BinanceError, err, missing
from hftctl.exchanges.binance.common.sim_rest import SIDES, BinanceRestBase, Request
from hftctl.exchanges.binance.spot import sim_messages as wire
from hftctl.exchanges.binance.spot.venues import PATHS
from hftctl.sim.errors import SimReject

PRICE_FILTER = (400, -1013, "Filter failure: PRICE_FILTER")
LOT_SIZE = (400, -1013, "Filter failure: LOT_SIZE")
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
    "unknown_order": (400, -2011, "Unknown order sent."),
}


class BinanceSpotRest(BinanceRestBase):
    REJECTS = REJECTS
    WIRE = wire
    ORDER_WINDOWS = (("10S", 10, "orders_per_10s", "TEN_SECONDS"), ("1D", 86400, "orders_per_day", "ONE_DAY"))
    PRICE_TICK_ERR = PRICE_FILTER
    QTY_STEP_ERR = LOT_SIZE
    PATHS = PATHS
    DEFAULT_DEPTH_LIMIT = 100

    def route_table(self) -> list[tuple]:
        p = self.PATHS
        return [
            ("GET", "/api/v3/ping", self.ping, 1, False),
            ("GET", p["time"], self.time, 1, False),
            ("GET", p["exchange_info"], self.exchange_info, 20, False),
            ("GET", p["depth"], self.depth, 0, False),
            ("GET", "/api/v3/ticker/bookTicker", self.ticker_book, 2, False),
            ("POST", p["order"], self.new_order, 1, True),
            ("DELETE", p["order"], self.cancel_order, 1, True),
            ("GET", p["order"], self.query_order, 4, True),
            ("GET", p["open_orders"], self.open_orders, 6, True),
            ("DELETE", p["cancel_all"], self.cancel_all, 1, True),
            ("GET", "/api/v3/allOrders", self.all_orders, 20, True),
            ("GET", "/api/v3/myTrades", self.my_trades, 20, True),
            ("GET", p["account"], self.account, 20, True),
            ("POST", p["listen_key"], self.listen_key_new, 2, False),
            ("PUT", p["listen_key"], self.listen_key_keepalive, 2, False),
            ("DELETE", p["listen_key"], self.listen_key_close, 2, False),
        ]

    def depth_weight(self, limit: int) -> int:
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    async def depth(self, req: Request, headers) -> dict:
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

    async def new_order(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        self._count_order(req.account, headers)
        side = SIDES.get(req.need("side"))
        if side is None:
            raise BinanceError(400, -1117, "Invalid side.")
        wire_type = req.need("type")
        if wire_type not in wire.TYPE_IN:
            raise BinanceError(400, -1116, "Invalid orderType.")
        type_, tif = wire.TYPE_IN[wire_type]
        if tif is None:
            tif = wire.TIF_IN.get(req.need("timeInForce"))
            if tif is None:
                raise BinanceError(400, -1115, "Invalid timeInForce.")
        if wire_type == "MARKET" and req.get("quantity") is None:
            raise missing("quantity")
        price, qty = self._order_fields(req, spec, type_)
        client_id = req.get("newClientOrderId")
        try:
            order = self.engine.place(req.account, spec.symbol, side, type_, tif, price, qty, client_id)
        except SimReject as exc:
            raise self._reject(exc) from None
        return wire.order_body(order, spec, "new")

    async def cancel_order(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        oid, cid = self._find_ids(req)
        try:
            order = self.engine.cancel(req.account, spec.symbol, oid, cid)
        except SimReject as exc:
            raise self._reject(exc) from None
        return wire.order_body(order, spec, "cancel", self.engine.now_ms())

    async def query_order(self, req: Request, headers) -> dict:
        spec = self._symbol(req)
        oid, cid = self._find_ids(req)
        order = self.engine.find_order(req.account, spec.symbol, oid, cid, include_done=True)
        if order is None:
            raise BinanceError(400, -2013, "Order does not exist.")
        return wire.order_body(order, spec)

    async def open_orders(self, req: Request, headers) -> list:
        spec = self._symbol(req, required=False)
        if spec is None:
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.weight.add(74))
        return [wire.order_body(o, self.engine.specs[o.symbol])
                for o in self.engine.open_orders(req.account, spec.symbol if spec else None)]

    async def cancel_all(self, req: Request, headers) -> list:
        spec = self._symbol(req)
        orders = self.engine.cancel_all(req.account, spec.symbol)
        if not orders:
            raise err(REJECTS["unknown_order"])
        now = self.engine.now_ms()
        return [wire.order_body(o, spec, "cancel", now) for o in orders]

    def _history_limit(self, req: Request) -> int:
        try:
            return max(1, min(int(req.get("limit", "500")), 1000))
        except ValueError:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'limit'.") from None

    async def all_orders(self, req: Request, headers) -> list:
        spec = self._symbol(req)
        orders = self.engine.account_orders(req.account, spec.symbol)[-self._history_limit(req):]
        return [wire.order_body(o, spec) for o in orders]

    async def my_trades(self, req: Request, headers) -> list:
        spec = self._symbol(req)
        return wire.my_trades(self.engine.account_orders(req.account, spec.symbol), spec)[-self._history_limit(req):]

    async def account(self, req: Request, headers) -> dict:
        return wire.account(req.account, self.engine.now_ms())

    async def listen_key_keepalive(self, req: Request, headers) -> dict:
        key = req.need("listenKey")            # spot requires the key
        if not self.keys.keepalive(key, req.account, time.monotonic()):
            raise BinanceError(400, -1125, "This listenKey does not exist.")
        return {}
