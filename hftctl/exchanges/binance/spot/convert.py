"""Binance spot recordings to event rows (hftbacktest 2.4.4 has no spot converter).

Rows follow the futures converter's conventions (``hftctl.exchanges.binance.common.convert``);
what differs is time. Spot depth updates carry only the event time ``E`` (used as exch_ts),
trades carry ``T``, and neither the bookTicker stream nor the REST depth snapshot carries any
exchange time. For those, exch_ts is derived:

    exch_ts = max(local_ts - feed_latency, latest exch_ts of an earlier depth/trade line)

where ``feed_latency`` is the median of local_ts - exch_ts over the depth and trade messages of
the first chunk of the file that has any (8 MB of text, minutes of data), kept for the rest of
the file; it absorbs the recorder's clock offset (about -1.27 s in the sample recordings).
The clamp keeps a derived time from going back before exchange events already received, so
exchange-side order stays causal; with no timestamped message yet, feed_latency is 0.
"""

from __future__ import annotations

import re

import numpy as np

from hftctl.convert.gaps import gap_rows
from hftctl.convert.lines import LineTable
from hftctl.convert.problems import ProblemLog
from hftctl.convert.rows import RowBlock
from hftctl.exchanges.binance.common.convert import BinanceMapper

_NONE = np.iinfo(np.int64).min


class BinanceSpotMapper(BinanceMapper):
    name = "binancespot"
    futures_fields = False
    depth_ts_key = b"E"
    require_market = False          # spot trades have no X field; all are market trades
    trade_patterns = (
        re.compile(rb'(?m)^\{"stream":"[^"]*","data":\{"e":"trade",.*?"p":"([^"]*)","q":"([^"]*)",.*?'
                   rb'"T":(\d+),"m":(true|false)[,}].*\}\}$'),
    )
    trade_groups = (2, 0, 1, 3)

    def __init__(self, options) -> None:
        super().__init__(options)
        self._latency: int | None = None      # ns, median local - exch of timestamped messages
        self._last_exch = _NONE               # latest known exch_ts carried across chunks
        self._derived: np.ndarray = np.zeros(0, np.int64)

    def map_chunk(self, table: LineTable, problems: ProblemLog) -> list[RowBlock]:
        kinds = self.classify(table, problems)
        timed = [self.depth_rows(table, kinds["depth"], problems),
                 self.trade_rows(table, kinds["trade"], problems)]
        self._derived = self._derive(table, timed)
        blocks = timed + [self.snapshot_rows(table, kinds["snapshot"], problems),
                          gap_rows(table, kinds["gap"])]
        if "t" in self.options.opt:
            blocks.append(self.book_ticker_rows(table, kinds["bookTicker"], problems))
        return blocks

    def _derive(self, table: LineTable, timed: list[RowBlock]) -> np.ndarray:
        """exch_ts for every line of the chunk from the rule in the module docstring."""
        lines = np.concatenate([b.line for b in timed])
        exch = np.concatenate([b.exch_ts for b in timed])
        local = np.concatenate([b.local_ts for b in timed])
        if len(lines) and self._latency is None:
            self._latency = int(np.median(local - exch))
        latency = self._latency or 0
        # Latest known exch_ts strictly before each line, carried over from earlier chunks.
        known = np.full(len(table) + 1, _NONE, np.int64)
        known[0] = self._last_exch
        pos = np.searchsorted(table.line_no, lines)
        np.maximum.at(known, pos + 1, exch)
        np.maximum.accumulate(known, out=known)
        self._last_exch = int(known[-1])
        return np.maximum(table.local_ts - latency, known[:-1])

    def snapshot_exch_ts(self, table: LineTable, i: int, msg: dict) -> int:
        return int(self._derived[i])

    def book_ticker_exch_ts(self, table: LineTable, i: int, d: dict) -> int:
        return int(self._derived[i])


MAPPER = BinanceSpotMapper
