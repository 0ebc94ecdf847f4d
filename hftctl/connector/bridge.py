"""The connector's side of the shared-memory channels, fitted to an asyncio loop.

Requests are read by one background thread that blocks on the channel's semaphore and hands
each decoded message to the loop with ``call_soon_threadsafe``: the loop never blocks on shared
memory, and a request is acted on within one loop iteration of arriving. Events are published
from the loop thread only (the broadcast channel has a single writer).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import posix_ipc

from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import ConnectorEndpoint
from hftctl.ipc.ring import Overrun

log = logging.getLogger(__name__)

_REQUEST_TYPES = frozenset(s.REQUESTS)


class RingBridge:
    def __init__(self, name: str) -> None:
        self.name = name
        self.endpoint = ConnectorEndpoint.create(name)
        self._max_payload = self.endpoint.events.max_payload
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None]) -> None:
        self._thread = threading.Thread(target=self._read_requests, args=(loop, handler),
                                        name=f"{self.name}-requests", daemon=True)
        self._thread.start()

    def _read_requests(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None]) -> None:
        recv = self.endpoint.recv
        while not self._stop.is_set():
            try:
                r = recv(timeout=0.2)
            except posix_ipc.SignalError:
                continue    # SIGTERM/SIGINT may land on this thread: the loop handles them
            if r is None:
                continue
            if isinstance(r, Overrun):
                log.warning("request channel: %d request(s) lost (%s)", r.lost, r.reason)
                continue
            sender, msg = r
            if type(msg) not in _REQUEST_TYPES or (sender and getattr(msg, "bot_id", sender) != sender):
                # A bot may only speak for itself: its sender id is fixed by its channel slot.
                log.warning("request %s from bot %d refused", type(msg).__name__, sender)
                continue
            try:
                loop.call_soon_threadsafe(handler, msg)
            except RuntimeError:   # loop closed: we are shutting down
                return

    def publish(self, msg: s.Message, dest: int = 0) -> None:
        data = s.encode(msg)
        if len(data) > self._max_payload:
            log.error("%s of %d bytes exceeds the channel's max payload; not sent",
                      type(msg).__name__, len(data))
            return
        self.endpoint.events.publish(data, dest)

    def heartbeat(self) -> None:
        self.endpoint.heartbeat()

    def reap(self) -> list[int]:
        """Bot ids whose reader went away (process died or closed)."""
        return self.endpoint.gone_bots()

    def close(self) -> None:
        """Stop reading and remove both channels' shared memory and semaphores."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.endpoint.close()
