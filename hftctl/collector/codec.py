"""Compression as independent members, so a recording survives SIGKILL.

Each flush becomes one complete gzip member (RFC 1952 allows any number per file) or one zstd
frame. Every decoder (``zcat``, Python's ``gzip``, ``zstd -d``, hftbacktest's converters) reads a
file of concatenated members as one stream, so a collector killed between flushes leaves a file
that decompresses cleanly up to its last flush, and a clean close needs no trailer rewrite.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import zstandard

try:                                     # ISA-L: twice zlib's speed for the restart scan
    from isal import isal_zlib
except ImportError:                      # pragma: no cover - isal is a declared dependency
    isal_zlib = None

from hftctl.errors import HftctlError

READ_SIZE = 1 << 20


class Codec(Protocol):
    suffix: str
    magic: bytes            # what a file of this codec starts with
    member_head: bytes      # what every member this codec writes starts with

    def member(self, data: bytes) -> bytes:
        """Compress ``data`` into one self-contained member/frame."""

    def decoder(self) -> Any:
        """A fresh decompressor of one member (``decompress``, ``eof``, ``unused_data``)."""


@dataclass(frozen=True)
class Members:
    """What a recording holds: complete members up to byte ``complete``, then ``tail``:
    "" (nothing), "torn" (the start of a member cut off by a kill or a full disk) or "damaged"
    (bytes that are not this codec's data, where complete members might still follow)."""

    complete: int
    size: int
    tail: str


def scan_members(path: Path, codec: Codec) -> Members:
    """Walk ``path`` member by member (decompressing, output discarded) to find where its last
    complete member ends, and say what follows.

    Only the start of a member can be missing at the end of a file the collector wrote: each
    member goes out in one ``write``, so a torn one is a prefix of a member this codec writes
    (it begins with ``codec.member_head``). A tail of NUL bytes only (a crash before the file
    system wrote the data) counts as torn too. Anything else is "damaged": nobody should cut
    what they cannot explain.
    """
    complete = offset = 0
    broken = False
    obj = codec.decoder()
    with open(path, "rb") as f:
        while not broken:
            data = f.read(READ_SIZE)
            if not data:
                break
            while data:
                try:
                    obj.decompress(data)
                except (zlib.error, zstandard.ZstdError, *_isal_errors()):
                    broken = True
                    break
                if obj.eof:
                    offset += len(data) - len(obj.unused_data)
                    complete = offset
                    data = obj.unused_data
                    obj = codec.decoder()
                else:
                    offset += len(data)
                    data = b""
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == complete:
            return Members(complete, size, "")
        f.seek(complete)
        head = f.read(len(codec.member_head))
        f.seek(complete)
        if _all_nul(f):
            return Members(complete, size, "torn")
    ours = head == codec.member_head[:len(head)]
    return Members(complete, size, "torn" if ours and not broken else "damaged")


def _all_nul(f) -> bool:
    while block := f.read(READ_SIZE):
        if block.strip(b"\0"):
            return False
    return True


def _isal_errors() -> tuple:
    return (isal_zlib.error,) if isal_zlib is not None else ()


class GzipCodec:
    suffix = ".gz"
    magic = b"\x1f\x8b"
    member_head = b"\x1f\x8b\x08\x00"     # zlib's gzip header: deflate, no flags (no name, extra, comment)

    def __init__(self, level: int = 6) -> None:
        # Level 6 is zlib's and hftbacktest's (flate2 Compression::default()) default.
        self.level = level

    def member(self, data: bytes) -> bytes:
        c = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # wbits 31: gzip header + trailer
        return c.compress(data) + c.flush(zlib.Z_FINISH)

    def decoder(self) -> Any:
        return (isal_zlib or zlib).decompressobj(wbits=31)


class ZstdCodec:
    suffix = ".zst"
    magic = b"\x28\xb5\x2f\xfd"
    member_head = magic

    def __init__(self, level: int = 3) -> None:
        self._c = zstandard.ZstdCompressor(level=level)

    def member(self, data: bytes) -> bytes:
        return self._c.compress(data)

    def decoder(self) -> Any:
        return zstandard.ZstdDecompressor().decompressobj()


def make_codec(name: str) -> Codec:
    if name in ("gzip", "gz"):
        return GzipCodec()
    if name in ("zstd", "zst"):
        return ZstdCodec()
    raise HftctlError(f"unknown compression {name!r} (use gzip or zstd)")
