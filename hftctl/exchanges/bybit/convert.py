"""Bybit v5 public recordings to event rows, as hftbacktest 2.4.4's ``bybit.convert_depth`` does.

``orderbook.<depth>.<symbol>`` messages are stamped with the message ``ts``: a ``snapshot`` becomes,
per side, a DEPTH_CLEAR row at its farthest price then DEPTH_SNAPSHOT rows; a ``delta`` becomes
DEPTH rows (bids then asks; qty 0 deletes a level). ``publicTrade`` trades become TRADE rows at the
trade's ``T`` with the taker side ``S``. Bybit pushes the same book at several depths (1, 50,
200, 1000; 500 in recordings made before 2025-09-30) when subscribed to several; mixing them
would double-count levels, so one depth is used: the deepest recorded, or the one asked for
(``--depth``). Level 1 is snapshot-only (each message replaces the top), which the snapshot rows
express already.
"""

from __future__ import annotations

import logging

import numpy as np

from hftctl.convert import events as E
from hftctl.convert.extract import MS, book_rows, depth_levels, load_messages, ms_field
from hftctl.convert.gaps import gap_rows
from hftctl.convert.lines import LineTable, rows_startwith
from hftctl.convert.mapper import Mapper
from hftctl.convert.problems import ProblemLog
from hftctl.convert.rows import RowBlock, concat_blocks

log = logging.getLogger(__name__)

TOPIC = b'{"topic":"'
IGNORED_TOPICS = (b"tickers.", b"kline.", b"liquidation.", b"allLiquidation.", b"lt.", b"insurance.")
# Control messages on a public socket: subscribe acks, pongs.
CONTROL = (b'{"success"', b'{"op"', b'{"ret_msg"', b'{"req_id"', b'{"conn_id"')


class BybitMapper(Mapper):
    name = "bybit"

    def __init__(self, options) -> None:
        super().__init__(options)
        self._depth_blocks: dict[int, list[RowBlock]] = {}

    @classmethod
    def recognises(cls, msg: bytes) -> bool:
        return msg.startswith(TOPIC)

    def map_chunk(self, table: LineTable, problems: ProblemLog) -> list[RowBlock]:
        topic = table.head[:, len(TOPIC):]
        has_topic = table.startswith(TOPIC)
        book = has_topic & rows_startwith(topic, b"orderbook.")
        trade = has_topic & rows_startwith(topic, b"publicTrade.")
        ignored = np.zeros(len(table), bool)
        for name in IGNORED_TOPICS:
            mask = has_topic & rows_startwith(topic, name)
            ignored |= mask
            n = int(mask.sum())
            if n:
                self.unconverted[name.decode().rstrip(".")] += n
        gap = has_topic & rows_startwith(topic, b"gap.")       # hftctl collector's lost-data mark
        self.gaps += int(gap.sum())
        ignored |= gap
        control = np.zeros(len(table), bool)
        for name in CONTROL:
            control |= table.startswith(name)
        unknown = ~(book | trade | ignored | control)
        if unknown.any():
            first = int(np.flatnonzero(unknown)[0])
            problems.add_lines(table.line_no[unknown].tolist(),
                               f"unknown Bybit message {table.message(first)[:60]!r} skipped")
        quote = table.find(ord('"'), len(TOPIC))
        for topic_name in table.distinct(np.flatnonzero(book | trade), len(TOPIC), quote):
            self.symbols.add(topic_name.rsplit(b".", 1)[-1].decode("ascii", "replace").lower())
        for depth, idx in self._by_depth(table, np.flatnonzero(book)).items():
            self._depth_blocks.setdefault(depth, []).append(self._book_rows(table, idx, problems))
        return [self._trade_rows(table, np.flatnonzero(trade), problems),
                gap_rows(table, np.flatnonzero(gap))]

    @staticmethod
    def _by_depth(table: LineTable, idx: np.ndarray) -> dict[int, np.ndarray]:
        """Group orderbook messages by the depth in their topic (``orderbook.50.BTCUSDT``)."""
        start = len(TOPIC) + len(b"orderbook.")
        digits = table.head[idx, start:start + 5]
        depth = np.zeros(len(idx), np.int64)
        live = np.ones(len(idx), bool)
        for k in range(digits.shape[1]):
            d = digits[:, k]
            is_digit = live & (d >= 48) & (d <= 57)
            depth = np.where(is_digit, depth * 10 + (d.astype(np.int64) - 48), depth)
            live &= is_digit
        return {int(v): idx[depth == v] for v in np.unique(depth)}

    def _book_rows(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        lv = depth_levels(table, idx, b"ts", b'"b":[', b'"a":[', problems, "orderbook", tail=b"}")
        data = table.data
        snapshot = np.array([data.find(b'"type":"snapshot"', s, e) >= 0 for s, e in
                             zip(table.start[lv.rows].tolist(), table.end[lv.rows].tolist())], bool)
        msg, ev, px, qty = book_rows(lv, snapshot, E.DEPTH_EVENT, E.DEPTH_SNAPSHOT_EVENT,
                                     E.DEPTH_CLEAR_EVENT, E.BUY_EVENT, E.SELL_EVENT)
        rows = lv.rows[msg]
        return RowBlock(table.line_no[rows], ev, lv.ts[msg] * MS, table.local_ts[rows], px, qty)

    def _trade_rows(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        idx, msgs = load_messages(table, idx, problems, "publicTrade")
        line, ev, exch, local, px, qty = [], [], [], [], [], []
        for i, msg in zip(idx.tolist(), msgs):
            try:
                ts = msg.get("ts", 0)
                rows = [(E.TRADE_EVENT | (E.SELL_EVENT if t.get("S", "Buy") == "Sell" else E.BUY_EVENT),
                         ms_field(t.get("T", ts)) * MS, float(t.get("p", "0")), float(t.get("v", "0")))
                        for t in msg["data"]]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                problems.add(int(table.line_no[i]), f"malformed publicTrade message skipped ({exc!r})")
                continue
            for r in rows:
                line.append(int(table.line_no[i]))
                local.append(int(table.local_ts[i]))
                ev.append(r[0])
                exch.append(r[1])
                px.append(r[2])
                qty.append(r[3])
        return RowBlock(np.array(line, np.int64), np.array(ev, np.uint64), np.array(exch, np.int64),
                        np.array(local, np.int64), np.array(px, np.float64), np.array(qty, np.float64))

    def finish(self, problems: ProblemLog) -> list[RowBlock]:
        if not self._depth_blocks:
            return []
        present = sorted(self._depth_blocks)
        depth = self.options.depth if self.options.depth is not None else present[-1]
        if depth not in self._depth_blocks:
            problems.add(0, f"no orderbook.{depth} messages (recorded depths: "
                            f"{', '.join(map(str, present))}); no depth rows written")
            return []
        if len(present) > 1:
            log.info("bybit: using orderbook.%d (recorded: %s)", depth, ", ".join(map(str, present)))
        blocks = self._depth_blocks.pop(depth)
        self._depth_blocks.clear()
        return [concat_blocks(blocks)] if len(blocks) > 1 else blocks


MAPPER = BybitMapper
