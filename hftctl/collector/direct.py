"""Direct mode: the collector's own websocket connection and REST depth snapshots.

Follows hftbacktest's collector: every message written verbatim with its local receive time,
and a REST depth snapshot whenever the depth sequence cannot be trusted (first diff after
connecting, a U/u/pu gap) so a converter can always rebuild the book. The exchange's protocol
says which connections carry the streams (Binance USD-M: depth on one route, trades on
another); each has its own reconnect loop with exponential backoff, and its subscriptions are
paced under the exchange's message limit. A connection that carries depth marks a gap in the
file for every hole it leaves and asks for snapshots; one that carries only trades cannot
break a book. On top of that: optional periodic snapshots, and snapshot retries.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass

import aiohttp
import orjson

from hftctl.collector.protocol import CollectorProtocol, Connection
from hftctl.collector.sequence import DepthSequence
from hftctl.collector.stats import CollectStats
from hftctl.collector.writer import RecordingWriter
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import Venue
from hftctl.exchanges.ws_pacing import MessagePacer

log = logging.getLogger(__name__)

# hftbacktest throttles snapshots to 100/min: Binance allows 2400 weight/min and a 1000-level
# snapshot weighs 20.
SNAPSHOTS_PER_MINUTE = 100
SNAPSHOT_RETRY_MAX_S = 30.0


@dataclass
class DirectConfig:
    exchange: str
    protocol: CollectorProtocol
    symbols: list[str]
    venue: Venue                     # where the public streams and REST snapshots are
    snapshot_interval: float = 0.0   # 0: only at start, after reconnects and gaps (hftbacktest)
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    heartbeat: float = 30.0


class DirectSource:
    def __init__(self, cfg: DirectConfig, writer: RecordingWriter, stats: CollectStats) -> None:
        self.cfg = cfg
        self.writer = writer
        self.stats = stats
        self.protocol = cfg.protocol
        self.rest_snapshots = cfg.protocol.takes_rest_snapshots
        self._seq = DepthSequence(cfg.protocol)
        self._inflight: dict[str, asyncio.Task] = {}
        self._snapshot_times: collections.deque[float] = collections.deque()
        self._http: aiohttp.ClientSession | None = None
        self.symbols = [s.upper() for s in cfg.symbols]
        self._states: dict[int, str] = {}       # connection index -> state
        self._received: dict[int, int] = {}     # connection index -> messages since it connected
        stats.source = f"{cfg.exchange} {cfg.venue.ws['public']}"

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Record until cancelled; reconnects forever with backoff once the start checks passed."""
        timeout = aiohttp.ClientTimeout(total=15, sock_connect=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self._http = http
            try:
                await self._check_symbols()
                periodic = (asyncio.create_task(self._periodic_snapshots())
                            if self.rest_snapshots and self.cfg.snapshot_interval > 0 else None)
                try:
                    await self._keep_connected()
                finally:
                    if periodic:
                        periodic.cancel()
            finally:
                for t in list(self._inflight.values()):
                    t.cancel()
                await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def _check_symbols(self) -> None:
        """Fail fast, with one line, on an unreachable REST endpoint or an unknown symbol."""
        if not self.rest_snapshots:
            return
        for sym in self.symbols:
            url = self.protocol.snapshot_url(self.cfg.venue, sym)
            try:
                async with self._http.get(url) as resp:
                    body = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
                raise HftctlError(f"cannot reach {self.cfg.venue.rest}: {e or type(e).__name__}") from None
            if status in (400, 404):
                raise HftctlError(f"{self.cfg.exchange} rejected symbol {sym}: HTTP {status} {body[:200].decode(errors='replace')}")
            if status != 200:
                # rate limits (429/418) and server errors are not the user's fault: record anyway
                log.warning("could not check %s (HTTP %d); recording anyway", sym, status)

    async def _keep_connected(self) -> None:
        conns = self.protocol.connections(self.cfg.venue, self.symbols)
        self._states = dict.fromkeys(range(len(conns)), "connecting")
        await asyncio.gather(*(self._keep_one(i, c) for i, c in enumerate(conns)))

    def _state(self, i: int, state: str) -> None:
        """One connection's state; the collector's is the first that is not connected."""
        self._states[i] = state
        self.stats.state = next((v for v in self._states.values() if v != "connected"), "connected")

    async def _keep_one(self, i: int, conn: Connection) -> None:
        backoff = self.cfg.backoff_initial
        depth = self.symbols if conn.depth_symbols is None else [s.upper() for s in conn.depth_symbols]
        while True:
            self._state(i, "connecting")
            self._received[i] = 0
            try:
                await self._session(i, conn, depth)
                log.warning("websocket %s closed by the server after %d messages", conn.url, self._received[i])
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
                log.warning("websocket %s error: %s", conn.url, e or type(e).__name__)
            if self._received[i]:
                # The connection that just dropped was carrying data: whatever the exchange sent
                # until we are back is lost. One mark per drop, not per failed retry.
                self._mark_gaps("reconnect", depth)
                backoff = self.cfg.backoff_initial
            self.stats.reconnects += 1
            self._state(i, f"reconnecting in {backoff:.1f}s")
            log.info("reconnecting to %s in %.1f s", conn.url, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.cfg.backoff_max)

    async def _session(self, i: int, conn: Connection, depth: list[str]) -> None:
        async with self._http.ws_connect(conn.url, heartbeat=self.cfg.heartbeat, max_msg_size=0,
                                         timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            log.info("connected to %s", conn.url)
            self._state(i, "connected")
            # A new connection has no sequence history: the first diff per symbol asks for a snapshot.
            self._seq.reset(tuple(depth))
            if conn.messages:
                # Subscriptions go out from a task of their own, paced, while frames are read.
                sender = asyncio.create_task(self._subscribe(ws, conn))
            try:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        self._received[i] += 1
                        self._on_text(time.time_ns(), msg.data)
                        if not self._received[i] & 255:
                            # aiohttp hands over queued frames without suspending; yield now and
                            # then so the flush timer runs during a backlog.
                            await asyncio.sleep(0)
                    elif msg.type == aiohttp.WSMsgType.ERROR:
                        raise aiohttp.ClientError(str(ws.exception()))
            finally:
                if conn.messages:
                    sender.cancel()
                    await asyncio.gather(sender, return_exceptions=True)

    @staticmethod
    async def _subscribe(ws: aiohttp.ClientWebSocketResponse, conn: Connection) -> None:
        pacer = MessagePacer(conn.max_messages_per_s)
        for message in conn.messages:
            await pacer.wait()
            await ws.send_str(message)

    # -- messages -----------------------------------------------------------------------------
    def _on_text(self, ts: int, text: str) -> None:
        raw = text.encode()
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.stats.malformed += 1
            log.warning("dropping a message that is not JSON: %.120s", text)
            return
        pm = self.protocol.read(obj)
        if pm is None:
            refused = self.protocol.subscription_error(obj)
            if refused:
                raise HftctlError(f"{self.cfg.exchange} refused the subscription: {refused}")
            return  # subscription acks, pongs
        if pm.bad_depth:
            self.stats.malformed += 1
            log.warning("depth diff without sequence ids, recorded as is: %.120s", text)
        if b"\n" in raw:  # a line must stay a line
            raw = orjson.dumps(obj)
        if pm.depth is not None and self.rest_snapshots:
            prev = self._seq.previous(pm.symbol)
            verdict = self._seq.check(pm.symbol, pm.depth)
            if verdict == DepthSequence.FIRST:
                self.request_snapshot(pm.symbol, "first diff")
            elif verdict == DepthSequence.GAP:
                log.warning("%s: depth sequence gap (previous u=%d, this U=%d pu=%s); taking a snapshot",
                            pm.symbol, prev, pm.depth.first, pm.depth.prev)
                self.mark_gap(pm.symbol, "sequence", ts)
                self.request_snapshot(pm.symbol, "sequence gap")
        self.writer.write(pm.symbol, ts, raw)
        self.stats.count(pm.symbol.lower())

    def mark_gap(self, symbol: str, reason: str, ts: int | None = None) -> None:
        ts = ts or time.time_ns()
        self.writer.write(symbol, ts, self.protocol.gap_marker(symbol, reason, ts // 1_000_000))
        self.stats.gaps += 1

    def _mark_gaps(self, reason: str, symbols: list[str]) -> None:
        ts = time.time_ns()
        for sym in symbols:
            self.mark_gap(sym, reason, ts)

    # -- snapshots ----------------------------------------------------------------------------
    def request_snapshot(self, symbol: str, reason: str) -> None:
        if not self.rest_snapshots or symbol in self._inflight:
            return  # one in flight per symbol is enough: it is taken after this request anyway
        task = asyncio.create_task(self._snapshot(symbol, reason))
        self._inflight[symbol] = task
        task.add_done_callback(lambda _t, s=symbol: self._inflight.pop(s, None))

    async def _throttle(self) -> None:
        """Wait for a slot under SNAPSHOTS_PER_MINUTE (a sliding minute)."""
        while True:
            now = time.monotonic()
            while self._snapshot_times and now - self._snapshot_times[0] > 60:
                self._snapshot_times.popleft()
            if len(self._snapshot_times) < SNAPSHOTS_PER_MINUTE:
                self._snapshot_times.append(now)
                return
            await asyncio.sleep(60 - (now - self._snapshot_times[0]) + 0.01)

    async def _snapshot(self, symbol: str, reason: str) -> None:
        """Retry until a snapshot is recorded: without one the recorded diffs cannot be turned
        into a book, so giving up would silently waste the recording."""
        url = self.protocol.snapshot_url(self.cfg.venue, symbol)
        delay = 0.25
        attempt = 0
        while True:
            attempt += 1
            await self._throttle()
            problem, wait = "", delay
            try:
                async with self._http.get(url) as resp:
                    body = await resp.read()
                    ts = time.time_ns()
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
                if status == 200:
                    obj = orjson.loads(body)
                    if self.protocol.is_snapshot(obj):
                        body = body.strip()
                        if b"\n" in body:
                            body = orjson.dumps(obj)
                        self.writer.write(symbol, ts, body)
                        self.stats.snapshots += 1
                        log.info("%s: depth snapshot (%s)", symbol, reason)
                        return
                    problem = f"not a depth snapshot: {body[:120]!r}"
                else:
                    problem = f"HTTP {status}: {body[:120]!r}"
                    if status in (418, 429):  # rate limited: back off for real
                        wait = max(delay, float(retry_after) if (retry_after or "").isdigit() else 5.0)
            except orjson.JSONDecodeError:
                problem = f"not JSON: {body[:120]!r}"
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
                problem = str(e) or type(e).__name__
            if attempt <= 5 or attempt % 10 == 0:
                log.warning("%s: snapshot (%s) attempt %d failed: %s; retrying in %.1f s",
                            symbol, reason, attempt, problem, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, SNAPSHOT_RETRY_MAX_S)

    async def _periodic_snapshots(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.snapshot_interval)
            for sym in self.symbols:
                self.request_snapshot(sym, "periodic")
