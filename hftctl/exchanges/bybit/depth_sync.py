"""Bybit order book sync: a snapshot replaces the book, each delta's ``u`` must follow the last.

Bybit's v5 docs: a ``snapshot`` message (also sent again after a service restart, with u=1)
resets the local book; deltas update it. A delta whose ``u`` is not the previous ``u`` + 1
means a message was lost: the book is cleared (bots get ``DepthClear``) and the topic is
re-subscribed, which makes Bybit send a fresh snapshot. Pure state, no I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hftctl.ipc.schema import DepthClear, DepthDiff, DepthSnapshot, Level, Message

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BookUpdate:
    """``orderbook.{depth}.{symbol}``: a snapshot (replace) or a delta; ``u`` counts updates."""

    symbol: str
    is_snapshot: bool
    update_id: int
    seq: int
    exch_ts: int
    bids: list[Level]
    asks: list[Level]


class BybitBookSync:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.synced = False
        self.last_u: int | None = None
        self.needs_resubscribe = False
        self.gaps = 0
        self.resyncs = 0

    @property
    def state(self) -> str:
        return "synced" if self.synced else "syncing"

    def reset(self, reason: str) -> list[Message]:
        was = self.synced
        self.synced = False
        self.last_u = None
        self.resyncs += 1
        return [DepthClear(self.symbol, reason)] if was else []

    def on_message(self, m: BookUpdate, local_ts: int) -> list[Message]:
        if m.is_snapshot:
            self.synced = True
            self.needs_resubscribe = False
            self.last_u = m.update_id
            return [DepthSnapshot(self.symbol, m.exch_ts, local_ts, m.bids, m.asks)]
        if not self.synced:
            return []                      # waiting for the snapshot
        if m.update_id != (self.last_u or 0) + 1:
            if m.update_id <= (self.last_u or 0):
                return []                  # already applied
            self.gaps += 1
            log.warning("%s orderbook gap: u=%d after %s; resubscribing", self.symbol, m.update_id, self.last_u)
            self.needs_resubscribe = True
            return self.reset(f"sequence gap: u={m.update_id} expected {(self.last_u or 0) + 1}")
        self.last_u = m.update_id
        return [DepthDiff(self.symbol, m.exch_ts, local_ts, m.bids, m.asks)]
