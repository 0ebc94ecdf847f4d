"""The connector's side of the shared-memory channels, fitted to an asyncio loop.

Requests are read by one background thread that blocks on the channel's semaphore and hands
each decoded message to the loop with ``call_soon_threadsafe``: the loop never blocks on shared
memory, and a request is acted on within one loop iteration of arriving. Events are published
from the loop thread only (the broadcast channel has a single writer).

A request the bridge cannot pass on (undecodable, not a request, sent in another bot's name)
still reaches the loop, as ``refused(sender, type name, req_id, reason)``: the sender is told,
with the request's ``req_id`` when it can be read, instead of waiting for an answer forever.
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
Refused = Callable[[int, str, "int | None", str], None]     # (sender, request type, req_id, reason)


class RingBridge:
    def __init__(self, name: str) -> None:
        self.name = name
        self.endpoint = ConnectorEndpoint.create(name)
        self._max_payload = self.endpoint.events.max_payload
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None],
              refused: Refused) -> None:
        def malformed(sender: int, payload: bytes, e: s.SchemaError) -> None:
            kind, req_id = s.request_ref(payload)
            self._call(loop, refused, sender, kind, req_id, f"malformed request: {e}")

        self.endpoint.on_malformed = malformed
        self._thread = threading.Thread(target=self._read_requests, args=(loop, handler, refused),
                                        name=f"{self.name}-requests", daemon=True)
        self._thread.start()

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, fn: Callable, *args) -> bool:
        try:
            loop.call_soon_threadsafe(fn, *args)
            return True
        except RuntimeError:   # loop closed: we are shutting down
            return False

    def _read_requests(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None],
                       refused: Refused) -> None:
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
            kind = type(msg).__name__
            if type(msg) not in _REQUEST_TYPES:
                ok = self._call(loop, refused, sender, kind, None, f"{kind} is not a request")
            elif sender < 1 or msg.bot_id != sender:
                # A bot may only speak for itself: its sender id is its channel slot.
                ok = self._call(loop, refused, sender, kind, getattr(msg, "req_id", None),
                                f"{kind} for bot {msg.bot_id} sent by bot {sender}")
            else:
                ok = self._call(loop, handler, msg)
            if not ok:
                return

    def publish(self, msg: s.Message, dest: int = 0) -> None:
        if self._stop.is_set():
            return      # closed: a late event (a stream going down at exit) has nobody to reach
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
