"""`hftctl collect --ipc` against a real broadcast/request channel pair in /dev/shm.

The test process plays the connector with the real ``ConnectorEndpoint`` and publishes
``RawMessage`` events made from real recorded Binance lines; the collector is a real subprocess.
(The end-to-end run through a real connector and the sim is in test_collect_sim.py.)
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import ConnectorEndpoint
from hftctl.status import status_dir
from tests.conftest import ROOT

_names = itertools.count()


def recorded(shared_data: Path, rel: str, n: int) -> list[tuple[int, bytes]]:
    out = []
    with gzip.open(shared_data / "recordings" / rel) as f:
        for line in itertools.islice(f, n):
            ts, raw = line.rstrip(b"\n").split(b" ", 1)
            out.append((int(ts), raw))
    return out


def raw_event(symbol: str, ts: int, raw: bytes) -> s.RawMessage:
    """What the connector publishes for a recorded line (stream name as the connector gives it)."""
    stream = orjson.loads(raw).get("stream", "depthSnapshot")
    return s.RawMessage("binancefutures", symbol, stream, ts, raw)


def start_collector(name: str, out: Path, *symbols: str) -> subprocess.Popen:
    """Through the testnet guide's scripts/start_collector_ipc.sh NAME OUTDIR SYMBOL..."""
    return subprocess.Popen(
        [str(ROOT / "scripts/start_collector_ipc.sh"), name, str(out), *symbols],
        env={**os.environ, "HFTCTL_COLLECT_OPTS": "--flush-interval 0.2 --no-progress"},
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pump(ep: ConnectorEndpoint, requests: list, until, timeout: float = 15.0) -> None:
    """Be a live connector (heartbeats) and gather requests until ``until(requests)`` holds."""
    deadline = time.monotonic() + timeout
    while not until(requests):
        assert time.monotonic() < deadline, f"timed out; requests so far: {requests}"
        ep.heartbeat()
        r = ep.recv(0.05)
        if r is not None and not isinstance(r, tuple):
            continue
        if r is not None:
            requests.append(r[1])


def stop(p: subprocess.Popen) -> tuple[str, str]:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        return p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def read_lines(out: Path) -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(out.iterdir()):
        lines += gzip.decompress(path.read_bytes()).splitlines()
    return lines


def test_ipc_records_raw_messages_verbatim_for_the_asked_symbols(tmp_path, shared_data):
    name = f"tcol{os.getpid()}x{next(_names)}"
    btc = recorded(shared_data, "usdm/btcusdt_20240808.gz", 3000)
    eth = recorded(shared_data, "usdm/ethusdt_20240808.gz", 1000)
    with ConnectorEndpoint.create(name) as ep:
        p = start_collector(name, tmp_path, "btcusdt")
        try:
            requests: list = []
            pump(ep, requests, lambda rq: any(isinstance(m, s.SubscribeRaw) for m in rq))
            hello = next(m for m in requests if isinstance(m, s.Hello))
            assert hello.name == "collect"
            assert s.SubscribeRaw(hello.bot_id, "BTCUSDT") in requests
            for (bts, braw), (ets, eraw) in itertools.zip_longest(btc, eth, fillvalue=(None, None)):
                if bts is not None:
                    ep.publish(raw_event("BTCUSDT", bts, braw))
                if ets is not None:
                    ep.publish(raw_event("ETHUSDT", ets, eraw))
            ep.publish(s.Trade("BTCUSDT", 1, 2, s.BUY, 1.0, 1.0))  # not raw: not recorded
            pump(ep, requests, lambda rq: sum(isinstance(m, s.BotHeartbeat) for m in rq) >= 2)
        finally:
            _, err = stop(p)
        assert p.returncode == 0, err
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == ["btcusdt_20240808_235415.gz"]
    # SIGTERM closed the file: gzip -t passes and every published BTC line is there, in order
    assert subprocess.run(["gzip", "-t", str(files[0])]).returncode == 0
    assert read_lines(tmp_path) == [b"%d %s" % (ts, raw) for ts, raw in btc]
    assert "Traceback" not in err


def test_ipc_marks_sequence_gap_overrun_and_connector_restart(tmp_path, shared_data):
    name = f"tcol{os.getpid()}x{next(_names)}"
    btc = recorded(shared_data, "usdm/btcusdt_20240808.gz", 6000)
    # one depth diff the connector never got: the recording must mark the hole
    missing = next(i for i in range(100, 500) if b"@depth" in btc[i][1][:40])
    btc = btc[:missing] + btc[missing + 1:]
    first, lost, after_restart = btc[:500], btc[500:4500], btc[4500:]
    ep = ConnectorEndpoint.create(name, capacity=256 << 10)
    p = start_collector(name, tmp_path, "BTCUSDT")
    try:
        requests: list = []
        pump(ep, requests, lambda rq: any(isinstance(m, s.SubscribeRaw) for m in rq))
        for ts, raw in first:
            ep.publish(raw_event("BTCUSDT", ts, raw))
        pump(ep, requests, lambda rq: sum(isinstance(m, s.BotHeartbeat) for m in rq) >= 2)
        # A stopped reader gets lapped: the ring holds far less than what is published meanwhile.
        p.send_signal(signal.SIGSTOP)
        for ts, raw in lost:
            ep.publish(raw_event("BTCUSDT", ts, raw))
        p.send_signal(signal.SIGCONT)
        n_snap = sum(isinstance(m, s.SnapshotRequest) for m in requests)
        pump(ep, requests, lambda rq: sum(isinstance(m, s.SnapshotRequest) for m in rq) > n_snap)
        # The connector dies and comes back under the same name: the collector re-subscribes.
        ep.close()
        time.sleep(0.5)
        ep = ConnectorEndpoint.create(name)  # roomy ring: nothing is lapped after the restart
        requests = []
        pump(ep, requests, lambda rq: any(isinstance(m, s.SubscribeRaw) for m in rq), timeout=20)
        for ts, raw in after_restart:
            ep.publish(raw_event("BTCUSDT", ts, raw))
        pump(ep, requests, lambda rq: sum(isinstance(m, s.BotHeartbeat) for m in rq) >= 2)
    finally:
        _, err = stop(p)
        ep.close()
    assert p.returncode == 0, err
    lines = read_lines(tmp_path)
    gaps = [i for i, ln in enumerate(lines) if b'"e":"gap"' in ln]
    reasons = [lines[i].split(b'"reason":"')[1].split(b'"')[0] for i in gaps]
    assert reasons == [b"sequence", b"overrun", b"connector-gone"], reasons
    # marked just before the next diff, the first one that shows the hole
    assert gaps[0] == next(i for i in range(missing, len(btc)) if b"@depth" in btc[i][1][:40])
    body = [ln for ln in lines if b'"e":"gap"' not in ln]
    expected = {b"%d %s" % m for m in btc}
    assert set(body) <= expected
    # everything before the overrun and after the restart is there; the overrun lost some
    assert body[:len(first)] == [b"%d %s" % m for m in first]
    assert body[-len(after_restart):] == [b"%d %s" % m for m in after_restart]
    assert len(body) < len(btc)
    assert gaps[1] >= len(first) and lines[gaps[2] + 1:] == [b"%d %s" % m for m in after_restart]
    assert "lost" in err and "gone" in err


def test_ipc_without_a_connector_is_a_one_line_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hftctl", "collect", "--ipc", f"nobody{os.getpid()}", "btcusdt",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=30, cwd=ROOT,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        f"error: no running connector 'nobody{os.getpid()}' (broadcast channel /hftctl.nobody{os.getpid()}.bc absent or dead)")
    assert "Traceback" not in out.stderr


def test_collector_publishes_a_health_status_and_removes_it_on_exit(tmp_path, shared_data):
    """`hftctl health` finds collectors through hftctl.status files: written while running,
    gone after a clean exit."""
    name = f"tcol{os.getpid()}x{next(_names)}"
    btc = recorded(shared_data, "usdm/btcusdt_20240808.gz", 200)
    with ConnectorEndpoint.create(name) as ep:
        p = start_collector(name, tmp_path, "btcusdt")
        status = status_dir() / f"collector.{name}.{p.pid}.json"
        try:
            requests: list = []
            pump(ep, requests, lambda rq: any(isinstance(m, s.SubscribeRaw) for m in rq))
            for ts, raw in btc:
                ep.publish(raw_event("BTCUSDT", ts, raw))
            pump(ep, requests, lambda rq: status.exists() and json.loads(status.read_text()).get("messages", 0) > 0)
            data = json.loads(status.read_text())
        finally:
            _, err = stop(p)
    assert p.returncode == 0, err
    assert data["connector"] == name and data["pid"] == p.pid and data["messages"] == len(btc) - 1  # + 1 snapshot
    assert data["files"] == [str(next(tmp_path.iterdir()))] and data["last_write"] > 0
    assert not status.exists()
