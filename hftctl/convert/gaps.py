"""Gap marks (where ``hftctl collect`` lost data) become a whole-book clear before the next snapshot.

A depth snapshot row set clears only the price range the snapshot covers (hftbacktest's rule:
from the best price to the snapshot's farthest level). After lost data, levels deeper than that
may have changed unseen and would stay stale in the backtest book forever. So every gap mark
yields one DEPTH_CLEAR row without a side (hftbacktest clears both sides for it, as does
hftctl's own backtest), placed right before the first snapshot row that follows the mark and
stamped with that row's times: the book is wiped exactly when the fresh snapshot arrives, and
nothing from before the gap survives it. Without a later snapshot in the data the mark is
dropped (there is nothing to restart from). Recordings without gap marks are untouched, so the
output still equals hftbacktest's on them.
"""

from __future__ import annotations

import numpy as np

from hftctl.convert import events as E
from hftctl.convert.lines import LineTable
from hftctl.convert.rows import RowBlock

GAP_CLEAR = E.DEPTH_CLEAR_EVENT          # no BUY/SELL flag: both sides
_KIND = np.uint64(0xFF)
_SIDES = np.uint64(E.BUY_EVENT | E.SELL_EVENT)


def gap_rows(table: LineTable, idx: np.ndarray) -> RowBlock:
    """Placeholder rows for the gap marks at ``idx``; ``place_gap_clears`` gives them their time."""
    zeros = np.zeros(len(idx), np.float64)
    return RowBlock(table.line_no[idx], np.full(len(idx), GAP_CLEAR, np.uint64),
                    np.zeros(len(idx), np.int64), table.local_ts[idx], zeros, zeros.copy())


def place_gap_clears(data: np.ndarray) -> np.ndarray:
    """Move each gap row (rows in file order) to just before the next snapshot's rows, with their
    times; drop the ones no snapshot follows, and repeats before the same snapshot. Returns
    ``data`` itself when it has no gap rows."""
    ev = data["ev"]
    gap = np.flatnonzero(ev == np.uint64(GAP_CLEAR))
    if not len(gap):
        return data
    kind = ev & _KIND
    snap = np.flatnonzero(((kind == E.DEPTH_SNAPSHOT_EVENT) | (kind == E.DEPTH_CLEAR_EVENT))
                          & ((ev & _SIDES) != 0))
    nxt = np.searchsorted(snap, gap)
    placed = nxt < len(snap)
    target = snap[nxt[placed]]
    first = np.ones(len(target), bool)
    first[1:] = target[1:] != target[:-1]         # several marks before one snapshot: one clear
    keep = np.ones(len(data), bool)
    keep[gap] = False
    keep[gap[placed][first]] = True
    key = np.arange(len(data), dtype=np.float64)
    key[gap[placed]] = target - 0.5               # just before that snapshot's first row
    order = np.argsort(key, kind="stable")
    out = data[order[keep[order]]]
    # The kept gap rows, in order, now sit right before their snapshots: take those rows' times.
    at = np.flatnonzero(out["ev"] == np.uint64(GAP_CLEAR))
    out["exch_ts"][at] = data["exch_ts"][target[first]]
    out["local_ts"][at] = data["local_ts"][target[first]]
    return out
