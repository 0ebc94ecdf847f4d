"""User data stream (orders, account) on ``<root>/ws/<listenKey>``.

Every reconnect after the first is reported to the connector, which reconciles open orders
and positions by REST: events sent while we were disconnected are never replayed by Binance.
A reconnect reuses the live listenKey: a dropped connection does not end the key's life, and
asking REST first would put the stream behind any REST back-off.
Frames go to the client undecoded; it decodes them with its market's event schemas.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from hftctl.exchanges.binance.common.listen_key import ListenKey
from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket

log = logging.getLogger(__name__)

OnEvent = Callable[[bytes, int], None]   # (raw frame, local_ts)


class UserStream:
    def __init__(self, url: Callable[[str], str], listen_key: ListenKey, on_event: OnEvent,
                 on_reconnect: Callable[[], Awaitable[None]], on_state: Callable[[str], None],
                 min_s: float, max_s: float) -> None:
        self._make_url = url
        self.listen_key = listen_key
        self._on_event = on_event
        self._on_reconnect = on_reconnect
        self.ws = ReconnectingWebSocket("user", self._url, self._on_open, self._on_message,
                                        on_state, min_s, max_s)
        self._drop_task: asyncio.Task | None = None   # held: the loop keeps tasks only weakly

    async def _url(self) -> str:
        """The live listenKey at once: REST (and any REST back-off) only when there is none or
        the exchange refused it, so a Retry-After never keeps the user stream down."""
        if self.listen_key.key is None:
            return self._make_url(await self.listen_key.create())
        if self.ws.refused:
            return self._make_url(await self.listen_key.renew())
        return self._make_url(self.listen_key.key)

    async def _on_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        if connects > 1:
            await self._on_reconnect()

    def _on_message(self, payload: bytes, local_ts: int) -> None:
        self._on_event(payload, local_ts)

    def key_expired(self) -> None:
        """The exchange says the listenKey lapsed: forget it and reconnect, which asks for a new one."""
        log.warning("listenKey expired; renewing")
        self.listen_key.key = None
        self._drop_task = asyncio.get_running_loop().create_task(self.ws.drop())
