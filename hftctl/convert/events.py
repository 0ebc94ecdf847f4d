"""hftbacktest's event array: the record layout and the event flags, as hftbacktest 2.4.4 defines them.

Mirrored here (not imported) because hftbacktest is an optional benchmark extra, not a runtime
dependency; tests check the values against hftbacktest when it is installed.
"""

from __future__ import annotations

import numpy as np

DEPTH_EVENT = 1
TRADE_EVENT = 2
DEPTH_CLEAR_EVENT = 3
DEPTH_SNAPSHOT_EVENT = 4
DEPTH_BBO_EVENT = 5

EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28

# Custom event ids hftbacktest's Binance futures converter uses for its optional streams.
INDEX_PRICE_EVENT = 100
MARK_PRICE_EVENT = 101
FUNDING_RATE_EVENT = 102
BEST_BID_EVENT = 103
BEST_ASK_EVENT = 104

EVENT_DTYPE = np.dtype(
    [
        ("ev", "u8"),
        ("exch_ts", "i8"),
        ("local_ts", "i8"),
        ("px", "f8"),
        ("qty", "f8"),
        ("order_id", "u8"),
        ("ival", "i8"),
        ("fval", "f8"),
    ],
    align=True,
)


def take_rows(data: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``data[idx]`` for event arrays, several times faster: every field is 8 bytes, so the
    records can be moved as rows of eight uint64 instead of field by field."""
    rows = np.take(np.ascontiguousarray(data).view(np.uint64).reshape(-1, 8), idx, axis=0)
    return rows.view(EVENT_DTYPE).reshape(-1)
