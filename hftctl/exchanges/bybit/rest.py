"""Bybit v5 REST: header signing, server clock offset, retCode errors, rate limits, safe retries.

Bybit answers most errors with HTTP 200 and a non-zero ``retCode``. The retry policy matches
the Binance one: 10002 (timestamp outside recv_window) was not processed, so re-measure the
clock and resend once; 10006 (too many visits) is retried only for idempotent requests; 5xx
and lost connections are retried only for idempotent requests, otherwise the caller gets
:class:`OutcomeUnknown` and queries the order by its orderLinkId. 10000 ("Server Timeout") and
10016 ("Server error"), which Bybit sends with HTTP 200 too, say nothing about whether an order
request was carried out (docs/v5/error.mdx gives no more): on create, amend and cancel they are
:class:`OutcomeUnknown` and the order is read back, never re-sent blindly; reads retry them.
Answers are read through the ``RestEnvelope`` schema; ``into=`` converts the ``result`` to a
schema type.

Rate limits are per UID and per endpoint (rate-limit.mdx: "your remaining requests for current
endpoint"): a spent budget holds only requests to that endpoint, so a spent create budget never
delays a cancel. The trade websocket (trade_ws.py) reports the same budgets per op type and goes
through the same holds (``hold`` / ``track`` / ``back_off``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec
import orjson
from yarl import URL

from hftctl.exchanges.bybit.config import BybitConfig
from hftctl.exchanges.bybit.schemas import RestEnvelope
from hftctl.exchanges.bybit.signing import bybit_signature
from hftctl.exchanges.bybit.venues import PATHS
from hftctl.exchanges.errors import (ExchangeRejected, OrderNotFound, OutcomeUnknown, RateLimited,
                                     Unavailable)
from hftctl.exchanges.rest_base import MAX_ATTEMPTS, RestClient, retry_backoff
from hftctl.exchanges.wire import MalformedMessage

log = logging.getLogger(__name__)

_CLOCK = 10002
_RATE = 10006
SERVER = {10000, 10016}         # server timeout / server error: the request may or may not have run
_ORDER_REQUESTS = {PATHS["create"], PATHS["amend"], PATHS["cancel"]}
NOT_FOUND = {110001, 110008}
_ENVELOPE = msgspec.json.Decoder(RestEnvelope)


class BybitRest(RestClient):
    def __init__(self, cfg: BybitConfig, time_path: str) -> None:
        super().__init__(cfg.request_timeout_s)
        self.cfg = cfg
        self.time_path = time_path
        self.throttled = 0
        self._hold_until: dict[str, float] = {}     # path -> monotonic; from rate-limit headers / 10006

    async def _server_time_ms(self) -> float:
        res = await self._send("GET", self.time_path, {}, signed=False, safe=True)
        return int(res["timeNano"]) / 1e6

    async def get(self, path: str, params: dict[str, Any], signed: bool = True, *, into: Any = None) -> Any:
        return _convert(await self._send("GET", path, params, signed=signed, safe=True), into, path)

    async def post(self, path: str, body: dict[str, Any], *, safe: bool) -> Any:
        return await self._send("POST", path, body, signed=True, safe=safe)

    def track(self, path: str, headers: Any) -> None:
        """X-Bapi-Limit-Status is what is left of this endpoint's budget until the reset time."""
        left, reset = headers.get("X-Bapi-Limit-Status"), headers.get("X-Bapi-Limit-Reset-Timestamp")
        try:
            if left is not None and int(left) <= 1 and reset is not None:
                wait = min(self.cfg.retry_after_cap_s, max(0.0, int(reset) / 1000 - time.time()))
                self._hold_until[path] = max(self._hold_until.get(path, 0.0), time.monotonic() + wait)
        except ValueError:
            pass

    def back_off(self, path: str) -> None:
        """Refused for the rate (10006, 403, 429): nothing more to this endpoint for a second."""
        until = time.monotonic() + min(1.0, self.cfg.retry_after_cap_s)
        self._hold_until[path] = max(self._hold_until.get(path, 0.0), until)

    def backoff_s(self) -> float:
        """Seconds until the last endpoint held back may be used again (0: none is held)."""
        return max(0.0, max(self._hold_until.values(), default=0.0) - time.monotonic())

    async def hold(self, path: str) -> None:
        """Wait while this endpoint's budget is spent."""
        wait = self._hold_until.get(path, 0.0) - time.monotonic()
        if wait > 0:
            self.throttled += 1
            log.info("throttling %s for %.2fs", path, wait)
            await asyncio.sleep(wait)

    async def _send(self, method: str, path: str, params: dict[str, Any], *, signed: bool,
                    safe: bool) -> Any:
        session = await self._ensure_session()
        resynced = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self.hold(path)
            if method == "GET":
                payload = urlencode(params)
                url = URL(f"{self.cfg.rest_url}{path}" + (f"?{payload}" if payload else ""), encoded=True)
                data = None
            else:
                payload = orjson.dumps(params).decode()
                url = URL(f"{self.cfg.rest_url}{path}", encoded=True)
                data = payload
            headers = {"Content-Type": "application/json"}
            if signed:
                ts = str(self.now_ms())
                recv = str(self.cfg.recv_window_ms)
                key = self.cfg.api_key.reveal()
                headers.update({"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": recv,
                                "X-BAPI-SIGN": bybit_signature(self.cfg.secret.reveal(), ts, key, recv, payload),
                                "X-BAPI-SIGN-TYPE": "2"})
            sent_at = time.monotonic()
            try:
                async with session.request(method, url, data=data, headers=headers) as resp:
                    self.track(path, resp.headers)
                    raw, status = await resp.read(), resp.status
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                if not safe:
                    raise OutcomeUnknown(f"{method} {path}: {e.__class__.__name__}") from None
                await asyncio.sleep(retry_backoff(attempt))
                continue
            try:
                body = _ENVELOPE.decode(raw)
                code, msg = body.retCode, body.retMsg
            except (msgspec.DecodeError, msgspec.ValidationError):
                body, code, msg = None, -status, raw[:120].decode("utf-8", "replace")
            # Bybit echoes the signed string (with the API key) in sign errors: never pass it on.
            msg = msg.replace(self.cfg.api_key.reveal(), "***")
            log.debug("%s %s -> %d retCode %s", method, path, status, code)
            if status < 400 and code == 0 and body is not None:
                return body.result
            if code == _CLOCK and not resynced:
                resynced = True
                await self._clock_rejected(sent_at, f"{method} {path}: {code}")
                continue
            if code == _RATE or status in (403, 429):
                self.back_off(path)
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s %s: rate limited (%s), backing off", method, path, code)
                    continue
                raise RateLimited(code, msg or "rate limited")
            if code in SERVER and path in _ORDER_REQUESTS:
                raise OutcomeUnknown(f"{method} {path}: retCode {code} {msg} (HTTP {status})")
            if status >= 500 or code in SERVER:
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s %s: HTTP %d, retry %d", method, path, status, attempt)
                    await asyncio.sleep(retry_backoff(attempt))
                    continue
                if not safe:
                    raise OutcomeUnknown(f"{method} {path}: HTTP {status} {msg}")
                raise Unavailable(f"{method} {path}: HTTP {status} {msg}")
            raise refusal(code, msg or f"HTTP {status}")
        raise Unavailable(f"{method} {path}: gave up after {MAX_ATTEMPTS} attempts")


def refusal(code: int, msg: str) -> ExchangeRejected:
    """A final answer that refused a request (it was not carried out), REST or trade websocket."""
    return OrderNotFound(code, msg) if code in NOT_FOUND else ExchangeRejected(code, msg)


def _convert(result: Any, into: Any, what: str) -> Any:
    """``result`` as the schema type ``into`` (None: as parsed)."""
    if into is None:
        return result
    try:
        return msgspec.convert(result, into, strict=False)
    except msgspec.ValidationError as e:
        raise MalformedMessage(f"{what}: {e}") from None
