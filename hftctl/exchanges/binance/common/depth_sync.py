"""Local order book sync for Binance (USD-M and spot), per "How to manage a local order book correctly".

1. buffer diff events from the stream; 2. fetch a REST snapshot; 3. drop events with
``u < lastUpdateId``; 4. the first applied event must have ``U <= lastUpdateId <= u``;
5. afterwards each event's ``pu`` must equal the previous event's ``u``, otherwise start again
from step 2. This module is pure state (no I/O) so it can be checked on real recordings; the
client fetches snapshots when :attr:`DepthSync.needs_snapshot` says so.

Output is schema messages: a ``DepthSnapshot`` followed by ``DepthDiff``s, and a
``DepthClear`` whenever sync is lost, so bots never apply a diff to a book with a hole in it.
"""

from __future__ import annotations

import logging

from dataclasses import dataclass

from hftctl.ipc.schema import DepthClear, DepthDiff, DepthSnapshot, Level, Message

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DepthUpdate:
    """One diff event: U first update id, u final update id, pu the previous event's u (spot,
    which sends no pu, gives U - 1: the previous event must end right before this one starts)."""

    first_id: int        # U
    final_id: int        # u
    prev_final_id: int   # pu
    exch_ts: int         # ns
    bids: list[Level]
    asks: list[Level]


@dataclass(slots=True)
class DepthSnapshotBody:
    """A REST depth snapshot."""

    last_update_id: int
    exch_ts: int         # ns (0 where the exchange sends no time: spot)
    bids: list[Level]
    asks: list[Level]

MAX_BUFFER = 20_000   # events kept while waiting for a snapshot; beyond that, start over


class DepthSync:
    """One symbol's sync state: ``syncing`` (buffering, no book) or ``synced``."""

    def __init__(self, symbol: str, first_offset: int = 0) -> None:
        self.symbol = symbol
        # USD-M: the first event has U <= lastUpdateId <= u (offset 0); spot: U <= lastUpdateId+1
        # <= u and events with u <= lastUpdateId are dropped (offset 1).
        self.first_offset = first_offset
        self.synced = False
        self.last_final_id: int | None = None
        self.buffer: list[DepthUpdate] = []
        self.needs_snapshot = True    # client: fetch one and call on_snapshot
        self.gaps = 0
        self.resyncs = 0
        self._pending: tuple[DepthSnapshotBody, int] | None = None
        self._quiet_lid: int | None = None   # synced from a snapshot no event has bridged yet

    @property
    def state(self) -> str:
        return "synced" if self.synced else "syncing"

    def reset(self, reason: str) -> list[Message]:
        """Forget the book (gap, reconnect): tell bots to clear, then wait for a new snapshot."""
        was_synced = self.synced
        self.synced = False
        self.last_final_id = None
        self.buffer.clear()
        self._pending = None
        self._quiet_lid = None
        self.needs_snapshot = True
        self.resyncs += 1
        return [DepthClear(self.symbol, reason)] if was_synced else []

    def on_update(self, ev: DepthUpdate, local_ts: int) -> list[Message]:
        if not self.synced:
            if len(self.buffer) >= MAX_BUFFER:
                self.buffer.clear()
                self._pending = None
                self.needs_snapshot = True
            self.buffer.append(ev)
            if self._pending is not None:
                snap, ts = self._pending
                return self.on_snapshot(snap, ts)
            return []
        if self._quiet_lid is not None:
            lid = self._quiet_lid
            if ev.final_id < lid + self.first_offset:
                return []           # older than the snapshot we already sent
            if ev.prev_final_id <= lid:
                # The first event after a quiet snapshot: it continues from at or before the
                # snapshot's update id, so nothing between them was missed.
                self._quiet_lid = None
                self.last_final_id = ev.final_id
                return [DepthDiff(self.symbol, ev.exch_ts, local_ts, ev.bids, ev.asks)]
        if ev.prev_final_id != self.last_final_id:
            if ev.final_id <= (self.last_final_id or 0):
                return []   # delivered again after a reconnect: already applied
            self.gaps += 1
            log.warning("%s depth gap: pu=%d but previous u=%s; resynchronising",
                        self.symbol, ev.prev_final_id, self.last_final_id)
            out = self.reset(f"sequence gap: pu={ev.prev_final_id} expected {self.last_final_id}")
            self.buffer.append(ev)
            return out
        self.last_final_id = ev.final_id
        return [DepthDiff(self.symbol, ev.exch_ts, local_ts, ev.bids, ev.asks)]

    @property
    def waiting_for_bridge(self) -> bool:
        return self._pending is not None and not self.buffer

    def accept_quiet_snapshot(self) -> list[Message]:
        """No event has arrived since the held snapshot (a quiet market): it is the book.

        Binance's procedure assumes a busy stream; on a quiet symbol (or a finished replay)
        the bridging event may never come. The next event is then checked against the
        snapshot's update id instead of a previous event's ``u``.
        """
        if self._pending is None or self.buffer or self.synced:
            return []
        snap, local_ts = self._pending
        self._pending = None
        self.synced = True
        self.needs_snapshot = False
        self.last_final_id = snap.last_update_id
        self._quiet_lid = snap.last_update_id
        return [DepthSnapshot(self.symbol, snap.exch_ts, local_ts, snap.bids, snap.asks)]

    def on_snapshot(self, snap: DepthSnapshotBody, local_ts: int) -> list[Message]:
        """Bridge the snapshot to the buffered stream; [] while the bridge is not there yet."""
        lid = snap.last_update_id + self.first_offset
        self.needs_snapshot = False
        self._pending = None
        self.buffer = [e for e in self.buffer if e.final_id >= lid]
        if not self.buffer:
            self._pending = (snap, local_ts)   # wait for the stream to reach the snapshot
            return []
        first = self.buffer[0]
        if first.first_id > lid:
            # The stream is already past the snapshot (events in between are lost): refetch.
            log.info("%s snapshot %d older than first buffered event U=%d; refetching",
                     self.symbol, snap.last_update_id, first.first_id)
            self.needs_snapshot = True
            return []
        out: list[Message] = [DepthSnapshot(self.symbol, snap.exch_ts, local_ts, snap.bids, snap.asks)]
        buffered, self.buffer = self.buffer, []
        self.synced = True
        self.last_final_id = buffered[0].prev_final_id   # accept the bridging event as in sequence
        for i, ev in enumerate(buffered):
            out.extend(self.on_update(ev, local_ts))
            if not self.synced:
                # A gap inside the buffer voids the snapshot just sent (DepthClear is in out).
                self.buffer.extend(buffered[i + 1:])
                return out
        return out
