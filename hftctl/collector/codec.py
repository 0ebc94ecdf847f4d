"""Compression as independent members, so a recording survives SIGKILL.

Each flush becomes one complete gzip member (RFC 1952 allows any number per file) or one zstd
frame. Every decoder (``zcat``, Python's ``gzip``, ``zstd -d``, hftbacktest's converters) reads a
file of concatenated members as one stream, so a collector killed between flushes leaves a file
that decompresses cleanly up to its last flush, and a clean close needs no trailer rewrite.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import zstandard

from hftctl.errors import HftctlError


class Codec(Protocol):
    suffix: str

    def member(self, data: bytes) -> bytes:
        """Compress ``data`` into one self-contained member/frame."""


class GzipCodec:
    suffix = ".gz"

    def __init__(self, level: int = 6) -> None:
        # Level 6 is zlib's and hftbacktest's (flate2 Compression::default()) default.
        self.level = level

    def member(self, data: bytes) -> bytes:
        c = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # wbits 31: gzip header + trailer
        return c.compress(data) + c.flush(zlib.Z_FINISH)


class ZstdCodec:
    suffix = ".zst"

    def __init__(self, level: int = 3) -> None:
        self._c = zstandard.ZstdCompressor(level=level)

    def member(self, data: bytes) -> bytes:
        return self._c.compress(data)


def make_codec(name: str) -> Codec:
    if name in ("gzip", "gz"):
        return GzipCodec()
    if name in ("zstd", "zst"):
        return ZstdCodec()
    raise HftctlError(f"unknown compression {name!r} (use gzip or zstd)")
