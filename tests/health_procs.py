"""Stand-in processes for the ring-level health tests: a broadcast writer that behaves like a
connector (heartbeat + status file) and readers that behave like bots. Real processes, real
shared memory; run as ``python tests/health_procs.py writer|reader NAME``.
"""

from __future__ import annotations

import signal
import sys
import time

from hftctl.ipc.broadcast import BroadcastReader, BroadcastWriter
from hftctl.status import StatusFile

stop = False


def _stop(*_):
    global stop
    stop = True


def writer(name: str) -> None:
    w = BroadcastWriter.create(name, capacity=1 << 16)
    st = StatusFile("connector", name)
    try:
        while not stop:
            w.publish(b"x" * 32)
            w.heartbeat()
            w.reap()
            now = time.time()
            st.update({"exchange": "binancefutures",
                       "streams": {"market": {"state": "connected", "last_msg": now},
                                   "user": {"state": "connected", "last_msg": now - 30}},
                       "books": {"BTCUSDT": "synced"},
                       "bots": {str(r.bot_id): {"name": f"reader{r.bot_id}", "pid": r.pid, "open_orders": 2,
                                                "positions": {"BTCUSDT": 0.003}} for r in w.readers()}})
            time.sleep(0.05)
    finally:
        st.close()
        w.close()


def reader(name: str) -> None:
    r = BroadcastReader.attach(name, timeout=10)
    st = StatusFile("bot", f"reader{r.bot_id}")
    try:
        while not stop:
            while r.poll() is not None:
                pass
            st.update({"connector": name, "bot_id": r.bot_id, "symbol": "btcusdt", "position": 0.003,
                       "open_orders": 2})
            time.sleep(0.05)
    finally:
        st.close()
        r.close()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    {"writer": writer, "reader": reader}[sys.argv[1]](sys.argv[2])
