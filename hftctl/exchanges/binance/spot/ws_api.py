"""Binance spot's WebSocket API as the connector uses it: the account's user data, and signed
requests (orders, if the config sends them here).

Since the listenKey retirement (testnet 2026-02-04, mainnet 2026-02-20) spot user data exists
only here (web-socket-api.md § User Data Stream requests, checked 2026-12-01):

- every connection starts with ``userDataStream.subscribe.signature`` (any key type; the
  session methods are Ed25519-only), whose answer carries the ``subscriptionId``;
- events arrive as ``{"subscriptionId", "event"}`` and are handed on decoded;
- a subscription belongs to its connection and nothing is replayed: after a reconnect, and after
  ``eventStreamTerminated`` (the subscription ended, the connection did not), we subscribe again
  and tell the connector, which reconciles by query;
- ``serverShutdown`` (no subscriptionId) means the server will drop us: we reconnect at once;
- the server pings every 20 s and wants the payload back within a minute: aiohttp answers.

Requests are matched to answers by ``id``; an answer that never comes (the socket dropped, the
timeout passed) is an unknown outcome for a new order and a retry for anything idempotent.
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
from hftctl.exchanges.binance.spot import messages as wire
from hftctl.exchanges.binance.spot import schemas as w
from hftctl.exchanges.binance.spot.outcomes import TIMESTAMP_CODE, error_for, outcome_unknown
from hftctl.exchanges.binance.spot.signing import ws_api_signature
from hftctl.exchanges.errors import ConnectFailed, ExchangeError, ExchangeRejected, OutcomeUnknown, Unavailable
from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket
from hftctl.exchanges.rest_base import MAX_ATTEMPTS, retry_backoff
from hftctl.exchanges.wire import MalformedMessage
from hftctl.secrets import Secret

log = logging.getLogger(__name__)

SUBSCRIBE = "userDataStream.subscribe.signature"
ORDER_METHODS = frozenset({"order.place", "order.cancelReplace"})     # count against the order budget
# rateLimits entries -> the usage headers RateLimiter reads (REST sends the same numbers as headers)
_USAGE = {("REQUEST_WEIGHT", "MINUTE", 1): "X-MBX-USED-WEIGHT-1M", ("ORDERS", "SECOND", 10): "X-MBX-ORDER-COUNT-10S",
          ("ORDERS", "MINUTE", 1): "X-MBX-ORDER-COUNT-1M"}
_FRAME = msgspec.json.Decoder(w.WsApiFrame)


class _Dropped(ConnectionError):
    """The connection closed with the request unanswered."""


class SpotWsApi:
    def __init__(self, url: str, api_key: Secret, secret: Secret, *, now_ms: Callable[[], int],
                 recv_window_ms: int, timeout_s: float, limiter: RateLimiter,
                 clock_rejected: Callable[[float, str], Awaitable[None]],
                 on_event: Callable[[Any, int], None], on_resubscribed: Callable[[], None],
                 on_state: Callable[[str], None], min_s: float, max_s: float) -> None:
        self.url = url
        self._key, self._secret = api_key, secret
        self._now_ms, self._recv_window = now_ms, recv_window_ms
        self._timeout_s = timeout_s
        self.limiter = limiter
        self._clock_rejected = clock_rejected
        self._on_event = on_event
        self._on_resubscribed = on_resubscribed
        self._on_state = on_state
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._decoders: dict[Any, msgspec.json.Decoder] = {}
        self._tasks: set[asyncio.Task] = set()
        self.subscription_id: int | None = None
        self.subscribed = asyncio.Event()
        self.first: asyncio.Future | None = None       # the first subscription's outcome (connect_user)
        self.resubscribes = 0
        self.shutdowns = 0
        self.ws = ReconnectingWebSocket("user", self._url, self._on_open, self._on_message, self._state,
                                        min_s, max_s)

    async def _url(self) -> str:
        return self.url

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self, timeout_s: float) -> None:
        """Connect and subscribe; returns once events flow, raises if the exchange refuses."""
        self.first = asyncio.get_running_loop().create_future()
        run = asyncio.get_running_loop().create_task(self.ws.run())
        self._tasks.add(run)
        try:
            await asyncio.wait_for(asyncio.shield(self.first), timeout_s)
        except asyncio.TimeoutError:
            raise ConnectFailed(f"could not subscribe to user data at {self.url} within {timeout_s:.0f}s") from None
        except ExchangeRejected as e:
            await self.close()
            raise ConnectFailed(f"user data subscription at {self.url} refused: {e.code} {e.reason}") from None

    async def close(self) -> None:
        await self.ws.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _state(self, state: str) -> None:
        if state == "disconnected":
            self.subscription_id = None
            self.subscribed.clear()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(_Dropped("connection closed"))
            self._pending.clear()
        self._on_state(state)

    async def _on_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        """Subscribe before anything else; the answer is read here (the pump starts after)."""
        rid = next(self._ids)
        await ws.send_str(self._encode(rid, SUBSCRIBE, self._signed({})))
        deadline = time.monotonic() + self._timeout_s
        while True:
            msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                raise ConnectionError(f"closed while subscribing ({msg.type.name})")
            frame = self._frame(msg.data)
            if frame is None:
                continue
            if frame.id != rid:
                self._dispatch(frame, time.time_ns())
                continue
            if frame.status != 200:
                err = frame.error
                e = error_for(frame.status, err.code if err else -frame.status, err.msg if err else "", SUBSCRIBE,
                              safe=True)
                if self.first is not None and not self.first.done() and isinstance(e, ExchangeRejected):
                    self.first.set_exception(e)
                raise e
            self.subscription_id = self._decode(frame.result, w.Subscription, SUBSCRIBE).subscriptionId
            break
        self.subscribed.set()
        log.info("user data subscribed on %s (subscription %d)", self.url, self.subscription_id)
        if self.first is not None and not self.first.done():
            self.first.set_result(None)
        else:
            # events sent while we were not subscribed are gone: the connector reconciles
            self._on_resubscribed()

    # --- incoming -------------------------------------------------------------------------------

    def _frame(self, payload: bytes | str) -> w.WsApiFrame | None:
        try:
            return _FRAME.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            log.warning("WebSocket API: malformed frame skipped: %s", e)
            return None

    def _on_message(self, payload: bytes | str, local_ts: int) -> None:
        frame = self._frame(payload)
        if frame is not None:
            self._dispatch(frame, local_ts)

    def _dispatch(self, frame: w.WsApiFrame, local_ts: int) -> None:
        if frame.event is not msgspec.UNSET:
            self._event(frame, local_ts)
            return
        if frame.rateLimits is not msgspec.UNSET:
            self._usage(frame.rateLimits)
        fut = self._pending.pop(frame.id, None) if isinstance(frame.id, int) else None
        if fut is not None and not fut.done():
            fut.set_result(frame)
        elif frame.status >= 400:
            # e.g. {"id": null, "status": 401, ...}: the session was revoked
            log.error("WebSocket API: %s", frame.error.msg if frame.error else frame.status)

    def _event(self, frame: w.WsApiFrame, local_ts: int) -> None:
        try:
            ev = wire.user_event(bytes(frame.event))
        except MalformedMessage as e:
            log.warning("user data: malformed event skipped: %s", e)
            return
        if ev is None:
            log.debug("user data: event ignored: %r", bytes(frame.event)[:80])
        elif type(ev) is w.ServerShutdown:
            self.shutdowns += 1
            log.warning("WebSocket API server shutting down: moving to a new connection")
            self._spawn(self.ws.reconnect_now())
        elif type(ev) is w.EventStreamTerminated:
            if frame.subscriptionId == self.subscription_id:
                log.warning("user data subscription %s terminated; subscribing again", self.subscription_id)
                self.subscription_id = None
                self.subscribed.clear()
                self._spawn(self._resubscribe())
        else:
            self._on_event(ev, local_ts)

    async def _resubscribe(self) -> None:
        try:
            sub = await self.request(SUBSCRIBE, {}, safe=False, into=w.Subscription)
        except ExchangeError as e:
            log.warning("subscribing again failed (%s); reconnecting", e)
            await self.ws.drop()
            return
        self.subscription_id = sub.subscriptionId
        self.subscribed.set()
        self.resubscribes += 1
        self._on_resubscribed()

    def _usage(self, limits: list[w.RateLimit]) -> None:
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
        """One request per text frame (web-socket-api.md § Request format)."""
        return msgspec.json.encode({"id": rid, "method": method, "params": params}).decode()

    def _decode(self, raw: Any, into: Any, what: str) -> Any:
        if raw is msgspec.UNSET:
            raise MalformedMessage(f"{what}: answer without a result")
        dec = self._decoders.get(into)
        if dec is None:
            dec = self._decoders[into] = msgspec.json.Decoder(into, strict=False)
        try:
            return dec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise MalformedMessage(f"{what}: {e}") from None

    async def _connected(self) -> aiohttp.ClientWebSocketResponse:
        try:
            await asyncio.wait_for(self.ws.connected.wait(), self._timeout_s)
        except asyncio.TimeoutError:
            raise Unavailable(f"WebSocket API at {self.url} not connected") from None
        ws = self.ws._ws
        if ws is None or ws.closed:
            raise Unavailable(f"WebSocket API at {self.url} not connected")
        return ws

    async def request(self, method: str, params: dict[str, Any], *, safe: bool, into: Any) -> Any:
        """A signed request's decoded result. ``safe``: idempotent (retried when the answer is
        lost or says "unknown"); otherwise such an answer raises :class:`OutcomeUnknown`."""
        resynced = False
        loop = asyncio.get_running_loop()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self.limiter.acquire(method in ORDER_METHODS)
            ws = await self._connected()
            rid = next(self._ids)
            fut = self._pending[rid] = loop.create_future()
            sent_at = time.monotonic()
            try:
                await ws.send_str(self._encode(rid, method, self._signed(params)))
                frame: w.WsApiFrame = await asyncio.wait_for(fut, self._timeout_s)
            except (ConnectionError, asyncio.TimeoutError, aiohttp.ClientError) as e:
                self._pending.pop(rid, None)
                if not safe:
                    raise OutcomeUnknown(f"{method}: no answer ({e.__class__.__name__})") from None
                log.warning("%s: no answer (%s), retry %d", method, e.__class__.__name__, attempt)
                await asyncio.sleep(retry_backoff(attempt))
                continue
            if frame.status == 200:
                return self._decode(frame.result, into, method)
            err = frame.error
            code, msg = (err.code, err.msg) if err is not msgspec.UNSET else (-frame.status, "")
            if code == TIMESTAMP_CODE and not resynced:
                resynced = True                          # rejected before processing: resend
                await self._clock_rejected(sent_at, f"{method}: {code} {msg}")
                continue
            if frame.status in (418, 429):
                self.limiter.back_off(self._retry_after_s(err))
            e = error_for(frame.status, code, msg, method, safe=safe)
            if safe and attempt < MAX_ATTEMPTS and (outcome_unknown(frame.status, code) or frame.status == 429):
                log.warning("%s: %d %d %s, retry %d", method, frame.status, code, msg, attempt)
                await asyncio.sleep(retry_backoff(attempt))
                continue
            raise e
        raise Unavailable(f"{method}: gave up after {MAX_ATTEMPTS} attempts")

    def _retry_after_s(self, err: Any) -> float:
        """``error.data.retryAfter`` is an epoch time in ms (web-socket-api.md § IP limits)."""
        try:
            data = msgspec.json.decode(err.data) if err.data is not msgspec.UNSET else {}
            return max(0.0, (float(data.get("retryAfter", 0)) - self._now_ms()) / 1000) or 1.0
        except (msgspec.DecodeError, AttributeError, TypeError, ValueError):
            return 1.0
