"""What `hftctl audit` needs to know about an exchange's recordings: the interface each exchange's
``audit.py`` implements (``AUDIT``, reached as ``descriptor.audit()``).

A reader looks at one chunk of lines at a time (a ``LineTable``) and returns, as arrays over the
whole chunk, what kind each line is, which stream it belongs to, its exchange time, the depth
messages with their update ids and levels, the trades and the collector's gap marks. Everything
the report computes from that (sequence breaks, silences, latency, the replayed book) is generic.

Update ids are given as a chain: each depth diff names the last id of the message that must come
before it (``link``; Binance USD-M: ``pu``; spot: ``U - 1``; Bybit: ``u - 1``), so a break is
``link != previous last`` for every exchange.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from hftctl.convert.lines import LineTable
from hftctl.convert.problems import ProblemLog

NO_ID = np.iinfo(np.int64).min      # "none" in id and time arrays


class Kind(IntEnum):
    UNKNOWN = 0      # not a message of this exchange: a bad line
    DEPTH = 1        # a depth diff / delta
    SNAPSHOT = 2     # a whole book: a REST snapshot line or an in-stream snapshot
    TRADE = 3
    OTHER = 4        # other market data (best bid/offer, mark price, ...)
    GAP = 5          # the collector's gap mark
    CONTROL = 6      # subscription acks, pongs, exchange error messages


@dataclass
class BookMessages:
    """The depth diffs and snapshots of a chunk, in line order."""

    row: np.ndarray          # int64, index into the chunk's LineTable
    book: np.ndarray         # int32 stream code of the book; -1: a snapshot that does not say whose
    snapshot: np.ndarray     # bool
    link: np.ndarray         # int64, last id of the message that must precede (NO_ID: none, e.g. a snapshot)
    last: np.ndarray         # int64, the message's last update id (a snapshot's id)
    n_bid: np.ndarray        # int64
    n_ask: np.ndarray        # int64
    values: np.ndarray       # float64 px, qty pairs: bids then asks, message by message


@dataclass
class Trades:
    row: np.ndarray          # int64 per trade (a message with several trades repeats its row)
    stream: np.ndarray       # int32 stream code
    px: np.ndarray           # float64


@dataclass
class GapMarks:
    row: np.ndarray          # int64
    symbol: list[str]
    reason: list[str]


@dataclass
class AuditChunk:
    """A reader's findings in one chunk. Stream codes index ``streams`` (chunk-local);
    ``stream_symbol[code]`` is the symbol the stream is about ("" if none)."""

    kind: np.ndarray         # uint8 Kind per line
    stream: np.ndarray       # int32 stream code per line (-1: none; counted by kind)
    exch_ms: np.ndarray      # int64 exchange event time per line (NO_ID: the message has none)
    book: BookMessages
    trades: Trades
    gaps: GapMarks
    streams: list[str] = field(default_factory=list)
    stream_symbol: list[str] = field(default_factory=list)


class AuditReader(ABC):
    # True: snapshots are part of the id chain (the next delta continues from the snapshot's id,
    # as on Bybit); False: a REST snapshot stands beside the diff stream (Binance).
    snapshots_in_sequence: bool = False

    @abstractmethod
    def read(self, table: LineTable, problems: ProblemLog) -> AuditChunk:
        """Classify and extract one chunk (lines it cannot read go to ``problems``)."""

    @abstractmethod
    def newer_than_snapshot(self, last: np.ndarray, snapshot_id: int | np.ndarray) -> np.ndarray:
        """Which diffs (by last id; ``snapshot_id`` a number or one per diff) a snapshot with
        that id does not contain yet: those recorded
        before the snapshot line are applied after it, those after it that it does contain are
        skipped (the exchange's book-sync rule)."""


def empty_book() -> BookMessages:
    z = np.zeros(0, np.int64)
    return BookMessages(z, z.astype(np.int32), z.astype(bool), z, z, z, z, z.astype(np.float64))


def concat_book(parts: list[BookMessages]) -> BookMessages:
    """Several kinds of depth messages of one chunk as one set, in line order."""
    parts = [p for p in parts if len(p.row)]
    if not parts:
        return empty_book()
    if len(parts) == 1:
        return parts[0]
    row = np.concatenate([p.row for p in parts])
    order = np.argsort(row, kind="stable")
    counts = np.concatenate([2 * (p.n_bid + p.n_ask) for p in parts])
    starts = np.cumsum(counts) - counts
    values = np.concatenate([p.values for p in parts])
    take = np.repeat(starts[order], counts[order]) + _ranks(counts[order])
    return BookMessages(row[order], *(np.concatenate([getattr(p, n) for p in parts])[order]
                                      for n in ("book", "snapshot", "link", "last", "n_bid", "n_ask")),
                        values[take])


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
