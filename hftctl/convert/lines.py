"""Split a chunk of recording text into lines and read each line's local timestamp, vectorised.

Every line is ``<local_ts_ns> <raw JSON>``. Per-line Python work is what makes converters slow,
so line boundaries, timestamps and a fixed-width head of each message are computed with numpy
over the whole buffer; exchange mappers classify lines from that head without touching each one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hftctl.convert import accel
from hftctl.convert.problems import ProblemLog

TS_DIGITS = 19          # nanoseconds since the epoch have 19 digits from 2001 to 2286
HEAD_WIDTH = 64         # bytes of each message kept for classification


@dataclass
class LineTable:
    """The good lines of one chunk: where each message starts/ends, its local time, its head."""

    data: bytes
    line_no: np.ndarray      # int64, 1-based line number in the file
    start: np.ndarray        # int64, offset of the message (after the timestamp and space)
    end: np.ndarray          # int64, offset one past the message (newline excluded)
    local_ts: np.ndarray     # int64 ns
    head: np.ndarray         # uint8 (n, HEAD_WIDTH), message bytes, 0 past the line end

    def __len__(self) -> int:
        return len(self.start)

    def startswith(self, prefix: bytes, col: int = 0) -> np.ndarray:
        """Mask of lines whose message has ``prefix`` at column ``col``."""
        if col + len(prefix) > HEAD_WIDTH:
            return np.zeros(len(self), bool)
        return rows_startwith(self.head[:, col:], prefix)

    def bytes_at(self, col: np.ndarray, width: int) -> np.ndarray:
        """``width`` head bytes from a per-line column (0 where past the head or col < 0).

        Columns take few distinct values (one per stream-name length), so slicing per distinct
        column is much cheaper than a per-element gather.
        """
        out = np.zeros((len(self), width), np.uint8)
        for c in np.unique(col).tolist():
            if c < 0 or c >= HEAD_WIDTH:
                continue
            rows = col == c
            w = min(width, HEAD_WIDTH - c)
            out[rows, :w] = self.head[rows, c:c + w]
        return out

    def distinct(self, rows: np.ndarray, start: int, stop: np.ndarray) -> set[bytes]:
        """Distinct head[start:stop[i]] over ``rows`` (e.g. the symbols in stream names).

        One pass per distinct value (recordings hold one or a few), no sorting of all rows.
        """
        found: set[bytes] = set()
        remaining = rows
        while len(remaining):
            i = int(remaining[0])
            name = self.head[i, start:int(stop[i])].tobytes()
            found.add(name)
            same = (stop[remaining] == stop[i]) & rows_startwith(
                self.head[remaining, start:], name)
            same[0] = True
            remaining = remaining[~same]
        return found

    def find(self, byte: int, start_col: int = 0) -> np.ndarray:
        """Column of the first ``byte`` in each head at or after ``start_col``; -1 if absent."""
        hit = self.head[:, start_col:] == byte
        col = np.argmax(hit, axis=1)
        found = hit[np.arange(len(col)), col]
        return np.where(found, col + start_col, -1)

    def message(self, i: int) -> bytes:
        return self.data[int(self.start[i]):int(self.end[i])]


def rows_startwith(mat: np.ndarray, prefix: bytes) -> np.ndarray:
    """Mask of rows of a uint8 matrix that begin with ``prefix``, compared 8 bytes at a time."""
    n, k = len(mat), len(prefix)
    w = -(-k // 8) * 8
    if mat.flags.c_contiguous and mat.shape[1] % 8 == 0 and mat.shape[1] >= w:
        words = mat.view("<u8")               # no copy: heads are whole 8-byte words
    else:
        sub = np.zeros((n, w), np.uint8)
        sub[:, :min(k, mat.shape[1])] = mat[:, :k]
        words = sub.view("<u8")
    pat = np.zeros(w, np.uint8)
    pat[:k] = np.frombuffer(prefix, np.uint8)
    keep = np.zeros(w, np.uint8)
    keep[:k] = 0xFF
    pw, kw = pat.view("<u8"), keep.view("<u8")
    out = (words[:, 0] & kw[0]) == pw[0] if kw[0] != 0xFFFFFFFFFFFFFFFF else words[:, 0] == pw[0]
    for j in range(1, w // 8):
        out &= (words[:, j] & kw[j]) == pw[j]
    return out


def split_lines(data: bytes, first_line: int, problems: ProblemLog) -> LineTable:
    """Index the lines of ``data``; lines without a valid timestamp are reported and dropped."""
    buf = np.frombuffer(data, np.uint8)
    if accel.scan is not None:
        parts = accel.scan.split_lines(data)
        line_start, end, local_ts = (np.frombuffer(a, np.int64) for a in parts[:3])
        fast = np.frombuffer(parts[3], bool)
        head = np.frombuffer(parts[4], np.uint8).reshape(-1, HEAD_WIDTH)
    else:
        line_start, end, local_ts, fast, head = _index_lines(buf)
    n = len(line_start)
    line_no = np.arange(first_line, first_line + n, dtype=np.int64)
    blank = end == line_start
    start = line_start + TS_DIGITS + 1
    good = fast.copy()
    slow = np.flatnonzero(~fast & ~blank).tolist()
    for i in slow:
        ts, ok, msg_start = _slow_timestamp(data, int(line_start[i]), int(end[i]))
        if ok:
            local_ts[i] = ts
            start[i] = msg_start
            good[i] = True
        else:
            snippet = data[int(line_start[i]):min(int(end[i]), int(line_start[i]) + 40)]
            problems.add(int(line_no[i]), f"not '<local_ts_ns> <json>': {snippet!r}")

    if slow or blank.any():
        keep = np.flatnonzero(good)
        start, end, line_no, local_ts, head = start[keep], end[keep], line_no[keep], local_ts[keep], head[keep]
        line_start = line_start[keep]
    moved = np.flatnonzero(start != line_start + TS_DIGITS + 1) if slow else ()
    if len(moved):                                  # slow-path lines: head from the real start
        fixed = _gather(buf, start[moved], HEAD_WIDTH)
        fixed[np.arange(HEAD_WIDTH) >= (end[moved] - start[moved])[:, None]] = 0
        head[moved] = fixed
    return LineTable(data, line_no, start, end, local_ts, head)


def _index_lines(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """numpy twin of ``_scan.split_lines``: (line_start, end, local_ts, fast, head) per line."""
    nl = np.flatnonzero(buf == 10)
    if len(buf) and (len(nl) == 0 or nl[-1] != len(buf) - 1):
        nl = np.append(nl, len(buf))            # last line without a newline
    n = len(nl)
    line_start = np.empty(n, np.int64)
    if n:
        line_start[0] = 0
        line_start[1:] = nl[:-1] + 1
    end = nl.astype(np.int64)
    cr = (end > line_start) & (buf[np.maximum(end - 1, 0)] == 13) if len(buf) else end > end
    end = np.where(cr, end - 1, end)
    # Fast path: exactly 19 digits and a space (every line hftbacktest's collector writes).
    length = end - line_start
    # One gather serves both the timestamp and the message head of every fast-path line.
    window = _gather(buf, line_start, TS_DIGITS + 1 + HEAD_WIDTH)
    pre = window[:, :TS_DIGITS + 1]
    digits = pre[:, :TS_DIGITS] - np.uint8(48)
    local_ts = np.zeros(n, np.int64)
    for k in range(TS_DIGITS):
        local_ts *= 10
        local_ts += digits[:, k]
    fast = (length > TS_DIGITS + 1) & np.all(digits <= 9, axis=1) & (pre[:, TS_DIGITS] == 32)
    fast &= local_ts >= 0                       # 19 digits above 2^63 - 1 wrapped: not a timestamp
    local_ts[~fast] = 0
    head = np.ascontiguousarray(window[:, TS_DIGITS + 1:])
    head[np.arange(HEAD_WIDTH) >= (end - line_start - TS_DIGITS - 1)[:, None]] = 0
    return line_start, end, local_ts, fast, head


def _gather(buf: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """Rows of ``width`` bytes starting at each offset (zero past the end of the buffer)."""
    if len(buf) >= width:
        windows = np.lib.stride_tricks.sliding_window_view(buf, width)
        inside = offsets <= len(buf) - width
        if inside.all():
            return windows[offsets]
        out = np.zeros((len(offsets), width), np.uint8)
        out[inside] = windows[offsets[inside]]
    else:
        out = np.zeros((len(offsets), width), np.uint8)
        inside = np.zeros(len(offsets), bool)
    for i in np.flatnonzero(~inside).tolist():
        tail = buf[int(offsets[i]):int(offsets[i]) + width]
        out[i, :len(tail)] = tail
    return out


def _slow_timestamp(data: bytes, s: int, e: int) -> tuple[int, bool, int]:
    line = data[s:e]
    ts, sep, rest = line.partition(b" ")
    if not sep or not ts.isdigit() or not rest.lstrip().startswith(b"{"):
        return 0, False, 0
    value = int(ts)
    if value >= 1 << 63:
        return 0, False, 0
    return value, True, s + len(ts) + 1 + (len(rest) - len(rest.lstrip()))
