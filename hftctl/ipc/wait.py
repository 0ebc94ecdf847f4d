"""How a ring reader waits for data, and how a writer wakes it: spin, then park on a futex.

A reader that finds nothing spins (re-reads the ring's tail) for a bounded budget, then parks.
The default budget adapts (``spin_us=None``): it doubles, up to ``SPIN_MAX_NS``, when a message
came within that long of the reader starting to wait (spinning caught it, or would have), and
halves, down to ``SPIN_MIN_NS``, when it came later. "Came" is when the writer committed it, not
when the reader got it: a writer that wakes readers stamps the time (``H_WOKEN_AT``), so a
reader's own wake-up latency (tens of µs on a busy machine) does not count against spinning;
a wait cut short by the reader losing its CPU teaches nothing and leaves the budget alone.
(Judged by when the reader got the message instead, one park under load made the next reply
look late, shrank the budget, and both ends of a request/response kept parking: 50-100 µs round
trips where a spinner took 5 µs.) A reader fed in quick succession
(request/response, bursts) therefore stays awake between messages and pays no wake-up; one fed
rarely spins a few microseconds per message and sleeps, using no CPU while idle. ``spin_us=0``
parks at once, ``spin_us > 0`` spins that long every time.

On a 2-core machine a spinner must not starve the writer it waits for. The adaptive mode spins
only while a CPU is free: the kernel's count of runnable tasks (``/proc/loadavg``, sampled every
2 ms, the spinner included) is at most the CPUs the process may use. Otherwise it parks at once,
like ``spin_us=0``: a spin that does not hit only takes the CPU its writer needs to get woken
and reply. (Measured with other suites keeping the load average at 3-5: without this check
both ends of a request/response parked after spinning in vain and round trips took 60-175 µs;
with it 15-25 µs, what parking at once takes; spinning pays only with a CPU to spare.) The
budget bounds a spin to 100 µs, and an adaptive spinner whose clock check (every 32 polls)
finds it was off the CPU for more than ``OFF_CPU_NS`` (its core is contended) parks too. The spin loop does not ``sched_yield()``: on this kernel's scheduler (EEVDF) a
yield with another task runnable gives that task a whole slice. Measured here, round trip p50
in the default mode with other test suites keeping both cores busy (load average 2-4, three
interleaved rounds): no yield 6.6-7.7 µs (0.2-0.56x a Unix socket), a yield every 64 polls
24-26 µs, every 512 polls 68-106 µs. (A spinning thread holds the GIL: at most the budget in
the adaptive mode; with a fixed ``spin_us`` until CPython's 5 ms switch interval.)

Parking is a futex wait on the ring's wake epoch (``H_WAKE_EPOCH``, low 32 bits), a header word
writers bump each time they wake someone. The handshake (Dekker style, so no wake-up is lost):

- reader: set its "parked" flag, (barrier), read the epoch, poll once more, then
  ``FUTEX_WAIT(epoch word, seen)``: the kernel sleeps only if the word still equals ``seen``
  (compared after a full barrier, atomically with queueing the waiter);
- writer: commit, (barrier), check the flags of the readers the message concerns; if one is
  set: clear those flags, bump the epoch, make one ``FUTEX_WAKE`` syscall.

Either the writer sees the flag, or the reader's poll (after its barrier) sees the commit. A
reader that read the epoch before the bump has its wait return at once; one that read it after
also sees the commit in its poll (the commit was stored first), which is why a writer may clear
a flag the reader is just raising. Costs: a spinning or busy reader costs the writer no syscall
at all; a parked one costs exactly one wake per park (the cleared flag stops the next publishes
from waking it again while it is getting back on a CPU), and one syscall wakes all the parked
readers a message concerns, however many: broadcast readers wait with bit ``slot % 32`` of the
futex bitset, so a message to one bot wakes only readers sharing its bit.

Dekker needs a full barrier on both sides between the store and the load. The request channel's
writers have one for free: they release their POSIX-semaphore mutex (an atomic add) between
commit and check. The broadcast writer publishes far more often, and a fence there costs ~200 ns
a message (it waits for the record's stores to drain, measured: a quarter of a publish), so the
barrier is moved to the rare side: a reader about to park calls ``membarrier(2)``
(GLOBAL_EXPEDITED, ~3 µs), which runs a full barrier on every CPU running a process registered
for it (the writer registers when it creates the channel). Either the writer's flag check
comes after that barrier and sees the flag, or its commit came before it and the reader sees
the commit. Where membarrier is unavailable (Linux < 4.16, a seccomp filter), the writer fences
every commit instead (the atomic read-modify-write of a ``threading.Lock``) and says so in the
ring header, so readers do not need to.

Why a futex and not one POSIX semaphore (posix-ipc) per reader, as before: one syscall wakes
any number of parked broadcast readers where semaphores need one ``sem_post`` each (up to 200);
no count is left behind by a post to a reader that had already woken; there is nothing to
create, name, unlink or clean up in /dev/shm; closing a channel while a thread is parked on it
is harmless (``sem_close`` under a waiter is undefined behaviour); and measured here, a parked
ping-pong between two processes takes 3.5-6 µs per round trip against 9-10 µs with posix-ipc
semaphores. The price: a ctypes call (~1 µs with the syscall), and Linux only (like the OFD
locks the channels already use).
Parks last at most ``PARK_SLICE_NS`` so a reader notices a dead writer and its timeout.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import threading
import time

from hftctl.errors import HftctlError
from hftctl.ipc.ring import H_TAIL, H_WAKE_EPOCH, H_WOKEN_AT, LIVENESS_EVERY

SPIN_MIN_NS = 5_000        # never less: about what parking and being woken costs in CPU
SPIN_MAX_NS = 100_000
SPIN_START_NS = 25_000
OFF_CPU_NS = 50_000        # a spinner that was off the CPU this long shares its core: it parks
CPU_CHECK_NS = 2_000_000   # how often the adaptive mode asks the kernel whether a CPU is free
PARK_SLICE_NS = int(LIVENESS_EVERY * 1e9)
WAKE_ALL = 0xFFFF_FFFF
EPOCH_WORD_OFF = H_WAKE_EPOCH * 8   # low half of the little-endian u64 wake epoch

_SYS_FUTEX, _SYS_MEMBARRIER = {"x86_64": (202, 324), "aarch64": (98, 283)}.get(platform.machine(), (None, None))
_FUTEX_WAIT_BITSET = 9     # absolute CLOCK_MONOTONIC timeout; shared (not FUTEX_PRIVATE_FLAG)
_FUTEX_WAKE_BITSET = 10
_WAKE_COUNT = 0x7FFF_FFFF
_MEMBARRIER_GLOBAL_EXPEDITED = 2
_MEMBARRIER_REGISTER_GLOBAL_EXPEDITED = 4

_libc = ctypes.CDLL(None, use_errno=True)
_futex = _libc["syscall"]          # (indexing gives each its own function object and argtypes)
_futex.restype = ctypes.c_long
_futex.argtypes = (ctypes.c_long, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p,
                   ctypes.c_void_p, ctypes.c_uint32)
_membarrier = _libc["syscall"]
_membarrier.restype = ctypes.c_long
_membarrier.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_uint, ctypes.c_int)
_now_ns = time.monotonic_ns


_OFF_CPU = object()         # _spin's answer when the reader lost its CPU
_NCPU = len(os.sched_getaffinity(0))
_loadavg_fd = -1
_cpu_free_cache = [0, True]    # [recheck after (ns), answer], shared by the process's readers


def _cpu_free(now_ns: int) -> bool:
    """True while no task waits for a CPU: the kernel's runnable count (``/proc/loadavg``, 4th
    field, this spinner included) is at most the CPUs we may run on. Sampled every 2 ms (a read
    costs ~4 µs). Unreadable: True."""
    global _loadavg_fd
    cache = _cpu_free_cache
    if now_ns < cache[0]:
        return cache[1]
    cache[0] = now_ns + CPU_CHECK_NS
    try:
        if _loadavg_fd < 0:
            _loadavg_fd = os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC)
        cache[1] = int(os.pread(_loadavg_fd, 128, 0).split()[3].split(b"/")[0]) <= _NCPU
    except (OSError, ValueError, IndexError):
        cache[1] = True
    return cache[1]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def epoch_word_address(mm) -> int:
    """Address of the ring's futex word in mapping ``mm`` (valid as long as the mapping is).

    The ctypes view is dropped at once: a live buffer export would stop ``mm.close()``.
    """
    if _SYS_FUTEX is None:
        raise HftctlError(f"hftctl's shared-memory rings need Linux on x86-64 or aarch64, not {platform.machine()}")
    view = ctypes.c_uint32.from_buffer(mm, EPOCH_WORD_OFF)
    addr = ctypes.addressof(view)
    del view
    return addr


def wake(h, addr: int, bitset: int = WAKE_ALL) -> None:
    """Bump the wake epoch of header ``h`` and wake every reader parked on it (the futex word at
    ``addr``) whose wait bitset meets ``bitset``. Clear the parked flags concerned first."""
    h[H_WOKEN_AT] = _now_ns()
    h[H_WAKE_EPOCH] = (h[H_WAKE_EPOCH] + 1) & 0xFFFF_FFFF
    _futex(_SYS_FUTEX, addr, _FUTEX_WAKE_BITSET, _WAKE_COUNT, None, None, bitset)


def register_writer() -> bool:
    """Let parking readers run a barrier on this process (membarrier); False where impossible."""
    return (_SYS_MEMBARRIER is not None
            and _membarrier(_SYS_MEMBARRIER, _MEMBARRIER_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0)


def writer_barrier() -> None:
    """Reader side: a full barrier on every CPU now running a registered writer (and here)."""
    if _membarrier(_SYS_MEMBARRIER, _MEMBARRIER_GLOBAL_EXPEDITED, 0, 0) != 0:
        raise HftctlError(f"membarrier(2) failed ({os.strerror(ctypes.get_errno())}), but the "
                          "ring's writer relies on its readers issuing it")


def new_fence():
    """The fallback for a writer readers cannot fence: (acquire, release) of a private lock,
    each an atomic read-modify-write; call both between the commit and the check of the flags."""
    lock = threading.Lock()
    return lock.acquire, lock.release


class Waiter:
    """One reader's waiting: its spin budget (adapted or fixed) and its park on the sequence word.

    ``parks`` counts the times it went to sleep, ``wakeups`` those that a writer ended (rather
    than a timeout, a signal or a commit that came just before the sleep).
    """

    __slots__ = ("adaptive", "spin_ns", "parks", "wakeups", "_mm", "_h", "_flag", "_addr", "_bitset",
                 "_barrier", "_ts", "_ts_addr")

    def __init__(self, mm, h, flag_off: int, spin_us: float | None, bitset: int = WAKE_ALL,
                 barrier: bool = False) -> None:
        """``barrier``: run ``writer_barrier()`` after raising the parked flag (the writer does
        not fence its commits)."""
        if spin_us is not None and not spin_us >= 0:
            raise HftctlError(f"spin_us must be None (adaptive) or >= 0, got {spin_us}")
        self.adaptive = spin_us is None
        self.spin_ns = SPIN_START_NS if spin_us is None else int(spin_us * 1000)
        self.parks = 0
        self.wakeups = 0
        self._mm = mm
        self._h = h
        self._flag = flag_off
        self._addr = epoch_word_address(mm)
        self._bitset = bitset
        self._barrier = barrier
        self._ts = _Timespec()
        self._ts_addr = ctypes.addressof(self._ts)

    def wait(self, reader, timeout: float | None, on_slice):
        """After an empty ``reader.poll()``: its next result, or None at ``timeout`` or when a
        signal interrupted the sleep (so the caller can act on it), or the first non-None
        ``on_slice(now_ns)`` (called before every park: liveness checks, heartbeats)."""
        start = _now_ns()
        deadline = None if timeout is None else start + int(timeout * 1e9)
        spin_ns = self.spin_ns
        learn = self.adaptive
        if spin_ns and (not learn or _cpu_free(start)):
            end = start + spin_ns
            r = self._spin(reader, end if deadline is None or end < deadline else deadline)
            if r is _OFF_CPU:
                learn = False
            elif r is not None:
                if learn and spin_ns < SPIN_MAX_NS:   # (_adapt's rule, without a clock read)
                    self.spin_ns = min(SPIN_MAX_NS, spin_ns * 2)
                return r
        mm = self._mm
        flag = self._flag
        h = self._h
        while True:
            now = _now_ns()
            r = on_slice(now)
            if r is not None:
                return r
            if deadline is not None and now >= deadline:
                if learn:
                    self._adapt(now - start, False)
                return None
            mm[flag] = 1
            if self._barrier:
                writer_barrier()
            seen = h[H_WAKE_EPOCH] & 0xFFFF_FFFF
            r = reader.poll()
            if r is None:
                # Again after reading the epoch: a writer that closed the channel after the
                # check above (it saw our flag) bumped the epoch before we read it; its "message"
                # is the closed mark, which poll() does not look at, and the park would last a
                # whole slice.
                r = on_slice(now)
            interrupted = False
            if r is None:
                until = now + PARK_SLICE_NS
                interrupted = self._park(seen, until if deadline is None or until < deadline else deadline)
            mm[flag] = 0
            if r is None:
                r = reader.poll()
            if r is not None:
                if learn:
                    now = _now_ns()
                    woken_at = h[H_WOKEN_AT]     # a writer's wake-up since we began: the arrival
                    self._adapt((woken_at if start <= woken_at <= now else now) - start, True)
                return r
            if interrupted:
                return None

    def _spin(self, reader, end_ns: int):
        h = self._h
        poll = reader.poll
        cur = reader._cursor
        i = 0
        last = _now_ns()
        off_cpu_ns = OFF_CPU_NS if self.adaptive else end_ns   # a fixed budget is spun out
        # (no sched_yield(): see the module docstring)
        while True:
            if h[H_TAIL] != cur:
                r = poll()
                if r is not None:
                    return r
                cur = reader._cursor    # records for other readers only
            i += 1
            if not i & 31:
                now = _now_ns()
                if now >= end_ns:
                    return None
                if now - last > off_cpu_ns:
                    return _OFF_CPU     # the core is contended: park
                last = now

    def _park(self, seen: int, until_ns: int) -> bool:
        """Sleep until woken, the word moves off ``seen`` or ``until_ns``; True if a signal hit."""
        self.parks += 1
        ts = self._ts
        ts.tv_sec, ts.tv_nsec = divmod(until_ns, 1_000_000_000)
        if _futex(_SYS_FUTEX, self._addr, _FUTEX_WAIT_BITSET, seen, self._ts_addr, None, self._bitset) == 0:
            self.wakeups += 1
            return False
        e = ctypes.get_errno()
        if e == errno.EINTR:
            return True
        if e not in (errno.EAGAIN, errno.ETIMEDOUT):
            raise HftctlError(f"futex wait on the ring failed: {os.strerror(e)}")
        return False

    def _adapt(self, waited_ns: int, got: bool) -> None:
        if not self.adaptive:
            return
        if got and waited_ns <= SPIN_MAX_NS:
            self.spin_ns = min(SPIN_MAX_NS, self.spin_ns * 2)
        elif waited_ns > SPIN_MAX_NS:
            self.spin_ns = max(SPIN_MIN_NS, self.spin_ns // 2)
