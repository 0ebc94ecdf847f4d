"""Read a recording as text whatever its compression: gzip, zstandard or plain, told by content.

The collector may be killed mid-write, so a truncated or corrupt stream is expected input: what
was decompressed before the damage is kept, the cut-off last line is reported, never a traceback.
Output comes in large chunks of whole lines so the parser can work on a buffer at a time.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import zstandard

try:                                     # optional accelerator for gzip input
    from isal import isal_zlib
    _ISAL_ERRORS: tuple = (isal_zlib.error,)
except ImportError:                      # pragma: no cover - isal is a declared dependency
    isal_zlib = None
    _ISAL_ERRORS = ()

from hftctl.convert.problems import ProblemLog
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

READ_SIZE = 1 << 20        # compressed bytes read per step
CHUNK_TARGET = 8 << 20     # decompressed bytes handed to the parser at a time
FIRST_CHUNK = 2 << 20


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
    """Streaming decompressor that survives concatenated members (gzip) and frames (zstd).

    gzip goes through ISA-L (``isal``) when installed, about twice zlib's speed; ``fast=False``
    forces zlib, whose decompressor can be copied to salvage data up to a damaged spot.
    """

    def __init__(self, kind: str, fast: bool = True) -> None:
        self.kind = kind
        self.fast = fast and isal_zlib is not None and kind == "gzip"
        self._new()

    def _new(self) -> None:
        if self.kind == "gzip":
            self._obj = (isal_zlib if self.fast else zlib).decompressobj(wbits=31)
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
            backup = self._obj.copy() if (self.kind == "gzip" and not self.fast) else None
            try:
                out.append(self._obj.decompress(data))
            except (zlib.error, zstandard.ZstdError, *_ISAL_ERRORS) as exc:
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


def _pieces(f, decoder: _Decoder, progress: Callable[[int], None] | None,
            out: queue.Queue, stop: threading.Event, path: str = "") -> None:
    """Reader thread: (text, None) pieces, then (None, reason or "") at the end. zlib and zstd release
    the GIL, so decompression runs while the main thread parses the previous chunk."""
    broken = ""
    emitted = 0
    try:
        while not stop.is_set():
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
            if broken and decoder.fast:
                # ISA-L cannot hand back what precedes the damage; zlib can, from the start.
                text, broken = _salvage_with_zlib(path, decoder.kind, emitted)
            if text:
                emitted += len(text)
                _put(out, stop, (text, None))
            if broken:
                break
        if not broken and not decoder.complete:
            broken = f"{decoder.kind} stream ends early (file truncated)"
    except Exception as exc:  # noqa: BLE001 -- reported to the consumer, never lost in a thread
        broken = f"cannot decompress: {exc!r}"
    _put(out, stop, (None, broken))


def _salvage_with_zlib(path: str, kind: str, skip: int) -> tuple[bytes, str]:
    """Decompress ``path`` again with zlib up to the damage; return the text after ``skip`` bytes."""
    decoder = _Decoder(kind, fast=False)
    out: list[bytes] = []
    seen = 0
    with open(path, "rb") as f:
        while True:
            raw = f.read(READ_SIZE)
            if not raw:
                return b"".join(out), "stream damaged (decoder disagreement)"
            text, broken = decoder.feed(raw)
            if seen + len(text) > skip:
                out.append(text[max(skip - seen, 0):])
            seen += len(text)
            if broken:
                return b"".join(out), broken


def _put(out: queue.Queue, stop: threading.Event, item) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def read_chunks(path: str, problems: ProblemLog,
                progress: Callable[[int], None] | None = None,
                sizes: tuple[int, int] | None = None) -> Iterator[Chunk]:
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
        if not head:
            problems.add(0, "empty file (nothing to convert)")
            return
        kind = sniff(head)
        decoder = _Decoder(kind)
        pieces: queue.Queue = queue.Queue(maxsize=8)
        stop = threading.Event()
        reader = threading.Thread(target=_pieces, args=(f, decoder, progress, pieces, stop, path),
                                  name=f"read {os.path.basename(path)}", daemon=True)
        reader.start()
        try:
            yield from _chunks(pieces, problems, *(sizes or (FIRST_CHUNK, CHUNK_TARGET)))
        finally:
            stop.set()
            reader.join()


def _chunks(pieces: queue.Queue, problems: ProblemLog, first: int, target: int) -> Iterator[Chunk]:
    pending = b""        # text after the last newline, waiting for the rest of its line
    parts: list[bytes] = []
    size = 0
    line_no = 1
    while True:
        text, end = pieces.get()
        if text is None:
            broken = end
            break
        parts.append(text)
        size += len(text)
        # The first chunk is small so parsing starts while the rest is being decompressed.
        if size >= (target if line_no > 1 else first):
            data = pending + b"".join(parts)
            cut = data.rfind(b"\n") + 1
            if cut:
                yield Chunk(data[:cut], line_no)
                line_no += data.count(b"\n", 0, cut)
                pending = data[cut:]
            else:
                pending = data
            parts, size = [], 0
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


def sample_text(path: str, size: int = 256 << 10) -> bytes:
    """The first decompressed bytes of a file (for telling its exchange); b"" if unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read(size)
    except OSError:
        return b""
    text, _ = _Decoder(sniff(raw)).feed(raw)
    return text


def input_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
