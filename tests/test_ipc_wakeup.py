"""How ring readers wait: parked readers woken by one syscall, spinning ones by none, the
adaptive spin budget, and a writer that dies or closes while a reader is parked.

Parked readers in these tests sleep in slices of 60 s instead of 0.25 s (``slow_slices``): a
lost wake-up then shows as a message that never arrives within the tests' generous limits,
instead of one that arrives a quarter of a second late.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from hftctl.errors import HftctlError
from hftctl.ipc import BroadcastReader, BroadcastWriter, Received, Request, RequestReader, RequestWriter, WriterGone
from hftctl.ipc import broadcast as B
from hftctl.ipc import ring as R
from hftctl.ipc import wait as W
from tests.ipc_helpers import CTX, chan, procs, start  # noqa: F401

MESSAGES = 20
LIMIT = 30.0     # generous: only a wake-up that never comes should ever reach it


def slow_slices() -> None:
    W.PARK_SLICE_NS = 60_000_000_000


def wait_until(pred, what: str):
    deadline = time.monotonic() + LIMIT
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.0005)


def parked(mm, bot_id: int) -> bool:
    return mm[R.FLAGS_OFF + bot_id - 1] == 1


def reader_proc(name, spin_us, count, ready, results):
    slow_slices()
    r = BroadcastReader.attach(name, timeout=10, spin_us=spin_us)
    ready.put(r.bot_id)
    got = []
    while len(got) < count:
        m = r.recv(timeout=LIMIT)
        assert isinstance(m, Received), m
        got.append(m.payload)
    results.put((r.bot_id, got, r.waiter.parks, r.waiter.wakeups))
    r.close()


def test_parked_readers_are_woken_with_one_syscall_per_message_however_many_they_are(chan, procs):
    ready, results = CTX.Queue(), CTX.Queue()
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        assert w._fence is None   # readers fence the writer with membarrier: publish has no fence
        for _ in range(3):
            start(procs, reader_proc, chan, 0.0, MESSAGES + 1, ready, results)
        bots = sorted(ready.get(timeout=10) for _ in range(3))
        for i in range(MESSAGES):
            wait_until(lambda: all(parked(w._mm, b) for b in bots), "all readers parked")
            w.publish(b"all-%d" % i)
        # A message for one bot wakes that bot (then it is done); the others stay parked and
        # get the next one.
        wait_until(lambda: all(parked(w._mm, b) for b in bots), "all readers parked")
        w.publish(b"for-%d" % bots[1], dest=bots[1])
        others = [b for b in bots if b != bots[1]]
        wait_until(lambda: all(parked(w._mm, b) for b in others), "the other readers parked")
        w.publish_many([b"last"])
        wakeups = w.wakeups       # (close() wakes everyone once more)
        outcomes = sorted(results.get(timeout=LIMIT) for _ in bots)
    finally:
        w.close()
    for bot_id, got, parks, woken in outcomes:
        expect = [b"all-%d" % i for i in range(MESSAGES)] + ([b"for-%d" % bot_id] if bot_id == bots[1] else [b"last"])
        assert got == expect, bot_id
        assert parks >= 1 and woken >= 1
    # Every publish found parked readers: one wake syscall each, not one per reader (fewer only
    # when a reader saw the commit on its own just before the writer looked at its flag).
    assert MESSAGES // 2 <= wakeups <= MESSAGES + 2


def test_a_spinning_reader_costs_the_writer_no_syscall(chan, procs):
    ready, results = CTX.Queue(), CTX.Queue()
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        start(procs, reader_proc, chan, 20e6, MESSAGES, ready, results)   # spins up to 20 s a wait
        bot = ready.get(timeout=10)
        for i in range(MESSAGES):
            w.publish(b"m%d" % i)
            wait_until(lambda: w.readers()[0].lag == 0, "the reader took the message")
        bot_id, got, parks, woken = results.get(timeout=LIMIT)
        wakeups = w.wakeups
    finally:
        w.close()
    assert bot_id == bot and got == [b"m%d" % i for i in range(MESSAGES)]
    assert (parks, woken, wakeups) == (0, 0, 0)


def test_without_membarrier_the_writer_fences_and_parked_readers_still_wake(chan, procs, monkeypatch):
    monkeypatch.setattr(B, "register_writer", lambda: False)
    ready, results = CTX.Queue(), CTX.Queue()
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        assert w._fence is not None and w._h[R.H_READER_BARRIER] == 0
        start(procs, reader_proc, chan, 0.0, MESSAGES, ready, results)
        bot = ready.get(timeout=10)
        for i in range(MESSAGES):
            wait_until(lambda: parked(w._mm, bot), "the reader parked")
            w.publish(b"m%d" % i)
        _, got, parks, _ = results.get(timeout=LIMIT)
        wakeups = w.wakeups
    finally:
        w.close()
    assert got == [b"m%d" % i for i in range(MESSAGES)] and parks >= 1
    assert MESSAGES // 2 <= wakeups <= MESSAGES


def closed_reader_proc(name, ready, results):
    slow_slices()
    r = BroadcastReader.attach(name, timeout=10, spin_us=None)
    ready.put(r.bot_id)
    results.put(r.recv(timeout=None))
    r.close()


def test_closing_the_writer_wakes_a_parked_reader_at_once(chan, procs):
    ready, results = CTX.Queue(), CTX.Queue()
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        start(procs, closed_reader_proc, chan, ready, results)
        bot = ready.get(timeout=10)
        wait_until(lambda: parked(w._mm, bot), "the reader parked")
    finally:
        w.close()
    # With 60 s park slices only the close's wake-up can end the wait within the limit.
    m = results.get(timeout=LIMIT)
    assert isinstance(m, WriterGone) and "closed" in m.reason


def suicidal_writer_proc(name, ready):
    """Heartbeats until a reader parks, then dies without a word (SIGKILL)."""
    w = BroadcastWriter.create(name, capacity=1 << 16)
    ready.put(os.getpid())
    while True:
        w.heartbeat()
        if w._mm.find(b"\x01", R.FLAGS_OFF, R.FLAGS_OFF + 8) >= 0:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.001)


def test_a_writer_that_dies_while_the_reader_is_parked_is_reported(chan, procs):
    ready = CTX.Queue()
    p = start(procs, suicidal_writer_proc, chan, ready)
    pid = ready.get(timeout=10)
    r = BroadcastReader.attach(chan, timeout=5)          # the default: adaptive spin, then park
    try:
        m = r.recv(timeout=LIMIT)
        assert isinstance(m, WriterGone) and m.reason == f"writer pid {pid} died", m
        assert r.waiter.parks >= 1
    finally:
        r.close()
        p.join(5)


def request_sender_proc(name, count, results):
    w = RequestWriter.attach(name, sender=3, timeout=10)
    for i in range(count):
        while not w._h[R.H_SLEEPING]:       # wait for the connector's reader to park
            time.sleep(0.0005)
        w.send(b"req-%d" % i)
    results.put(w.wakeups)
    w.close()


def test_a_parked_request_reader_is_woken_by_each_send(chan, procs, monkeypatch):
    monkeypatch.setattr(W, "PARK_SLICE_NS", 60_000_000_000)
    results = CTX.Queue()
    r = RequestReader.create(chan, capacity=1 << 16, spin_us=0.0)
    try:
        start(procs, request_sender_proc, chan, MESSAGES, results)
        got = []
        for _ in range(MESSAGES):
            m = r.recv(timeout=LIMIT)
            assert isinstance(m, Request), m
            got.append(m.payload)
        assert got == [b"req-%d" % i for i in range(MESSAGES)]
        assert MESSAGES // 2 <= results.get(timeout=LIMIT) <= MESSAGES   # wake syscalls: one a request
        assert r.waiter.parks >= 1 and r.waiter.wakeups >= 1
    finally:
        r.close()


def test_the_adaptive_budget_shrinks_while_idle_and_follows_its_rule(chan):
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    r = BroadcastReader.attach(chan, timeout=1)
    try:
        waiter = r.waiter
        assert waiter.adaptive and waiter.spin_ns == W.SPIN_START_NS
        for _ in range(10):        # nothing for 2 ms, 20x the largest budget: spinning is waste
            assert r.recv(timeout=0.002) is None
        assert waiter.spin_ns == W.SPIN_MIN_NS and waiter.parks >= 1
        # The rule itself: a message within SPIN_MAX_NS of starting to wait doubles the budget
        # (up to the max), a longer wait halves it (down to the min), a short timeout keeps it.
        waiter._adapt(3_000, True)
        assert waiter.spin_ns == 2 * W.SPIN_MIN_NS
        for _ in range(10):
            waiter._adapt(W.SPIN_MAX_NS, True)
        assert waiter.spin_ns == W.SPIN_MAX_NS
        waiter._adapt(W.SPIN_MAX_NS - 1, False)
        assert waiter.spin_ns == W.SPIN_MAX_NS
        waiter._adapt(W.SPIN_MAX_NS + 1, True)
        assert waiter.spin_ns == W.SPIN_MAX_NS // 2
    finally:
        r.close()
        w.close()
    fixed = W.Waiter(bytearray(R.DATA_OFF), None, R.FLAGS_OFF, 0.0)
    fixed._adapt(1_000, True)
    assert not fixed.adaptive and fixed.spin_ns == 0
    with pytest.raises(HftctlError, match="spin_us must be"):
        W.Waiter(bytearray(R.DATA_OFF), None, R.FLAGS_OFF, -1.0)


def test_the_adaptive_mode_spins_only_while_a_cpu_is_free(chan, monkeypatch):
    """The kernel's runnable count decides: with every CPU taken the reader parks at once."""
    spins = []
    real_spin = W.Waiter._spin
    monkeypatch.setattr(W.Waiter, "_spin", lambda self, reader, end: spins.append(1) or real_spin(self, reader, end))
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    adaptive = BroadcastReader.attach(chan, timeout=1)
    fixed = BroadcastReader.attach(chan, timeout=1, spin_us=50.0)
    try:
        for ncpu, adaptive_spins in ((1 << 20, 1), (0, 0)):    # (no machine has 0 CPUs free)
            monkeypatch.setattr(W, "_NCPU", ncpu)
            W._cpu_free_cache[0] = 0                           # sample now, not from the cache
            spins.clear()
            assert adaptive.recv(timeout=0.001) is None
            assert len(spins) == adaptive_spins
            assert fixed.recv(timeout=0.001) is None           # an explicit budget always spins
            assert len(spins) == adaptive_spins + 1
    finally:
        fixed.close()
        adaptive.close()
        w.close()
    W._cpu_free_cache[0] = 0
