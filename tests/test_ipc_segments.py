"""Listing hftctl's /dev/shm objects, telling stale from live, and removing only stale ones."""

from __future__ import annotations

import os
import signal
import time
import uuid

import posix_ipc

from hftctl.ipc import BroadcastReader, ConnectorEndpoint, clean_stale, list_segments
from hftctl.ipc.segments import pid_alive
from tests.ipc_helpers import CTX, chan, procs, start  # noqa: F401


def connector_then_hang(name, ready):
    ConnectorEndpoint.create(name, capacity=1 << 16, request_capacity=1 << 16)
    ready.put(os.getpid())
    time.sleep(60)


def reader_then_hang(name, ready):
    r = BroadcastReader.attach(name, timeout=5)
    ready.put(r.bot_id)
    time.sleep(60)


def by_file():
    return {i.file: i for i in list_segments()}


def test_stale_segments_of_dead_owner_are_found_and_only_they_are_removed(chan, procs):
    ready = CTX.Queue()
    dead_name = chan + "-dead"
    live = ConnectorEndpoint.create(chan, capacity=1 << 16, request_capacity=1 << 16)
    foreign = posix_ipc.SharedMemory(f"/notours.{uuid.uuid4().hex[:8]}", posix_ipc.O_CREX, size=4096)
    try:
        owner = start(procs, connector_then_hang, dead_name, ready)
        owner_pid = ready.get(timeout=10)
        reader = start(procs, reader_then_hang, chan, ready)
        bot_id = ready.get(timeout=10)

        segs = by_file()
        assert segs[f"hftctl.{dead_name}.bc"].alive and not segs[f"hftctl.{dead_name}.bc"].stale
        assert segs[f"hftctl.{dead_name}.bc"].owner_pid == owner_pid

        os.kill(owner.pid, signal.SIGKILL)
        os.kill(reader.pid, signal.SIGKILL)
        owner.join(5)
        reader.join(5)
        assert not pid_alive(owner_pid)

        segs = by_file()
        dead_files = {f"hftctl.{dead_name}.bc", f"hftctl.{dead_name}.rq", f"sem.hftctl.{dead_name}.rq.lock"}
        assert {f for f in segs if dead_name in f} == dead_files
        for f in dead_files:
            assert segs[f].stale and not segs[f].alive, f
        # The live connector stays, whole; the SIGKILLed reader left nothing of its own behind.
        assert {f for f in segs if chan in f and dead_name not in f} == \
            {f"hftctl.{chan}.bc", f"hftctl.{chan}.rq", f"sem.hftctl.{chan}.rq.lock"}
        for f in (f"hftctl.{chan}.bc", f"hftctl.{chan}.rq", f"sem.hftctl.{chan}.rq.lock"):
            assert segs[f].alive and not segs[f].stale, f
        assert segs[f"hftctl.{chan}.bc"].owner_pid == os.getpid()

        # (restricted to this test's connectors: other programs' stale segments are not ours to
        # remove in a test; the unrestricted call is the same code path)
        removed = set(clean_stale([chan, dead_name, "notours"]))
        assert removed == dead_files
        left = set(os.listdir("/dev/shm"))
        assert not dead_files & left
        assert {f"hftctl.{chan}.bc", f"hftctl.{chan}.rq"} <= left
        assert foreign.name.lstrip("/") in left            # never touches other programs' objects
        assert live.gone_bots() == [bot_id]
    finally:
        live.close()
        foreign.unlink()
        os.close(foreign.fd)
        for f in os.listdir("/dev/shm"):
            if dead_name in f:
                posix_ipc.unlink_semaphore("/" + f[4:]) if f.startswith("sem.") else \
                    posix_ipc.unlink_shared_memory("/" + f)


def test_restarted_connector_replaces_stale_segments(chan, procs):
    ready = CTX.Queue()
    owner = start(procs, connector_then_hang, chan, ready)
    ready.get(timeout=10)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(5)
    ep = ConnectorEndpoint.create(chan, capacity=1 << 16, request_capacity=1 << 16)
    try:
        segs = by_file()
        assert segs[f"hftctl.{chan}.bc"].owner_pid == os.getpid() and segs[f"hftctl.{chan}.bc"].alive
    finally:
        ep.close()
    assert not [f for f in os.listdir("/dev/shm") if chan in f]
