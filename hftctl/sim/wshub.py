"""Websocket connections of the sim: per-client send queues (so one slow client never stalls the
market), the delay fault, dropping connections on demand or on a timer, and each exchange's
connection rules (message rate, lifetime, connection rate) enforced the way exchanges do: by
disconnecting."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass

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
        self._sending = False
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
        queue = self.queue
        try:
            while not self.closed:
                if not queue:
                    if self.close_when_drained:
                        await self.ws.close()
                        break
                    self.wakeup.clear()
                    await self.wakeup.wait()
                    continue
                wait = queue[0][0] - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif self._sending:              # flush() is at it: it wakes us when done
                    self.wakeup.clear()
                    await self.wakeup.wait()
                else:
                    await self._send_due()
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        except Exception as exc:    # a dying peer must never take the sim down
            log.debug("websocket sender stopped: %s", exc)
        finally:
            self.closed = True

    async def _send_due(self) -> None:
        """Send, in order, what is due; one sender at a time, so frames never interleave."""
        queue, ws = self.queue, self.ws
        self._sending = True
        try:
            while queue and not self.closed and queue[0][0] <= time.monotonic():
                await ws.send_frame(queue.popleft()[1], WSMsgType.TEXT)
                self.sent += 1
        finally:
            self._sending = False
            if queue or self.close_when_drained:      # the sender may have stood aside for us
                self.wakeup.set()

    async def flush(self) -> None:
        """Send what is due from the caller's task, now. A request's reply then leaves before the
        events its action queued on the client's other connections (their senders run on the
        loop's next turn), as a REST response does: aiohttp writes it before the handler's task
        yields. Without this a websocket order's reply trails its own user-stream event by a
        send and a wake-up of the client."""
        if self.closed or self._sending or not self.queue:
            return
        try:
            await self._send_due()
        except (ConnectionError, RuntimeError):
            self.closed = True       # the sender task sees it and ends; serve's loop ends with the socket

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


@dataclass(frozen=True)
class WsLimits:
    """An exchange's rules for one kind of websocket (0 means no limit). The server pings every
    ``serve``'s ``ping_interval_s`` and drops a connection whose pong is late (aiohttp allows half
    the interval, stricter than any exchange's pong deadline: a client that answers pings passes)."""

    max_incoming_per_s: float = 0      # messages a client may send per second, pings/pongs included
    max_lifetime_s: float = 0          # the exchange cuts every connection after this long
    max_connects: int = 0              # connection attempts per IP ...
    connect_window_s: float = 300.0    # ... in this window; beyond, the upgrade is refused (429)


class WsHub:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.clients: set[WsClient] = set()
        self.dropped = 0
        self.limit_drops = 0           # connections cut for breaking a WsLimits rule
        self._attempts: dict[tuple[int, str], deque[float]] = defaultdict(deque)

    def add(self, client: WsClient) -> None:
        self.clients.add(client)

    def remove(self, client: WsClient) -> None:
        self.clients.discard(client)

    def _connect_allowed(self, request: web.Request, limits: WsLimits) -> bool:
        if not limits.max_connects:
            return True
        now = time.monotonic()
        attempts = self._attempts[(id(limits), request.remote or "")]
        while attempts and now - attempts[0] > limits.connect_window_s:
            attempts.popleft()
        attempts.append(now)
        return len(attempts) <= limits.max_connects

    async def serve(self, request: web.Request, ping_interval_s: float, on_text, on_close,
                    on_open=None, limits: WsLimits = WsLimits()) -> web.StreamResponse:
        """One websocket's life, the same for every exchange adapter: accept it, register it (so
        the drop fault reaches it), hand each text frame to ``on_text(client, text)``, enforce
        ``limits``, and always call ``on_close(client)`` and unregister, however the peer goes.

        ``on_open(client)`` (async) may refuse the connection by closing it and returning False.
        """
        if not self._connect_allowed(request, limits):
            log.warning("websocket connection from %s refused: over %d connections in %.0f s",
                        request.remote, limits.max_connects, limits.connect_window_s)
            return web.Response(status=429, text="Too many connection attempts")
        # Counting pings and pongs as messages needs them in hand: answer pings ourselves then.
        count_control = limits.max_incoming_per_s > 0
        ws = web.WebSocketResponse(heartbeat=ping_interval_s, autoping=not count_control)
        await ws.prepare(request)
        client = WsClient(ws, request, self.faults)
        self.add(client)
        window, count = int(time.monotonic()), 0
        cutoff = (asyncio.get_running_loop().call_later(limits.max_lifetime_s, self._limit_drop, client,
                                                        "connection lifetime over")
                  if limits.max_lifetime_s else None)
        try:
            if on_open is None or await on_open(client):
                async for msg in ws:
                    if count_control:
                        now = time.monotonic()
                        if int(now) != window:
                            window, count = int(now), 0
                        count += 1
                        if count > limits.max_incoming_per_s:
                            self._limit_drop(client, f"more than {limits.max_incoming_per_s:g} messages per second")
                            break
                        if msg.type == WSMsgType.PING:
                            await ws.pong(msg.data)
                            continue
                    if msg.type == WSMsgType.TEXT:
                        on_text(client, msg.data)
                        await client.flush()
                    elif msg.type == WSMsgType.ERROR:
                        break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if cutoff is not None:
                cutoff.cancel()
            on_close(client)
            self.remove(client)
            await client.close()
        return ws

    def _limit_drop(self, client: WsClient, why: str) -> None:
        log.info("websocket from %s disconnected: %s", client.request.remote, why)
        self.limit_drops += 1
        client.drop()

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
