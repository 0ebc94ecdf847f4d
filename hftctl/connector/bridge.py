"""The connector's side of the shared-memory channels, fitted to an asyncio loop.

Requests are read by one background thread that blocks on the channel and hands each decoded
message to the loop with ``call_soon_threadsafe``: the loop never blocks on shared memory, and a
request is acted on within one loop iteration of arriving. Events are published from the loop
thread only (the broadcast channel has a single writer).

A request the bridge cannot pass on (undecodable, not a request, sent in another bot's name)
still reaches the loop, as ``refused(sender, type name, req_id, reason)``: the sender is told,
with the request's ``req_id`` when it can be read, instead of waiting for an answer forever.

Shutdown: the reader thread is the only user of the request channel and closes it itself when
it stops, so the channel is never unmapped under a running read. Requests it had already
queued on the loop, and anything published after ``close()``, are dropped: the channels are
gone and no bot can receive an answer any more.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import ConnectorEndpoint
from hftctl.ipc.ring import Overrun

log = logging.getLogger(__name__)

_REQUEST_TYPES = frozenset(s.REQUESTS)
JOIN_TIMEOUT_S = 5.0     # the reader's waits are 0.2 s long: it stops well within this
Refused = Callable[[int, str, "int | None", str], None]     # (sender, request type, req_id, reason)


class RingBridge:
    def __init__(self, name: str) -> None:
        self.name = name
        self.endpoint = ConnectorEndpoint.create(name)
        self._max_payload = self.endpoint.events.max_payload
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False

    def start(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None],
              refused: Refused) -> None:
        def malformed(sender: int, payload: bytes, e: s.SchemaError) -> None:
            kind, req_id = s.request_ref(payload)
            self._call(loop, refused, sender, kind, req_id, f"malformed request: {e}")

        self.endpoint.on_malformed = malformed
        self._thread = threading.Thread(target=self._read_requests, args=(loop, handler, refused),
                                        name=f"{self.name}-requests", daemon=True)
        self._thread.start()

    def _call(self, loop: asyncio.AbstractEventLoop, fn: Callable, *args) -> bool:
        """Hand ``fn(*args)`` to the loop thread; False once the loop is closed (shutting down)."""
        try:
            loop.call_soon_threadsafe(self._deliver, fn, args)
            return True
        except RuntimeError:
            return False

    def _read_requests(self, loop: asyncio.AbstractEventLoop, handler: Callable[[s.Message], None],
                       refused: Refused) -> None:
        recv = self.endpoint.recv
        try:
            while not self._stop.is_set():
                r = recv(timeout=0.2)     # None also when a signal landed on this thread
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
        finally:
            self.endpoint.requests.close()

    def _deliver(self, fn: Callable, args: tuple) -> None:
        """Loop thread: hand a request (or its refusal) over, unless the bridge closed since it
        was queued: the channels are gone and no answer can reach a bot any more."""
        if self._closed:
            log.debug("%s dropped: the channels are closed", getattr(fn, "__name__", fn))
            return
        fn(*args)

    def publish(self, msg: s.Message, dest: int = 0) -> None:
        if self._closed:
            log.debug("%s not sent: the channels are closed", type(msg).__name__)
            return
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
        """Stop reading, then remove both channels' shared memory (bots see the writer go last)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is None:
            self.endpoint.requests.close()
        else:
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.error("request reader thread did not stop within %.0fs; it closes its channel "
                          "when it does", JOIN_TIMEOUT_S)
        self.endpoint.events.close()
