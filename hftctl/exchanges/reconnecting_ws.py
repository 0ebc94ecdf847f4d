"""A websocket that stays up: reconnects with exponential backoff and full jitter.

Shared by every exchange's market and user streams. Jitter matters when an exchange drops all
clients at once (maintenance, load shedding): without it every client reconnects in the same
millisecond and gets dropped again. The backoff grows only while connections fail or die at
once: a connection that stayed up for HEALTHY_S resets it, so a server that drops every few
seconds costs a few hundred milliseconds of data each time, never the 30 s ceiling.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import aiohttp

log = logging.getLogger(__name__)

HEALTHY_S = 1.0        # a connection up this long was a good one: the next reconnect starts over
POLICY_VIOLATION = 1008   # close code servers use to refuse a URL (e.g. an unknown listenKey)

OnOpen = Callable[["aiohttp.ClientWebSocketResponse", int], Awaitable[None]]   # (ws, connect count)
OnMessage = Callable[[bytes, int], None]                                        # (payload, local_ts)


def backoff_delay(attempt: int, min_s: float, max_s: float) -> float:
    """Full jitter: uniform in [0.5, 1.5) x min(max, min * 2^attempt)."""
    return min(max_s, min_s * (2 ** attempt)) * (0.5 + random.random())


class ReconnectingWebSocket:
    def __init__(self, name: str, url: Callable[[], Awaitable[str]], on_open: OnOpen,
                 on_message: OnMessage, on_state: Callable[[str], None] | None = None,
                 min_s: float = 0.2, max_s: float = 30.0, heartbeat_s: float = 10.0) -> None:
        self.name = name
        self._url = url
        self._on_open = on_open
        self._on_message = on_message
        self._on_state = on_state or (lambda s: None)
        self.min_s, self.max_s, self.heartbeat_s = min_s, max_s, heartbeat_s
        self.connected = asyncio.Event()
        self.connects = 0
        # The server refused the last URL (handshake 4xx, or closed with 1008): a URL with a
        # credential in it (a listenKey) must be renewed before the next attempt.
        self.refused = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stop = False
        self._now = False          # reconnect without the backoff pause (reconnect_now)

    async def send_json(self, obj: object) -> None:
        """Send on the current connection (pacing is the caller's: ws_pacing.MessagePacer)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            try:
                await ws.send_json(obj)
            except ConnectionError as e:
                # the connection is going away; its successor's on_open sends the state again
                log.debug("%s stream: message not sent (%s)", self.name, e)

    async def drop(self) -> None:
        """Close the current connection; ``run`` reconnects (e.g. a new listenKey)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()

    async def reconnect_now(self) -> None:
        """Close the current connection and open the next one at once: the server announced it
        is going away (e.g. Binance's ``serverShutdown``), so waiting only lengthens the gap."""
        self._now = True
        await self.drop()

    async def stop(self) -> None:
        self._stop = True
        await self.drop()

    async def run(self) -> None:
        attempt = 0
        async with aiohttp.ClientSession() as session:
            opened = float("inf")       # when the current connection opened
            while not self._stop:
                try:
                    url = await self._url()
                    # decode_text=False: frames stay the bytes they arrived as. Every consumer
                    # parses bytes (msgspec, orjson), which also validates UTF-8; a str would
                    # be decoded here and encoded again there (~10 us per depth frame).
                    async with session.ws_connect(url, heartbeat=self.heartbeat_s, max_msg_size=0,
                                                  autoping=True, decode_text=False) as ws:
                        self._ws = ws
                        self.connects += 1
                        self.refused = False
                        opened = time.monotonic()
                        await self._on_open(ws, self.connects)
                        self.connected.set()
                        self._on_state("connected")
                        await self._pump(ws)
                        self.refused = ws.close_code == POLICY_VIOLATION
                except asyncio.CancelledError:
                    raise
                except aiohttp.WSServerHandshakeError as e:
                    self.refused = 400 <= e.status < 500 and e.status != 429   # 429: too many connects
                    log.warning("%s stream: handshake refused: HTTP %d", self.name, e.status)
                except Exception as e:   # any failure means: reconnect later
                    log.warning("%s stream: %s: %s", self.name, e.__class__.__name__, e)
                finally:
                    self._ws = None
                    if self.connected.is_set():
                        self.connected.clear()
                        self._on_state("disconnected")
                if self._stop:
                    break
                if self._now:
                    self._now = False
                    attempt = 0
                    opened = float("inf")
                    log.info("%s stream: reconnecting now", self.name)
                    continue
                if time.monotonic() - opened > HEALTHY_S:
                    attempt = 0      # it was a healthy connection: start the backoff over
                opened = float("inf")
                delay = backoff_delay(attempt, self.min_s, self.max_s)
                attempt += 1
                log.info("%s stream disconnected; reconnecting in %.2fs", self.name, delay)
                await asyncio.sleep(delay)

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        on_message = self._on_message
        async for msg in ws:
            local_ts = time.time_ns()
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                try:
                    on_message(msg.data, local_ts)
                except Exception:
                    log.exception("%s stream: error handling a message (skipped)", self.name)
            elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE,
                              aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
