"""Pull the fields a converter needs out of many JSON messages at once.

All exchange-agnostic: ``depth_levels`` reads a timestamp and two ``[[px,qty],...]`` arrays by
key from each message without building Python objects per level (the bulk of all rows), and
``load_messages`` parses small messages with one orjson call for all of them (``rows_per_message``
turns those into rows). Both fall back to one message at a time when the fast path fails, so a
bad line is named and skipped instead of spoiling the chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from hftctl.convert import accel
from hftctl.convert.lines import LineTable
from hftctl.convert.numbers import parse_pair_segments
from hftctl.convert.problems import ProblemLog
from hftctl.convert.rows import RowBlock, block_from_rows


@dataclass
class DepthLevels:
    """Per message: its position in the table, timestamp, bid and ask counts; flat px/qty pairs."""

    rows: np.ndarray      # int64 indices into the LineTable of the messages kept
    ts: np.ndarray        # int64, the timestamp field as written (ms for Binance/Bybit)
    n_bid: np.ndarray     # int64
    n_ask: np.ndarray     # int64
    values: np.ndarray    # float64, px0, qty0, px1, qty1, ... bids then asks, message by message


MS = 1_000_000
# Millisecond timestamps beyond this overflow int64 nanoseconds (year 2262): only damage writes them.
MAX_MS = (2**63 - 1) // MS


def ms_field(value: Any) -> int:
    """A millisecond timestamp field as int; ValueError if its nanoseconds do not fit int64."""
    ms = int(value)
    if not -MAX_MS <= ms <= MAX_MS:
        raise ValueError(f"timestamp {ms} out of range")
    return ms


def int_field(data: bytes, key: bytes, s: int, e: int) -> int | None:
    """The millisecond timestamp after ``key`` (given as ``b'"T":'``) within data[s:e], or None."""
    k = data.find(key, s, e)
    if k < 0:
        return None
    k += len(key)
    stop = data.find(b",", k, e)
    if stop < 0:
        stop = data.find(b"}", k, e)
    try:
        return ms_field(data[k:stop])
    except ValueError:
        return None


def str_field(data: bytes, key: bytes, s: int, e: int) -> bytes | None:
    """Raw value of a JSON string field ``key`` (given as ``b'"p":"'``) within data[s:e]."""
    k = data.find(key, s, e)
    if k < 0:
        return None
    k += len(key)
    stop = data.find(b'"', k, e)
    return data[k:stop] if stop >= 0 else None


def bool_field(data: bytes, key: bytes, s: int, e: int) -> bool | None:
    """Value of a JSON boolean field ``key`` (given as ``b'"m":'``) within data[s:e]."""
    k = data.find(key, s, e)
    if k < 0:
        return None
    k += len(key)
    if data.startswith(b"true", k):
        return True
    if data.startswith(b"false", k):
        return False
    return None


def depth_levels(table: LineTable, idx: np.ndarray, ts_key: bytes | None, bid_key: bytes,
                 ask_key: bytes, problems: ProblemLog, what: str, tail: bytes = b"}}") -> DepthLevels:
    """Read ``"<ts_key>":<int>`` and the bid/ask arrays of the messages at ``idx``.

    ``ts_key`` None skips the timestamp (ts is 0). Keys include quotes and colon plus the opening
    bracket, e.g. ``b'"b":['``. A message that does not end with ``tail`` is cut off and skipped.
    """
    ts_key_full = b'"' + ts_key + b'":' if ts_key else None
    if accel.scan is not None and len(idx):
        ok, ts, n_bid, n_ask, values = accel.scan.depth_levels(
            table.data, table.start[idx], table.end[idx], ts_key_full or b"", bid_key, ask_key, tail)
        if 0 not in ok:
            return DepthLevels(idx, np.frombuffer(ts, np.int64), np.frombuffer(n_bid, np.int64),
                               np.frombuffer(n_ask, np.int64), np.frombuffer(values, np.float64))
        # Something unusual in this chunk: the lenient path below parses it or names the line.
    data = table.data
    keep: list[int] = []
    ts_list: list[int] = []
    segs: list[bytes] = []
    starts = table.start[idx].tolist()
    ends = table.end[idx].tolist()
    find = data.find
    for i, s, e in zip(idx.tolist(), starts, ends):
        ts = int_field(data, ts_key_full, s, e) if ts_key_full else 0
        # Each byte is scanned once: bids' end, then the ask key after it, then asks' end.
        kb = find(bid_key, s, e)
        if kb < 0 or ts is None or not data.endswith(tail, s, e):
            problems.add(int(table.line_no[i]), f"malformed or truncated {what} message skipped")
            continue
        kb += len(bid_key)
        eb = kb if data[kb] == 93 else find(b"]]", kb, e) + 1       # 93 is "]"
        ka = find(ask_key, eb, e) if eb > 0 else -1
        if ka < 0:
            problems.add(int(table.line_no[i]), f"malformed or truncated {what} message skipped")
            continue
        ka += len(ask_key)
        ea = ka if data[ka] == 93 else find(b"]]", ka, e) + 1
        if ea <= 0:
            problems.add(int(table.line_no[i]), f"malformed or truncated {what} message skipped")
            continue
        keep.append(i)
        ts_list.append(ts)
        segs.append(data[kb:eb])
        segs.append(data[ka:ea])
    counts = _pair_counts(segs)          # bids, asks, bids, asks, ...
    n_bid = counts[0::2].copy()
    n_ask = counts[1::2].copy()
    values = parse_pair_segments(segs)
    if values is None or len(values) != 2 * int(n_bid.sum() + n_ask.sum()):
        return _depth_levels_slow(table, np.array(keep, np.int64), ts_list, segs, problems, what)
    return DepthLevels(np.array(keep, np.int64), np.array(ts_list, np.int64), n_bid, n_ask, values)


def _pair_counts(segs: list[bytes]) -> np.ndarray:
    """Pairs per segment, all at once: each [px,qty] pair opens with one "[" (numpy, no loop)."""
    if not segs:
        return np.zeros(0, np.int64)
    lengths = np.fromiter(map(len, segs), np.int64, len(segs))
    ends = np.cumsum(lengths)
    opens = np.flatnonzero(np.frombuffer(b"".join(segs), np.uint8) == 91)    # "["
    return np.diff(np.searchsorted(opens, ends), prepend=0)


def _pairs_slow(segment: bytes) -> list[float] | None:
    try:
        levels = orjson.loads(b"[" + segment + b"]")
        out: list[float] = []
        for px, qty in levels:
            out.append(float(px))
            out.append(float(qty))
        return out
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None


def _depth_levels_slow(table: LineTable, keep: np.ndarray, ts_list: list[int], segs: list[bytes],
                       problems: ProblemLog, what: str) -> DepthLevels:
    rows, ts, nb, na, values = [], [], [], [], []
    for k, i in enumerate(keep.tolist()):
        bids = _pairs_slow(segs[2 * k]) if segs[2 * k] else []
        asks = _pairs_slow(segs[2 * k + 1]) if segs[2 * k + 1] else []
        if bids is None or asks is None:
            problems.add(int(table.line_no[i]), f"bad price/quantity in {what} message skipped")
            continue
        rows.append(i)
        ts.append(ts_list[k])
        nb.append(len(bids) // 2)
        na.append(len(asks) // 2)
        values.extend(bids)
        values.extend(asks)
    return DepthLevels(np.array(rows, np.int64), np.array(ts, np.int64), np.array(nb, np.int64),
                       np.array(na, np.int64), np.array(values, np.float64))


def load_messages(table: LineTable, idx: np.ndarray, problems: ProblemLog,
                  what: str) -> tuple[np.ndarray, list]:
    """Parse the messages at ``idx`` with orjson; returns (indices kept, parsed objects)."""
    data = table.data
    parts = [data[s:e] for s, e in zip(table.start[idx].tolist(), table.end[idx].tolist())]
    if not parts:
        return idx, []
    try:
        objs = orjson.loads(b"[" + b",".join(parts) + b"]")
        if len(objs) == len(parts):
            return idx, objs
    except orjson.JSONDecodeError:
        pass
    kept, objs = [], []
    for i, part in zip(idx.tolist(), parts):
        try:
            objs.append(orjson.loads(part))
            kept.append(i)
        except orjson.JSONDecodeError as exc:
            problems.add(int(table.line_no[i]), f"not valid JSON ({exc}); {what} message skipped")
    return np.array(kept, np.int64), objs


def rows_per_message(table: LineTable, idx: np.ndarray, problems: ProblemLog, what: str,
                     to_rows: Callable[[int, Any], list[tuple]]) -> RowBlock:
    """``to_rows(i, parsed message)`` for each message at ``idx``, for the rare kinds where a
    Python object per message is cheap enough; a message without the fields is named and skipped."""
    idx, msgs = load_messages(table, idx, problems, what)
    rows: list[tuple] = []
    for i, msg in zip(idx.tolist(), msgs):
        try:
            rows.extend(to_rows(i, msg))
        except (KeyError, TypeError, ValueError) as exc:
            problems.add(int(table.line_no[i]), f"malformed {what} skipped ({exc!r})")
    return block_from_rows(rows)


def side_rows(n_bid: np.ndarray, n_ask: np.ndarray, bid_value: int, ask_value: int) -> np.ndarray:
    """Per row: ``bid_value`` for each bid then ``ask_value`` for each ask, message by message."""
    counts = np.empty(2 * len(n_bid), np.int64)
    counts[0::2] = n_bid
    counts[1::2] = n_ask
    pattern = np.tile(np.array([bid_value, ask_value], np.uint64), len(n_bid))
    return np.repeat(pattern, counts)


def book_rows(lv: DepthLevels, snapshot: np.ndarray, update_kind: int, snapshot_kind: int,
              clear_kind: int, buy: int, sell: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows for depth messages, some of them full snapshots: (message index, ev, px, qty).

    Per message, bids then asks. A snapshot side with levels starts with one ``clear_kind`` row at
    its farthest price (qty 0) so the book is wiped up to there before the snapshot is inserted,
    as hftbacktest's converters do.
    """
    m = len(lv.rows)
    seg_count = np.empty(2 * m, np.int64)
    seg_count[0::2] = lv.n_bid
    seg_count[1::2] = lv.n_ask
    seg_snap = np.repeat(snapshot.astype(bool), 2)
    extra = (seg_snap & (seg_count > 0)).astype(np.int64)
    seg_rows = seg_count + extra
    seg_out = np.cumsum(seg_rows) - seg_rows
    seg_lvl = np.cumsum(seg_count) - seg_count
    side = np.tile(np.array([buy, sell], np.uint64), m)
    total = int(seg_rows.sum())
    n_lvl = int(seg_count.sum())
    ev = np.empty(total, np.uint64)
    px = np.empty(total, np.float64)
    qty = np.zeros(total, np.float64)
    msg = np.repeat(np.repeat(np.arange(m, dtype=np.int64), 2), seg_rows)
    lvl_pos = np.arange(n_lvl, dtype=np.int64) + np.repeat(seg_out + extra - seg_lvl, seg_count)
    kind = np.where(seg_snap, snapshot_kind, update_kind).astype(np.uint64)
    ev[lvl_pos] = np.repeat(kind | side, seg_count)
    px[lvl_pos] = lv.values[0::2]
    qty[lvl_pos] = lv.values[1::2]
    has = extra.astype(bool)
    clear_pos = seg_out[has]
    ev[clear_pos] = np.uint64(clear_kind) | side[has]
    px[clear_pos] = lv.values[0::2][(seg_lvl + seg_count - 1)[has]]
    return msg, ev, px, qty
