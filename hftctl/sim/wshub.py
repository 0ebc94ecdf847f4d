"""Websocket connections of the sim: per-client send queues (so one slow client never stalls the
market), the delay fault, and dropping connections on demand or on a timer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from aiohttp import WSMsgType, web

from hftctl.sim.faults import Faults

log = logging.getLogger(__name__)

MAX_QUEUE = 50_000       # a client this far behind is disconnected, as exchanges do


class WsClient:
    """One websocket; protocol adapters attach their own subscription state in `state`."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, faults: Faults) -> None:
        self.ws = ws
        self.request = request
        self.faults = faults
        self.queue: deque[tuple[float, bytes]] = deque()
        self.wakeup = asyncio.Event()
        self.closed = False
        self.state: dict = {}
        self.sent = 0
        self.close_when_drained = False
        self.task = asyncio.get_running_loop().create_task(self._sender())

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if len(self.queue) >= MAX_QUEUE:
            log.warning("websocket client too slow (%d queued); disconnecting", len(self.queue))
            self.drop()
            return
        self.queue.append((time.monotonic() + self.faults.ws_delay_ms / 1000, data))
        self.wakeup.set()

    async def _sender(self) -> None:
        ws, queue = self.ws, self.queue
        try:
            while not self.closed:
                if not queue:
                    if self.close_when_drained:
                        await ws.close()
                        break
                    self.wakeup.clear()
                    await self.wakeup.wait()
                    continue
                due, data = queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                queue.popleft()
                await ws.send_frame(data, WSMsgType.TEXT)
                self.sent += 1
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        except Exception as exc:    # a dying peer must never take the sim down
            log.debug("websocket sender stopped: %s", exc)
        finally:
            self.closed = True

    def finish(self) -> None:
        """Close politely once everything queued has been sent (e.g. after listenKeyExpired)."""
        self.close_when_drained = True
        self.wakeup.set()

    def drop(self) -> None:
        """Cut the connection the way a network failure would: no close handshake."""
        self.closed = True
        self.wakeup.set()
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def close(self) -> None:
        self.closed = True
        self.wakeup.set()
        self.task.cancel()
        if not self.ws.closed:
            try:
                await self.ws.close()
            except Exception:
                pass


class WsHub:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.clients: set[WsClient] = set()
        self.dropped = 0

    def add(self, client: WsClient) -> None:
        self.clients.add(client)

    def remove(self, client: WsClient) -> None:
        self.clients.discard(client)

    async def serve(self, request: web.Request, ping_interval_s: float, on_text, on_close,
                    on_open=None) -> web.WebSocketResponse:
        """One websocket's life, the same for every exchange adapter: accept it, register it (so
        the drop fault reaches it), hand each text frame to ``on_text(client, text)``, and always
        call ``on_close(client)`` and unregister, however the peer goes away.

        ``on_open(client)`` (async) may refuse the connection by closing it and returning False.
        """
        ws = web.WebSocketResponse(heartbeat=ping_interval_s, autoping=True)
        await ws.prepare(request)
        client = WsClient(ws, request, self.faults)
        self.add(client)
        try:
            if on_open is None or await on_open(client):
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        on_text(client, msg.data)
                    elif msg.type == WSMsgType.ERROR:
                        break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            on_close(client)
            self.remove(client)
            await client.close()
        return ws

    def drop_all(self) -> int:
        n = 0
        for c in list(self.clients):
            c.drop()
            n += 1
        self.dropped += n
        return n

    async def run_dropper(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            every = self.faults.drop_ws_every_s
            now = time.monotonic()
            if every <= 0:
                last = now
            elif now - last >= every:
                last = now
                n = self.drop_all()
                log.info("fault: dropped %d websocket connection(s)", n)

    async def close_all(self) -> None:
        for c in list(self.clients):
            await c.close()
