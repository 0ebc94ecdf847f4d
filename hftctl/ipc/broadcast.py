"""Broadcast channel connector -> bots: one writer, up to 200 readers, each with its own cursor.

The writer never waits for readers (a stuck or SIGKILLed bot must not stall market data for
the others); a reader that is lapped gets an ``Overrun`` with the exact number of messages it
lost, then continues from the newest message. Readers claim a slot (their bot id = slot + 1)
with an OFD byte lock, so the writer sees dead readers the moment the kernel drops the lock.

Wake-ups (``hftctl.ipc.wait``): a reader spins for an adaptive budget, then sets its byte in
the flag array and parks on the ring's sequence word (a futex). After a fence the writer finds
set flags with one ``mmap.find`` per publish and makes one wake syscall for all the parked
readers a message concerns; while nobody is parked it makes none.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from xxhash import xxh3_64_intdigest

from hftctl.errors import HftctlError
from hftctl.ipc import ring as R
from hftctl.ipc.ring import (
    DATA_OFF, FLAGS_OFF, HEADER_BYTES, H_CAPACITY, H_CLOSED, H_GENERATION, H_HEARTBEAT,
    H_LATEST, H_MAX_PAYLOAD, H_MAX_SLOTS, H_OWNER_PID, H_TAIL, H_TAIL_INTENT, H_WRITE_SEQ,
    PAD, SLOTS_OFF, SLOT_BYTES, S_LOST, S_PID, S_SEQ
)
from hftctl.ipc.segments import (
    OWNER_LOCK, SLOT_LOCK_BASE, Segment, check_name, create_owned, pid_alive, shm_name,
    unlink_channel_sems, unlink_shm
)
from hftctl.ipc.wait import WAKE_ALL, Waiter, epoch_word_address, new_fence, register_writer, wake

log = logging.getLogger(__name__)

CHANNEL = "bc"
DEFAULT_CAPACITY = 8 << 20
DEFAULT_MAX_READERS = 200

_hash = xxh3_64_intdigest
_M64 = 0xFFFF_FFFF_FFFF_FFFF
_tuple_new = tuple.__new__
_Received = R.Received
_now_ns = time.monotonic_ns
_REC = R.REC
_REC_BYTES = R.REC_BYTES
_BACKLOG_BYTES = 4096
_LIVENESS_NS = int(R.LIVENESS_EVERY * 1e9)


@dataclass(slots=True)
class ReaderInfo:
    """One attached (or departed, not yet reaped) reader as the writer sees it."""
    bot_id: int
    pid: int
    last_seq: int      # last sequence number it consumed
    lag: int           # messages published since
    overruns: int      # messages it lost in total (lapped or corrupt)
    alive: bool        # its process still holds the slot

    def as_dict(self) -> dict:
        return asdict(self)


class BroadcastWriter(R.Closeable):
    """The single writer of a broadcast channel (the connector)."""

    def __init__(self, name: str, seg: Segment, capacity: int, max_payload: int, max_readers: int,
                 fenced: bool):
        self.name = name
        self._seg = seg
        self._mm = seg.mm
        self._h = memoryview(seg.mm)[:HEADER_BYTES].cast("Q")
        self._slots = memoryview(seg.mm)[SLOTS_OFF:SLOTS_OFF + R.MAX_SLOTS_LIMIT * SLOT_BYTES].cast("Q")
        self._cap = capacity
        self._mask = capacity - 1
        self._max_payload = max_payload
        self._max_readers = max_readers
        self._flags_end = FLAGS_OFF + max_readers
        self._tail = 0
        self._seq = 1
        self._futex = epoch_word_address(seg.mm)
        self._no_flags = bytes(max_readers)
        # Readers run membarrier before parking; only where that is impossible does publish fence.
        self._fence = new_fence() if fenced else None
        self.wakeups = 0     # wake syscalls made (one per message while a concerned reader is parked)
        self._closed = False
        self.generation = self._h[H_GENERATION]

    @classmethod
    def create(cls, name: str, capacity: int = DEFAULT_CAPACITY, max_payload: int | None = None,
               max_readers: int = DEFAULT_MAX_READERS) -> "BroadcastWriter":
        """Create the channel; replaces a stale one, refuses if another live writer owns it."""
        check_name(name)
        cap = R.round_capacity(capacity)
        max_payload = R.max_payload_for(cap, max_payload)
        if not 1 <= max_readers <= R.MAX_SLOTS_LIMIT:
            raise HftctlError(f"max_readers must be 1..{R.MAX_SLOTS_LIMIT}")
        path = shm_name(name, CHANNEL)
        seg = create_owned(path, DATA_OFF + cap, f"broadcast channel {name!r}")
        # Ring layout v2 woke each reader through a semaphore of its own: remove any leftovers.
        unlink_channel_sems(name, CHANNEL)
        R.prefault(seg.mm, cap)
        registered = register_writer()
        if not registered:
            log.info("membarrier(2) unavailable: the broadcast writer fences every commit instead")
        R.init_header(seg.mm, R.KIND_BROADCAST, cap, max_payload, max_readers, reader_barrier=registered)
        log.debug("created %s (%d KiB, max payload %d)", path, cap >> 10, max_payload)
        return cls(name, seg, cap, max_payload, max_readers, fenced=not registered)

    @property
    def max_payload(self) -> int:
        return self._max_payload

    def publish(self, payload: bytes, dest: int = 0) -> int:
        """Append one message for bot ``dest`` (0 = all); returns its sequence number."""
        if self._closed:
            raise R.closed_error("broadcast", self.name)
        n = len(payload)
        if n > self._max_payload:
            raise HftctlError(f"message of {n} bytes exceeds the channel's max payload {self._max_payload}")
        h = self._h
        mm = self._mm
        rec = (_REC_BYTES + n + 7) & ~7
        pos = self._tail
        off = pos & self._mask
        seq = self._seq
        if off + rec > self._cap:
            gap = self._cap - off
            h[H_TAIL_INTENT] = pos + gap + rec
            if gap >= _REC_BYTES:
                _REC.pack_into(mm, DATA_OFF + off, seq, PAD, 0, 0)
            pos += gap
            off = 0
        else:
            h[H_TAIL_INTENT] = pos + rec
        base = DATA_OFF + off
        _REC.pack_into(mm, base, seq, n, dest, _hash(payload, (seq ^ (n << 20) ^ (dest << 44)) & _M64))
        mm[base + _REC_BYTES:base + _REC_BYTES + n] = payload
        h[H_LATEST] = pos
        self._tail = pos = pos + rec
        h[H_TAIL] = pos
        self._seq = seq + 1
        h[H_WRITE_SEQ] = seq + 1
        # The flag check of _wake_parked, inline for the common case (a message to all, nobody
        # parked, no fence): a method call is ~60 ns, 7% of a publish.
        if dest or self._fence or mm.find(b"\x01", FLAGS_OFF, self._flags_end) >= 0:
            self._wake_parked(dest)
        if not seq & 1023:
            h[H_HEARTBEAT] = _now_ns()  # a busy writer stays "alive" even if it forgets heartbeat()
        return seq

    def publish_many(self, payloads: "Sequence[bytes]", dest: int = 0) -> int:
        """Append several messages for ``dest`` and make them visible at once; returns the last seq.

        Same records as ``publish``; cheaper per message (one commit and one wake-up check per
        batch), at the price of readers seeing the batch only when it is complete.
        """
        if self._closed:
            raise R.closed_error("broadcast", self.name)
        h = self._h
        mm = self._mm
        cap = self._cap
        mask = self._mask
        maxp = self._max_payload
        pos = self._tail
        seq = self._seq
        start = pos
        for payload in payloads:
            n = len(payload)
            if n > maxp:
                raise HftctlError(f"message of {n} bytes exceeds the channel's max payload {maxp}")
            rec = (_REC_BYTES + n + 7) & ~7
            off = pos & mask
            if off + rec > cap:
                gap = cap - off
                h[H_TAIL_INTENT] = pos + gap + rec
                if gap >= _REC_BYTES:
                    _REC.pack_into(mm, DATA_OFF + off, seq, PAD, 0, 0)
                pos += gap
                off = 0
            else:
                h[H_TAIL_INTENT] = pos + rec
            base = DATA_OFF + off
            _REC.pack_into(mm, base, seq, n, dest, _hash(payload, (seq ^ (n << 20) ^ (dest << 44)) & _M64))
            mm[base + _REC_BYTES:base + _REC_BYTES + n] = payload
            start = pos
            pos += rec
            seq += 1
        if seq == self._seq:
            return seq - 1
        h[H_LATEST] = start
        self._tail = pos
        h[H_TAIL] = pos
        self._seq = seq
        h[H_WRITE_SEQ] = seq
        h[H_HEARTBEAT] = _now_ns()
        self._wake_parked(dest)
        return seq - 1

    def _wake_parked(self, dest: int) -> None:
        """After a commit: one wake syscall if a reader the message concerns is parked, else none."""
        if self._fence:
            self._fence[0]()
            self._fence[1]()
        mm = self._mm
        if dest:
            if dest <= self._max_readers and mm[FLAGS_OFF + dest - 1]:
                mm[FLAGS_OFF + dest - 1] = 0
                self._wake(1 << ((dest - 1) & 31))
        elif mm.find(b"\x01", FLAGS_OFF, self._flags_end) >= 0:
            mm[FLAGS_OFF:self._flags_end] = self._no_flags
            self._wake(WAKE_ALL)

    def _wake(self, bitset: int) -> None:
        wake(self._h, self._futex, bitset)
        self.wakeups += 1

    def heartbeat(self) -> None:
        """Stamp the header so readers know the writer is alive; call at least every 0.5 s."""
        if self._closed:
            raise R.closed_error("broadcast", self.name)
        self._h[H_HEARTBEAT] = time.monotonic_ns()

    def readers(self) -> list[ReaderInfo]:
        """Attached readers (and departed ones not yet reaped) with their lag in messages."""
        if self._closed:
            raise R.closed_error("broadcast", self.name)
        return _reader_infos(self._seg, self._slots, self._max_readers, self._seq - 1)

    def reap(self) -> list[int]:
        """Free the slots of readers that died or closed; returns their bot ids (cancel their orders)."""
        gone = []
        for info in self.readers():
            if not info.alive:
                slot = info.bot_id - 1
                # The slot lock is free: claim it briefly so a reader attaching right now cannot
                # have its fresh slot wiped.
                if not self._seg.try_lock(SLOT_LOCK_BASE + slot):
                    continue
                try:
                    for k in range(4):
                        self._slots[slot * 4 + k] = 0
                    self._mm[FLAGS_OFF + slot] = 0
                finally:
                    self._seg.unlock(SLOT_LOCK_BASE + slot)
                gone.append(info.bot_id)
        return gone

    def close(self, unlink: bool = True) -> None:
        """Mark closed (parked readers wake up to WriterGone), and by default remove the segment."""
        if self._closed:
            return
        self._closed = True
        self._h[H_CLOSED] = 1
        self._wake(WAKE_ALL)    # unconditional (a reader about to park sees the epoch move)
        if unlink and self._seg.still_named():
            unlink_shm(self._seg.name)
            unlink_channel_sems(self.name, CHANNEL)
        self._h.release()
        self._slots.release()
        self._seg.close()


class BroadcastReader(R.Closeable):
    """One reader of a broadcast channel (a bot or the collector)."""

    def __init__(self, name: str, seg: Segment, slot: int, spin_us: float | None) -> None:
        self.name = name
        self.bot_id = slot + 1
        self.spin_us = spin_us
        self._seg = seg
        self._mm = seg.mm
        self._h = R.check_header(seg.mm, seg.size, R.KIND_BROADCAST, f"broadcast channel {name!r}")
        self._slot_q = memoryview(seg.mm)[SLOTS_OFF + slot * SLOT_BYTES:
                                          SLOTS_OFF + (slot + 1) * SLOT_BYTES].cast("Q")
        self._slot = slot
        self._flag = FLAGS_OFF + slot
        self._cap = self._h[H_CAPACITY]
        self._mask = self._cap - 1
        self._max_payload = self._h[H_MAX_PAYLOAD]
        self.generation = self._h[H_GENERATION]
        self._owner_pid = self._h[H_OWNER_PID]
        # Start right after the newest message: a new reader wants new messages (and a snapshot).
        self._cursor, self._expect = 0, 1
        if self._h[H_TAIL]:
            found = self._latest_valid()
            if found is None:
                raise HftctlError(f"broadcast channel {name!r}: cannot find a valid starting point")
            self._cursor, self._expect = found[0] + R.rec_size(found[2]), found[1] + 1
        self._lost_total = 0
        self._next_liveness = 0
        self.waiter = Waiter(seg.mm, self._h, self._flag, spin_us, bitset=1 << (slot & 31),
                             barrier=bool(self._h[R.H_READER_BARRIER]))
        self._slot_q[S_SEQ] = self._expect - 1   # lag counts from the attach point
        self._slot_q[S_LOST] = 0
        self._slot_q[S_PID] = os.getpid()
        self._buf: deque = deque()
        self._closed = False

    @classmethod
    def attach(cls, name: str, bot_id: int | None = None, timeout: float = 5.0,
               spin_us: float | None = None, _not_generation: int = 0) -> "BroadcastReader":
        """Attach to connector NAME's broadcast channel, waiting up to ``timeout`` for it.

        ``bot_id`` asks for a specific slot (re-attaching after a writer restart keeps the id);
        otherwise the first free slot is taken. ``spin_us``: how ``recv`` waits (None: spin an
        adaptive budget, then park; 0: park at once; > 0: spin that long, then park).
        """
        check_name(name)
        path = shm_name(name, CHANNEL)
        deadline = time.monotonic() + timeout
        while True:
            seg = _try_open_live(path, _not_generation)
            if seg is not None:
                break
            if time.monotonic() >= deadline:
                raise HftctlError(f"no running connector {name!r} (broadcast channel {path} absent or dead)")
            time.sleep(0.01)
        try:
            h = R.check_header(seg.mm, seg.size, R.KIND_BROADCAST, f"broadcast channel {name!r}")
            max_slots = h[H_MAX_SLOTS]
            slots = memoryview(seg.mm)[SLOTS_OFF:SLOTS_OFF + max_slots * SLOT_BYTES].cast("Q")
            try:
                slot = _claim_slot(seg, slots, max_slots, bot_id)
            finally:
                slots.release()
                h.release()
            if slot is None:
                raise HftctlError(f"broadcast channel {name!r}: all {max_slots} reader slots are taken"
                                  if bot_id is None else f"bot id {bot_id} is taken or out of range")
            return cls(name, seg, slot, spin_us)
        except BaseException:
            seg.close()
            raise

    # --- receiving ---------------------------------------------------------------------------

    def poll(self) -> "R.Received | R.Overrun | None":
        """Next message for this reader without blocking (None if there is none yet).

        With a backlog (more than 4 KiB unread) it copies up to 256 messages at once into a
        local buffer and hands them out one by one: same order and checks, about half the
        per-message cost of reading them one at a time.
        """
        buf = self._buf
        if buf:
            return buf.popleft()
        if self._closed:
            raise R.closed_error("broadcast", self.name)
        if self._h[H_TAIL] - self._cursor > _BACKLOG_BYTES:
            out = self.poll_many(256)
            if not out:
                return None
            buf.extend(out)
            return buf.popleft()
        return self._poll_one()

    def _poll_one(self) -> "R.Received | R.Overrun | None":
        h = self._h
        mm = self._mm
        cap = self._cap
        while True:
            cur = self._cursor
            if h[H_TAIL] == cur:
                return None
            off = cur & self._mask
            if cap - off < _REC_BYTES:
                self._cursor = cur + cap - off
                continue
            base = DATA_OFF + off
            seq, n, dest, digest = _REC.unpack_from(mm, base)
            if seq != self._expect or n > self._max_payload:
                if h[H_TAIL_INTENT] - cap > cur:
                    return self._resync("lapped")
                if n == PAD and seq == self._expect:
                    self._cursor = cur + cap - off
                    continue
                return self._resync(f"corrupt: bad framing at seq {self._expect}")
            data = mm[base + _REC_BYTES:base + _REC_BYTES + n]
            if h[H_TAIL_INTENT] - cap > cur:
                return self._resync("lapped")
            self._cursor = cur + ((_REC_BYTES + n + 7) & ~7)
            self._expect = seq + 1
            self._slot_q[S_SEQ] = seq
            if _hash(data, (seq ^ (n << 20) ^ (dest << 44)) & _M64) != digest:
                return self._lost(1, f"corrupt: checksum mismatch at seq {seq}")
            if dest and dest != self.bot_id:
                continue
            return _tuple_new(_Received, (seq, dest, data))

    def poll_many(self, max_n: int = 1024) -> "list[R.Received | R.Overrun]":
        """Up to ``max_n`` available messages without blocking; an Overrun, if any, comes last.

        The same checks as ``poll`` (kept inline rather than calling it: per-message call
        overhead is most of the cost in Python), except that "not overwritten while I copied"
        is checked once for the whole batch, after copying it: the writer announces a record's
        end (``H_TAIL_INTENT``) before it writes the record, and loads are not reordered with
        older loads (TSO), so if the writer's intent has not reached into the batch's first
        record by then, it has not touched any of them. (Per record, that check was a header
        read, ~6% of a message's cost.) A lapped batch is dropped and the single-message path
        reports the lap, the count lost exact as ever; it also sorts out bad framing and
        checksums, so a damaged record is reported as lapped if the writer had reached it.
        """
        out: list = []
        buf = self._buf
        while buf and len(out) < max_n:
            m = buf.popleft()
            out.append(m)
            if type(m) is R.Overrun:
                return out
        if self._closed:
            raise R.closed_error("broadcast", self.name)
        h = self._h
        mm = self._mm
        cap = self._cap
        mask = self._mask
        maxp = self._max_payload
        bot_id = self.bot_id
        start = cur = self._cursor
        expect = self._expect
        tail = h[H_TAIL]
        kept = len(out)
        while cur != tail and len(out) < max_n:
            off = cur & mask
            if cap - off < _REC_BYTES:
                cur += cap - off
                continue
            base = DATA_OFF + off
            seq, n, dest, digest = _REC.unpack_from(mm, base)
            if seq != expect or n > maxp:
                if n == PAD and seq == expect:
                    cur += cap - off
                    continue
                break  # lapped or corrupt: the single-message path sorts it out
            data = mm[base + _REC_BYTES:base + _REC_BYTES + n]
            if _hash(data, (seq ^ (n << 20) ^ (dest << 44)) & _M64) != digest:
                break  # a checksum mismatch too (lapped or damaged): same path
            cur += (_REC_BYTES + n + 7) & ~7
            expect = seq + 1
            if dest and dest != bot_id:
                continue
            out.append(_tuple_new(_Received, (seq, dest, data)))
        if cur != start:
            if h[H_TAIL_INTENT] - cap > start:
                del out[kept:]   # the writer lapped us while we copied: report it below
                cur, expect = start, self._expect
            else:
                self._cursor = cur
                self._expect = expect
                self._slot_q[S_SEQ] = expect - 1
        if cur != tail and len(out) < max_n:
            r = self._poll_one()  # hit a lap or damage: the single-message path reports it
            if r is not None:
                out.append(r)
        return out

    def recv_many(self, timeout: float | None = None, max_n: int = 1024
                  ) -> "list[R.Received | R.Overrun | R.WriterGone]":
        """Block like ``recv`` for the first message, then take whatever else is ready."""
        out = self.poll_many(max_n)
        if out:
            return out
        r = self.recv(timeout)
        if r is None:
            return []
        if type(r) is not R.Received:
            return [r]
        out = self.poll_many(max_n - 1)
        out.insert(0, r)
        return out

    def _lost(self, lost: int, reason: str) -> R.Overrun:
        self._lost_total += lost
        self._slot_q[S_LOST] = self._lost_total
        if reason.startswith("corrupt"):
            log.warning("broadcast channel %r: %s (%d message(s) skipped)", self.name, reason, lost)
        return R.Overrun(lost, reason)

    def _latest_valid(self) -> tuple[int, int, int] | None:
        """(position, seq, length) of the newest record if it is intact, else None."""
        h = self._h
        for _ in range(100):
            latest = h[H_LATEST]
            base = DATA_OFF + (latest & self._mask)
            seq, n, dest, digest = _REC.unpack_from(self._mm, base)
            ok = n <= self._max_payload and _hash(
                self._mm[base + _REC_BYTES:base + _REC_BYTES + n],
                (seq ^ (n << 20) ^ (dest << 44)) & _M64) == digest
            if h[H_TAIL_INTENT] - self._cap <= latest:
                return (latest, seq, n) if ok else None
        return None  # the writer kept lapping us while we looked; try again on the next poll

    def _resync(self, reason: str) -> R.Overrun | None:
        """Jump to the newest intact record; the count lost is exact because records carry seq.

        If the newest record itself is damaged (only a scribbler does that), wait for the next
        one: return None now and report the loss once a valid record exists.
        """
        found = self._latest_valid()
        if found is None or found[0] == self._cursor:
            return None
        latest, seq, _ = found
        lost = max(0, seq - self._expect)
        self._cursor = latest
        self._expect = seq
        return self._lost(lost, reason)

    def recv(self, timeout: float | None = None) -> "R.Received | R.Overrun | R.WriterGone | None":
        """Next message, waiting up to ``timeout`` seconds (None = forever) as ``spin_us`` says.

        Returns None on timeout (or early, when a signal interrupts the sleep) and
        ``WriterGone`` once the writer is dead, closed or silent for more than 1.5 s.
        """
        buf = self._buf
        if buf:             # (poll's first step, without its call: ~7% of a buffered message)
            return buf.popleft()
        r = self.poll()
        if r is not None:
            return r
        return self.waiter.wait(self, timeout, self._check_writer)

    # --- liveness ------------------------------------------------------------------------------

    def _check_writer(self, now_ns: int) -> "R.WriterGone | None":
        """Before each park: closed (one read, every time), and every 0.25 s: still there?"""
        if self._h[H_CLOSED]:
            return R.WriterGone("writer closed the channel")
        if now_ns < self._next_liveness:
            return None
        self._next_liveness = now_ns + _LIVENESS_NS
        gone = self._gone_reason()
        return R.WriterGone(gone) if gone else None

    def _gone_reason(self) -> str | None:
        h = self._h
        if h[H_CLOSED]:
            return "writer closed the channel"
        if not self._seg.lock_held(OWNER_LOCK) or not pid_alive(self._owner_pid):
            return f"writer pid {self._owner_pid} died"
        age = (time.monotonic_ns() - h[H_HEARTBEAT]) / 1e9
        if age > R.STALE_AFTER:
            return f"writer pid {self._owner_pid} silent for {age:.1f}s"
        return None

    def writer_alive(self) -> bool:
        if self._closed:
            raise R.closed_error("broadcast", self.name)
        return self._gone_reason() is None

    @property
    def lost_total(self) -> int:
        return self._lost_total

    def reattach(self, timeout: float = 5.0) -> bool:
        """After WriterGone: attach to the restarted writer's new segment, keeping the bot id.

        Returns False if no new live writer appeared within ``timeout``; the reader stays usable
        (call again later).
        """
        old_gen = self.generation
        try:
            new = BroadcastReader.attach(self.name, bot_id=self.bot_id, timeout=timeout,
                                         spin_us=self.spin_us, _not_generation=old_gen)
        except HftctlError:
            try:
                new = BroadcastReader.attach(self.name, bot_id=None, timeout=0,
                                             spin_us=self.spin_us, _not_generation=old_gen)
            except HftctlError:
                return False
        self._release()
        self.__dict__.update(new.__dict__)
        return True

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._h.release()
        self._slot_q.release()
        # Leave the pid in the slot: the writer's reap() reports this bot as gone.
        self._seg.close()

    def close(self) -> None:
        """Detach; the writer's ``reap()`` will report this bot id as gone."""
        if self._closed:
            return
        self._mm[self._flag] = 0
        self._release()


def _reader_infos(seg: Segment, slots, max_readers: int, last_seq: int) -> list[ReaderInfo]:
    out = []
    for slot in range(max_readers):
        pid = slots[slot * 4 + S_PID]
        if not pid:
            continue
        seen = slots[slot * 4 + S_SEQ]
        out.append(ReaderInfo(slot + 1, pid, seen, max(0, last_seq - seen), slots[slot * 4 + S_LOST],
                              seg.lock_held(SLOT_LOCK_BASE + slot)))
    return out


def inspect_readers(name: str) -> list[ReaderInfo]:
    """The readers of connector NAME's broadcast channel, seen from any process (health checks)."""
    check_name(name)
    try:
        seg = Segment.open(shm_name(name, CHANNEL))
    except FileNotFoundError:
        raise HftctlError(f"no broadcast channel for connector {name!r}") from None
    try:
        h = R.check_header(seg.mm, seg.size, R.KIND_BROADCAST, f"broadcast channel {name!r}")
        max_readers = h[H_MAX_SLOTS]
        last = h[H_WRITE_SEQ] - 1
        h.release()
        slots = memoryview(seg.mm)[SLOTS_OFF:SLOTS_OFF + max_readers * SLOT_BYTES].cast("Q")
        try:
            return _reader_infos(seg, slots, max_readers, last)
        finally:
            slots.release()
    finally:
        seg.close()


def _try_open_live(path: str, not_generation: int) -> Segment | None:
    """Open the segment if it exists, is initialised, has a live owner and a new generation."""
    try:
        seg = Segment.open(path)
    except FileNotFoundError:
        return None
    hdr = R.read_header(seg)
    if hdr is None or hdr.closed or hdr.generation == not_generation or not seg.lock_held(OWNER_LOCK):
        seg.close()
        return None
    return seg


def _claim_slot(seg: Segment, slots, max_slots: int, bot_id: int | None) -> int | None:
    if bot_id is not None:
        slot = bot_id - 1
        return slot if 0 <= slot < max_slots and seg.try_lock(SLOT_LOCK_BASE + slot) else None
    # Prefer never-used/reaped slots so the writer can still report a departed bot's id.
    for want_empty in (True, False):
        for slot in range(max_slots):
            if (slots[slot * 4 + S_PID] == 0) == want_empty and seg.try_lock(SLOT_LOCK_BASE + slot):
                return slot
    return None
