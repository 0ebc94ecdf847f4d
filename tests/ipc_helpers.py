"""Shared pieces of the IPC tests: unique channel names, process cleanup, raw record access."""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid

import pytest

from hftctl.ipc import ring as R
from hftctl.ipc.segments import unlink_channel_sems, unlink_shm

CTX = mp.get_context("fork")


def remove_channels(name: str) -> None:
    """Unlink connector ``name``'s channels and their semaphores, whatever a test left behind."""
    for channel in ("bc", "rq"):
        unlink_shm(f"/hftctl.{name}.{channel}")
        unlink_channel_sems(name, channel)


@pytest.fixture
def chan():
    """A unique connector name; whatever the test leaves behind in /dev/shm is removed."""
    name = f"t{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield name
    remove_channels(name)


@pytest.fixture
def procs():
    """Child processes started by a test; all are killed and joined at the end, pass or fail."""
    started: list = []
    yield started
    for p in started:
        if p.is_alive():
            p.kill()
        p.join(5)


def start(procs: list, target, *args) -> "mp.Process":
    p = CTX.Process(target=target, args=args, daemon=True)
    p.start()
    procs.append(p)
    return p


def record_offsets(mm, count: int) -> list[int]:
    """Byte offsets (in the mapping) of the first ``count`` records of a ring that has not wrapped."""
    offs, pos = [], R.DATA_OFF
    for _ in range(count):
        offs.append(pos)
        n = R.REC.unpack_from(mm, pos)[1]
        pos += R.rec_size(n)
    return offs
