"""Per-symbol rotating recording files: ``{symbol}_{YYYYmmdd_HHMMSS}.gz`` of ``<local_ts_ns> <raw>`` lines.

Lines are buffered in memory and written by ``flush()`` (the collector calls it at least every
second) as one compressed member per file, with a single ``write`` so that a SIGKILL leaves
either the whole member or none of it on disk; a write that fails part-way (full disk, file-size
limit) is cut back to the last complete member before the error is raised.

A collector restarted within a rotation period goes on with that period's file: new members are
appended after the existing ones, nothing there is rewritten. A file ending in a torn member (the
collector was killed mid-write, or the disk filled before the cut-back) is first cut back to its
last complete member, as after a failed write; a file that does not decode at all is left as it
is and a new file is started beside it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from hftctl.collector.codec import Codec, scan_members
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

# A burst can outrun the flush timer; past this many buffered bytes a file is flushed at once so
# memory stays bounded and a crash loses less.
MAX_BUFFERED = 4 << 20


STAMP = "%Y%m%d_%H%M%S"


def file_name(symbol: str, ts_ns: int, suffix: str) -> str:
    """hftbacktest names files by lowercase symbol; the UTC start time tells rotations apart."""
    stamp = datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).strftime(STAMP)
    return f"{symbol.lower()}_{stamp}{suffix}"


def file_start_ns(name: str, symbol: str, suffix: str) -> int | None:
    """The UTC start time a ``file_name`` of ``symbol`` carries; None for any other name."""
    m = re.fullmatch(re.escape(symbol.lower()) + r"_(\d{8}_\d{6})" + re.escape(suffix), name)
    if not m:
        return None
    try:
        start = datetime.strptime(m.group(1), STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(start.timestamp()) * 1_000_000_000


def _os_error(action: str, path: Path, exc: OSError) -> HftctlError:
    return HftctlError(f"cannot {action} {path}: {exc.strerror or exc}")


@dataclass
class _SymbolFile:
    path: Path
    fd: int
    period: int
    chunks: list[bytes] = field(default_factory=list)
    buffered: int = 0


@dataclass
class WriterStats:
    lines: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0     # compressed bytes on disk
    files_opened: int = 0
    last_write: float | None = None   # wall time of the last member written (for hftctl health)


class RecordingWriter:
    """Owns one open file per symbol; not thread-safe (the collector's event loop is its only user)."""

    def __init__(self, out_dir: str | Path, codec: Codec, rotate_s: float = 3600.0,
                 resume_mark: Callable[[str, int], bytes | None] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.codec = codec
        # The line that goes first when a restart appends to a file with data (the collector's
        # gap mark): whatever the exchange sent between the two runs is lost, and says so.
        self.resume_mark = resume_mark
        self.rotate_ns = int(rotate_s * 1e9) if rotate_s > 0 else 0
        self.stats = WriterStats()
        self._files: dict[str, _SymbolFile] = {}
        self._closed = False
        prepare_out_dir(self.out_dir)

    # -- public -------------------------------------------------------------------------------
    def write(self, symbol: str, local_ts_ns: int, raw: bytes) -> None:
        """Queue one line; ``raw`` is the message exactly as received (no trailing newline)."""
        sym = symbol.lower()
        period = local_ts_ns // self.rotate_ns if self.rotate_ns else 0
        f = self._files.get(sym)
        if f is None:
            f = self._open(sym, local_ts_ns, period)
        elif period > f.period:  # a clock stepping back keeps writing the current file
            self._rotate(sym, f, period)
            f = self._files[sym]
        self._queue(sym, f, local_ts_ns, raw)
        if f.buffered >= MAX_BUFFERED:
            self._flush_file(f)

    def flush(self) -> None:
        """Write every buffered line as complete compressed members."""
        for f in self._files.values():
            self._flush_file(f)

    def close(self) -> None:
        """Flush, fsync and close every file. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        error: HftctlError | None = None
        for f in self._files.values():
            try:
                self._flush_file(f)
                os.fsync(f.fd)
            except HftctlError as e:
                error = error or e
            except OSError as e:
                error = error or _os_error("sync", f.path, e)
            finally:
                os.close(f.fd)
        self._files.clear()
        if error:
            raise error

    def current_files(self) -> dict[str, Path]:
        return {sym: f.path for sym, f in self._files.items()}

    # -- internals ----------------------------------------------------------------------------
    def _queue(self, sym: str, f: _SymbolFile, ts_ns: int, raw: bytes) -> None:
        line = b"%d %s\n" % (ts_ns, raw)
        f.chunks.append(line)
        f.buffered += len(line)
        self.stats.lines[sym] = self.stats.lines.get(sym, 0) + 1

    def _open(self, sym: str, ts_ns: int, period: int) -> _SymbolFile:
        resumed = self._resumable(sym, period)
        mark = None
        if resumed is not None:
            path, has_data = resumed
            if has_data and self.resume_mark is not None:
                mark = self.resume_mark(sym, ts_ns)
        else:
            path = self.out_dir / file_name(sym, ts_ns, self.codec.suffix)
            while path.exists():           # only a damaged file of this very second is there
                ts_ns += 1_000_000_000
                path = self.out_dir / file_name(sym, ts_ns, self.codec.suffix)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise _os_error("create", path, e) from None
        log.info("recording %s to %s", sym, path)
        f = _SymbolFile(path, fd, period)
        self._files[sym] = f
        self.stats.files_opened += 1
        if mark:
            self._queue(sym, f, ts_ns, mark)
        return f

    def _resumable(self, sym: str, period: int) -> tuple[Path, bool] | None:
        """This period's newest existing file of ``sym`` made ready for appending (a torn last
        member cut off), and whether it holds data; None if there is none or it cannot be
        appended to safely."""
        found = []
        for entry in os.scandir(self.out_dir):
            start = file_start_ns(entry.name, sym, self.codec.suffix)
            if start is not None and entry.is_file() and (
                    not self.rotate_ns or start // self.rotate_ns == period):
                found.append((start, Path(entry.path)))
        if not found:
            return None
        path = max(found)[1]
        try:
            with open(path, "rb") as f:
                head = f.read(len(self.codec.magic))
            members = scan_members(path, self.codec) if head.startswith(self.codec.magic) else None
        except OSError as e:
            raise _os_error("read", path, e) from None
        if head and (members is None or members.tail == "damaged"):
            log.warning("%s does not decode after byte %d; leaving it as it is and starting a new file",
                        path, members.complete if members else 0)
            return None
        if members is not None and members.tail == "torn":
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            except OSError as e:
                raise _os_error("open", path, e) from None
            try:
                if not _cut_back(path, fd, members.complete):
                    return None
            finally:
                os.close(fd)
            log.warning("%s ended in a torn member (%d bytes after the last complete one); cut it off",
                        path, members.size - members.complete)
        log.info("appending to %s (restarted within its rotation period)", path)
        return path, bool(members and members.complete)

    def _rotate(self, sym: str, f: _SymbolFile, period: int) -> None:
        self._flush_file(f)
        try:
            os.fsync(f.fd)
        except OSError as e:
            raise _os_error("sync", f.path, e) from None
        finally:
            os.close(f.fd)
        del self._files[sym]
        # Later files start on the rotation boundary (…_150000), like hftbacktest's hourly names.
        self._open(sym, period * self.rotate_ns, period)

    def _flush_file(self, f: _SymbolFile) -> None:
        if not f.chunks:
            return
        data = self.codec.member(b"".join(f.chunks))
        f.chunks.clear()
        f.buffered = 0
        try:
            start = os.fstat(f.fd).st_size  # O_APPEND: the member goes here
        except OSError as e:
            raise _os_error("write", f.path, e) from None
        view = memoryview(data)
        try:
            while view:
                n = os.write(f.fd, view)
                view = view[n:]
        except OSError as e:
            _cut_back(f.path, f.fd, start)
            raise _os_error("write", f.path, e) from None
        self.stats.bytes_written += len(data)
        self.stats.last_write = time.time()


def _cut_back(path: Path, fd: int, size: int) -> bool:
    """Drop the torn start of a member a failed write (full disk, size limit, a kill) left at the
    end, so the file stays a sequence of complete members that every decoder reads to the end.
    Shrinking needs no free space, so this works on the full disk that caused the failure."""
    try:
        os.ftruncate(fd, size)
    except OSError as e:
        log.error("cannot cut %s back to its last complete member at %d bytes: %s", path, size,
                  e.strerror or e)
        return False
    return True


def prepare_out_dir(out_dir: Path) -> None:
    """Fail at start, with one line, if recordings could not be written there."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _os_error("create output directory", out_dir, e) from None
    if not out_dir.is_dir():
        raise HftctlError(f"output path {out_dir} is not a directory")
    probe = out_dir / f".hftctl-collect-probe-{os.getpid()}-{time.monotonic_ns()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise HftctlError(f"output directory {out_dir} is not writable: {e.strerror or e}") from None
