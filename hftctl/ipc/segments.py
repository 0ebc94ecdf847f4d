"""Named shared-memory segments and semaphores of hftctl: naming, mapping, ownership, cleanup.

Every object is named ``hftctl.<connector>.<channel>[.<suffix>]`` so that listing and cleanup
never touch other programs' segments (``/dev/shm/hftctl.*`` and ``/dev/shm/sem.hftctl.*``).

Ownership is an open-file-description (OFD) byte lock on the segment, not just a pid in the
header: the kernel drops the lock the instant the owner dies (SIGKILL included), so "is the
owner alive" cannot be fooled by pid reuse or by a zombie that was never reaped. The pid and a
heartbeat are still kept in the header for humans and for the "hung but alive" case.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import mmap
import os
import re
import struct
import time
from dataclasses import dataclass
from typing import Iterable

import posix_ipc

from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

PREFIX = "hftctl."
SHM_DIR = "/dev/shm"
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# struct flock on Linux x86_64/aarch64: short l_type, short l_whence, off_t l_start,
# off_t l_len, pid_t l_pid (+ padding).
_FLOCK = struct.Struct("hhqqi4x")

# Lock byte offsets (advisory locks are independent of the mapped data, any offset works).
OWNER_LOCK = 0          # held by the segment's owner (broadcast writer / request reader)
RECOVERY_LOCK = 1       # serialises recovery of the request channel's writer lock
SLOT_LOCK_BASE = 1024   # + slot index: held by the reader attached to that slot


def check_name(name: str) -> str:
    """Connector names end up in /dev/shm file names: keep them to a safe alphabet."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise HftctlError(f"invalid connector name {name!r}: use 1-64 letters, digits, '_' or '-'")
    return name


def shm_name(name: str, channel: str) -> str:
    return f"/{PREFIX}{name}.{channel}"


def sem_name(name: str, channel: str, suffix: str) -> str:
    return f"/{PREFIX}{name}.{channel}.{suffix}"


def pid_alive(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        # "pid (comm) S ..." — comm may contain spaces and parentheses, so split at the last ')'.
        return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] not in (b"Z", b"X")
    except (OSError, ValueError):
        return True


class Segment:
    """One mapped POSIX shared-memory object plus its own open file description (for locks)."""

    def __init__(self, shm: posix_ipc.SharedMemory, size: int, created: bool) -> None:
        self.name = shm.name
        self.fd = shm.fd
        self.size = size
        self.created = created
        self.mm = mmap.mmap(self.fd, size)
        self.inode = os.fstat(self.fd).st_ino

    @classmethod
    def create(cls, name: str, size: int) -> "Segment":
        """Create exclusively; raises FileExistsError if the name is taken."""
        try:
            shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=size)
        except posix_ipc.ExistentialError as e:
            raise FileExistsError(name) from e
        return cls(shm, size, created=True)

    @classmethod
    def open(cls, name: str) -> "Segment":
        """Open an existing segment; raises FileNotFoundError if there is none."""
        try:
            shm = posix_ipc.SharedMemory(name)
        except posix_ipc.ExistentialError as e:
            raise FileNotFoundError(name) from e
        size = os.fstat(shm.fd).st_size
        if size == 0:
            os.close(shm.fd)
            raise FileNotFoundError(name)  # being created right now; caller retries
        return cls(shm, size, created=False)

    def try_lock(self, offset: int) -> bool:
        """Take an exclusive OFD lock on one byte without blocking; False if someone holds it."""
        try:
            fcntl.fcntl(self.fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0))
            return True
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise

    def lock(self, offset: int) -> None:
        """Blocking OFD lock; only used for microsecond-long critical sections."""
        fcntl.fcntl(self.fd, fcntl.F_OFD_SETLKW, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0))

    def unlock(self, offset: int) -> None:
        fcntl.fcntl(self.fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_UNLCK, os.SEEK_SET, offset, 1, 0))

    def lock_held(self, offset: int) -> bool:
        """True if another open file description (another process or handle) holds the lock."""
        res = fcntl.fcntl(self.fd, fcntl.F_OFD_GETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0))
        return _FLOCK.unpack(res)[0] != fcntl.F_UNLCK

    def still_named(self) -> bool:
        """False once the name was unlinked or now points at a newer segment (writer restarted)."""
        try:
            return os.stat(SHM_DIR + self.name).st_ino == self.inode
        except OSError:
            return False

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:
            log.debug("segment %s still has exported views; leaving the mapping to GC", self.name)
        try:
            os.close(self.fd)
        except OSError:
            pass


def create_owned(path: str, size: int, what: str) -> Segment:
    """Create segment ``path`` and hold its owner lock.

    A leftover of a dead owner is replaced; a live owner is an error (two connectors with one
    NAME would corrupt each other). A segment that exists but is not initialised yet belongs to
    a creator that is microseconds into its own ``create_owned``: wait, never steal it.
    """
    from hftctl.ipc import ring  # header layout lives with the rings

    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            seg = Segment.create(path, size)
        except FileExistsError:
            seg = None
        if seg is not None:
            if seg.try_lock(OWNER_LOCK):
                return seg
            seg.close()
            raise HftctlError(f"{what}: lost a creation race")
        try:
            old = Segment.open(path)
        except FileNotFoundError:
            continue
        try:
            held = old.lock_held(OWNER_LOCK)
            hdr = ring.read_header(old)
            young = time.time() - os.fstat(old.fd).st_mtime < 1.0
        finally:
            old.close()
        if held:
            raise HftctlError(f"{what} is already in use by a running process (pid {hdr.owner_pid if hdr else '?'})")
        if hdr is None and young:
            time.sleep(0.01)
            continue
        log.info("replacing stale %s left by dead pid %s", path, hdr.owner_pid if hdr else "?")
        unlink_shm(path)
    raise HftctlError(f"{what}: could not create {path}")


def unlink_shm(name: str) -> bool:
    try:
        posix_ipc.unlink_shared_memory(name)
        return True
    except posix_ipc.ExistentialError:
        return False


def unlink_sem(name: str) -> bool:
    try:
        posix_ipc.unlink_semaphore(name)
        return True
    except posix_ipc.ExistentialError:
        return False


def unlink_channel_sems(name: str, channel: str) -> list[str]:
    """Remove every semaphore of one channel (``sem.hftctl.NAME.CHANNEL.*``)."""
    prefix = f"sem.{PREFIX}{name}.{channel}."
    removed = []
    for f in _listdir():
        if f.startswith(prefix) and unlink_sem("/" + f[4:]):
            removed.append(f)
    return removed


def _listdir() -> list[str]:
    try:
        return sorted(os.listdir(SHM_DIR))
    except FileNotFoundError:
        return []


@dataclass
class SegmentInfo:
    """One /dev/shm entry of hftctl, as shown by ``hftctl health``."""
    file: str                 # name in /dev/shm, e.g. "hftctl.bn.bc" or "sem.hftctl.bn.rq.lock"
    kind: str                 # "shm" or "sem"
    connector: str            # connector NAME part
    channel: str              # "bc", "rq" or "?" for foreign layouts
    owner_pid: int            # 0 if unknown
    alive: bool               # owner holds the segment (for sems: their segment is alive)
    stale: bool               # safe to remove
    heartbeat_age: float | None = None
    detail: str = ""


def list_segments(connectors: Iterable[str] | None = None) -> list[SegmentInfo]:
    """Every hftctl segment and semaphore in /dev/shm (or only those of ``connectors``),
    with liveness and staleness."""
    from hftctl.ipc import ring  # header layout lives with the rings

    only = None if connectors is None else set(connectors)
    infos: list[SegmentInfo] = []
    shm_live: dict[str, SegmentInfo] = {}
    files = _listdir()
    for f in files:
        if not f.startswith(PREFIX):
            continue
        connector, _, channel = f[len(PREFIX):].rpartition(".")
        if only is not None and connector not in only:
            continue
        info = SegmentInfo(f, "shm", connector or f, channel or "?", 0, False, False)
        try:
            seg = Segment.open("/" + f)
        except FileNotFoundError:
            continue
        except Exception as e:  # foreign or unreadable: report, never crash health
            info.detail = f"cannot open: {e}"
            infos.append(info)
            continue
        try:
            hdr = ring.read_header(seg)
            age_created = time.time() - os.fstat(seg.fd).st_mtime
            held = seg.lock_held(OWNER_LOCK)
            if hdr is None:
                # Not (yet) initialised: a creator is between create and header write for
                # microseconds; only call it stale once it has been like this for a while.
                info.stale = not held and age_created > 5.0
                info.alive = held
                info.detail = "uninitialised or foreign segment"
            else:
                info.owner_pid = hdr.owner_pid
                info.heartbeat_age = hdr.heartbeat_age
                info.alive = held and not hdr.closed
                info.stale = not held
                info.detail = hdr.describe()
        finally:
            seg.close()
        shm_live[f] = info
        infos.append(info)
    for f in files:
        if not f.startswith("sem." + PREFIX):
            continue
        rest = f[len("sem." + PREFIX):]
        parts = rest.split(".")
        if only is not None and parts[0] not in only:
            continue
        parent = PREFIX + ".".join(parts[:2]) if len(parts) >= 3 else ""
        info = SegmentInfo(f, "sem", parts[0], parts[1] if len(parts) > 1 else "?", 0, False, False)
        seg_info = shm_live.get(parent)
        if seg_info is None:
            info.stale, info.detail = True, "its segment is gone"
        else:
            info.owner_pid = seg_info.owner_pid
            info.alive = seg_info.alive
            info.stale = seg_info.stale
        infos.append(info)
    return infos


def clean_stale(connectors: Iterable[str] | None = None) -> list[str]:
    """Remove only the stale hftctl segments/semaphores (owner dead), optionally only those of
    ``connectors``; returns the /dev/shm file names removed."""
    removed = []
    for info in list_segments(connectors):
        if not info.stale:
            continue
        ok = unlink_shm("/" + info.file) if info.kind == "shm" else unlink_sem("/" + info.file[4:])
        if ok:
            log.info("removed stale %s (owner pid %s)", info.file, info.owner_pid or "?")
            removed.append(info.file)
    return removed
