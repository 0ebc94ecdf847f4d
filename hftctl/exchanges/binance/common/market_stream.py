"""Binance public market data over one combined-stream websocket, symbols subscribed on demand.

We connect to ``<root>/stream`` (combined streams, so every event arrives in a
``{"stream", "data"}`` envelope that names its stream, the same form the collector records) and
send ``SUBSCRIBE`` for a symbol's streams when a bot registers it. After a reconnect every symbol
is subscribed again and its book resynchronised by the client.

Frames are not parsed here: the stream name is read from the envelope's first bytes and the
frame handed on whole, so the client decodes it once, with the schema of that stream.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket

log = logging.getLogger(__name__)

# (stream name, raw envelope bytes, local_ts)
OnEvent = Callable[[str, bytes, int], None]
_PREFIX = b'{"stream":"'


def stream_name(raw: bytes) -> str | None:
    """The stream name of a combined-stream frame, read without parsing the frame."""
    if not raw.startswith(_PREFIX):
        return None
    end = raw.find(b'"', len(_PREFIX))
    return raw[len(_PREFIX):end].decode("ascii", "replace") if end > 0 else None


class MarketStream:
    def __init__(self, url: Callable[[], str], streams: Callable[[str], list[str]], on_event: OnEvent,
                 on_reconnect: Callable[[], Awaitable[None]],
                 on_state: Callable[[str], None], min_s: float, max_s: float) -> None:
        self.symbols: list[str] = []
        self._streams = streams
        self._ids = itertools.count(1)
        self._on_event = on_event
        self._on_reconnect = on_reconnect
        self._make_url = url
        self.ws = ReconnectingWebSocket("market", self._url, self._on_open, self._on_message,
                                        on_state, min_s, max_s)

    async def _url(self) -> str:
        return self._make_url()

    async def _on_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        if self.symbols:
            await ws.send_json(self._subscribe_msg(self.symbols))
        if connects > 1:
            await self._on_reconnect()

    def _subscribe_msg(self, symbols: list[str]) -> dict:
        params = [s for sym in symbols for s in self._streams(sym)]
        return {"method": "SUBSCRIBE", "params": params, "id": next(self._ids)}

    async def subscribe(self, symbol: str) -> bool:
        """True if the symbol is new (the caller then starts its book sync)."""
        if symbol in self.symbols:
            return False
        self.symbols.append(symbol)
        await self.ws.send_json(self._subscribe_msg([symbol]))
        log.info("subscribed %s", ", ".join(self._streams(symbol)))
        return True

    async def unsubscribe(self, symbol: str) -> None:
        if symbol in self.symbols:
            self.symbols.remove(symbol)
            await self.ws.send_json({"method": "UNSUBSCRIBE", "params": self._streams(symbol),
                                     "id": next(self._ids)})

    def _on_message(self, payload: bytes | str, local_ts: int) -> None:
        raw = payload.encode() if isinstance(payload, str) else payload
        stream = stream_name(raw)
        if stream is not None:
            self._on_event(stream, raw, local_ts)
            return
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("market stream: undecodable message skipped: %r", raw[:120])
            return
        if isinstance(msg, dict) and ("result" in msg or "id" in msg):
            if msg.get("error"):
                log.error("market stream subscription failed: %s", msg.get("error"))
        else:
            log.warning("market stream: unexpected message skipped: %r", raw[:120])
