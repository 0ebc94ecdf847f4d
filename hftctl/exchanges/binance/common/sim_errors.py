"""Binance error codes and bodies as the sim returns them (errors.md; USD-M "Error Codes").

The codes both markets share live here; each market's ``sim_rest.py`` adds its own table of
rejections (what an engine refusal looks like there)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web


class BinanceError(Exception):
    """An error answer: HTTP status, Binance code and message, and ``data`` where the docs give
    one (spot's cancelReplace results, a ban's end time)."""

    def __init__(self, status: int, code: int, msg: str, headers: dict | None = None, data: Any = None) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}
        self.data = data

    def body(self) -> dict:
        out: dict = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out

    def response(self) -> web.Response:
        return web.Response(status=self.status, body=msgspec.json.encode(self.body()),
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


def err(spec: tuple[int, int, str], data: Any = None, **fmt) -> BinanceError:
    status, code, msg = spec
    return BinanceError(status, code, msg.format(**fmt) if fmt else msg, data=data)
