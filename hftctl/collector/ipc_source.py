"""--ipc mode: record the RawMessage events a running connector publishes.

The collector is one more reader of the connector's broadcast channel: it says Hello, asks for
raw messages with SubscribeRaw (one per symbol), and writes each RawMessage's bytes verbatim with
the connector's receive time, so the recording holds exactly what the bots were fed. Blocking
ring reads run in a worker thread; files are only touched from the event loop.

Losses are marked in the file, never hidden: a lapped reader (Overrun) and a connector that died
or restarted each write a gap mark, and after either the collector asks for fresh snapshots. A
symbol the connector reports it cannot serve (an Error naming it) stops the collector.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from hftctl import exchanges
from hftctl.collector.protocol import CollectorProtocol
from hftctl.collector.sequence import DepthSequence
from hftctl.collector.stats import CollectStats
from hftctl.collector.writer import RecordingWriter
from hftctl.errors import HftctlError
from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import BotEndpoint
from hftctl.ipc.ring import Overrun, Received, WriterGone

log = logging.getLogger(__name__)

BATCH = 4096            # messages taken from the ring per thread hop
WAIT_S = 0.2            # longest blocking read, so flushes and signals are never held up
HEARTBEAT_S = 1.0
PACE_S = 0.02
ATTACH_TIMEOUT_S = 5.0
# msgpack array header + tag of every encoded RawMessage (the schema's wire form: [tag, *fields]);
# an Error may leave out its trailing optional req_id and symbol, so its header varies
_RAW_PREFIX = s.encode(s.RawMessage("", "", "", 0, b""))[:2]
_ERROR_PREFIXES = {bytes([0x90 | (1 + n), s.Error.TAG]) for n in (2, 3, 4)}


class IpcSource:
    def __init__(self, name: str, symbols: list[str], writer: RecordingWriter, stats: CollectStats) -> None:
        self.name = name
        self.symbols = [x.upper() for x in symbols]
        self._wanted = set(self.symbols)
        self.writer = writer
        self.stats = stats
        self.exchange: str | None = None   # learnt from the first RawMessage (for gap marks)
        self.protocol: CollectorProtocol | None = None
        self._ep: BotEndpoint | None = None
        self._stopping = False
        self._last_ts = 0
        self._seq: DepthSequence | None = None
        stats.source = f"connector {name!r}"

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        # A connector that is not running: one-line error at start.
        # spin_us=0: park at once. A recorder batches (PACE_S) and needs no µs latency; spinning
        # would only take CPU from the connector and the bots.
        self._ep = BotEndpoint.attach(self.name, "collect", timeout=ATTACH_TIMEOUT_S, spin_us=0.0)
        self._subscribe()
        last_beat = 0.0
        loop = asyncio.get_running_loop()
        pending: asyncio.Future | None = None
        try:
            while True:
                pending = loop.run_in_executor(None, self._read_batch)
                batch = await asyncio.shield(pending)
                if len(batch) < BATCH:
                    # A recorder needs no microsecond latency: letting messages pile up in the
                    # ring for a few ms turns thousands of wake-ups and thread hops a second into
                    # a few dozen batches (the ring holds seconds of data).
                    await asyncio.sleep(PACE_S)
                for item in batch:
                    if isinstance(item, s.RawMessage):
                        self._on_raw(item)
                    elif isinstance(item, s.Error):
                        self._on_error(item)
                    elif isinstance(item, Overrun):
                        log.warning("lost %d messages from connector %r (%s)", item.lost, self.name, item.reason)
                        self._mark_gaps("overrun")
                        self._ask_snapshots()
                    elif isinstance(item, WriterGone):
                        log.warning("connector %r gone: %s; waiting for it to come back", self.name, item.reason)
                        self._mark_gaps("connector-gone")
                        self.stats.state = f"connector gone ({item.reason})"
                        pending = loop.run_in_executor(None, self._wait_reattach)
                        await asyncio.shield(pending)
                        self.stats.reconnects += 1
                        log.info("connector %r is back", self.name)
                        self._subscribe()
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_S:
                    last_beat = now
                    self._send(s.BotHeartbeat(self._ep.bot_id, time.time_ns()))
        finally:
            self._stopping = True
            if pending is not None and not pending.done():
                # the worker thread is inside recv(): let it return before the ring is unmapped
                await asyncio.wait({pending}, timeout=5)
            self._ep.close()

    def _subscribe(self) -> None:
        for sym in self.symbols:
            self._send(s.SubscribeRaw(self._ep.bot_id, sym))
        self._ask_snapshots()
        self.stats.state = f"attached as bot {self._ep.bot_id}"
        log.info("attached to connector %r as bot %d; raw messages of %s", self.name, self._ep.bot_id,
                 ", ".join(self.symbols))

    def _wait_reattach(self) -> None:
        """Worker thread: retry in short steps so a stop request is noticed between them."""
        while not self._stopping and not self._ep.reattach(timeout=WAIT_S):
            pass

    # -- ring ---------------------------------------------------------------------------------
    def _read_batch(self) -> list:
        """Worker thread: block briefly for the first item, then take whatever else is ready.

        The connector's channel mostly carries typed events for bots; only RawMessage payloads
        are decoded (told apart by their first two bytes), which halves the collector's CPU."""
        out: list = []
        for item in self._ep.events.recv_many(timeout=WAIT_S, max_n=BATCH):
            if type(item) is not Received:
                out.append(item)  # Overrun / WriterGone
            elif item.payload[:2] == _RAW_PREFIX or item.payload[:2] in _ERROR_PREFIXES:
                try:
                    out.append(s.decode(item.payload))
                except s.SchemaError as e:
                    self.stats.malformed += 1
                    log.warning("skipping a malformed raw message from connector %r: %s", self.name, e)
        return out

    def _send(self, msg: s.Message) -> None:
        try:
            self._ep.send(msg)
        except HftctlError as e:
            # The connector is stuck or gone; the broadcast side notices and reattaches.
            log.warning("could not send %s to connector %r: %s", type(msg).__name__, self.name, e)

    # -- messages -----------------------------------------------------------------------------
    def _on_raw(self, msg: s.RawMessage) -> None:
        if msg.symbol.upper() not in self._wanted:
            return
        if self.exchange != msg.exchange:
            d = exchanges.DESCRIPTORS.get(msg.exchange)
            self.exchange, self.protocol = msg.exchange, d.collector() if d else None
            self._seq = DepthSequence(self.protocol) if self.protocol else None
        raw = msg.raw
        if b"\n" in raw:  # a line must stay a line
            self.stats.malformed += 1
            log.warning("raw message with a newline from connector %r; newlines replaced", self.name)
            raw = raw.replace(b"\r\n", b" ").replace(b"\n", b" ")
        self._last_ts = msg.local_ts
        protocol = self.protocol
        if protocol is not None and protocol.is_depth_stream(msg.stream):
            self._check_sequence(msg, raw)
        self.writer.write(msg.symbol, msg.local_ts, raw)
        if protocol is not None and protocol.is_snapshot_line(raw):
            self.stats.snapshots += 1
        else:
            self.stats.count(msg.symbol.lower())

    def _on_error(self, err: s.Error) -> None:
        """The connector cannot serve a symbol we record (the exchange refused it): stop with one
        line rather than run on recording nothing for it."""
        if err.symbol is not None and err.symbol.upper() in self._wanted:
            raise HftctlError(f"connector {self.name!r} cannot provide {err.symbol.upper()}: {err.message} "
                              f"(code {err.code})")
        log.warning("connector %r: %s", self.name, err.message)

    def _check_sequence(self, msg: s.RawMessage, raw: bytes) -> None:
        """The connector resyncs its own book after a gap (and its fresh snapshot reaches us as a
        raw message), but the hole in the recording still has to be marked."""
        try:
            pm = self.protocol.read(orjson.loads(raw))
        except orjson.JSONDecodeError:
            return
        if pm is None or pm.depth is None:
            return
        if self._seq is not None and self._seq.check(pm.symbol, pm.depth) == DepthSequence.GAP:
            log.warning("%s: depth sequence gap in the connector's stream", pm.symbol)
            self._mark_gap(msg.symbol, "sequence")

    def _mark_gaps(self, reason: str) -> None:
        if self._seq is not None:
            self._seq.reset()  # after a hole the next diff starts a new sequence
        for sym in self.symbols:
            self._mark_gap(sym, reason)

    def _mark_gap(self, symbol: str, reason: str) -> None:
        if self.protocol is None:
            return  # nothing recorded yet (exchange unknown): there is no hole to mark
        # stamped like the last recorded message: the connector's clock, not ours
        ts = self._last_ts
        self.writer.write(symbol, ts, self.protocol.gap_marker(symbol, reason, ts // 1_000_000))
        self.stats.gaps += 1

    def _ask_snapshots(self) -> None:
        for sym in self.symbols:
            self._send(s.SnapshotRequest(self._ep.bot_id, sym))
