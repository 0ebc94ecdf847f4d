"""Broadcast channel across real processes and real shared memory."""

from __future__ import annotations

import os
import signal
import struct
import time
import zlib

import pytest

from hftctl.errors import HftctlError
from hftctl.ipc import BroadcastReader, BroadcastWriter, Overrun, Received, WriterGone, inspect_readers
from hftctl.ipc import ring as R
from tests.ipc_helpers import CTX, chan, procs, record_offsets, start  # noqa: F401

TOTAL = 100_000
TARGETED_EVERY = 7
HEAD = struct.Struct("<QI")   # message index, crc of the filler


@pytest.fixture
def small(chan):
    """A 64 KiB broadcast channel with one attached reader, both closed after the test."""
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        r = BroadcastReader.attach(chan, timeout=1)
        try:
            yield w, r
        finally:
            r.close()
    finally:
        w.close()


def make_payload(i: int) -> bytes:
    filler = bytes([i & 0xFF]) * (i % 200)
    return HEAD.pack(i, zlib.crc32(filler)) + filler


def check_payload(data: bytes) -> int:
    i, crc = HEAD.unpack_from(data)
    filler = data[HEAD.size:]
    assert len(filler) == i % 200 and zlib.crc32(filler) == crc, f"message {i} damaged"
    return i


def dest_of(i: int, nreaders: int) -> int:
    return (i // TARGETED_EVERY) % nreaders + 1 if i % TARGETED_EVERY == 0 else 0


def reader_proc(name, bot_id, spin_us, nreaders, ready, results):
    try:
        r = BroadcastReader.attach(name, bot_id=bot_id, timeout=10, spin_us=spin_us)
        ready.put(r.bot_id)
        want = [i for i in range(TOTAL) if dest_of(i, nreaders) in (0, r.bot_id)]
        got, k, overruns = 0, 0, 0
        while k < len(want):
            m = r.recv(timeout=10)
            if isinstance(m, Overrun):
                overruns += 1
                break
            assert isinstance(m, Received), f"unexpected {m!r} after {k} messages"
            i = check_payload(m.payload)
            assert i == want[k], f"bot {r.bot_id}: expected message {want[k]}, got {i}"
            assert m.dest in (0, r.bot_id)
            k += 1
            got += 1
        results.put((r.bot_id, got, len(want), overruns))
        r.close()
    except BaseException as e:  # report instead of dying silently
        results.put((bot_id, "error", repr(e), 0))


def writer_proc(name, nreaders, capacity):
    w = BroadcastWriter.create(name, capacity=capacity)
    try:
        deadline = time.monotonic() + 20
        while len([x for x in w.readers() if x.alive]) < nreaders and time.monotonic() < deadline:
            time.sleep(0.005)
        for i in range(TOTAL):
            if i % 2000 == 0:
                # Test-level flow control: the channel itself never waits for readers, but this
                # test is about ordering and completeness, not overruns, on a 2-core machine.
                while max((x.lag for x in w.readers()), default=0) > 15_000:
                    time.sleep(0.001)
                w.heartbeat()
            w.publish(make_payload(i), dest_of(i, nreaders))
        time.sleep(30)  # stay alive (heartbeating is not needed for this test's duration)
    finally:
        w.close()


def test_ordering_and_no_loss_100k_messages_three_reader_processes(chan, procs):
    nreaders = 3
    ready, results = CTX.Queue(), CTX.Queue()
    # 4 MiB ring: 100k messages of ~130 B wrap it three times.
    writer = start(procs, writer_proc, chan, nreaders, 4 << 20)
    for bot_id, spin in zip((1, 2, 3), (0.0, 50.0, 0.0)):
        start(procs, reader_proc, chan, bot_id, spin, nreaders, ready, results)
    assert sorted(ready.get(timeout=15) for _ in range(nreaders)) == [1, 2, 3]
    outcomes = sorted(results.get(timeout=60) for _ in range(nreaders))
    for bot_id, got, want, overruns in outcomes:
        assert got != "error", want
        assert (got, overruns) == (want, 0), f"bot {bot_id}"
    assert sum(o[1] for o in outcomes) == TOTAL + 2 * sum(1 for i in range(TOTAL) if dest_of(i, 3) == 0)
    writer.kill()


def test_variable_sizes_up_to_64k_survive_wrap_around(chan):
    w = BroadcastWriter.create(chan, capacity=1 << 18)  # 256 KiB ring, 64 KiB max payload
    r = BroadcastReader.attach(chan, timeout=1)
    try:
        assert w.max_payload >= 64 << 10
        sizes = [0, 1, 7, 8, 9, 65536, 1000, 65536 - 24, 333, 65536] * 6
        for k, n in enumerate(sizes):
            payload = bytes([k & 0xFF]) * n
            seq = w.publish(payload)
            m = r.poll()
            assert isinstance(m, Received) and m.seq == seq and m.payload == payload
        assert r.poll() is None
        with pytest.raises(HftctlError, match="exceeds the channel's max payload"):
            w.publish(b"x" * (w.max_payload + 1))
    finally:
        r.close()
        w.close()


def test_overrun_reports_exact_lost_count_and_resumes_at_newest(small):
    w, r = small
    for i in range(10):
        w.publish(b"m%d" % i)
    assert [r.poll().seq for _ in range(10)] == list(range(1, 11))
    last = 0
    for i in range(5000):  # 5000 x 40 B records = 3 laps of a 64 KiB ring
        last = w.publish(b"x" * 16)
    m = r.poll()
    assert m == Overrun(lost=last - 11, reason="lapped")
    m = r.poll()
    assert isinstance(m, Received) and m.seq == last
    assert r.poll() is None
    assert r.lost_total == last - 11
    info = {x.bot_id: x for x in w.readers()}[r.bot_id]
    assert info.overruns == last - 11 and info.lag == 0 and info.alive


def slow_reader_proc(name, results, batched):
    """Falls behind now and then; reads with recv, or with recv_many (whole batches, whose "was
    it overwritten while I copied" check is made once per batch)."""
    r = BroadcastReader.attach(name, timeout=10)
    results.put("ready")
    events = []
    while True:
        got = r.recv_many(timeout=3, max_n=1024) if batched else [r.recv(timeout=3)]
        if not got or got[0] is None or isinstance(got[0], WriterGone):
            break
        for m in got:
            if isinstance(m, Overrun):
                events.append(("overrun", m.lost))
                time.sleep(0.001)
                continue
            # what the writer sent as message seq (it sends i = seq - 1): never another message's bytes
            events.append(("msg", m.seq) if m.payload == struct.pack("<Q", m.seq - 1) * 4 else ("bad", m.seq))
            if m.seq % 500 == 0:
                time.sleep(0.02)  # fall behind now and then
    results.put(events)
    r.close()


@pytest.mark.parametrize("batched", [False, True], ids=["recv", "recv_many"])
def test_slow_reader_process_overruns_are_exact(chan, procs, batched):
    """Across processes: every seq is either received intact or counted in exactly one Overrun."""
    results = CTX.Queue()
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        start(procs, slow_reader_proc, chan, results, batched)
        assert results.get(timeout=10) == "ready"
        total = 60_000
        for i in range(total):
            w.publish(struct.pack("<Q", i) * 4)
            if i % 5000 == 0:
                w.heartbeat()
        w.close()
        events = results.get(timeout=30)
    finally:
        w.close()
    assert [e for e in events if e[0] == "bad"] == []
    seen, prev, lost_total, pending_lost = 0, 0, 0, 0
    for kind, val in events:
        if kind == "msg":
            assert val == prev + 1 + pending_lost, (prev, val, pending_lost)
            prev, pending_lost, seen = val, 0, seen + 1
        else:
            pending_lost += val  # several overruns can come back to back
            lost_total += val
    assert lost_total > 0, "the test did not provoke an overrun"
    # The reader attached before the first message: every seq 1..total was seen or counted lost.
    assert prev == total and seen + lost_total == total


def blocking_reader_proc(name, ready, results, count):
    r = BroadcastReader.attach(name, timeout=10)
    ready.put(r.bot_id)
    got = 0
    while got < count:
        m = r.recv(timeout=10)
        assert isinstance(m, Received), m
        got += 1
    results.put(got)
    r.close()


def test_sigkilled_reader_blocks_neither_writer_nor_other_readers(chan, procs):
    ready, results = CTX.Queue(), CTX.Queue()
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        victim = start(procs, blocking_reader_proc, chan, ready, results, 10**9)
        victim_id = ready.get(timeout=10)
        n = 20_000
        start(procs, blocking_reader_proc, chan, ready, results, n)
        ready.get(timeout=10)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(5)
        for i in range(n):
            w.publish(b"%d" % i)
            if i % 500 == 0:
                # keep the healthy reader from being lapped; the dead one is ignored
                while any(x.alive and x.lag > 1000 for x in w.readers()):
                    time.sleep(0.0005)
        assert results.get(timeout=20) == n
        dead = [x for x in w.readers() if x.bot_id == victim_id]
        assert dead and not dead[0].alive
        assert victim_id in w.reap()
        assert victim_id not in {x.bot_id for x in w.readers()}   # its slot is free again
    finally:
        w.close()


def heartbeating_writer_proc(name, ready, tag):
    w = BroadcastWriter.create(name, capacity=1 << 16)
    ready.put(w.generation)
    i = 0
    while True:
        w.publish(b"%s-%d" % (tag, i))
        w.heartbeat()
        i += 1
        time.sleep(0.01)


def next_non_message(r, limit: float = 30.0):
    """Receive until something other than a message (or nothing) comes; a generous overall limit."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        m = r.recv(timeout=1.0)
        if not isinstance(m, Received):
            if m is not None:
                return m
    raise AssertionError(f"nothing but messages or silence for {limit}s")


def test_sigkilled_writer_detected_by_its_released_lock_and_restarted_writer_reattached(chan, procs):
    ready = CTX.Queue()
    first = start(procs, heartbeating_writer_proc, chan, ready, b"first")
    gen1 = ready.get(timeout=10)
    r = BroadcastReader.attach(chan, timeout=5)
    try:
        bot_id = r.bot_id
        assert isinstance(r.recv(timeout=2), Received) and r.writer_alive()
        os.kill(first.pid, signal.SIGKILL)
        m = next_non_message(r)
        # "died": seen by the reader's own check of the kernel-held owner lock (every 0.25 s of
        # waiting), not by the heartbeat going stale (1.5 s) nor by a timeout.
        assert m == WriterGone(f"writer pid {first.pid} died"), m
        assert not r.writer_alive()
        first.join(5)

        # A fresh queue: the SIGKILLed process may have died holding the old one's write lock.
        ready = CTX.Queue()
        start(procs, heartbeating_writer_proc, chan, ready, b"second")
        gen2 = ready.get(timeout=10)
        assert gen2 != gen1
        assert r.reattach(timeout=5)
        assert r.bot_id == bot_id and r.generation == gen2 and r.writer_alive()
        m = r.recv(timeout=2)
        assert isinstance(m, Received) and m.payload.startswith(b"second-")
    finally:
        r.close()


def test_hung_writer_without_heartbeat_is_reported_gone(chan, procs):
    ready = CTX.Queue()
    p = start(procs, heartbeating_writer_proc, chan, ready, b"x")
    ready.get(timeout=10)
    r = BroadcastReader.attach(chan, timeout=5)
    try:
        os.kill(p.pid, signal.SIGSTOP)  # alive, holds its lock, but silent
        m = next_non_message(r)
        assert isinstance(m, WriterGone) and "silent" in m.reason, m
    finally:
        os.kill(p.pid, signal.SIGKILL)
        r.close()


def test_closed_writer_wakes_blocked_reader_with_writer_gone(small):
    w, r = small
    w.close()
    m = r.recv(timeout=2)
    assert isinstance(m, WriterGone) and "closed" in m.reason
    assert not r.reattach(timeout=0.1)


def test_corrupt_bytes_in_a_slot_are_reported_not_delivered(small):
    w, r = small
    for i in range(8):
        w.publish(b"payload-%d" % i)
    mm = w._seg.mm
    offs = record_offsets(mm, 8)
    mm[offs[2] + R.REC_BYTES + 3] ^= 0xFF            # payload of seq 3
    mm[offs[5]:offs[5] + R.REC_BYTES] = os.urandom(R.REC_BYTES)   # header of seq 6
    got = []
    while (m := r.poll()) is not None:
        got.append(m if isinstance(m, Overrun) else m.seq)
    assert got[:2] == [1, 2]
    assert isinstance(got[2], Overrun) and got[2].lost == 1 and "checksum" in got[2].reason
    assert got[3:5] == [4, 5]
    # Framing of seq 6 destroyed: resync at the newest intact record, counting 6 and 7 lost.
    assert isinstance(got[5], Overrun) and got[5].lost == 2 and "framing" in got[5].reason
    assert got[6:] == [8]
    w.publish(b"after")
    m = r.poll()
    assert isinstance(m, Received) and m.payload == b"after"


def test_second_live_writer_is_refused_and_bad_names_rejected(chan):
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    try:
        with pytest.raises(HftctlError, match="already in use"):
            BroadcastWriter.create(chan, capacity=1 << 16)
    finally:
        w.close()
    for bad in ("", "a/b", "x" * 65, "../etc", "sp ace"):
        with pytest.raises(HftctlError, match="invalid connector name"):
            BroadcastWriter.create(bad)
    with pytest.raises(HftctlError, match="no running connector"):
        BroadcastReader.attach(chan, timeout=0.05)


def test_reader_slots_and_bot_ids(chan):
    w = BroadcastWriter.create(chan, capacity=1 << 16, max_readers=3)
    readers = []
    try:
        readers = [BroadcastReader.attach(chan, timeout=1) for _ in range(3)]
        assert [r.bot_id for r in readers] == [1, 2, 3]
        with pytest.raises(HftctlError, match="all 3 reader slots are taken"):
            BroadcastReader.attach(chan, timeout=0.1)
        readers[1].close()
        assert w.reap() == [2]
        again = BroadcastReader.attach(chan, timeout=1)
        readers.append(again)
        assert again.bot_id == 2
        with pytest.raises(HftctlError, match="bot id 1 is taken"):
            BroadcastReader.attach(chan, bot_id=1, timeout=0.1)
        assert {x.bot_id: x.pid for x in w.readers()} == {1: os.getpid(), 2: os.getpid(), 3: os.getpid()}
        w.publish(b"m")
        readers[0].poll()
        seen_elsewhere = [x.as_dict() for x in inspect_readers(chan)]   # what `hftctl health` sees
        assert seen_elsewhere == [x.as_dict() for x in w.readers()]
        assert [(x["bot_id"], x["lag"], x["alive"]) for x in seen_elsewhere] == [(1, 0, True), (2, 1, True), (3, 1, True)]
    finally:
        for r in readers:
            r.close()
        w.close()


def drain_single(r):
    out = []
    while (m := r.poll()) is not None:
        out.append(m if isinstance(m, Overrun) else (m.seq, m.dest, m.payload))
    return out


def drain_batched(r):
    out = []
    while batch := r.poll_many(max_n=37):
        out.extend(m if isinstance(m, Overrun) else (m.seq, m.dest, m.payload) for m in batch)
    return out


def test_batched_publish_and_poll_have_the_same_semantics_as_single_calls(chan):
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    single = BroadcastReader.attach(chan, timeout=1)
    batched = BroadcastReader.attach(chan, timeout=1)
    other = batched.bot_id + 1
    try:
        got_single, got_batched, total = [], [], 0
        for round_ in range(40):
            # round 13 publishes more than a ring's worth: both readers must report the same overrun
            count = 3000 if round_ == 13 else 1 + round_ * 7
            payloads = [bytes([round_]) * ((round_ * 31 + k) % 300) for k in range(count)]
            dest = (0, single.bot_id, batched.bot_id, other)[round_ % 4]
            if round_ % 2:
                last = w.publish_many(payloads, dest)
            else:
                last = [w.publish(p, dest) for p in payloads][-1]
            total += count
            assert last == total
            got_single += drain_single(single)
            got_batched += drain_batched(batched)
        overruns = [m for m in got_batched if isinstance(m, Overrun)]
        assert len(overruns) == 1 and overruns[0].reason == "lapped" and overruns[0].lost > 0
        assert [m for m in got_single if isinstance(m, Overrun)] == overruns
        def for_me(got, me):
            return [m for m in got if isinstance(m, Overrun) or m[1] in (0, me)]
        assert got_single == for_me(got_single, single.bot_id)
        assert got_batched == for_me(got_batched, batched.bot_id)
        # identical apart from messages addressed to the other one
        assert [m for m in got_single if isinstance(m, Overrun) or m[1] != single.bot_id] == \
               [m for m in got_batched if isinstance(m, Overrun) or m[1] != batched.bot_id]
        assert w.publish_many([]) == total
        w.publish(b"one")
        assert [m.payload for m in batched.recv_many(timeout=1)] == [b"one"]
        assert batched.recv_many(timeout=0.01) == []
        with pytest.raises(HftctlError, match="max payload"):
            w.publish_many([b"ok", b"x" * (w.max_payload + 1)])
    finally:
        single.close()
        batched.close()
        w.close()


def test_poll_many_reports_corruption_in_order(small):
    w, r = small
    w.publish_many([b"m%d" % i for i in range(6)])
    offs = record_offsets(w._seg.mm, 6)
    w._seg.mm[offs[3] + R.REC_BYTES] ^= 1
    first = r.poll_many()
    assert [m.seq for m in first[:-1]] == [1, 2, 3] and first[-1] == Overrun(1, "corrupt: checksum mismatch at seq 4")
    assert [m.seq for m in r.poll_many()] == [5, 6]


def test_poll_with_a_backlog_keeps_order_and_reports_damage_in_place(small):
    """poll() copies a backlog in one go (local buffer); damage must still surface in order."""
    w, r = small
    w.publish_many([b"%04d" % i + b"." * 96 for i in range(200)])
    offs = record_offsets(w._seg.mm, 200)
    w._seg.mm[offs[49] + R.REC_BYTES + 10] ^= 0x80          # seq 50
    got = []
    while (m := r.poll()) is not None:
        got.append(m if isinstance(m, Overrun) else m.seq)
    assert got == list(range(1, 50)) + [Overrun(1, "corrupt: checksum mismatch at seq 50")] + list(range(51, 201))
    assert r.lost_total == 1
    assert {x.bot_id: x.lag for x in w.readers()} == {r.bot_id: 0}


def test_a_closed_end_raises_a_clear_error_not_a_released_memoryview(chan):
    w = BroadcastWriter.create(chan, capacity=1 << 16)
    r = BroadcastReader.attach(chan, timeout=1)
    r.close()
    w.close()
    for call in (lambda: w.publish(b"x"), lambda: w.publish_many([b"x"]), w.heartbeat, w.readers,
                 w.reap, r.poll, r.poll_many, lambda: r.recv(timeout=0.01), r.writer_alive):
        with pytest.raises(HftctlError, match="broadcast channel .* this end is closed"):
            call()
