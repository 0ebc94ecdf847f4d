"""Both channels of one connector, speaking schema messages instead of bytes.

``ConnectorEndpoint`` (the connector) owns the broadcast writer and the request reader;
``BotEndpoint`` (a bot or the collector) attaches a broadcast reader and a request writer whose
sender id is its bot id. Malformed payloads are logged and counted, never raised into the
caller's loop: one bad message must not take a bot or the connector down.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from hftctl.ipc import schema
from hftctl.ipc.broadcast import BroadcastReader, BroadcastWriter
from hftctl.ipc.request import RequestReader, RequestWriter
from hftctl.ipc.ring import Closeable, Overrun, WriterGone

log = logging.getLogger(__name__)


class ConnectorEndpoint(Closeable):
    """Connector side: publish events to bots, receive their requests."""

    def __init__(self, events: BroadcastWriter, requests: RequestReader) -> None:
        self.name = events.name
        self.events = events
        self.requests = requests
        self.bad_messages = 0
        # Called with (sender, payload, error) for each request that fails to decode, so the
        # connector can answer it (schema.request_ref) instead of leaving the bot waiting.
        self.on_malformed: Callable[[int, bytes, schema.SchemaError], None] | None = None

    @classmethod
    def create(cls, name: str, capacity: int = 8 << 20, request_capacity: int = 2 << 20,
               spin_us: float | None = None) -> "ConnectorEndpoint":
        """Create both channels; ``spin_us`` is how ``recv`` waits (see RequestReader.create)."""
        events = BroadcastWriter.create(name, capacity=capacity)
        try:
            requests = RequestReader.create(name, capacity=request_capacity, spin_us=spin_us)
        except BaseException:
            events.close()
            raise
        return cls(events, requests)

    def publish(self, msg: schema.Message, dest: int = 0) -> int:
        """Send an event to one bot (``dest`` = its bot id) or all (0); returns the seq."""
        return self.events.publish(schema.encode(msg), dest)

    def recv(self, timeout: float | None = 0.0) -> tuple[int, schema.Message] | Overrun | None:
        """Next request as ``(sender bot id, message)``; Overrun if damaged records were skipped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            r = self.requests.recv(left) if left != 0.0 else self.requests.poll()
            if r is None or isinstance(r, Overrun):
                return r
            try:
                return r.sender, schema.decode(r.payload)
            except schema.SchemaError as e:
                self.bad_messages += 1
                log.warning("connector %r: malformed request from bot %d skipped: %s", self.name, r.sender, e)
                if self.on_malformed is not None:
                    self.on_malformed(r.sender, r.payload, e)

    def heartbeat(self) -> None:
        """Stamp both channels; call at least every 0.5 s so bots can tell the connector is alive."""
        self.events.heartbeat()
        self.requests.heartbeat()

    def gone_bots(self) -> list[int]:
        """Bot ids whose broadcast reader died or detached since the last call (cancel their orders)."""
        return self.events.reap()

    def close(self) -> None:
        try:
            self.events.close()
        finally:
            self.requests.close()


class BotEndpoint(Closeable):
    """Bot side: receive events addressed to this bot (or all), send requests."""

    def __init__(self, events: BroadcastReader, requests: RequestWriter, bot_name: str) -> None:
        self.name = events.name
        self.bot_name = bot_name
        self.events = events
        self.requests = requests
        self.bad_messages = 0

    @property
    def bot_id(self) -> int:
        return self.events.bot_id

    @classmethod
    def attach(cls, name: str, bot_name: str = "bot", timeout: float = 5.0, spin_us: float | None = None,
               hello: bool = True) -> "BotEndpoint":
        """Attach to connector NAME; ``spin_us`` is how ``recv`` waits (see BroadcastReader.attach)."""
        events = BroadcastReader.attach(name, timeout=timeout, spin_us=spin_us)
        try:
            requests = RequestWriter.attach(name, sender=events.bot_id, timeout=timeout)
        except BaseException:
            events.close()
            raise
        ep = cls(events, requests, bot_name)
        if hello:
            ep.send(schema.Hello(ep.bot_id, os.getpid(), bot_name))
        return ep

    def send(self, msg: schema.Message) -> int:
        return self.requests.send(schema.encode(msg))

    def recv(self, timeout: float | None = 0.0) -> schema.Message | Overrun | WriterGone | None:
        """Next event (decoded), Overrun (ask for a snapshot), WriterGone (call ``reattach``) or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            r = self.events.recv(left) if left != 0.0 else self.events.poll()
            if r is None or isinstance(r, (Overrun, WriterGone)):
                return r
            try:
                return schema.decode(r.payload)
            except schema.SchemaError as e:
                self.bad_messages += 1
                log.warning("bot %d: malformed event seq %d skipped: %s", self.bot_id, r.seq, e)

    def reattach(self, timeout: float = 5.0) -> bool:
        """After WriterGone: join the restarted connector (same bot id if free) and say Hello."""
        if not self.events.reattach(timeout):
            return False
        old = self.requests
        try:
            self.requests = RequestWriter.attach(self.name, sender=self.events.bot_id, timeout=timeout)
        except Exception as e:
            log.warning("bot %d: request channel not back yet: %s", self.bot_id, e)
            return False
        old.close()
        self.send(schema.Hello(self.bot_id, os.getpid(), self.bot_name))
        return True

    def close(self, bye: bool = True) -> None:
        try:
            if bye and self.requests.reader_alive():
                self.send(schema.Bye(self.bot_id))
        except Exception as e:  # closing must not fail because the connector is already gone
            log.debug("bot %d: no Bye sent: %s", self.bot_id, e)
        finally:
            self.requests.close()
            self.events.close()
