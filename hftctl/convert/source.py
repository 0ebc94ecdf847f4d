"""Read a recording as text whatever its compression: gzip, zstandard or plain, told by content.

The collector may be killed mid-write, so a truncated or corrupt stream is expected input: what
was decompressed before the damage is kept, the cut-off last line is reported, never a traceback.
Output comes in large chunks of whole lines so the parser can work on a buffer at a time.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import zstandard

from hftctl.convert.problems import ProblemLog
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

READ_SIZE = 1 << 20        # compressed bytes read per step
CHUNK_TARGET = 48 << 20    # decompressed bytes handed to the parser at a time


@dataclass
class Chunk:
    """Whole lines of text; first_line is the 1-based number of its first line in the file."""

    data: bytes
    first_line: int


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "plain"


class _Decoder:
    """Streaming decompressor that survives concatenated members (gzip) and frames (zstd)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._new()

    def _new(self) -> None:
        if self.kind == "gzip":
            self._obj = zlib.decompressobj(wbits=31)
        elif self.kind == "zstd":
            self._obj = zstandard.ZstdDecompressor().decompressobj()
        else:
            self._obj = None
        self.started = False

    def feed(self, data: bytes) -> tuple[bytes, str]:
        """Decompress ``data``; on damage, return what came out before it and the reason."""
        if self._obj is None:
            return data, ""
        out: list[bytes] = []
        while data:
            self.started = True
            backup = self._obj.copy() if self.kind == "gzip" else None
            try:
                out.append(self._obj.decompress(data))
            except (zlib.error, zstandard.ZstdError) as exc:
                reason = f"corrupt {self.kind} data ({exc})"
                if backup is not None:
                    out.append(_salvage(backup, data))
                return b"".join(out), reason
            if self._obj.eof:
                data = self._obj.unused_data
                self._new()
            else:
                data = b""
        return b"".join(out), ""

    @property
    def complete(self) -> bool:
        """True when the stream ended on a member/frame boundary (not cut off)."""
        return self._obj is None or not self.started


def _salvage(obj, data: bytes, step: int = 512) -> bytes:
    """Re-decompress ``data`` in small steps up to the damage, keeping everything before it."""
    out = []
    for i in range(0, len(data), step):
        try:
            out.append(obj.decompress(data[i:i + step]))
        except zlib.error:
            break
    return b"".join(out)


def read_chunks(path: str, problems: ProblemLog,
                progress: Callable[[int], None] | None = None) -> Iterator[Chunk]:
    """Yield the decompressed text of ``path`` as chunks of whole lines.

    ``progress`` is called with the number of compressed bytes consumed since the last call.
    """
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise HftctlError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with f:
        head = f.read(4)
        f.seek(0)
        kind = sniff(head)
        if not head:
            problems.add(0, "empty file (nothing to convert)")
            return
        decoder = _Decoder(kind)
        pending = b""        # text after the last newline, waiting for the rest of its line
        parts: list[bytes] = []
        size = 0
        line_no = 1
        broken = ""
        while True:
            try:
                raw = f.read(READ_SIZE)
            except OSError as exc:
                broken = f"read error: {exc}"
                break
            if not raw:
                break
            if progress:
                progress(len(raw))
            text, broken = decoder.feed(raw)
            if text:
                parts.append(text)
                size += len(text)
            if broken:
                break
            if size >= CHUNK_TARGET:
                data = pending + b"".join(parts)
                cut = data.rfind(b"\n") + 1
                if cut:
                    yield Chunk(data[:cut], line_no)
                    line_no += data.count(b"\n", 0, cut)
                    pending = data[cut:]
                else:
                    pending = data
                parts, size = [], 0
        if not broken and not decoder.complete:
            broken = f"{kind} stream ends early (file truncated)"
        data = pending + b"".join(parts)
        if broken:
            cut = data.rfind(b"\n") + 1
            if cut < len(data):
                problems.add(line_no + data.count(b"\n", 0, cut),
                             f"{broken}: incomplete last line skipped; lines before it converted")
            else:
                last = line_no + data.count(b"\n")
                problems.add(last, f"{broken}; the lines before it were converted")
            data = data[:cut]
        if data:
            yield Chunk(data, line_no)
        elif line_no == 1 and not broken:
            problems.add(0, "empty file (no lines)")


def input_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
