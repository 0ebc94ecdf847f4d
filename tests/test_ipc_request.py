"""Request channel: many writer processes, one reader, dead lock holders, corrupt records."""

from __future__ import annotations

import os
import signal
import struct
import time

import pytest

from hftctl.errors import HftctlError
from hftctl.ipc import Overrun, Request, RequestReader, RequestWriter
from hftctl.ipc import ring as R
from tests.ipc_helpers import CTX, chan, procs, record_offsets, start  # noqa: F401

PER_WRITER = 20_000


def writer_proc(name, sender, go):
    w = RequestWriter.attach(name, sender=sender, timeout=10)
    go.wait(10)
    for i in range(PER_WRITER):
        # variable length so records straddle the ring end at varying offsets
        w.send(struct.pack("<II", sender, i) + bytes([sender]) * (i % 50))
    w.close()


def test_many_writer_processes_interleave_without_corruption_or_loss(chan, procs):
    r = RequestReader.create(chan, capacity=1 << 16)  # small: writers hit "ring full" and wrap often
    try:
        go = CTX.Event()
        senders = [1, 2, 3, 4]
        for s in senders:
            start(procs, writer_proc, chan, s, go)
        go.set()
        next_i = dict.fromkeys(senders, 0)
        total = 0
        seqs = []
        while total < PER_WRITER * len(senders):
            m = r.recv(timeout=10)
            assert isinstance(m, Request), m
            sender, i = struct.unpack_from("<II", m.payload)
            assert m.sender == sender
            assert m.payload[8:] == bytes([sender]) * (i % 50)
            assert i == next_i[sender], f"writer {sender}: expected {next_i[sender]}, got {i}"
            next_i[sender] += 1
            seqs.append(m.seq)
            total += 1
        assert seqs == list(range(1, total + 1))
        assert r.poll() is None and r.corrupt == 0
    finally:
        r.close()


def die_holding_lock(name, anonymous):
    w = RequestWriter.attach(name, sender=9, timeout=5)
    if anonymous:
        w._lock.acquire()          # dies between sem_wait and writing its pid
    else:
        w._acquire(5)              # dies inside the critical section
        w._h[R.H_TAIL_INTENT] = 0  # (irrelevant field; just proving it was inside)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("anonymous", [False, True], ids=["known-holder", "anonymous-holder"])
def test_writer_sigkilled_holding_the_lock_does_not_deadlock_others(chan, procs, anonymous):
    r = RequestReader.create(chan, capacity=1 << 16)
    w = RequestWriter.attach(chan, sender=1, timeout=1)
    try:
        w.send(b"before")
        p = start(procs, die_holding_lock, chan, anonymous)
        p.join(10)
        assert p.exitcode == -signal.SIGKILL
        w.send(b"after", timeout=5)   # takes the lock over (it would raise after 5 s of waiting)
        assert w.recoveries == 1
        w.send(b"and again")
        assert [m.payload for m in (r.poll(), r.poll(), r.poll())] == [b"before", b"after", b"and again"]
        assert r.poll() is None
    finally:
        w.close()
        r.close()


def reader_owner_proc(name, ready):
    RequestReader.create(name, capacity=1 << 16)
    ready.put(1)
    time.sleep(60)


def test_dead_connector_makes_send_fail_cleanly_instead_of_hanging(chan, procs):
    ready = CTX.Queue()
    owner = start(procs, reader_owner_proc, chan, ready)
    ready.get(timeout=10)
    w = RequestWriter.attach(chan, sender=1, timeout=2)
    try:
        assert w.reader_alive()
        w.send(b"while alive")
        os.kill(owner.pid, signal.SIGKILL)
        owner.join(5)
        assert not w.reader_alive()
        # A full ring notices at once; otherwise the stale heartbeat (> 1.5 s) triggers the check.
        with pytest.raises(HftctlError, match="connector .* is gone"):
            for _ in range(10_000):  # fills the 64 KiB ring nobody reads
                w.send(b"x" * 100, timeout=2)
        time.sleep(R.STALE_AFTER + 0.1)
        with pytest.raises(HftctlError, match="connector .* is gone"):
            w.send(b"y")
    finally:
        w.close()
    with pytest.raises(HftctlError, match="no running connector"):
        RequestWriter.attach(chan, timeout=0.05)


def test_send_to_a_closed_connector_fails_at_once(chan):
    r = RequestReader.create(chan, capacity=1 << 16)
    w = RequestWriter.attach(chan, sender=1, timeout=1)
    try:
        w.send(b"ok")
        r.close()
        with pytest.raises(HftctlError, match="is gone"):
            w.send(b"lost otherwise")
    finally:
        w.close()
        r.close()


def test_full_ring_with_live_but_stuck_reader_times_out(chan):
    r = RequestReader.create(chan, capacity=1 << 16)
    w = RequestWriter.attach(chan, timeout=1)
    try:
        with pytest.raises(HftctlError, match="is full"):
            for _ in range(10_000):
                w.send(b"y" * 100, timeout=0.2)
        drained = 0
        while isinstance(r.poll(), Request):
            drained += 1
        assert drained > 400
        w.send(b"fits again")
        assert r.poll().payload == b"fits again"
    finally:
        w.close()
        r.close()


def test_corrupt_request_records_are_reported_and_skipped(chan):
    r = RequestReader.create(chan, capacity=1 << 16)
    w = RequestWriter.attach(chan, sender=5, timeout=1)
    try:
        for i in range(6):
            w.send(b"req-%d" % i)
        mm = r._seg.mm
        offs = record_offsets(mm, 6)
        mm[offs[1] + R.REC_BYTES] ^= 0x55                 # payload of seq 2
        mm[offs[3]:offs[3] + 8] = b"\xff" * 8             # seq field of seq 4
        out = []
        while (m := r.poll()) is not None:
            out.append(m)
        assert out[0].payload == b"req-0"
        assert out[1] == Overrun(1, "corrupt: checksum mismatch at seq 2")
        assert out[2].payload == b"req-2"
        # Framing lost at seq 4: the rest of what was committed (4, 5, 6) is dropped, counted exactly.
        assert isinstance(out[3], Overrun) and out[3].lost == 3 and "framing" in out[3].reason
        assert len(out) == 4 and r.corrupt == 4
        w.send(b"next")
        assert r.poll().payload == b"next"
    finally:
        w.close()
        r.close()


def test_blocking_recv_wakes_on_send_from_another_process(chan, procs):
    r = RequestReader.create(chan)
    try:
        def late_sender(name):
            time.sleep(0.2)
            with RequestWriter.attach(name, sender=2) as w:
                w.send(b"wake up")
        start(procs, late_sender, chan)
        m = r.recv(timeout=5)
        assert isinstance(m, Request) and m.payload == b"wake up" and m.sender == 2
        assert r.recv(timeout=0.05) is None
    finally:
        r.close()


def test_a_closed_end_raises_a_clear_error_not_a_released_memoryview(chan):
    r = RequestReader.create(chan, capacity=1 << 16)
    w = RequestWriter.attach(chan, sender=1, timeout=1)
    w.close()
    r.close()
    for call in (lambda: w.send(b"x"), w.reader_alive, r.poll, lambda: r.recv(timeout=0.01), r.heartbeat):
        with pytest.raises(HftctlError, match="request channel .* this end is closed"):
            call()
