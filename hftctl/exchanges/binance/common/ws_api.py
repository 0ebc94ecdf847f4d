"""One Binance WebSocket API session (spot ``/ws-api/v3``, USD-M ``/ws-fapi/v1``) as the
connector uses it: signed requests matched to their answers by id, the answers' ``rateLimits``
fed to the limiter REST uses, and a connection that reconnects in the background.

Both markets document the same envelope (``{id, method, params}`` in, ``{id, status, result |
error, rateLimits}`` out, one per text frame) and the same per-request HMAC signature over the
sorted params (``common/signing.py``); ``session.logon`` is Ed25519-only on both, so every
request here is signed on its own. Spot puts its user data on this connection too
(``spot/ws_api.py`` subscribes on every new connection); USD-M pushes no events here.

What an answer that never comes means (the connection dropped with the request on it, or the
timeout passed): a query is asked again; a new order, a cancel or an amend may have been
executed, so it raises :class:`OutcomeUnknown` and the connector finds the order by its client
id. Nothing that changes state is ever sent twice. A request that could not be sent at all (no
connection, or the write failed) raises :class:`NotSent`: the caller may use REST instead.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec

from hftctl.exchanges.binance.common.rate_limit import RateLimiter
from hftctl.exchanges.binance.common.rest import NOT_EXECUTED, UNKNOWN, ErrorOutcomes
from hftctl.exchanges.binance.common.schemas import RateLimit, WsApiFrame
from hftctl.exchanges.binance.common.signing import ws_api_signature
from hftctl.exchanges.errors import (ExchangeRejected, OrderNotFound, OutcomeUnknown, RateLimited,
                                     Unavailable)
from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket
from hftctl.exchanges.rest_base import MAX_ATTEMPTS, retry_backoff
from hftctl.exchanges.wire import MalformedMessage
from hftctl.secrets import Secret

log = logging.getLogger(__name__)

TIMESTAMP_CODE = -1021                          # rejected unprocessed: resend with a fresh clock
NOT_FOUND_CODES = frozenset({-2011, -2013})     # unknown order sent / order does not exist
# rateLimits entries -> the usage headers RateLimiter reads (REST sends the same numbers as headers)
_USAGE = {("REQUEST_WEIGHT", "MINUTE", 1): "X-MBX-USED-WEIGHT-1M", ("ORDERS", "SECOND", 10): "X-MBX-ORDER-COUNT-10S",
          ("ORDERS", "MINUTE", 1): "X-MBX-ORDER-COUNT-1M"}
_FRAME = msgspec.json.Decoder(WsApiFrame)


class NotSent(Unavailable):
    """The request never left: no connection, or writing it failed. Nothing happened at the
    exchange, so the caller may send it another way (REST)."""


class _Dropped(ConnectionError):
    """The connection closed with the request unanswered."""


class BinanceWsApi:
    """The connection and its requests; a market's subclass adds what happens on each new
    connection (``_opened``) and to frames that answer no request (``_event``)."""

    def __init__(self, name: str, url: str, api_key: Secret, secret: Secret, *, now_ms: Callable[[], int],
                 recv_window_ms: int, timeout_s: float, limiter: RateLimiter, outcomes: ErrorOutcomes,
                 order_methods: frozenset[str], clock_rejected: Callable[[float, str], Awaitable[None]],
                 on_state: Callable[[str], None], min_s: float, max_s: float,
                 retry_after_cap_s: float = 60.0) -> None:
        self.url = url
        self._retry_after_cap_s = retry_after_cap_s
        self._key, self._secret = api_key, secret
        self._now_ms, self._recv_window = now_ms, recv_window_ms
        self._timeout_s = timeout_s
        self.limiter = limiter
        self.outcomes = outcomes
        self.order_methods = order_methods          # these count against the account's order budget
        self._clock_rejected = clock_rejected
        self._on_state = on_state
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._decoders: dict[Any, msgspec.json.Decoder] = {}
        self._tasks: set[asyncio.Task] = set()
        self.lost = 0                   # requests whose answer never came (dropped, timed out)
        self.ws = ReconnectingWebSocket(name, self._url, self._on_open, self._on_message, self._state,
                                        min_s, max_s)

    async def _url(self) -> str:
        return self.url

    # --- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Connect now and keep reconnecting in the background until :meth:`close`."""
        self._spawn(self.ws.run())

    async def wait_up(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self.ws.connected.wait(), timeout_s)
        except asyncio.TimeoutError:
            return False
        return True

    @property
    def up(self) -> bool:
        ws = self.ws._ws
        return self.ws.connected.is_set() and ws is not None and not ws.closed

    async def close(self) -> None:
        await self.ws.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._fail_pending()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _state(self, state: str) -> None:
        if state == "disconnected":
            self._fail_pending()
        self._on_state(state)

    def _fail_pending(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(_Dropped("connection closed"))
        self._pending.clear()

    async def _on_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        await self._opened(ws)

    async def _opened(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Runs on every new connection before anyone may send on it."""

    # --- incoming -------------------------------------------------------------------------------

    def _frame(self, payload: bytes | str) -> WsApiFrame | None:
        try:
            return _FRAME.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            log.warning("WebSocket API: malformed frame skipped: %s", e)
            return None

    def _on_message(self, payload: bytes, local_ts: int) -> None:
        frame = self._frame(payload)
        if frame is not None:
            self._dispatch(frame, local_ts)

    def _dispatch(self, frame: WsApiFrame, local_ts: int) -> None:
        if frame.event is not msgspec.UNSET:
            self._event(frame, local_ts)
            return
        if frame.rateLimits is not msgspec.UNSET:
            self._usage(frame.rateLimits)
        fut = self._pending.pop(frame.id, None) if isinstance(frame.id, int) else None
        if fut is not None and not fut.done():
            fut.set_result(frame)
        elif frame.status >= 400:
            # e.g. {"id": null, "status": 401, ...}: the key was revoked
            log.error("WebSocket API: %s", frame.error.msg if frame.error else frame.status)

    def _event(self, frame: WsApiFrame, local_ts: int) -> None:
        log.debug("WebSocket API: event ignored: %r", bytes(frame.event)[:80])

    def _usage(self, limits: list[RateLimit]) -> None:
        headers = {}
        for r in limits:
            name = _USAGE.get((r.rateLimitType, r.interval, r.intervalNum))
            if name is not None:
                headers[name] = str(r.count)
        self.limiter.update(headers)

    # --- requests -------------------------------------------------------------------------------

    def _signed(self, params: dict[str, Any]) -> dict[str, Any]:
        p = {**params, "apiKey": self._key.reveal(), "timestamp": self._now_ms(), "recvWindow": self._recv_window}
        p["signature"] = ws_api_signature(self._secret.reveal(), p)
        return p

    @staticmethod
    def _encode(rid: int, method: str, params: dict[str, Any]) -> str:
        return msgspec.json.encode({"id": rid, "method": method, "params": params}).decode()

    def decode(self, raw: Any, into: Any, what: str) -> Any:
        if raw is msgspec.UNSET:
            raise MalformedMessage(f"{what}: answer without a result")
        dec = self._decoders.get(into)
        if dec is None:
            dec = self._decoders[into] = msgspec.json.Decoder(into, strict=False)
        try:
            return dec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise MalformedMessage(f"{what}: {e}") from None

    def _socket(self) -> aiohttp.ClientWebSocketResponse:
        ws = self.ws._ws
        if not self.up or ws is None:
            raise NotSent(f"WebSocket API at {self.url} not connected")
        return ws

    async def request(self, method: str, params: dict[str, Any], *, changes: bool, safe: bool, into: Any) -> Any:
        """A signed request's decoded result.

        ``changes``: it changes state at the exchange (new order, cancel, amend): a lost or
        "unknown" answer raises OutcomeUnknown. ``safe``: it may be repeated once the exchange
        said it was not executed (429, a documented failure); a query is both safe and asked
        again whenever its answer is lost."""
        resynced = False
        loop = asyncio.get_running_loop()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self.limiter.acquire(method in self.order_methods)
            ws = self._socket()
            rid = next(self._ids)
            fut = self._pending[rid] = loop.create_future()
            sent_at = time.monotonic()
            try:
                await ws.send_str(self._encode(rid, method, self._signed(params)))
            except (ConnectionError, RuntimeError, aiohttp.ClientError) as e:
                self._pending.pop(rid, None)
                raise NotSent(f"{method}: not sent ({e.__class__.__name__})") from None
            try:
                frame: WsApiFrame = await asyncio.wait_for(fut, self._timeout_s)
            except (_Dropped, asyncio.TimeoutError) as e:
                self._pending.pop(rid, None)
                self.lost += 1
                why = "the connection dropped" if isinstance(e, _Dropped) else f"no answer in {self._timeout_s:g}s"
                if changes:
                    raise OutcomeUnknown(f"{method}: {why}") from None
                if attempt == MAX_ATTEMPTS:
                    raise Unavailable(f"{method}: {why}") from None
                log.warning("%s: %s, retry %d", method, why, attempt)
                await asyncio.sleep(retry_backoff(attempt))
                continue
            if frame.status == 200:
                return self.decode(frame.result, into, method)
            err = frame.error
            code, msg = (err.code, err.msg) if err is not msgspec.UNSET else (-frame.status, "")
            if code == TIMESTAMP_CODE and not resynced:
                resynced = True                          # rejected before processing: resend
                await self._clock_rejected(sent_at, f"{method}: {code} {msg}")
                continue
            what = f"{method}: {frame.status} {code} {msg}"
            if frame.status in (418, 429):
                self.limiter.back_off(self._retry_after_s(err))
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s, retry %d", what, attempt)
                    continue
                raise RateLimited(code, msg)
            verdict = self.outcomes.verdict(frame.status, code, msg)
            if verdict == UNKNOWN and changes:
                raise OutcomeUnknown(what)
            if verdict is not None:
                if safe and attempt < MAX_ATTEMPTS:
                    log.warning("%s (%s), retry %d", what, verdict, attempt)
                    await asyncio.sleep(retry_backoff(attempt))
                    continue
                if verdict == NOT_EXECUTED and not safe:
                    raise ExchangeRejected(code, msg)
                raise Unavailable(what)
            data = _data(err)
            if code in NOT_FOUND_CODES:
                raise OrderNotFound(code, msg, data)
            raise ExchangeRejected(code, msg, data)
        raise Unavailable(f"{method}: gave up after {MAX_ATTEMPTS} attempts")

    def _retry_after_s(self, err: Any) -> float:
        """``error.data.retryAfter`` is an epoch time in ms (spot web-socket-api.md § IP limits),
        honoured up to ``retry_after_cap_s`` as REST's Retry-After is (a far-off, non-finite or
        unreadable one must not stop every request for good); 1 s when there is none."""
        data = _data(err)
        try:
            wait = (float(data.get("retryAfter", 0)) - self._now_ms()) / 1000
        except (AttributeError, TypeError, ValueError, OverflowError):
            return 1.0
        return min(self._retry_after_cap_s, wait) if wait > 0 else 1.0


def _data(err: Any) -> Any:
    """``error.data`` decoded (cancelReplace's results, a ban's end), or None."""
    if err is msgspec.UNSET or err.data is msgspec.UNSET:
        return None
    try:
        return msgspec.json.decode(err.data)
    except msgspec.DecodeError:
        return None
