"""Bulk field access for audit readers: integers by key, and names (stream, topic) per line.

Both work on whole chunks; the integers go through the C accelerator when it is built, and the
Python twin below gives the same values (the tests compare them).
"""

from __future__ import annotations

import re

import numpy as np

from hftctl.audit import accel
from hftctl.audit.reader import NO_ID
from hftctl.convert.lines import HEAD_WIDTH, LineTable

_INT = re.compile(rb"-?\d{1,18}(?!\d)")


def int_fields(table: LineTable, rows: np.ndarray, keys: tuple[bytes, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(ok, values): for each message at ``rows`` the integer after the first occurrence of each
    key (given with quotes and colon, ``b'"u":'``); values has one column per key, ok is False
    where a key is missing or not followed by a plain integer (its value is then 0)."""
    rows = np.asarray(rows, np.int64)
    starts = np.ascontiguousarray(table.start[rows])
    ends = np.ascontiguousarray(table.end[rows])
    if accel.fast is not None and len(rows):
        ok, values = accel.fast.int_fields(table.data, starts, ends, keys)
        return (np.frombuffer(ok, np.uint8).astype(bool),
                np.frombuffer(values, np.int64).reshape(len(rows), len(keys)).copy())
    ok = np.ones(len(rows), bool)
    values = np.zeros((len(rows), len(keys)), np.int64)
    data = table.data
    for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist())):
        for j, key in enumerate(keys):
            at = data.find(key, s, e)
            m = _INT.match(data, at + len(key), e) if at >= 0 else None
            if m is None:
                ok[k] = False
            else:
                values[k, j] = int(m.group())
    return ok, values


def streams_after(table: LineTable, prefix: bytes) -> tuple[np.ndarray, list[str]]:
    """Stream code per line (-1 for lines that do not start with ``prefix``) and the names, for
    messages that open with their stream's name (``{"stream":"``, ``{"topic":"``)."""
    rows = np.flatnonzero(table.startswith(prefix))
    codes, names = names_at(table, rows, len(prefix))
    stream = np.full(len(table), -1, np.int32)
    stream[rows] = codes
    return stream, names


def times_of(table: LineTable, kind: np.ndarray, kinds: tuple[int, ...], key: bytes) -> np.ndarray:
    """The exchange time (the integer after ``key``) of every line whose kind is one of ``kinds``;
    NO_ID elsewhere and where the message has none."""
    rows = np.flatnonzero(np.isin(kind, kinds))
    ok, values = int_fields(table, rows, (key,))
    out = np.full(len(table), NO_ID, np.int64)
    out[rows[ok]] = values[ok, 0]
    return out


NAME_WIDTH = 32        # names up to this long are compared as four 8-byte words per line


def names_at(table: LineTable, rows: np.ndarray, col: int) -> tuple[np.ndarray, list[str]]:
    """The quoted name that starts at head column ``col`` of each line at ``rows`` (a stream
    name after ``{"stream":"``, a topic after ``{"topic":"``): (code per row, names).

    Each line's name is cut out of its head as four zero-padded 8-byte words, so telling the
    few distinct names apart is one comparison of words per line and name; longer names (or
    names running past the head) are read from the lines themselves.
    """
    codes = np.full(len(rows), -1, np.int32)
    names: list[str] = []
    if not len(rows):
        return codes, names
    stop = table.find(ord('"'), col)[rows]
    length = stop - col
    short = (stop >= 0) & (length <= NAME_WIDTH) & (col + NAME_WIDTH <= HEAD_WIDTH)
    window = np.ascontiguousarray(table.head[rows, col:col + NAME_WIDTH]) if col + NAME_WIDTH <= HEAD_WIDTH \
        else np.zeros((len(rows), NAME_WIDTH), np.uint8)
    window[np.arange(NAME_WIDTH) >= length[:, None]] = 0
    words = window.view("<u8")
    remaining = np.flatnonzero(short)
    while len(remaining):
        first = int(remaining[0])
        same = np.all(words[remaining] == words[first], axis=1) & (length[remaining] == length[first])
        codes[remaining[same]] = len(names)
        names.append(window[first, :length[first]].tobytes().decode("utf-8", "replace"))
        remaining = remaining[~same]
    for i in np.flatnonzero(codes < 0).tolist():
        msg = table.message(int(rows[i]))
        end = msg.find(b'"', col)
        name = msg[col:end].decode("utf-8", "replace") if end > 0 else ""
        if name not in names:
            names.append(name)
        codes[i] = names.index(name)
    return codes, names
