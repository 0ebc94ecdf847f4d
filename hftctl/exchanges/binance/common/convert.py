"""Binance recordings to event rows, exactly as hftbacktest 2.4.4's futures converter does
(USD-M and COIN-M use it as is, told apart by ``coin_margined``; spot adjusts time, see
``spot/convert.py``).

Mirrors ``hftbacktest.data.utils.binancefutures.convert`` (default options): depthUpdate levels
are DEPTH_EVENT rows at the transaction time ``T``, bids then asks in message order; trades with
``X == "MARKET"`` are TRADE_EVENT rows whose side is the taker's (``m`` true: buyer is the maker,
so the seller initiated: SELL_EVENT); a REST depth snapshot becomes, per side, one DEPTH_CLEAR
row at the snapshot's farthest price followed by DEPTH_SNAPSHOT rows. With ``opt`` 't' the
bookTicker becomes ids 103/104, with 'm' markPriceUpdate becomes ids 100/101/102.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import orjson

from hftctl.convert import accel
from hftctl.convert import events as E
from hftctl.convert.extract import (MS, bool_field, depth_levels, int_field, load_messages, ms_field,
                                   rows_per_message, side_rows, str_field)
from hftctl.convert.gaps import gap_rows
from hftctl.convert.numbers import parse_numbers
from hftctl.convert.lines import LineTable, rows_startwith
from hftctl.convert.mapper import Mapper
from hftctl.convert.problems import ProblemLog
from hftctl.convert.rows import RowBlock, concat_blocks as _concat

log = logging.getLogger(__name__)

ENVELOPE = b'{"stream":"'

# Streams hftctl knows but does not turn into rows (not an error when they are recorded).
IGNORED_STREAMS = (b"aggTrade", b"kline", b"miniTicker", b"ticker", b"forceOrder", b"markPrice",
                   b"bookTicker", b"continuousKline", b"compositeIndex", b"assetIndex")


# COIN-M symbols: <base>USD_PERP or <base>USD_<yymmdd> (USD-M's are <base>USDT / USDC, and
# <base>USDT_<yymmdd> for its quarterlies).
_COIN_M_SYMBOL = re.compile(r"[A-Z0-9]+USD_(PERP|\d{6})")


def coin_margined(data: dict) -> bool:
    """Is a futures market message COIN-M's? Since the CM/UM integration (effective 2026-06-30)
    payloads carry ``st`` (1 = UM, 2 = CM); older ones are told by the symbol's shape."""
    st = data.get("st")
    if st in (1, 2):
        return st == 2
    symbol = data.get("s")
    return isinstance(symbol, str) and _COIN_M_SYMBOL.fullmatch(symbol) is not None


class BinanceMapper(Mapper):
    """Shared by futures and spot: classify lines by stream name, convert each kind in bulk."""

    depth_ts_key: bytes | None = b"T"
    # Market data carries these fields on futures only (spot's messages lack them): depthUpdate
    # pu/T, trade X, bookTicker e. ``recognises`` checks them to tell the two apart.
    futures_fields = True
    coin_margined = False      # COIN-M (binancefuturescm) rather than USD-M, among futures

    @classmethod
    def recognises(cls, msg: bytes) -> bool:
        if not msg.startswith(ENVELOPE):
            return False
        try:
            data = orjson.loads(msg).get("data")
        except (orjson.JSONDecodeError, AttributeError):
            return False
        if not isinstance(data, dict):
            return False
        if data.get("e") == "depthUpdate":
            futures = "pu" in data or "T" in data
        elif data.get("e") == "trade":
            futures = "X" in data
        elif "u" in data and "b" in data and "B" in data:     # bookTicker
            futures = "e" in data
        else:
            return False
        if futures != cls.futures_fields:
            return False
        return not futures or coin_margined(data) == cls.coin_margined

    # --- classification -------------------------------------------------------------------
    def classify(self, table: LineTable, problems: ProblemLog) -> dict[str, np.ndarray]:
        env = table.startswith(ENVELOPE)
        at = table.find(ord("@"), len(ENVELOPE))
        stream = table.bytes_at(np.where(env & (at >= 0), at + 1, -1), 16)

        def is_stream(prefix: bytes) -> np.ndarray:
            return rows_startwith(stream, prefix)

        kinds = {
            "depth": is_stream(b"depth"),
            "trade": is_stream(b'trade"'),
            "bookTicker": is_stream(b'bookTicker"'),
            "markPrice": is_stream(b"markPrice"),
            "snapshot": table.startswith(b'{"lastUpdateId"'),
            "gap": is_stream(b'gap"'),          # hftctl collector's lost-data mark
        }
        self.gaps += int(kinds["gap"].sum())
        known = np.zeros(len(table), bool)
        for mask in kinds.values():
            known |= mask
        ignorable = np.zeros(len(table), bool)
        converted = {b"bookTicker": "t" in self.options.opt, b"markPrice": "m" in self.options.opt}
        for name in IGNORED_STREAMS:
            mask = is_stream(name)
            ignorable |= mask
            n = int(mask.sum())
            if n and not converted.get(name, False):
                self.unconverted[name.decode()] += n
        with_at = np.flatnonzero(env & (at >= 0))
        self.symbols |= {sym.decode("ascii", "replace").lower()
                         for sym in table.distinct(with_at, len(ENVELOPE), at)}
        acks = table.startswith(b'{"result"') | table.startswith(b'{"id"')
        errors = table.startswith(b'{"code"')
        unknown = ~(known | ignorable | acks | errors)
        unknown_env = unknown & env
        problems.add_lines(table.line_no[unknown_env].tolist(),
                           "unknown stream "
                           + (repr(self._stream_name(table, int(np.flatnonzero(unknown_env)[0])))
                              if unknown_env.any() else "") + " skipped")
        other = unknown & ~env
        for i in np.flatnonzero(other)[:5].tolist():
            problems.add(int(table.line_no[i]),
                         f"not a {self.name} message: {table.message(i)[:60]!r}")
        if other.sum() > 5:
            problems.add_lines(table.line_no[other][5:].tolist(), "more unrecognised messages")
        for i in np.flatnonzero(errors)[:20].tolist():
            problems.add(int(table.line_no[i]), f"exchange error message: {table.message(i)[:120]!r}")
        if errors.sum() > 20:
            problems.add_lines(table.line_no[errors][20:].tolist(), "more exchange error messages")
        return {k: np.flatnonzero(v) for k, v in kinds.items()}

    @staticmethod
    def _stream_name(table: LineTable, i: int) -> str:
        msg = table.message(i)
        end = msg.find(b'"', len(ENVELOPE))
        return msg[len(ENVELOPE):end].decode("utf-8", "replace")

    # --- conversion -----------------------------------------------------------------------
    def map_chunk(self, table: LineTable, problems: ProblemLog) -> list[RowBlock]:
        kinds = self.classify(table, problems)
        blocks = [self.depth_rows(table, kinds["depth"], problems),
                  self.trade_rows(table, kinds["trade"], problems),
                  self.snapshot_rows(table, kinds["snapshot"], problems),
                  gap_rows(table, kinds["gap"])]
        if "t" in self.options.opt:
            blocks.append(self.book_ticker_rows(table, kinds["bookTicker"], problems))
        if "m" in self.options.opt:
            blocks.append(self.mark_price_rows(table, kinds["markPrice"], problems))
        return blocks

    def depth_exch_ts(self, table: LineTable, rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
        return ts * MS

    def depth_rows(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        lv = depth_levels(table, idx, self.depth_ts_key, b'"b":[', b'"a":[', problems, "depthUpdate")
        per_msg = lv.n_bid + lv.n_ask
        exch = self.depth_exch_ts(table, lv.rows, lv.ts)
        return RowBlock(
            line=np.repeat(table.line_no[lv.rows], per_msg),
            ev=side_rows(lv.n_bid, lv.n_ask, E.DEPTH_EVENT | E.BUY_EVENT, E.DEPTH_EVENT | E.SELL_EVENT),
            exch_ts=np.repeat(exch, per_msg),
            local_ts=np.repeat(table.local_ts[lv.rows], per_msg),
            px=lv.values[0::2].copy(),
            qty=lv.values[1::2].copy(),
        )

    # Futures trades carry X (MARKET, or INSURANCE_FUND/ADL...); hftbacktest keeps MARKET only.
    require_market = True

    def trade_exch_ts(self, table: LineTable, rows: np.ndarray, ts: np.ndarray) -> np.ndarray:
        return ts * MS

    # One match per well-formed trade line: (T, p, q, m), X == MARKET required by the pattern.
    # Binance writes fields in a fixed order; any line that does not fit goes the careful way.
    # Binance's exact field order first (fastest to match), then a looser pattern.
    trade_patterns = (
        re.compile(rb'(?m)^\{"stream":"[^"]*","data":\{"e":"trade","E":\d+,"T":(\d+),"s":"[^"]*",'
                   rb'"t":\d+,"p":"([^"]*)","q":"([^"]*)","X":"MARKET","m":(true|false)\}\}$'),
        re.compile(rb'(?m)^\{"stream":"[^"]*","data":\{"e":"trade",.*?"T":(\d+),.*?"p":"([^"]*)",'
                   rb'"q":"([^"]*)","X":"MARKET","m":(true|false)\}\}$'),
    )
    trade_groups = (0, 1, 2, 3)          # positions of T, p, q, m in the pattern's groups

    def trade_rows(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        fast = self._trade_rows_c(table, idx)
        if fast is None:
            fast = self._trade_rows_regex(table, idx)
        return fast if fast is not None else self._trade_rows_find(table, idx, problems)

    def _trade_rows_c(self, table: LineTable, idx: np.ndarray) -> RowBlock | None:
        """The C accelerator's scan (same fields as ``_trade_rows_find``), or None to use Python."""
        if accel.scan is None or not len(idx):
            return None
        status, ts, px, qty, maker = accel.scan.trade_fields(
            table.data, table.start[idx], table.end[idx], b'"T":', b'"p":"', b'"q":"', b'"m":',
            b'"X":"' if self.require_market else b"", b"MARKET")
        status = np.frombuffer(status, np.uint8)
        if not status.all():
            return None
        row = status == 1
        return self._trade_block(table, idx[row], np.frombuffer(ts, np.int64)[row],
                                 np.frombuffer(maker, bool)[row], np.frombuffer(px, np.float64)[row],
                                 np.frombuffer(qty, np.float64)[row])

    def _trade_rows_regex(self, table: LineTable, idx: np.ndarray) -> RowBlock | None:
        """All trades with one regex scan, or None if some line does not fit the pattern."""
        if not len(idx):
            return None
        data = table.data
        joined = b"\n".join([data[s:e] for s, e in zip(table.start[idx].tolist(), table.end[idx].tolist())])
        if self.require_market and joined.count(b'"X":"MARKET"') != len(idx):
            return None          # non-MARKET trades (insurance fund, ADL): the careful path
        for pattern in self.trade_patterns:
            found = pattern.findall(joined)
            if len(found) == len(idx):
                break
        else:
            return None          # odd lines: the careful path names them
        g_t, g_p, g_q, g_m = self.trade_groups
        ts = [int(f[g_t]) for f in found]
        px = parse_numbers([f[g_p] for f in found])
        qty = parse_numbers([f[g_q] for f in found])
        if px is None or qty is None:
            return None
        sell = [f[g_m] == b"true" for f in found]
        return self._trade_block(table, idx, ts, sell, px, qty)

    def _trade_rows_find(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        data = table.data
        rows, ts, px, qty, sell = [], [], [], [], []
        slow: list[int] = []
        for i, s, e in zip(idx.tolist(), table.start[idx].tolist(), table.end[idx].tolist()):
            if not data.endswith(b"}}", s, e):
                slow.append(i)
                continue
            if self.require_market:
                x = str_field(data, b'"X":"', s, e)
                if x != b"MARKET":
                    if x is None:
                        slow.append(i)
                    continue
            t = int_field(data, b'"T":', s, e)
            p = str_field(data, b'"p":"', s, e)
            q = str_field(data, b'"q":"', s, e)
            m = bool_field(data, b'"m":', s, e)
            if t is None or p is None or q is None or m is None:
                slow.append(i)
                continue
            rows.append(i)
            ts.append(t)
            px.append(p)
            qty.append(q)
            sell.append(m)       # buyer is the maker: the seller took liquidity
        pxa, qtya = parse_numbers(px), parse_numbers(qty)
        if pxa is None or qtya is None:
            slow.extend(rows)
            rows, ts, sell, pxa, qtya = [], [], [], np.zeros(0), np.zeros(0)
        if slow:
            return _concat([self._trade_block(table, np.array(rows, np.int64), ts, sell, pxa, qtya),
                            self._trade_rows_slow(table, np.array(sorted(slow), np.int64), problems)])
        return self._trade_block(table, np.array(rows, np.int64), ts, sell, pxa, qtya)

    def _trade_block(self, table: LineTable, rows: np.ndarray, ts: list[int] | np.ndarray,
                     sell: list[bool] | np.ndarray, px: np.ndarray, qty: np.ndarray) -> RowBlock:
        ev = np.where(np.array(sell, bool), E.TRADE_EVENT | E.SELL_EVENT,
                      E.TRADE_EVENT | E.BUY_EVENT).astype(np.uint64)
        return RowBlock(table.line_no[rows], ev,
                        self.trade_exch_ts(table, rows, np.array(ts, np.int64)),
                        table.local_ts[rows], np.asarray(px, np.float64), np.asarray(qty, np.float64))

    def _trade_rows_slow(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        """One message at a time, to keep the good ones and name the bad ones."""
        idx, msgs = load_messages(table, idx, problems, "trade")
        rows, ts, px, qty, sell = [], [], [], [], []
        for i, msg in zip(idx.tolist(), msgs):
            try:
                d = msg["data"]
                if self.require_market and d["X"] != "MARKET":
                    continue
                t, p, q, m = ms_field(d["T"]), float(d["p"]), float(d["q"]), bool(d["m"])
            except (KeyError, TypeError, ValueError) as exc:
                problems.add(int(table.line_no[i]), f"malformed trade message skipped ({exc!r})")
                continue
            rows.append(i)
            ts.append(t)
            px.append(p)
            qty.append(q)
            sell.append(m)
        return self._trade_block(table, np.array(rows, np.int64), ts, sell,
                                 np.array(px, np.float64), np.array(qty, np.float64))

    def snapshot_exch_ts(self, table: LineTable, i: int, msg: dict) -> int:
        return ms_field(msg["T"]) * MS

    def snapshot_rows(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        def to_rows(i: int, msg: dict) -> list[tuple]:
            exch = self.snapshot_exch_ts(table, i, msg)
            local = int(table.local_ts[i])
            line = int(table.line_no[i])
            out = []
            for key, side in (("bids", E.BUY_EVENT), ("asks", E.SELL_EVENT)):
                levels = msg[key]
                if len(levels) > 0:
                    # Clears the book up to the snapshot's farthest price, then inserts it.
                    out.append((line, E.DEPTH_CLEAR_EVENT | side, exch, local, float(levels[-1][0]), 0.0))
                    out.extend((line, E.DEPTH_SNAPSHOT_EVENT | side, exch, local, float(px), float(q))
                               for px, q in levels)
            return out
        return rows_per_message(table, idx, problems, "depth snapshot", to_rows)

    def book_ticker_exch_ts(self, table: LineTable, i: int, d: dict) -> int:
        return ms_field(d["T"]) * MS

    def book_ticker_rows(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        def to_rows(i: int, msg: dict) -> list[tuple]:
            d = msg["data"]
            exch = self.book_ticker_exch_ts(table, i, d)
            local, line = int(table.local_ts[i]), int(table.line_no[i])
            return [(line, E.BEST_BID_EVENT, exch, local, float(d["b"]), float(d["B"])),
                    (line, E.BEST_ASK_EVENT, exch, local, float(d["a"]), float(d["A"]))]
        return rows_per_message(table, idx, problems, "bookTicker", to_rows)

    def mark_price_rows(self, table: LineTable, idx: np.ndarray, problems: ProblemLog) -> RowBlock:
        def to_rows(i: int, msg: dict) -> list[tuple]:
            d = msg["data"]
            # hftbacktest stamps these with ``T`` (the next funding time), kept for equality.
            exch = ms_field(d["T"]) * MS
            local, line = int(table.local_ts[i]), int(table.line_no[i])
            return [(line, E.INDEX_PRICE_EVENT, exch, local, float(d["i"]), 0.0),
                    (line, E.MARK_PRICE_EVENT, exch, local, float(d["p"]), 0.0),
                    (line, E.FUNDING_RATE_EVENT, exch, local, float(d["r"]), 0.0)]
        return rows_per_message(table, idx, problems, "markPriceUpdate", to_rows)


