"""A read-only look at a connector's broadcast channel from outside: owner, heartbeat, readers.

``hftctl health`` must not attach to a channel (it would take a reader slot and show up as a
bot), so it reads the header (``hftctl.ipc.ring.read_header``), asks the kernel whether the
owner lock is held, and lists the reader slots with ``hftctl.ipc.broadcast.inspect_readers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hftctl.errors import HftctlError
from hftctl.ipc import ring as R
from hftctl.ipc.broadcast import CHANNEL, inspect_readers
from hftctl.ipc.segments import OWNER_LOCK, Segment, shm_name


@dataclass
class RingReader:
    bot_id: int
    pid: int
    alive: bool             # its slot lock is held (the kernel drops it when the reader dies)
    lag: int | None         # messages published but not yet read (None: has not read yet)
    overruns: int           # messages it lost by falling a whole ring behind


@dataclass
class RingView:
    connector: str
    owner_pid: int
    owner_alive: bool       # owner lock held and the channel not closed
    heartbeat_age: float
    messages: int
    readers: list[RingReader] = field(default_factory=list)


def view_broadcast(connector: str) -> RingView | None:
    """The broadcast channel of ``connector`` as seen from outside, or None if there is none."""
    try:
        seg = Segment.open(shm_name(connector, CHANNEL))
    except (FileNotFoundError, OSError, ValueError):
        return None
    try:
        hdr = R.read_header(seg)
        if hdr is None or hdr.kind != R.KIND_BROADCAST:
            return None
        view = RingView(connector, hdr.owner_pid, seg.lock_held(OWNER_LOCK) and not hdr.closed,
                        hdr.heartbeat_age, hdr.write_seq - 1)
    finally:
        seg.close()
    try:
        readers = inspect_readers(connector)
    except HftctlError:         # replaced or removed between the two looks
        readers = []
    # A reader that has not read anything yet has last_seq 0: its lag is unknown, not "all".
    view.readers = [RingReader(r.bot_id, r.pid, r.alive, r.lag if r.last_seq else None, r.overruns)
                    for r in readers]
    return view
