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
_SERVER = {10000, 10016}        # server timeout / server error: the request may or may not have run
_ORDER_REQUESTS = {PATHS["create"], PATHS["amend"], PATHS["cancel"]}
_NOT_FOUND = {110001, 110008}
_ENVELOPE = msgspec.json.Decoder(RestEnvelope)


class BybitRest(RestClient):
    def __init__(self, cfg: BybitConfig, time_path: str) -> None:
        super().__init__(cfg.request_timeout_s)
        self.cfg = cfg
        self.time_path = time_path
        self.throttled = 0
        self._hold_until = 0.0          # monotonic; set from rate-limit headers / 10006

    async def _server_time_ms(self) -> float:
        res = await self._send("GET", self.time_path, {}, signed=False, safe=True)
        return int(res["timeNano"]) / 1e6

    async def get(self, path: str, params: dict[str, Any], signed: bool = True, *, into: Any = None) -> Any:
        return _convert(await self._send("GET", path, params, signed=signed, safe=True), into, path)

    async def post(self, path: str, body: dict[str, Any], *, safe: bool) -> Any:
        return await self._send("POST", path, body, signed=True, safe=safe)

    def _track(self, headers: Any) -> None:
        """X-Bapi-Limit-Status is what is left of this endpoint's budget until the reset time."""
        left, reset = headers.get("X-Bapi-Limit-Status"), headers.get("X-Bapi-Limit-Reset-Timestamp")
        try:
            if left is not None and int(left) <= 1 and reset is not None:
                wait = min(self.cfg.retry_after_cap_s, max(0.0, int(reset) / 1000 - time.time()))
                self._hold_until = max(self._hold_until, time.monotonic() + wait)
        except ValueError:
            pass

    async def _send(self, method: str, path: str, params: dict[str, Any], *, signed: bool,
                    safe: bool) -> Any:
        session = await self._ensure_session()
        resynced = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            hold = self._hold_until - time.monotonic()
            if hold > 0:
                self.throttled += 1
                log.info("throttling requests for %.2fs", hold)
                await asyncio.sleep(hold)
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
                    self._track(resp.headers)
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
                self._hold_until = max(self._hold_until, time.monotonic() + min(1.0, self.cfg.retry_after_cap_s))
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s %s: rate limited (%s), backing off", method, path, code)
                    continue
                raise RateLimited(code, msg or "rate limited")
            if code in _SERVER and path in _ORDER_REQUESTS:
                raise OutcomeUnknown(f"{method} {path}: retCode {code} {msg} (HTTP {status})")
            if status >= 500 or code in _SERVER:
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s %s: HTTP %d, retry %d", method, path, status, attempt)
                    await asyncio.sleep(retry_backoff(attempt))
                    continue
                if not safe:
                    raise OutcomeUnknown(f"{method} {path}: HTTP {status} {msg}")
                raise Unavailable(f"{method} {path}: HTTP {status} {msg}")
            if code in _NOT_FOUND:
                raise OrderNotFound(code, msg)
            raise ExchangeRejected(code, msg or f"HTTP {status}")
        raise Unavailable(f"{method} {path}: gave up after {MAX_ATTEMPTS} attempts")


def _convert(result: Any, into: Any, what: str) -> Any:
    """``result`` as the schema type ``into`` (None: as parsed)."""
    if into is None:
        return result
    try:
        return msgspec.convert(result, into, strict=False)
    except msgspec.ValidationError as e:
        raise MalformedMessage(f"{what}: {e}") from None
