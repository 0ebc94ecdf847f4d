"""Binance REST (USD-M futures and spot share it): signing, clock offset, rate limits, safe retries.

Retry policy (the part that loses money when wrong):
- ``-1021`` (timestamp outside recvWindow) means the request was rejected unprocessed: we
  re-measure the clock and send it again, for any method.
- 429/418 means "not processed, slow down": we honour Retry-After; only idempotent requests
  (GET, cancels) are retried, a new order is reported back as :class:`RateLimited`.
- Server-side errors are read with the market's own table (:class:`ErrorOutcomes`; the docs of
  USD-M and spot differ). An answer whose outcome is unknown raises :class:`OutcomeUnknown` for
  a state-changing request (new order, cancel, amend: re-sending could double it, or get an
  answer that no longer says what happened), so the caller finds the order by client id; a
  query is retried. An answer documented as "not executed" is retried with backoff when the
  request may be repeated, else it is a refusal (:class:`ExchangeRejected`).
- Timeouts and dropped connections leave the outcome unknown: idempotent requests are retried
  (then :class:`Unavailable`), a new order raises :class:`OutcomeUnknown`.

Bodies are decoded with the typed schemas when the caller names one (``into=``), straight from
the response bytes; ``into=bytes`` returns them as sent (the collector records snapshots raw).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import msgspec
import orjson
from yarl import URL

from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.common.rate_limit import RateLimiter
from hftctl.exchanges.binance.common.schemas import ErrorBody, ServerTime, decoder
from hftctl.exchanges.binance.common.signing import binance_signature
from hftctl.exchanges.errors import (ExchangeRejected, OrderNotFound, OutcomeUnknown, RateLimited,
                                     Unavailable)
from hftctl.exchanges.rest_base import MAX_ATTEMPTS, RestClient, retry_backoff
from hftctl.exchanges.wire import MalformedMessage

log = logging.getLogger(__name__)

_NOT_FOUND = {-2011, -2013}     # unknown order sent / order does not exist
_TIMESTAMP = -1021
_ERROR = decoder(ErrorBody)

B = TypeVar("B")

UNKNOWN, NOT_EXECUTED = "unknown", "not executed"


@dataclass(frozen=True)
class ErrorOutcomes:
    """What a market's documented error answers say about execution. Messages are matched as
    substrings of the answer's ``msg`` (or its body, when that is not Binance's JSON)."""

    unknown_statuses: frozenset[int] = frozenset()
    unknown_codes: frozenset[int] = frozenset({-1006, -1007})   # UNEXPECTED_RESP, TIMEOUT
    unknown_messages: tuple[str, ...] = ()
    not_executed_codes: frozenset[int] = frozenset()
    not_executed_messages: tuple[str, ...] = ()

    def verdict(self, status: int, code: int, msg: str) -> str | None:
        """UNKNOWN, NOT_EXECUTED, or None for an ordinary refusal. A 5XX the table does not
        name is UNKNOWN: that fails closed (the order is looked for, never assumed absent)."""
        if status in self.unknown_statuses or code in self.unknown_codes \
                or any(m in msg for m in self.unknown_messages):
            return UNKNOWN
        if code in self.not_executed_codes or any(m in msg for m in self.not_executed_messages):
            return NOT_EXECUTED
        return UNKNOWN if status >= 500 else None


# Spot's rule (rest-api.md § HTTP Return Codes: a 5XX "is NOT a failure operation; the execution
# status is UNKNOWN"; errors.md -1006/-1007): every 5XX is unknown. USD-M has its own table.
ALL_5XX_UNKNOWN = ErrorOutcomes()


class BinanceRest(RestClient):
    def __init__(self, cfg: BinanceConfig, time_path: str, outcomes: ErrorOutcomes = ALL_5XX_UNKNOWN) -> None:
        super().__init__(cfg.request_timeout_s)
        self.cfg = cfg
        self.outcomes = outcomes
        self.time_path = time_path
        self.limiter = RateLimiter(cfg.weight_limit_1m, cfg.order_limit_10s, cfg.order_limit_1m,
                                   cfg.throttle_ratio)
        self._decoders: dict[Any, msgspec.json.Decoder] = {}

    async def _server_time_ms(self) -> float:
        body = await self._send("GET", self.time_path, {}, signed=False, safe=True, into=ServerTime)
        return body.serverTime

    # --- requests -----------------------------------------------------------------------------

    async def public(self, path: str, params: dict[str, Any] | None = None, *, into: Any = None) -> Any:
        return await self._send("GET", path, params or {}, signed=False, safe=True, into=into)

    async def with_key(self, method: str, path: str, params: dict[str, Any] | None = None,
                       *, into: Any = None) -> Any:
        """API-key (unsigned) endpoints: the listenKey ones, all idempotent (POST returns the
        active key if there is one), so they are retried like GETs."""
        return await self._send(method, path, params or {}, signed=False, safe=True, api_key=True,
                                into=into)

    async def signed(self, method: str, path: str, params: dict[str, Any], *, safe: bool,
                     is_order: bool = False, into: Any = None) -> Any:
        return await self._send(method, path, params, signed=True, safe=safe, api_key=True,
                                is_order=is_order, into=into)

    def decode(self, raw: bytes, into: Any, what: str) -> Any:
        """A response body as ``into`` (a schema type), parsed JSON (None), or as sent (bytes)."""
        if into is bytes:
            return raw
        if into is None:
            return _parse(raw)
        dec = self._decoders.get(into)
        if dec is None:
            dec = self._decoders[into] = decoder(into)
        try:
            return dec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise MalformedMessage(f"{what}: {e}") from None

    async def _send(self, method: str, path: str, params: dict[str, Any], *, signed: bool,
                    safe: bool, api_key: bool = False, is_order: bool = False, into: Any = None) -> Any:
        session = await self._ensure_session()
        headers = {"X-MBX-APIKEY": self.cfg.api_key.reveal()} if api_key or signed else {}
        resynced = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self.limiter.acquire(is_order)
            query = urlencode(params)
            if signed:
                query = f"{query}&" if query else ""
                query += f"timestamp={self.now_ms()}&recvWindow={self.cfg.recv_window_ms}"
                query += f"&signature={binance_signature(self.cfg.secret.reveal(), query)}"
            url = URL(f"{self.cfg.api_url}{path}" + (f"?{query}" if query else ""), encoded=True)
            sent_at = time.monotonic()
            try:
                async with session.request(method, url, headers=headers) as resp:
                    self.limiter.update(resp.headers)
                    raw = await resp.read()
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                if not safe:
                    raise OutcomeUnknown(f"{method} {path}: {e.__class__.__name__}") from None
                log.warning("%s %s failed (%s), retry %d", method, path, e.__class__.__name__, attempt)
                await asyncio.sleep(retry_backoff(attempt))
                continue
            log.debug("%s %s -> %d (weight %s)", method, path, status, self.limiter.used["weight_1m"])
            if status < 400:
                return self.decode(raw, into, f"{method} {path}")
            code, msg, data = _error(raw, status)
            if code == _TIMESTAMP and not resynced:
                # Rejected before processing: safe to resend once with a fresh clock.
                resynced = True
                await self._clock_rejected(sent_at, f"{method} {path}: {code} {msg}")
                continue
            if status in (418, 429):
                wait = min(_float(retry_after, 1.0), self.cfg.retry_after_cap_s)
                self.limiter.back_off(wait)
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s %s: HTTP %d, backing off %.1fs", method, path, status, wait)
                    continue
                raise RateLimited(code, msg or f"HTTP {status} rate limited")
            verdict = self.outcomes.verdict(status, code, msg)
            if verdict is not None:
                what = f"{method} {path}: HTTP {status} {code} {msg}"
                if verdict == UNKNOWN and (not safe or (signed and method != "GET")):
                    raise OutcomeUnknown(what)
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s (%s), retry %d", what, verdict, attempt)
                    await asyncio.sleep(retry_backoff(attempt))
                    continue
                if not safe:
                    raise ExchangeRejected(code, msg)      # documented as not executed
                raise Unavailable(what)
            if code in _NOT_FOUND:
                raise OrderNotFound(code, msg, data)
            raise ExchangeRejected(code, msg, data)
        raise Unavailable(f"{method} {path}: gave up after {MAX_ATTEMPTS} attempts")


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedMessage(f"response is not JSON: {raw[:120]!r}") from None


def _error(raw: bytes, status: int) -> tuple[int, str, Any]:
    """Binance's ``{"code", "msg"}`` (and ``data``, e.g. cancelReplace's results), or the HTTP
    status as the code when the body is not one."""
    try:
        body = _ERROR.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return -status, f"HTTP {status} {raw[:120].decode('utf-8', 'replace')}".strip(), None
    return body.code, body.msg, (orjson.loads(bytes(body.data)) if body.data is not msgspec.UNSET else None)


def _float(v: str | None, default: float) -> float:
    try:
        return max(0.0, float(v)) if v is not None else default
    except ValueError:
        return default
