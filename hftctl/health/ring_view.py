"""A read-only look at a connector's broadcast channel from outside: owner, heartbeat, readers.

``hftctl health`` must not attach to a channel (it would take a reader slot and show up as a
bot), so it maps the segment, reads the header and the reader slots, and asks the kernel which
slot locks are held. Layout and locks come from ``hftctl.ipc.ring`` / ``hftctl.ipc.segments``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hftctl.ipc import ring as R
from hftctl.ipc.broadcast import CHANNEL
from hftctl.ipc.segments import OWNER_LOCK, SLOT_LOCK_BASE, Segment, shm_name


@dataclass
class RingReader:
    bot_id: int
    pid: int
    alive: bool             # its slot lock is held (the kernel drops it when the reader dies)
    lag: int | None         # messages published but not yet read (None: has not read yet)
    overruns: int           # messages it lost by falling a whole ring behind

    def as_dict(self) -> dict:
        return {"bot_id": self.bot_id, "pid": self.pid, "alive": self.alive, "lag": self.lag,
                "overruns": self.overruns}


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
        n = min(hdr.max_slots, R.MAX_SLOTS_LIMIT)
        slots = memoryview(seg.mm)[R.SLOTS_OFF:R.SLOTS_OFF + n * R.SLOT_BYTES].cast("Q")
        try:
            last = hdr.write_seq - 1
            for slot in range(n):
                pid = slots[slot * 4 + R.S_PID]
                if not pid:
                    continue
                seen = slots[slot * 4 + R.S_SEQ]
                view.readers.append(RingReader(
                    slot + 1, pid, seg.lock_held(SLOT_LOCK_BASE + slot),
                    max(0, last - seen) if seen else None, slots[slot * 4 + R.S_LOST]))
        finally:
            slots.release()
        return view
    finally:
        seg.close()
