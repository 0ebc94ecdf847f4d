"""Bybit order book sync: a snapshot replaces the book, each delta's ``u`` must follow the last.

Bybit's v5 docs (websocket/public/orderbook.mdx): a ``snapshot`` message resets the local book
(Bybit re-sends one whenever it has a problem on its side), deltas update it, and a message
with ``u`` = 1 is a snapshot after a service restart, so it overwrites the book whatever its
``type`` says. Level 1 pushes snapshots only, and re-pushes an unchanged book every 3 s with
the same ``u``: a snapshot with the ``u`` already applied carries nothing new and is skipped.

Assumption, not documented: that ``u`` grows by exactly 1 per delta on one topic (the REST
orderbook's ``u`` is "always in sequence"; the websocket page does not say so). A delta whose
``u`` is not the previous ``u`` + 1 is taken as a lost message: the book is cleared (bots get
``DepthClear``) and the topic is re-subscribed, which makes Bybit send a fresh snapshot. If the
assumption were wrong the cost is a resubscription, never a wrong book. Pure state, no I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hftctl.ipc.schema import DepthClear, DepthDiff, DepthSnapshot, Level, Message

log = logging.getLogger(__name__)

RESTART_U = 1


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

    @property
    def replaces(self) -> bool:
        """Does this message replace the book (a snapshot, or u=1 after a restart)?"""
        return self.is_snapshot or self.update_id == RESTART_U


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
        if m.replaces:
            if self.synced and m.update_id == self.last_u and m.update_id != RESTART_U:
                return []                  # the same book pushed again (level 1, every 3 s)
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
