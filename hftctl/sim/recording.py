"""Reading collector recordings (gzip or zstd text, `<local_ts_ns> <raw JSON>` per line).

The sim scans a file once at start-up so a missing, truncated or corrupt recording is a
one-line error before the server listens, not a crash in the middle of a replay.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import zstandard

from hftctl.errors import HftctlError
from hftctl.sim.adapter import ReplayFormat

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class RecordingInfo:
    path: Path
    symbol: str
    lines: int
    snapshot_line: int | None      # index of the REST snapshot line, if any
    first_ts: int
    last_ts: int
    carries: frozenset[str] = frozenset()     # MARK / LIQUIDATION, if the recording has them


def open_text(path: Path) -> io.BufferedIOBase:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise HftctlError(f"replay file {path} does not exist") from None
    except OSError as exc:
        raise HftctlError(f"cannot read replay file {path}: {exc.strerror}") from None
    if magic.startswith(_GZIP_MAGIC):
        return gzip.open(path, "rb")
    if magic == _ZSTD_MAGIC:
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True))
    raise HftctlError(f"replay file {path} is neither gzip nor zstd")


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(local_ts_ns, raw JSON bytes) per line; corrupt compression or a bad line is HftctlError."""
    f = open_text(path)
    n = 0
    try:
        with f:
            for line in f:
                n += 1
                line = line.strip()
                if not line:
                    continue
                ts, sep, raw = line.partition(b" ")
                if not sep or not ts.isdigit() or not raw.startswith(b"{"):
                    raise HftctlError(f"{path}:{n}: not a recording line (<local_ts_ns> <json>)")
                yield int(ts), raw
    except (EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError, OSError) as exc:
        raise HftctlError(f"{path}: corrupt or truncated recording after line {n} ({exc})") from None


def scan(path: Path, fmt: ReplayFormat) -> RecordingInfo:
    """Validate the whole file and learn its symbol and snapshot position (``fmt`` reads lines)."""
    symbol = ""
    snapshot = None
    first = last = 0
    count = 0
    carries: set[str] = set()
    for i, (ts, raw) in enumerate(iter_lines(path)):
        if count == 0:
            first = ts
        last = ts
        count += 1
        if snapshot is None and fmt.is_snapshot(raw):
            snapshot = i
        elif not symbol:
            symbol = fmt.symbol(raw) or ""
        kind = fmt.carries(raw)
        if kind:
            carries.add(kind)
    if count == 0:
        raise HftctlError(f"replay file {path} is empty")
    if not symbol:
        raise HftctlError(f"replay file {path} has no market messages of this exchange")
    return RecordingInfo(path, symbol, count, snapshot, first, last, frozenset(carries))


def loads(path: Path, raw: bytes) -> dict:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HftctlError(f"{path}: malformed JSON in recording ({exc})") from None
