"""The user-data listenKey (futures and spot): create it, keep it alive, renew it when it lapses.

Binance expires a listenKey 60 minutes after the last keepalive (PUT) and then sends
``listenKeyExpired`` on the stream; a keepalive for an unknown key fails with -1125. In both
cases we create a fresh key and the user stream reconnects with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from hftctl.exchanges.binance.common.rest import BinanceRest
from hftctl.exchanges.binance.common.schemas import ListenKeyBody
from hftctl.exchanges.errors import ConnectFailed, ExchangeRejected
from hftctl.exchanges.wire import MalformedMessage

log = logging.getLogger(__name__)

_UNKNOWN_KEY = -1125


class ListenKey:
    def __init__(self, rest: BinanceRest, keepalive_s: float, path: str, key_param: bool) -> None:
        self.rest = rest
        self.path = path
        self.key_param = key_param     # spot's PUT/DELETE name the key; futures' do not
        self.keepalive_s = keepalive_s
        self.key: str | None = None
        self.renewals = 0

    async def create(self) -> str:
        """POST returns the active key (extending it) or a new one if it lapsed.

        Called before every user-stream (re)connect, so a key that expired while we were
        disconnected is replaced instead of being retried forever.
        """
        try:
            key = (await self.rest.with_key("POST", self.path, into=ListenKeyBody)).listenKey
        except MalformedMessage as e:
            raise ConnectFailed(f"listenKey response without a key: {e}") from None
        if not key:
            raise ConnectFailed("listenKey response with an empty key")
        if self.key is not None and key != self.key:
            self.renewals += 1
            log.info("listenKey renewed")
        self.key = key
        return key

    def params(self) -> dict[str, str]:
        return {"listenKey": self.key} if self.key_param and self.key else {}

    async def renew(self) -> str:
        self.key = None
        self.renewals += 1
        key = await self.create()
        log.info("listenKey renewed")
        return key

    async def keepalive_loop(self, on_renewed: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            try:
                await self.rest.with_key("PUT", self.path, self.params())
            except ExchangeRejected as e:
                if e.code != _UNKNOWN_KEY:
                    log.warning("listenKey keepalive failed: %s", e)
                    continue
                log.warning("listenKey no longer valid (%s); renewing", e.reason)
                await self.renew()
                await on_renewed()
            except Exception as e:   # network trouble: try again next period
                log.warning("listenKey keepalive failed: %s: %s", e.__class__.__name__, e)
