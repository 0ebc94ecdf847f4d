"""Rows produced by exchange mappers, and their assembly into one event array in file order.

A mapper turns each message kind in bulk into a ``RowBlock`` (columns, plus the line each row came
from). Assembly restores the file order of rows, which is what hftbacktest's line-by-line
converter produces and what its timestamp/event-order correction starts from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hftctl.convert.events import EVENT_DTYPE


@dataclass
class RowBlock:
    """Rows of one message kind; ``line`` is the 1-based source line of every row (non-decreasing)."""

    line: np.ndarray      # int64
    ev: np.ndarray        # uint64 (event kind | side; EXCH/LOCAL are added by the correction)
    exch_ts: np.ndarray   # int64 ns
    local_ts: np.ndarray  # int64 ns
    px: np.ndarray        # float64
    qty: np.ndarray       # float64

    def __len__(self) -> int:
        return len(self.line)


def assemble(blocks: list[RowBlock]) -> np.ndarray:
    """One event array, rows ordered by source line, rows of one line in the mapper's order."""
    blocks = [b for b in blocks if len(b)]
    out = np.zeros(sum(len(b) for b in blocks), EVENT_DTYPE)
    if not blocks:
        return out
    line = np.concatenate([b.line for b in blocks])
    # Blocks are each sorted by line; a stable sort keeps the rows of one message in order.
    order = np.argsort(line, kind="stable")
    if np.all(order[1:] > order[:-1]):
        order = None
    for name in ("ev", "exch_ts", "local_ts", "px", "qty"):
        col = np.concatenate([getattr(b, name) for b in blocks])
        out[name] = col if order is None else col[order]
    return out


def concat_blocks(blocks: list[RowBlock]) -> RowBlock:
    """One block from several of the same message kind, kept in line order."""
    line = np.concatenate([b.line for b in blocks])
    order = np.argsort(line, kind="stable")
    return RowBlock(line[order], *(np.concatenate([getattr(b, n) for b in blocks])[order]
                                   for n in ("ev", "exch_ts", "local_ts", "px", "qty")))
