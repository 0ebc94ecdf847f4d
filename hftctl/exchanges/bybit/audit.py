"""What `hftctl audit` reads from Bybit v5 public recordings.

Every message's exchange time is its ``ts``. ``orderbook.<depth>.<symbol>`` topics are separate
books (each depth is its own stream); a ``snapshot`` replaces the book and is part of the id chain:
"u: update id, normally continuous; occasionally u=1 after a service restart, overwrite the local
book" and "level 1: a snapshot is pushed again after 3 s without change" (bybit-exchange/docs,
v5 websocket public orderbook). So each delta's ``u`` follows the previous message's ``u`` by one,
and a delta is newer than a snapshot if its ``u`` is greater.
"""

from __future__ import annotations

import numpy as np

from hftctl.audit.fields import int_fields, streams_after, times_of
from hftctl.audit.reader import NO_ID, AuditChunk, AuditReader, BookMessages, GapMarks, Kind, Trades
from hftctl.convert.extract import depth_levels, load_messages
from hftctl.convert.lines import HEAD_WIDTH, LineTable
from hftctl.convert.problems import ProblemLog
from hftctl.exchanges.bybit.convert import CONTROL, TOPIC

SNAPSHOT_TYPE = b',"type":"snapshot"'
TS_FIRST = b',"ts":'
TOPIC_KINDS = (("orderbook.", Kind.DEPTH), ("publicTrade.", Kind.TRADE), ("gap.", Kind.GAP))


class BybitAudit(AuditReader):
    snapshots_in_sequence = True

    def read(self, table: LineTable, problems: ProblemLog) -> AuditChunk:
        stream, streams = streams_after(table, TOPIC)
        code_kind = np.array([next((k for p, k in TOPIC_KINDS if s.startswith(p)), Kind.OTHER) for s in streams]
                             + [Kind.UNKNOWN], np.uint8)
        kind = code_kind[stream]                     # stream -1: the UNKNOWN at the end
        for prefix in CONTROL:
            kind[table.startswith(prefix)] = Kind.CONTROL
        unknown = np.flatnonzero(kind == Kind.UNKNOWN)
        if len(unknown):
            problems.add_lines(table.line_no[unknown].tolist(),
                               f"not a Bybit message: {table.message(int(unknown[0]))[:60]!r}")
        symbols = [s.rsplit(".", 1)[1] if "." in s else "" for s in streams]

        exch_ms = times_of(table, kind, (Kind.DEPTH, Kind.TRADE, Kind.OTHER), b'"ts":')

        depth = np.flatnonzero(kind == Kind.DEPTH)
        snapshot = self._is_snapshot(table, depth)
        kind[depth[snapshot]] = Kind.SNAPSHOT
        return AuditChunk(kind, stream, exch_ms, self._book(table, depth, snapshot, stream, problems),
                          self._trades(table, np.flatnonzero(kind == Kind.TRADE), stream, problems),
                          self._gaps(table, np.flatnonzero(kind == Kind.GAP), problems), streams, symbols)

    @staticmethod
    def _is_snapshot(table: LineTable, rows: np.ndarray) -> np.ndarray:
        """``"type":"snapshot"`` right after the topic, from the line heads. Lines where ``ts``
        comes first (linear level 1 and spot, as orderbook.mdx says) or whose topic is too long
        for the head are searched one by one."""
        after = table.find(ord('"'), len(TOPIC))[rows] + 1
        fits = (after > 0) & (after + len(SNAPSHOT_TYPE) <= HEAD_WIDTH)
        cols = np.full(len(table), -1, np.int64)
        cols[rows[fits]] = after[fits]
        window = table.bytes_at(cols, len(SNAPSHOT_TYPE))[rows]
        snap = fits & np.all(window == np.frombuffer(SNAPSHOT_TYPE, np.uint8), axis=1)
        ts_first = fits & np.all(window[:, :len(TS_FIRST)] == np.frombuffer(TS_FIRST, np.uint8), axis=1)
        for i in np.flatnonzero(~fits | ts_first).tolist():
            r = int(rows[i])
            snap[i] = table.data.find(b'"type":"snapshot"', int(table.start[r]), int(table.end[r])) >= 0
        return snap

    @staticmethod
    def _book(table: LineTable, rows: np.ndarray, snapshot: np.ndarray, stream: np.ndarray,
              problems: ProblemLog) -> BookMessages:
        lv = depth_levels(table, rows, None, b'"b":[', b'"a":[', problems, "orderbook", tail=b"}")
        snap = snapshot[np.searchsorted(rows, lv.rows)]
        ok, u = int_fields(table, lv.rows, (b'"u":',))
        if not ok.all():
            problems.add_lines(table.line_no[lv.rows[~ok]].tolist(), "orderbook message without u skipped")
            lv.values = lv.values[np.repeat(ok, 2 * (lv.n_bid + lv.n_ask))]
            lv.rows, lv.n_bid, lv.n_ask, snap, u = lv.rows[ok], lv.n_bid[ok], lv.n_ask[ok], snap[ok], u[ok]
        last = u[:, 0]
        return BookMessages(lv.rows, stream[lv.rows], snap, np.where(snap, NO_ID, last - 1), last,
                            lv.n_bid, lv.n_ask, lv.values)

    @staticmethod
    def _trades(table: LineTable, rows: np.ndarray, stream: np.ndarray, problems: ProblemLog) -> Trades:
        rows, msgs = load_messages(table, rows, problems, "publicTrade")
        out_rows, px = [], []
        for r, msg in zip(rows.tolist(), msgs):
            try:
                prices = [float(t["p"]) for t in msg["data"]]
            except (KeyError, TypeError, ValueError) as exc:
                problems.add(int(table.line_no[r]), f"malformed publicTrade message skipped ({exc!r})")
                continue
            out_rows += [r] * len(prices)
            px += prices
        out = np.array(out_rows, np.int64)
        return Trades(out, stream[out], np.array(px, np.float64))

    @staticmethod
    def _gaps(table: LineTable, rows: np.ndarray, problems: ProblemLog) -> GapMarks:
        rows, msgs = load_messages(table, rows, problems, "gap mark")
        msgs = [m if isinstance(m, dict) else {} for m in msgs]
        return GapMarks(rows, [str(m.get("topic", "")).rsplit(".", 1)[-1] for m in msgs],
                        [str(m.get("reason", "")) for m in msgs])

    def newer_than_snapshot(self, last: np.ndarray, snapshot_id: int | np.ndarray) -> np.ndarray:
        return last > snapshot_id


AUDIT = BybitAudit()
