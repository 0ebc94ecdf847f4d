"""Binance public market data: one combined-stream websocket per route, symbols subscribed on
demand.

A market names its routes (USD-M: ``public`` for depth and bookTicker, ``market`` for trades;
spot: one unrouted socket) and which of a symbol's streams each carries. Every route gets its
own ``<route>/stream`` connection (combined streams, so every event arrives in a
``{"stream", "data"}`` envelope that names its stream, the same form the collector records)
with its own reconnect loop. ``SUBSCRIBE`` messages are batched (every queued stream in one
message) and paced under the market's per-connection message limit, control frames included.
After a reconnect every symbol is subscribed again; only a route that carries depth makes the
client resynchronise its books.

Frames are not parsed here: the stream name is read from the envelope's first bytes and the
frame handed on whole, so the client decodes it once, with the schema of that stream.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket
from hftctl.exchanges.ws_pacing import MessagePacer

log = logging.getLogger(__name__)

# (stream name, raw envelope bytes, local_ts)
OnEvent = Callable[[str, bytes, int], None]
_PREFIX = b'{"stream":"'
# Streams named in one SUBSCRIBE: no documented cap; Binance's old per-connection stream limit.
MAX_PARAMS = 200


def stream_name(raw: bytes) -> str | None:
    """The stream name of a combined-stream frame, read without parsing the frame."""
    if not raw.startswith(_PREFIX):
        return None
    end = raw.find(b'"', len(_PREFIX))
    return raw[len(_PREFIX):end].decode("ascii", "replace") if end > 0 else None


class _RouteSocket:
    """One route's connection: its subscriptions go out batched and paced."""

    def __init__(self, route: str, url: str, owner: "MarketStream") -> None:
        self.route = route
        self.url = url
        self.owner = owner
        self.queue: collections.deque[tuple[str, list[str]]] = collections.deque()
        self.sending = False
        self.pacer = MessagePacer(owner.messages_per_s)
        self.ws = ReconnectingWebSocket(f"market {route}", self._url, self._on_open, owner.on_message,
                                        self._on_state, owner.min_s, owner.max_s)

    async def _url(self) -> str:
        return self.url

    def _on_state(self, state: str) -> None:
        self.owner.route_state(self.route, state)

    async def _on_open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        # A new connection: its own message budget, and nothing queued for the old one matters.
        self.queue.clear()
        self.pacer = MessagePacer(self.owner.messages_per_s)
        params = self.owner.route_streams(self.route, self.owner.symbols)
        if params:
            await self.send("SUBSCRIBE", params)
        if connects > 1:
            await self.owner.on_reconnect(self.route)

    async def send(self, method: str, params: list[str]) -> None:
        """Queue a (UN)SUBSCRIBE; whoever finds no sender running drains the queue, each message
        carrying every queued stream of one method (up to MAX_PARAMS) once the pacer allows."""
        for i in range(0, len(params), MAX_PARAMS):
            self.queue.append((method, params[i:i + MAX_PARAMS]))
        if self.sending:
            return
        self.sending = True
        try:
            while self.queue:
                await self.pacer.wait()
                if not self.queue:
                    break        # a reconnect cleared it meanwhile: _on_open subscribes everything
                method, batch = self.queue.popleft()
                while self.queue and self.queue[0][0] == method and len(batch) + len(self.queue[0][1]) <= MAX_PARAMS:
                    batch = batch + self.queue.popleft()[1]
                await self.ws.send_json({"method": method, "params": batch, "id": next(self.owner.ids)})
        finally:
            self.sending = False


class MarketStream:
    def __init__(self, routes: dict[str, str], streams: Callable[[str], dict[str, list[str]]],
                 on_event: OnEvent, on_reconnect: Callable[[str], Awaitable[None]],
                 on_state: Callable[[str], None], min_s: float, max_s: float,
                 messages_per_s: float = 0) -> None:
        """``routes``: route name -> combined-stream URL; ``streams(symbol)``: route name -> that
        symbol's streams there; ``on_reconnect(route)`` after a route's socket came back."""
        self.symbols: list[str] = []
        self._streams = streams
        self.ids = itertools.count(1)
        self._on_event = on_event
        self.on_reconnect = on_reconnect
        self._on_state = on_state
        self.min_s, self.max_s, self.messages_per_s = min_s, max_s, messages_per_s
        self.sockets = {route: _RouteSocket(route, url, self) for route, url in routes.items()}
        self._states = dict.fromkeys(routes, "disconnected")

    @property
    def connects(self) -> int:
        return sum(s.ws.connects for s in self.sockets.values())

    def runners(self) -> list[Awaitable[None]]:
        return [s.ws.run() for s in self.sockets.values()]

    async def wait_connected(self) -> None:
        await asyncio.gather(*(s.ws.connected.wait() for s in self.sockets.values()))

    async def stop(self) -> None:
        for s in self.sockets.values():
            await s.ws.stop()

    def route_state(self, route: str, state: str) -> None:
        """The market data stream is "connected" when every route is."""
        self._states[route] = state
        self._on_state("connected" if all(v == "connected" for v in self._states.values())
                       else "disconnected")

    def route_streams(self, route: str, symbols: list[str]) -> list[str]:
        return [s for sym in symbols for s in self._streams(sym).get(route, ())]

    async def subscribe(self, symbol: str) -> bool:
        """True if the symbol is new (the caller then starts its book sync)."""
        if symbol in self.symbols:
            return False
        self.symbols.append(symbol)
        for route, names in self._streams(symbol).items():
            await self.sockets[route].send("SUBSCRIBE", names)
        log.info("subscribed %s", ", ".join(n for names in self._streams(symbol).values() for n in names))
        return True

    async def unsubscribe(self, symbol: str) -> None:
        if symbol in self.symbols:
            self.symbols.remove(symbol)
            for route, names in self._streams(symbol).items():
                await self.sockets[route].send("UNSUBSCRIBE", names)

    def on_message(self, payload: bytes | str, local_ts: int) -> None:
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
