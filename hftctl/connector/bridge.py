"""The connector's two shared-memory channels: events out (broadcast), requests in.

Requests are read by one background thread that blocks on the channel's semaphore and hands
each decoded message to the asyncio loop with ``call_soon_threadsafe``: the loop never blocks
on shared memory, and a request is acted on within one loop iteration of arriving.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from hftctl.ipc import ring as R
from hftctl.ipc import schema as s
from hftctl.ipc.broadcast import BroadcastWriter
from hftctl.ipc.request import RequestReader

log = logging.getLogger(__name__)


class RingBridge:
    def __init__(self, name: str) -> None:
        self.name = name
        self.events = BroadcastWriter.create(name)
        try:
            self.requests = RequestReader.create(name)
        except BaseException:
            self.events.close()
            raise
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.bad_requests = 0
        self.published = 0

    def start(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None]) -> None:
        self._thread = threading.Thread(target=self._read_requests, args=(loop, handler),
                                        name=f"{self.name}-requests", daemon=True)
        self._thread.start()

    def _read_requests(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None]) -> None:
        recv = self.requests.recv
        while not self._stop.is_set():
            r = recv(timeout=0.2)
            if r is None:
                continue
            if isinstance(r, R.Overrun):
                log.warning("request channel: %d request(s) lost (%s)", r.lost, r.reason)
                continue
            try:
                msg = s.decode(r.payload)
            except s.SchemaError as e:
                self.bad_requests += 1
                log.warning("malformed request from sender %d ignored: %s", r.sender, e)
                continue
            if type(msg) not in _REQUEST_TYPES:
                self.bad_requests += 1
                log.warning("sender %d sent an event type as request: %s", r.sender, type(msg).__name__)
                continue
            try:
                loop.call_soon_threadsafe(handler, msg)
            except RuntimeError:   # loop closed: we are shutting down
                return

    def publish(self, msg: s.Message, dest: int = 0) -> None:
        data = s.encode(msg)
        if len(data) > self.events.max_payload:
            log.error("%s of %d bytes exceeds the channel's max payload; not sent",
                      type(msg).__name__, len(data))
            return
        self.events.publish(data, dest)
        self.published += 1

    def heartbeat(self) -> None:
        self.events.heartbeat()
        self.requests.heartbeat()

    def reap(self) -> list[int]:
        """Bot ids whose reader went away (process died or closed)."""
        return self.events.reap()

    def close(self) -> None:
        """Stop reading and remove both channels' shared memory and semaphores."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.requests.close()
        self.events.close()


_REQUEST_TYPES = frozenset(s.REQUESTS)
