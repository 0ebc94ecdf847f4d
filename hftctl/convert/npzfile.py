"""Write the event array as an ``.npz`` that ``np.load`` and hftbacktest read (key ``data``).

Written to a temporary name and renamed, so an interrupted conversion never leaves a file that
looks complete. ``level`` 0 stores the array uncompressed; 1-3 deflate it with ISA-L (``isal``,
several times faster than zlib at a similar size), 4-9 with zlib (6 is ``np.savez_compressed``'s).
Any level gives an ordinary zip/deflate member, so readers need nothing special.

Big arrays are deflated in pieces on several threads (zlib and ISA-L release the GIL), the way
pigz does: every piece but the last ends with a sync flush, so the concatenation is one valid
deflate stream; each piece starts without the previous one's 32 KB window, which costs well under
1% of size at these piece lengths.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hftctl.errors import HftctlError

try:                                     # optional accelerator; zlib gives the same format
    from isal import isal_zlib
except ImportError:                      # pragma: no cover - isal is a declared dependency
    isal_zlib = None

MEMBER = b"data.npy"
ZIP32_LIMIT = 0xFFFFFFFF
PIECE = 8 << 20          # bytes deflated per thread task


def write_npz(path: str, data: np.ndarray, level: int = 1, threads: int = 0) -> None:
    """``threads`` 0: one per core."""
    if not 0 <= level <= 9:
        raise HftctlError(f"compression level must be 0-9, not {level}")
    data = np.ascontiguousarray(data)
    tmp = f"{path}.partial-{os.getpid()}"
    try:
        header = _npy_header(data)
        if level == 0 or data.nbytes + len(header) >= ZIP32_LIMIT:
            _write_with_zipfile(tmp, data, level)
        else:
            _write_deflated(tmp, header, data, level, threads or os.cpu_count() or 1)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise HftctlError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _npy_header(data: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(data))
    return buf.getvalue()


def _write_with_zipfile(path: str, data: np.ndarray, level: int) -> None:
    """Stored, or too big for a plain zip header: let zipfile handle zip64 (zlib deflate)."""
    mode = zipfile.ZIP_STORED if level == 0 else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compression=mode, compresslevel=None if level == 0 else level,
                         allowZip64=True) as zf:
        with zf.open(MEMBER.decode(), "w", force_zip64=True) as f:
            np.lib.format.write_array(f, data, allow_pickle=False)


def _write_deflated(path: str, header: bytes, data: np.ndarray, level: int, threads: int) -> None:
    """A one-member zip with a raw deflate stream, written directly (under 4 GiB)."""
    body = memoryview(data).cast("B")
    lib = isal_zlib if (isal_zlib is not None and level <= 3) else zlib
    pieces = [body[k:k + PIECE] for k in range(0, len(body), PIECE)] or [body]

    def deflate(k: int) -> bytes:
        comp = lib.compressobj(level, zlib.DEFLATED, -15)
        head = comp.compress(header) if k == 0 else b""
        last = k == len(pieces) - 1
        return head + comp.compress(pieces[k]) + comp.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    if threads > 1 and len(pieces) > 1:
        with ThreadPoolExecutor(min(threads, len(pieces))) as pool:
            packed = list(pool.map(deflate, range(len(pieces))))
    else:
        packed = [deflate(k) for k in range(len(pieces))]
    csize = sum(len(p) for p in packed)
    usize = len(header) + len(body)
    crc = lib.crc32(body, lib.crc32(header))
    if csize >= ZIP32_LIMIT:
        _write_with_zipfile(path, data, level)
        return
    t = time.localtime()
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc, csize, usize,
                        len(MEMBER), 0) + MEMBER
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, dos_time, dos_date, crc,
                          csize, usize, len(MEMBER), 0, 0, 0, 0, 0o600 << 16, 0) + MEMBER
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + csize, 0)
    with open(path, "wb") as f:
        f.write(local)
        for p in packed:
            f.write(p)
        f.write(central)
        f.write(end)
