"""Binance spot's WebSocket API as the connector uses it: the account's user data on the shared
Binance WebSocket API session (``common/ws_api.py``), which also carries the orders unless the
config says ``order_transport = "rest"``.

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
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from hftctl.exchanges.binance.common.rest import ALL_5XX_UNKNOWN
from hftctl.exchanges.binance.common.schemas import ErrorBody, WsApiFrame
from hftctl.exchanges.binance.common.ws_api import BinanceWsApi
from hftctl.exchanges.binance.spot import messages as wire
from hftctl.exchanges.binance.spot import schemas as w
from hftctl.exchanges.errors import ConnectFailed, ExchangeError, ExchangeRejected
from hftctl.exchanges.wire import MalformedMessage

log = logging.getLogger(__name__)

SUBSCRIBE = "userDataStream.subscribe.signature"


class SpotWsApi(BinanceWsApi):
    def __init__(self, url: str, *args: Any, on_event: Callable[[Any, int], None],
                 on_resubscribed: Callable[[], None], **kwargs: Any) -> None:
        super().__init__("user", url, *args, outcomes=ALL_5XX_UNKNOWN, **kwargs)
        self._on_user_event = on_event
        self._on_resubscribed = on_resubscribed
        self.subscription_id: int | None = None
        self.subscribed = asyncio.Event()
        self.first: asyncio.Future | None = None       # the first subscription's outcome (start)
        self.resubscribes = 0
        self.shutdowns = 0

    async def start(self, timeout_s: float) -> None:
        """Connect and subscribe; returns once events flow, raises if the exchange refuses."""
        self.first = asyncio.get_running_loop().create_future()
        self.run()
        try:
            await asyncio.wait_for(asyncio.shield(self.first), timeout_s)
        except asyncio.TimeoutError:
            raise ConnectFailed(f"could not subscribe to user data at {self.url} within {timeout_s:.0f}s") from None
        except ExchangeRejected as e:
            await self.close()
            raise ConnectFailed(f"user data subscription at {self.url} refused: {e.code} {e.reason}") from None

    def _state(self, state: str) -> None:
        if state == "disconnected":
            self.subscription_id = None
            self.subscribed.clear()
        super()._state(state)

    async def _opened(self, ws: aiohttp.ClientWebSocketResponse) -> None:
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
                err = frame.error if frame.error else ErrorBody(-frame.status, "")
                if frame.status >= 500 or frame.status in (418, 429):
                    # not a refusal of these credentials: the next connection tries again
                    raise ConnectionError(f"{SUBSCRIBE}: {frame.status} {err.code} {err.msg}")
                e = ExchangeRejected(err.code, err.msg)
                if self.first is not None and not self.first.done():
                    self.first.set_exception(e)
                raise e
            self.subscription_id = self.decode(frame.result, w.Subscription, SUBSCRIBE).subscriptionId
            break
        self.subscribed.set()
        log.info("user data subscribed on %s (subscription %d)", self.url, self.subscription_id)
        if self.first is not None and not self.first.done():
            self.first.set_result(None)
        else:
            # events sent while we were not subscribed are gone: the connector reconciles
            self._on_resubscribed()

    def _event(self, frame: WsApiFrame, local_ts: int) -> None:
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
            self._on_user_event(ev, local_ts)

    async def _resubscribe(self) -> None:
        try:
            sub = await self.request(SUBSCRIBE, {}, changes=True, safe=False, into=w.Subscription)
        except ExchangeError as e:
            log.warning("subscribing again failed (%s); reconnecting", e)
            await self.ws.drop()
            return
        self.subscription_id = sub.subscriptionId
        self.subscribed.set()
        self.resubscribes += 1
        self._on_resubscribed()
