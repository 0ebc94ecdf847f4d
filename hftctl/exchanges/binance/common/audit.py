"""What `hftctl audit` reads from Binance recordings (USD-M, COIN-M and spot).

Message kinds follow the converter's (``convert.py``) and trades are read by its mapper, so audit
and convert agree on what a line is. On top: the update ids of depth diffs as a chain (USD-M/COIN-M:
``pu`` names the previous diff's ``u``; spot: ``U`` follows the previous ``u`` by one), REST
snapshots' ``lastUpdateId``, and the event time ``E`` as the exchange time of every message that
has one (spot's bookTicker and REST snapshots do not).

Book sync rule ("How to manage a local order book correctly", developers.binance.com, USD-M and
COIN-M: drop diffs with ``u < lastUpdateId``; binance-spot-api-docs web-socket-streams.md: drop
diffs with ``u <= lastUpdateId``): a diff is newer than a snapshot if its ``u`` is >= (futures)
or > (spot) the snapshot's ``lastUpdateId``.
"""

from __future__ import annotations

import numpy as np

from hftctl.audit.fields import int_fields, streams_after, times_of
from hftctl.audit.reader import (NO_ID, AuditChunk, AuditReader, BookMessages, GapMarks, Kind, Trades,
                                 concat_book)
from hftctl.convert.extract import depth_levels, load_messages
from hftctl.convert.lines import LineTable
from hftctl.convert.mapper import MapOptions
from hftctl.convert.problems import ProblemLog
from hftctl.exchanges.binance.common.collector import BinanceCollector
from hftctl.exchanges.binance.common.convert import ENVELOPE, IGNORED_STREAMS, BinanceMapper

SNAPSHOT_STREAM = "depthSnapshot"       # the name the connector gives REST snapshots (docs/collect.md)


class BinanceAudit(AuditReader):
    snapshots_in_sequence = False

    def __init__(self, protocol: BinanceCollector, mapper: type[BinanceMapper]) -> None:
        self.has_pu = protocol.has_pu
        self.mapper = mapper

    def read(self, table: LineTable, problems: ProblemLog) -> AuditChunk:
        stream, streams = streams_after(table, ENVELOPE)
        name_kind = [stream_kind(name) for name in streams]
        kind = np.array(name_kind + [Kind.UNKNOWN], np.uint8)[stream]      # stream -1: the last
        snapshot = np.flatnonzero(table.startswith(b'{"lastUpdateId"'))
        kind[snapshot] = Kind.SNAPSHOT
        stream[snapshot] = len(streams)
        streams.append(SNAPSHOT_STREAM)
        kind[table.startswith(b'{"result"') | table.startswith(b'{"id"')] = Kind.CONTROL
        errors = table.startswith(b'{"code"')
        kind[errors] = Kind.CONTROL
        for i in np.flatnonzero(errors).tolist():
            problems.add(int(table.line_no[i]), f"exchange error message: {table.message(i)[:120]!r}")
        for code, k in enumerate(name_kind):
            if k == Kind.UNKNOWN:
                problems.add_lines(table.line_no[stream == code].tolist(), f"unknown stream {streams[code]!r}")
        other = np.flatnonzero((kind == Kind.UNKNOWN) & (stream < 0))
        if len(other):
            problems.add_lines(table.line_no[other].tolist(), f"not a Binance message: {table.message(int(other[0]))[:60]!r}")
        symbols = [s.split("@", 1)[0].upper() if "@" in s else "" for s in streams]

        exch_ms = times_of(table, kind, (Kind.DEPTH, Kind.TRADE, Kind.OTHER), b'"E":')

        book = concat_book([self._diffs(table, np.flatnonzero(kind == Kind.DEPTH), stream, problems),
                            self._snapshots(table, snapshot, problems)])
        trades = self.mapper(MapOptions()).trade_rows(table, np.flatnonzero(kind == Kind.TRADE), problems)
        trade_rows = np.searchsorted(table.line_no, trades.line)
        return AuditChunk(kind, stream, exch_ms, book, Trades(trade_rows, stream[trade_rows], trades.px),
                          _gap_marks(table, np.flatnonzero(kind == Kind.GAP), problems), streams, symbols)

    def _diffs(self, table: LineTable, rows: np.ndarray, stream: np.ndarray, problems: ProblemLog) -> BookMessages:
        lv = depth_levels(table, rows, None, b'"b":[', b'"a":[', problems, "depthUpdate")
        keys = (b'"U":', b'"u":', b'"pu":') if self.has_pu else (b'"U":', b'"u":')
        ok, ids = int_fields(table, lv.rows, keys)
        lv = _keep(lv, ok, table, problems, "depthUpdate without update ids skipped")
        ids = ids[ok]
        link = ids[:, 2] if self.has_pu else ids[:, 0] - 1
        return BookMessages(lv.rows, stream[lv.rows], np.zeros(len(lv.rows), bool), link, ids[:, 1],
                            lv.n_bid, lv.n_ask, lv.values)

    def _snapshots(self, table: LineTable, rows: np.ndarray, problems: ProblemLog) -> BookMessages:
        lv = depth_levels(table, rows, None, b'"bids":[', b'"asks":[', problems, "depth snapshot", tail=b"}")
        ok, ids = int_fields(table, lv.rows, (b'"lastUpdateId":',))
        lv = _keep(lv, ok, table, problems, "depth snapshot without lastUpdateId skipped")
        m = len(lv.rows)
        # A REST snapshot does not say whose it is (USD-M, spot): the audit gives it to the file's book.
        return BookMessages(lv.rows, np.full(m, -1, np.int32), np.ones(m, bool), np.full(m, NO_ID, np.int64),
                            ids[ok, 0], lv.n_bid, lv.n_ask, lv.values)

    def newer_than_snapshot(self, last: np.ndarray, snapshot_id: int | np.ndarray) -> np.ndarray:
        return last >= snapshot_id if self.has_pu else last > snapshot_id


def stream_kind(name: str) -> Kind:
    """What a combined stream carries, from its name (``btcusdt@depth@0ms``): the converter's
    classification (``convert.py``) applied once per name instead of once per line."""
    kind = name.split("@", 1)[1] if "@" in name else ""
    if kind.startswith("depth"):
        return Kind.DEPTH
    if kind == "trade":
        return Kind.TRADE
    if kind == "gap":                  # hftctl collector's lost-data mark
        return Kind.GAP
    if kind == "bookTicker" or kind.startswith(tuple(s.decode() for s in IGNORED_STREAMS)):
        return Kind.OTHER
    return Kind.UNKNOWN


def _keep(lv, ok: np.ndarray, table: LineTable, problems: ProblemLog, what: str):
    """Depth levels of the messages whose ids could be read; the others named and dropped."""
    if ok.all():
        return lv
    problems.add_lines(table.line_no[lv.rows[~ok]].tolist(), what)
    counts = 2 * (lv.n_bid + lv.n_ask)
    lv.values = lv.values[np.repeat(ok, counts)]
    lv.rows, lv.n_bid, lv.n_ask = lv.rows[ok], lv.n_bid[ok], lv.n_ask[ok]
    return lv


def _gap_marks(table: LineTable, rows: np.ndarray, problems: ProblemLog) -> GapMarks:
    rows, msgs = load_messages(table, rows, problems, "gap mark")
    data = [m.get("data") if isinstance(m, dict) and isinstance(m.get("data"), dict) else {} for m in msgs]
    return GapMarks(rows, [str(d.get("s", "")) for d in data], [str(d.get("reason", "")) for d in data])
