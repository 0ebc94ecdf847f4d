"""Request channel bots -> connector: many writers, one reader, nothing dropped silently.

Writers take a POSIX semaphore used as a mutex around "reserve, copy, commit". A writer that is
SIGKILLed while holding it would deadlock everyone, so waiters use timed waits and, when the
holder's pid is dead (or no holder ever identified itself for a long time), take the lock over.
Takeovers are serialised by an OFD byte lock (which the kernel frees if the recoverer dies too),
and the holder epoch makes sure a slow-but-alive holder is never mistaken for a dead one.
A record only becomes visible when the tail is advanced, so a writer killed mid-copy leaves
nothing half-written behind.

The reader is never lapped: when the ring is full a writer waits (bounded) for the reader to
consume, and fails with a clear error if the reader is dead or stuck.

Wake-ups (``hftctl.ipc.wait``): the reader spins, then sets ``H_SLEEPING`` and parks on the
ring's wake epoch; a writer checks the flag after releasing the mutex (a semaphore post: the
full fence the handshake needs) and, only if the reader is parked, clears it and wakes it.
(Two writers may both do so; the reader then gets one spurious wake-up.)
"""

from __future__ import annotations

import logging
import os
import time

import posix_ipc
from xxhash import xxh3_64_intdigest

from hftctl.errors import HftctlError
from hftctl.ipc import ring as R
from hftctl.ipc.ring import (
    DATA_OFF, HEADER_BYTES, H_CAPACITY, H_CLOSED, H_GENERATION, H_HEAD, H_HEARTBEAT,
    H_LOCK_EPOCH, H_LOCK_OWNER, H_MAX_PAYLOAD, H_OWNER_PID, H_READ_SEQ, H_SLEEPING, H_TAIL,
    H_WRITE_SEQ, PAD
)
from hftctl.ipc.segments import (
    OWNER_LOCK, RECOVERY_LOCK, Segment, check_name, create_owned, pid_alive, sem_name, shm_name,
    unlink_channel_sems, unlink_shm
)
from hftctl.ipc.wait import Waiter, epoch_word_address, wake

log = logging.getLogger(__name__)

CHANNEL = "rq"
DEFAULT_CAPACITY = 2 << 20
LOCK_TIMEOUT = 5.0       # a send gives up after this long without the lock
ANONYMOUS_HOLD = 1.0     # lock held with no owner pid and no epoch change this long = holder died

_hash = xxh3_64_intdigest
_M64 = 0xFFFF_FFFF_FFFF_FFFF
_now_ns = time.monotonic_ns
_STALE_NS = int(R.STALE_AFTER * 1e9)
_tuple_new = tuple.__new__
_Request = R.Request
_Busy = posix_ipc.BusyError
_REC = R.REC
_REC_BYTES = R.REC_BYTES


def _lock_sem(name: str) -> str:
    return sem_name(name, CHANNEL, "lock")


class RequestReader(R.Closeable):
    """The single reader of a request channel (the connector); it owns the segment."""

    def __init__(self, name: str, seg: Segment, lock: posix_ipc.Semaphore, spin_us: float | None):
        self.name = name
        self._seg = seg
        self._mm = seg.mm
        self._h = memoryview(seg.mm)[:HEADER_BYTES].cast("Q")
        self._cap = self._h[H_CAPACITY]
        self._mask = self._cap - 1
        self._max_payload = self._h[H_MAX_PAYLOAD]
        self._lock = lock
        self.waiter = Waiter(seg.mm, self._h, H_SLEEPING * 8, spin_us)
        self._cursor = 0
        self._expect = 1
        self._closed = False
        self.corrupt = 0

    @classmethod
    def create(cls, name: str, capacity: int = DEFAULT_CAPACITY, max_payload: int | None = None,
               spin_us: float | None = None) -> "RequestReader":
        """Create the channel (the connector). ``spin_us``: how ``recv`` waits (None: spin an
        adaptive budget, then park; 0: park at once; > 0: spin that long, then park)."""
        check_name(name)
        cap = R.round_capacity(capacity)
        max_payload = R.max_payload_for(cap, max_payload)
        path = shm_name(name, CHANNEL)
        seg = create_owned(path, DATA_OFF + cap, f"request channel {name!r}")
        unlink_channel_sems(name, CHANNEL)
        lock = posix_ipc.Semaphore(_lock_sem(name), posix_ipc.O_CREX, mode=0o600, initial_value=1)
        R.prefault(seg.mm, cap)
        R.init_header(seg.mm, R.KIND_REQUEST, cap, max_payload, 0)
        return cls(name, seg, lock, spin_us)

    def poll(self) -> "R.Request | R.Overrun | None":
        """Next request without blocking; a damaged record is skipped and reported as Overrun."""
        if self._closed:
            raise R.closed_error("request", self.name)
        h = self._h
        mm = self._mm
        cap = self._cap
        while True:
            cur = self._cursor
            if h[H_TAIL] == cur:
                return None
            off = cur & self._mask
            if cap - off < _REC_BYTES:
                self._advance(cur + cap - off)
                continue
            base = DATA_OFF + off
            seq, n, sender, digest = _REC.unpack_from(mm, base)
            if n == PAD and seq == self._expect:
                self._advance(cur + cap - off)
                continue
            if seq != self._expect or n > self._max_payload:
                # Framing destroyed: nothing tells where the next record starts, so drop everything
                # committed so far and report exactly how many sequence numbers that skips.
                tail, end_seq = self._stable_tail()
                lost = max(1, end_seq - self._expect)
                self._expect = end_seq
                self._advance(tail)
                return self._corrupt(lost, f"bad framing at seq {self._expect - lost}")
            data = mm[base + _REC_BYTES:base + _REC_BYTES + n]
            self._expect = seq + 1
            self._cursor = cur = cur + ((_REC_BYTES + n + 7) & ~7)
            h[H_HEAD] = cur     # writers may now reuse the space
            h[H_READ_SEQ] = seq
            if _hash(data, (seq ^ (n << 20) ^ (sender << 44)) & _M64) != digest:
                return self._corrupt(1, f"checksum mismatch at seq {seq}")
            return _tuple_new(_Request, (seq, sender, data))

    def _advance(self, pos: int) -> None:
        self._cursor = pos
        self._h[H_HEAD] = pos

    def _stable_tail(self) -> tuple[int, int]:
        """(tail, next seq) as one consistent pair, read under the writers' lock."""
        deadline = time.monotonic() + 1.0
        while True:
            try:
                self._lock.acquire(max(0.0, deadline - time.monotonic()))
                break
            except posix_ipc.SignalError:
                continue    # interrupted by a signal (its handler does the signal's work): wait on
            except posix_ipc.BusyError:
                # The holder is stuck or dead: then it cannot commit either, so the pair is stable.
                return self._h[H_TAIL], self._h[H_WRITE_SEQ]
        try:
            return self._h[H_TAIL], self._h[H_WRITE_SEQ]
        finally:
            self._lock.release()

    def _corrupt(self, lost: int, why: str) -> R.Overrun:
        self.corrupt += lost
        log.warning("request channel %r: corrupt record skipped (%s, %d lost)", self.name, why, lost)
        return R.Overrun(lost, f"corrupt: {why}")

    def recv(self, timeout: float | None = None) -> "R.Request | R.Overrun | None":
        """Next request, waiting up to ``timeout`` s (None = forever) as ``spin_us`` says; None
        on timeout (or early, when a signal interrupts the sleep).

        Receiving also stamps the heartbeat: a connector that reads its requests is alive.
        """
        r = self.poll()
        self._h[H_HEARTBEAT] = _now_ns()
        if r is not None:
            return r
        return self.waiter.wait(self, timeout, self._stamp)

    def _stamp(self, now_ns: int) -> None:
        """Before each park: a waiting connector is alive."""
        self._h[H_HEARTBEAT] = now_ns

    def heartbeat(self) -> None:
        if self._closed:
            raise R.closed_error("request", self.name)
        self._h[H_HEARTBEAT] = time.monotonic_ns()

    def close(self, unlink: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        self._h[H_CLOSED] = 1
        if unlink and self._seg.still_named():
            unlink_shm(self._seg.name)
            unlink_channel_sems(self.name, CHANNEL)
        self._lock.close()
        self._h.release()
        self._seg.close()


class RequestWriter(R.Closeable):
    """One of many writers of a request channel (a bot)."""

    def __init__(self, name: str, seg: Segment, sender: int) -> None:
        self.name = name
        self.sender = sender
        self._seg = seg
        self._mm = seg.mm
        self._h = R.check_header(seg.mm, seg.size, R.KIND_REQUEST, f"request channel {name!r}")
        self._cap = self._h[H_CAPACITY]
        self._mask = self._cap - 1
        self._max_payload = self._h[H_MAX_PAYLOAD]
        self._owner_pid = self._h[H_OWNER_PID]
        self.generation = self._h[H_GENERATION]
        self._pid = os.getpid()
        try:
            self._lock = posix_ipc.Semaphore(_lock_sem(name))
        except posix_ipc.ExistentialError:
            self._h.release()
            raise HftctlError(f"request channel {name!r}: its semaphore is missing (connector restarting?)")
        self._futex = epoch_word_address(seg.mm)
        self._closed = False
        self.recoveries = 0
        self.wakeups = 0     # wake syscalls made (only while the reader was parked)

    @classmethod
    def attach(cls, name: str, sender: int = 0, timeout: float = 5.0) -> "RequestWriter":
        """Attach to connector NAME's request channel; ``sender`` tags every record (bot id)."""
        check_name(name)
        path = shm_name(name, CHANNEL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                seg = Segment.open(path)
                if R.read_header(seg) is not None and seg.lock_held(OWNER_LOCK):
                    break
                seg.close()
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline:
                raise HftctlError(f"no running connector {name!r} (request channel {path} absent or dead)")
            time.sleep(0.01)
        try:
            return cls(name, seg, sender)
        except BaseException:
            seg.close()
            raise

    def send(self, payload: bytes, timeout: float = LOCK_TIMEOUT) -> int:
        """Append one request; returns its seq. Waits (bounded) if the ring is full."""
        if self._closed:
            raise R.closed_error("request", self.name)
        n = len(payload)
        if n > self._max_payload:
            raise HftctlError(f"request of {n} bytes exceeds the channel's max payload {self._max_payload}")
        h = self._h
        mm = self._mm
        cap = self._cap
        rec = (_REC_BYTES + n + 7) & ~7
        if h[H_CLOSED] or _now_ns() - h[H_HEARTBEAT] > _STALE_NS:
            # Heartbeat stale: ask the kernel (syscall) whether the connector still exists, so a
            # request is not written into the segment of a dead connector and silently lost.
            self._check_reader()
        lock = self._lock
        try:
            lock.acquire(0)             # uncontended: no syscall, no clock
            h[H_LOCK_OWNER] = self._pid
            h[H_LOCK_EPOCH] += 1
        except _Busy:
            self._acquire(timeout)
        try:
            pos = h[H_TAIL]
            off = pos & self._mask
            gap = cap - off if off + rec > cap else 0
            if pos + gap + rec - h[H_HEAD] > cap:
                self._wait_for_space(pos + gap + rec - cap, timeout)
            seq = h[H_WRITE_SEQ]
            if gap:
                if gap >= _REC_BYTES:
                    _REC.pack_into(mm, DATA_OFF + off, seq, PAD, 0, 0)
                pos += gap
                off = 0
            base = DATA_OFF + off
            sender = self.sender
            _REC.pack_into(mm, base, seq, n, sender,
                           _hash(payload, (seq ^ (n << 20) ^ (sender << 44)) & _M64))
            mm[base + _REC_BYTES:base + _REC_BYTES + n] = payload
            h[H_TAIL] = pos + rec
            h[H_WRITE_SEQ] = seq + 1
        finally:
            h[H_LOCK_OWNER] = 0
            lock.release()      # (a semaphore post: also the fence between commit and flag check)
        if h[H_SLEEPING]:
            self._wake_reader()
        return seq

    def _wake_reader(self) -> None:
        self._h[H_SLEEPING] = 0
        wake(self._h, self._futex)
        self.wakeups += 1

    def _check_reader(self) -> None:
        if not self.reader_alive():
            raise HftctlError(f"request channel {self.name!r}: the connector (pid {self._owner_pid}) is gone")

    def _wait_for_space(self, need_head: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._h[H_HEAD] < need_head:
            self._check_reader()
            if time.monotonic() >= deadline:
                raise HftctlError(f"request channel {self.name!r} is full: the connector is not reading")
            if self._h[H_SLEEPING]:
                self._wake_reader()
            time.sleep(0.0002)

    def _acquire(self, timeout: float) -> None:
        h = self._h
        deadline = time.monotonic() + timeout
        anon_since = None
        anon_epoch = -1
        while True:
            try:
                self._lock.acquire(0.05 if anon_since is None else 0.01)
                break
            except posix_ipc.BusyError:
                pass
            owner = h[H_LOCK_OWNER]
            epoch = h[H_LOCK_EPOCH]
            now = time.monotonic()
            if owner and not pid_alive(owner):
                if self._take_over(lambda: h[H_LOCK_OWNER] == owner):
                    log.warning("request channel %r: took over the writer lock from dead pid %d",
                                self.name, owner)
                    return
            elif not owner:
                # Held, but the holder never wrote its pid: it died between sem_wait and the store,
                # or it is just about to write it. Only a long, unchanging silence means dead.
                if anon_since is None or epoch != anon_epoch:
                    anon_since, anon_epoch = now, epoch
                elif now - anon_since > ANONYMOUS_HOLD and self._take_over(
                        lambda: h[H_LOCK_OWNER] == 0 and h[H_LOCK_EPOCH] == anon_epoch):
                    log.warning("request channel %r: took over a writer lock abandoned by an unknown process",
                                self.name)
                    return
            else:
                anon_since = None
            if now >= deadline:
                raise HftctlError(f"request channel {self.name!r}: writer lock busy for {timeout:.1f}s "
                                  f"(held by pid {owner or 'unknown'})")
        h[H_LOCK_OWNER] = self._pid
        h[H_LOCK_EPOCH] += 1

    def _take_over(self, still_abandoned) -> bool:
        """Become the lock holder in place of a dead one (the semaphore stays at 0: we inherit it)."""
        h = self._h
        self._seg.lock(RECOVERY_LOCK)
        try:
            if self._lock.value != 0 or not still_abandoned():
                return False
            h[H_LOCK_OWNER] = self._pid
            h[H_LOCK_EPOCH] += 1
            self.recoveries += 1
            return True
        finally:
            self._seg.unlock(RECOVERY_LOCK)

    def reader_alive(self) -> bool:
        """False once the connector closed the channel or died (its segment lock is free)."""
        if self._closed:
            raise R.closed_error("request", self.name)
        return (not self._h[H_CLOSED] and self._seg.lock_held(OWNER_LOCK)
                and pid_alive(self._owner_pid))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._lock.close()
        self._h.release()
        self._seg.close()
