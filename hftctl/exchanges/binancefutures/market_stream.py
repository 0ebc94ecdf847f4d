"""Binance public market data over one combined-stream websocket, symbols subscribed on demand.

We connect to ``<root>/stream`` (combined streams, so every event arrives in a
``{"stream", "data"}`` envelope that names its stream, the same form the collector records) and
send ``SUBSCRIBE`` for a symbol's depth@0ms/trade/bookTicker when a bot registers it. After a
reconnect every symbol is subscribed again and its book resynchronised by the client.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from hftctl.exchanges.endpoints import public_streams
from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket
from hftctl.exchanges.wire import load_frame

log = logging.getLogger(__name__)

# (stream name, data dict, raw envelope bytes, local_ts)
OnEvent = Callable[[str, dict, bytes, int], None]


class MarketStream:
    def __init__(self, ws_root: str, exchange: str, on_event: OnEvent,
                 on_reconnect: Callable[[], Awaitable[None]],
                 on_state: Callable[[str], None], min_s: float, max_s: float) -> None:
        self.symbols: list[str] = []
        self.exchange = exchange
        self._ids = itertools.count(1)
        self._on_event = on_event
        self._on_reconnect = on_reconnect
        self.ws = ReconnectingWebSocket("market", self._url, self._on_open, self._on_message,
                                        on_state, min_s, max_s)
        self._root = ws_root

    async def _url(self) -> str:
        return f"{self._root}/stream"

    async def _on_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        if self.symbols:
            await ws.send_json(self._subscribe_msg(self.symbols))
        if connects > 1:
            await self._on_reconnect()

    def _subscribe_msg(self, symbols: list[str]) -> dict:
        params = [s for sym in symbols for s in public_streams(self.exchange, sym)]
        return {"method": "SUBSCRIBE", "params": params, "id": next(self._ids)}

    async def subscribe(self, symbol: str) -> bool:
        """True if the symbol is new (the caller then starts its book sync)."""
        if symbol in self.symbols:
            return False
        self.symbols.append(symbol)
        await self.ws.send_json(self._subscribe_msg([symbol]))
        log.info("subscribed %s", ", ".join(public_streams(self.exchange, symbol)))
        return True

    async def unsubscribe(self, symbol: str) -> None:
        if symbol in self.symbols:
            self.symbols.remove(symbol)
            params = public_streams(self.exchange, symbol)
            await self.ws.send_json({"method": "UNSUBSCRIBE", "params": params, "id": next(self._ids)})

    def _on_message(self, payload: bytes | str, local_ts: int) -> None:
        raw, msg = load_frame(payload, log, "market")
        if not isinstance(msg, dict):
            return
        stream, data = msg.get("stream"), msg.get("data")
        if isinstance(stream, str) and isinstance(data, dict):
            self._on_event(stream, data, raw, local_ts)
        elif "result" in msg or "id" in msg:
            if msg.get("error"):
                log.error("market stream subscription failed: %s", msg.get("error"))
        else:
            log.warning("market stream: unexpected message skipped: %r", raw[:120])
