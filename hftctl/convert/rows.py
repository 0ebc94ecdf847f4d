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


def block_from_rows(rows: list[tuple]) -> RowBlock:
    """A block from ``(line, ev, exch_ts, local_ts, px, qty)`` tuples, for kinds parsed one by one."""
    if not rows:
        z = np.zeros(0, np.int64)
        return RowBlock(z, z.astype(np.uint64), z, z, z.astype(np.float64), z.astype(np.float64))
    line, ev, exch, local, px, qty = zip(*rows)
    return RowBlock(np.array(line, np.int64), np.array(ev, np.uint64), np.array(exch, np.int64),
                    np.array(local, np.int64), np.array(px, np.float64), np.array(qty, np.float64))


def assemble(blocks: list[RowBlock]) -> np.ndarray:
    """One event array, rows ordered by source line, rows of one line in the mapper's order.

    Each message's rows come from one block and are contiguous in it, so a row's place is the
    start of its line's rows (prefix sum of rows per line) plus its rank within the line: no sort.
    """
    blocks = [b for b in blocks if len(b)]
    total = sum(len(b) for b in blocks)
    out = np.zeros(total, EVENT_DTYPE)
    if not blocks:
        return out
    if len(blocks) == 1:
        pos_list = [None]
    else:
        lo = min(int(b.line[0]) for b in blocks)
        hi = max(int(b.line[-1]) for b in blocks)
        per_line = np.zeros(hi - lo + 2, np.int64)
        for b in blocks:
            per_line[1:] += np.bincount(b.line - lo, minlength=hi - lo + 1)
        line_start = np.cumsum(per_line)
        pos_list = []
        for b in blocks:
            rel = b.line - lo
            first = np.empty(len(rel), bool)
            first[0] = True
            np.not_equal(rel[1:], rel[:-1], out=first[1:])
            run_start = np.flatnonzero(first)
            rank = np.arange(len(rel)) - np.repeat(run_start, np.diff(np.append(run_start, len(rel))))
            pos_list.append(line_start[rel] + rank)
    for b, pos in zip(blocks, pos_list):
        for name in ("ev", "exch_ts", "local_ts", "px", "qty"):
            if pos is None:
                out[name] = getattr(b, name)
            else:
                out[name][pos] = getattr(b, name)
    return out


def concat_blocks(blocks: list[RowBlock]) -> RowBlock:
    """One block from several of the same message kind, kept in line order."""
    line = np.concatenate([b.line for b in blocks])
    order = np.argsort(line, kind="stable")
    return RowBlock(line[order], *(np.concatenate([getattr(b, n) for b in blocks])[order]
                                   for n in ("ev", "exch_ts", "local_ts", "px", "qty")))
