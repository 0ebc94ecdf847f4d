"""Replaying one recorded book, chunk by chunk: the best bid and ask after every depth message.

Prices become indices into a sorted price axis that grows as new prices appear, quantities live
in two arrays along it, and the replay itself (a sequential loop) runs in C when the accelerator
is built (``_fast.replay``) or in the Python twin below.

A snapshot empties the book and fills it again, then applies the diffs recorded *before* the
snapshot line that it does not contain yet (the exchange answered the snapshot request while those
diffs were already on their way: skipping them leaves levels that were removed in them standing,
and the book crosses). Diffs after the snapshot line that it already contains are skipped. Which
diffs a snapshot contains is the exchange's rule (``AuditReader.newer_than_snapshot``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hftctl.audit import accel
from hftctl.audit.reader import NO_ID, AuditReader, BookMessages

LOOKBACK = 4096          # diffs of earlier chunks kept for the snapshot that may follow them


@dataclass
class _Recent:
    """Diffs recently replayed: their last ids and levels (px, qty pairs, bids then asks)."""

    last: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_bid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_ask: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    def levels_of(self, keep: np.ndarray) -> np.ndarray:
        counts = 2 * (self.n_bid + self.n_ask)
        return self.values[np.repeat(keep, counts)]


def _sides(n_bid: np.ndarray, n_ask: np.ndarray) -> np.ndarray:
    """0 for each bid level and 1 for each ask level, message by message."""
    counts = np.empty(2 * len(n_bid), np.int64)
    counts[0::2] = n_bid
    counts[1::2] = n_ask
    return np.repeat(np.tile(np.array([0, 1], np.uint8), len(n_bid)), counts)


class BookReplay:
    """One book stream's state across chunks."""

    def __init__(self, reader: AuditReader) -> None:
        self.reader = reader
        self.prices = np.zeros(0, np.float64)
        self.bid = np.zeros(0, np.float64)
        self.ask = np.zeros(0, np.float64)
        self.best = np.full(2, -1, np.int64)
        self.snapshot_id: int | None = None
        self.recent = _Recent()

    def feed(self, msgs: BookMessages) -> tuple[np.ndarray, np.ndarray]:
        """Apply one chunk's messages of this book (line order); best bid and ask price after
        each (NaN where that side is empty)."""
        m = len(msgs.row)
        if not m:
            return np.zeros(0), np.zeros(0)
        applied, extra = self._plan(msgs)
        counts = np.where(applied, msgs.n_bid + msgs.n_ask, 0)
        level_msg = np.repeat(applied, msgs.n_bid + msgs.n_ask)
        px = msgs.values[0::2][level_msg]
        qty = msgs.values[1::2][level_msg]
        side = _sides(msgs.n_bid, msgs.n_ask)[level_msg]
        if extra:                       # snapshot + the diffs it does not contain yet
            ends = np.cumsum(counts)
            at, x_px, x_qty, x_side = [], [], [], []
            for k, (n_bid, n_ask, values) in extra.items():
                n = int(n_bid.sum() + n_ask.sum())
                at.append(np.full(n, ends[k], np.int64))
                x_px.append(values[0::2])
                x_qty.append(values[1::2])
                x_side.append(_sides(n_bid, n_ask))
                counts[k] += n
            at = np.concatenate(at)
            px = np.insert(px, at, np.concatenate(x_px))
            qty = np.insert(qty, at, np.concatenate(x_qty))
            side = np.insert(side, at, np.concatenate(x_side))
        idx = self._index(px)
        off = np.zeros(m + 1, np.int64)
        np.cumsum(counts, out=off[1:])
        clear = msgs.snapshot.astype(np.uint8)
        out_bid = np.empty(m, np.int64)
        out_ask = np.empty(m, np.int64)
        run = accel.fast.replay if accel.fast is not None else replay_py
        run(self.bid, self.ask, self.best, off, clear, np.ascontiguousarray(side, np.uint8), idx,
            np.ascontiguousarray(qty, np.float64), out_bid, out_ask)
        self._remember(msgs)
        return self._px(out_bid), self._px(out_ask)

    def _plan(self, msgs: BookMessages) -> tuple[np.ndarray, dict]:
        """Which diffs to apply (those the snapshot in force does not contain) and, per
        snapshot, the levels of the earlier diffs it does not contain yet."""
        m = len(msgs.row)
        snaps = np.flatnonzero(msgs.snapshot)
        latest = np.full(m, -1, np.int64)
        latest[snaps] = snaps
        np.maximum.accumulate(latest, out=latest)
        carried = NO_ID if self.snapshot_id is None else self.snapshot_id
        in_force = np.where(latest >= 0, msgs.last[np.maximum(latest, 0)], carried)
        applied = np.ones(m, bool)
        check = ~msgs.snapshot & (in_force != NO_ID)
        applied[check] = self.reader.newer_than_snapshot(msgs.last[check], in_force[check])
        extra: dict[int, tuple] = {}
        mine = _Recent(msgs.last, msgs.n_bid, msgs.n_ask, msgs.values)
        for k in snaps.tolist():
            sid = int(msgs.last[k])
            from_before = self.reader.newer_than_snapshot(self.recent.last, sid)
            here = np.zeros(m, bool)
            here[:k] = ~msgs.snapshot[:k]
            here[:k] &= self.reader.newer_than_snapshot(msgs.last[:k], sid)
            if from_before.any() or here.any():
                extra[k] = (np.concatenate([self.recent.n_bid[from_before], msgs.n_bid[here]]),
                            np.concatenate([self.recent.n_ask[from_before], msgs.n_ask[here]]),
                            np.concatenate([self.recent.levels_of(from_before), mine.levels_of(here)]))
        if len(snaps):
            self.snapshot_id = int(msgs.last[snaps[-1]])
        return applied, extra

    def _remember(self, msgs: BookMessages) -> None:
        diffs = ~msgs.snapshot
        keep = np.zeros(len(msgs.row), bool)
        keep[np.flatnonzero(diffs)[-LOOKBACK:]] = True
        mine = _Recent(msgs.last, msgs.n_bid, msgs.n_ask, msgs.values)
        self.recent = _Recent(msgs.last[keep], msgs.n_bid[keep], msgs.n_ask[keep], mine.levels_of(keep))

    def _index(self, px: np.ndarray) -> np.ndarray:
        """Positions of ``px`` on the price axis, growing the axis (and the books) as needed."""
        idx, found = locate(self.prices, px)
        if not found.all():
            missing = px[~found]
            merged = np.union1d(self.prices, missing)
            moved = np.searchsorted(merged, self.prices)
            bid = np.zeros(len(merged))
            ask = np.zeros(len(merged))
            bid[moved] = self.bid
            ask[moved] = self.ask
            if len(moved):
                self.best = np.where(self.best >= 0, moved[np.maximum(self.best, 0)], -1)
                idx[found] = moved[idx[found]]
            idx[~found] = locate(merged, missing)[0]
            self.prices, self.bid, self.ask = merged, bid, ask
        return idx

    def _px(self, idx: np.ndarray) -> np.ndarray:
        out = np.full(len(idx), np.nan)
        ok = idx >= 0
        out[ok] = self.prices[idx[ok]]
        return out


def locate(axis: np.ndarray, px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each price is (or would go) on the sorted axis, and whether it is there."""
    px = np.ascontiguousarray(px, np.float64)
    if accel.fast is not None:
        idx, found = accel.fast.locate(axis, px)
        return np.frombuffer(idx, np.int64).copy(), np.frombuffer(found, np.uint8).astype(bool)
    idx = np.searchsorted(axis, px)
    found = np.zeros(len(px), bool)
    inside = idx < len(axis)
    found[inside] = axis[idx[inside]] == px[inside]
    return idx.astype(np.int64), found


def replay_py(bid, ask, best, off, clear, side, idx, qty, out_bid, out_ask) -> None:
    """Python twin of ``_fast.replay`` (same arguments, same results)."""
    n_px = len(bid)
    bb, ba = int(best[0]), int(best[1])
    side, idx, qty, off = side.tolist(), idx.tolist(), qty.tolist(), off.tolist()
    for k in range(len(clear)):
        if clear[k]:
            bid[:] = 0.0
            ask[:] = 0.0
            bb = ba = -1
        for u in range(off[k], off[k + 1]):
            i, q = idx[u], qty[u]
            if side[u] == 0:
                bid[i] = q
                if q > 0 and i > bb:
                    bb = i
            else:
                ask[i] = q
                if q > 0 and (ba < 0 or i < ba):
                    ba = i
        while bb >= 0 and not bid[bb] > 0:
            bb -= 1
        if ba >= 0:
            while ba < n_px and not ask[ba] > 0:
                ba += 1
            if ba == n_px:
                ba = -1
        out_bid[k] = bb
        out_ask[k] = ba
    best[0], best[1] = bb, ba
