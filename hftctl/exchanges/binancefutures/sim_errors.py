"""Binance USD-M futures error codes and bodies as the sim returns them."""

from __future__ import annotations

import orjson
from aiohttp import web


class BinanceError(Exception):
    def __init__(self, status: int, code: int, msg: str, headers: dict | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=orjson.dumps({"code": self.code, "msg": self.msg}),
                            content_type="application/json", headers=self.headers)


def missing(name: str) -> BinanceError:
    return BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal(name: str) -> BinanceError:
    return BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; "
                        "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")


INVALID_SYMBOL = (400, -1121, "Invalid symbol.")
BAD_API_KEY = (401, -2015, "Invalid API-key, IP, or permissions for action.")
BAD_SIGNATURE = (400, -1022, "Signature for this request is not valid.")
OUTSIDE_RECV_WINDOW = (400, -1021, "Timestamp for this request is outside of the recvWindow.")
AHEAD_OF_SERVER = (400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
BAD_RECV_WINDOW = (400, -1131, "recvWindow must be less than 60000")
TOO_MANY_REQUESTS = (429, -1003, "Too many requests; current limit of IP is {limit} requests per minute. "
                     "Please use the websocket for live updates to avoid polling the API.")
TOO_MANY_ORDERS = (429, -1015, "Too many new orders; current limit is {limit} orders per {interval}.")
INTERNAL = (503, -1001, "Internal error; unable to process your request. Please try again.")
LISTEN_KEY_UNKNOWN = (400, -1125, "This listenKey does not exist.")
INVALID_SIDE = (400, -1117, "Invalid side.")
INVALID_TYPE = (400, -1116, "Invalid orderType.")
INVALID_TIF = (400, -1115, "Invalid timeInForce.")
BAD_CLIENT_ID = (400, -4015, "Client order id is not valid.")
PRICE_TICK = (400, -4014, "Price not increased by tick size.")
QTY_PRECISION = (400, -1111, "Precision is over the maximum defined for this asset.")
BAD_LEVERAGE = (400, -4028, "Leverage {value} is not valid")

# engine rejections (hftctl.sim.engine.SimReject.reason) -> Binance
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


def err(spec: tuple[int, int, str], **fmt) -> BinanceError:
    status, code, msg = spec
    return BinanceError(status, code, msg.format(**fmt) if fmt else msg)
