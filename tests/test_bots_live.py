"""Both market makers live against the real stack: `hftctl sim` (replaying real recordings),
a real `hftctl connector`, and the bots as real `hftctl mm` / `hftctl obi-mm` processes over
shared memory. They run, get SIGINT, and must leave no order open and |position| within
max_position at the simulated exchange. A dry run must not send a single order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hftctl.ipc.segments import unlink_channel_sems, unlink_shm
from hftctl.sim.process import start_sim

ROOT = Path(__file__).resolve().parent.parent
# The issue asks for a minute of live trading; both bots run side by side, so it costs CI one minute.
RUN_S = float(os.environ.get("HFTCTL_LIVE_BOT_SECONDS", "60"))


def sim_state(sim, symbol: str | None = None) -> dict:
    url = sim.control_url + "/state" + (f"?symbol={symbol}" if symbol else "")
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def account(state: dict) -> dict:
    (acc,) = [a for a in state["accounts"] if a["name"] == "default"]   # the hftctl-sim-key account
    return acc


def position(state: dict, symbol: str) -> float:
    return sum(p["qty"] for p in account(state)["positions"] if p["symbol"] == symbol)


@contextmanager
def stack(tmp_path: Path, shared_data: Path) -> Iterator[tuple[object, str]]:
    """sim replaying BTCUSDT and ETHUSDT at 4x, plus a connector; torn down whatever happens."""
    rec = shared_data / "recordings" / "usdm"
    name = f"tb{os.getpid()}-{uuid.uuid4().hex[:6]}"
    args = ["--replay", str(rec / "btcusdt_20240808.gz"), "--replay", str(rec / "ethusdt_20240808.gz"),
            "--speed", "4", "--loop"]
    with start_sim("binancefutures", extra_args=args, timeout=30) as sim:
        conf = tmp_path / f"{name}.toml"
        conf.write_text((ROOT / "configs" / "local_sim.toml").read_text().replace("17001", str(sim.port)))
        log = open(tmp_path / f"{name}.log", "wb")
        conn = subprocess.Popen([sys.executable, "-m", "hftctl", "connector", name, "binancefutures", str(conf)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while b"Listening for bot connections" not in (tmp_path / f"{name}.log").read_bytes():
                assert conn.poll() is None, (tmp_path / f"{name}.log").read_text()
                assert time.monotonic() < deadline, "connector did not start"
                time.sleep(0.1)
            yield sim, name
        finally:
            if conn.poll() is None:
                conn.send_signal(signal.SIGINT)
                try:
                    conn.wait(15)
                except subprocess.TimeoutExpired:
                    conn.kill()
                    conn.wait(5)
            log.close()
            for channel in ("bc", "rq"):
                unlink_shm(f"/hftctl.{name}.{channel}")
                unlink_channel_sems(name, channel)


def start_bot(*args: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hftctl", *args], stdout=open(out, "wb"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def interrupt(p: subprocess.Popen, out: Path) -> str:
    """SIGINT like a user's Ctrl-C; the bot must cancel its orders and exit by itself."""
    try:
        p.send_signal(signal.SIGINT)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    return out.read_text()


def obi_test_config(tmp_path: Path, max_position: float) -> Path:
    """The guide's config with intervals short enough to see many updates in a short test."""
    text = (ROOT / "configs" / "obi_mm.toml").read_text()
    for old, new in [("max_position = 0.02 ", f"max_position = {max_position} "),
                     ("window = 360 ", "window = 60 "),
                     ("live_seconds = 30.0 ", "live_seconds = 2.0 "),
                     ("update_interval_ns = 10000000000 ", "update_interval_ns = 1000000000 "),
                     ("volatility_interval_ns = 60000000000 ", "volatility_interval_ns = 10000000000 ")]:
        assert old in text
        text = text.replace(old, new)
    p = tmp_path / "obi_test.toml"
    p.write_text(text)
    return p


def test_both_bots_live_then_sigint_leaves_no_orders(tmp_path: Path, shared_data: Path):
    mm_max, obi_max = 0.15, 0.006
    with stack(tmp_path, shared_data) as (sim, name):
        mm_out, obi_out = tmp_path / "mm.out", tmp_path / "obi.out"
        mm = start_bot("mm", "--connector", name, "--symbol", "ethusdt", "--tick-size", "0.01",
                       "--order-qty", "0.05", "--max-position", str(mm_max), "--grid-num", "3",
                       "--half-spread", "0.00005", "--grid-interval", "0.00002", out=mm_out)
        obi = start_bot("obi-mm", "--connector", name, "--symbol", "btcusdt",
                        "--config", str(obi_test_config(tmp_path, obi_max)), out=obi_out)
        worst = {"ETHUSDT": 0.0, "BTCUSDT": 0.0}
        try:
            end = time.monotonic() + RUN_S
            working_seen = 0
            while time.monotonic() < end:
                time.sleep(1.0)
                assert mm.poll() is None, mm_out.read_text()
                assert obi.poll() is None, obi_out.read_text()
                st = sim_state(sim)
                working_seen = max(working_seen, len(account(st)["open_orders"]))
                for sym in worst:
                    worst[sym] = max(worst[sym], abs(position(st, sym)))
        finally:
            mm_text = interrupt(mm, mm_out)
            obi_text = interrupt(obi, obi_out)
        assert mm.returncode == 0, mm_text
        assert obi.returncode == 0, obi_text
        st = sim_state(sim)
        # the bots really traded through the connector
        assert st["counters"]["orders_received"] > 20
        assert st["counters"]["fills"] > 0
        assert working_seen > 0
        # no orphaned orders, positions within limits (also while running)
        assert account(st)["open_orders"] == []
        assert abs(position(st, "ETHUSDT")) <= mm_max + 1e-9
        assert abs(position(st, "BTCUSDT")) <= obi_max + 1e-9
        assert worst["ETHUSDT"] <= mm_max + 1e-9 and worst["BTCUSDT"] <= obi_max + 1e-9
        # the guide's banner and status lines
        assert "Simple Market Making Strategy" in mm_text and "Connector: " + name in mm_text
        assert "[    10] Mid: " in mm_text and "| Bid: " in mm_text and "| Pos: " in mm_text
        assert "OBI MM Strategy" in obi_text and "] Mid: " in obi_text
        assert "Stopped. Position:" in mm_text and "Open orders: 0" in mm_text
        assert "Open orders: 0" in obi_text
        assert "Traceback" not in mm_text + obi_text


def test_dry_run_sends_no_order_and_dead_connector_stops_bot(tmp_path: Path, shared_data: Path):
    with stack(tmp_path, shared_data) as (sim, name):
        assert sim_state(sim)["counters"]["orders_received"] == 0
        mm_out, obi_out = tmp_path / "mm.out", tmp_path / "obi.out"
        mm = start_bot("mm", "--connector", name, "--symbol", "ethusdt", "--tick-size", "0.01",
                       "--order-qty", "0.05", "--max-position", "0.15", "--half-spread", "0.00005",
                       "--grid-interval", "0.00002", "--dry-run", out=mm_out)
        obi = start_bot("obi-mm", "--connector", name, "--dry-run",
                        "--config", str(obi_test_config(tmp_path, 0.006)), out=obi_out)
        try:
            # both bots see live data and quote virtually (polled: a busy machine gets them there later)
            deadline = time.monotonic() + 60
            while not ("[    10] Mid: " in mm_out.read_text() and "] Mid: " in obi_out.read_text()):
                assert mm.poll() is None and obi.poll() is None, mm_out.read_text() + obi_out.read_text()
                assert time.monotonic() < deadline, mm_out.read_text() + obi_out.read_text()
                time.sleep(0.2)
        finally:
            mm_text = interrupt(mm, mm_out)
            obi_text = interrupt(obi, obi_out)
        assert mm.returncode == 0 and obi.returncode == 0, mm_text + obi_text
        st = sim_state(sim)
        assert st["counters"]["orders_received"] == 0
        assert account(st)["open_orders"] == []
        assert "DRY RUN" in mm_text and "DRY RUN" in obi_text
        # the bots did see live data and quote virtually (status lines with a real mid)
        assert "[    10] Mid: " in mm_text
        assert "] Mid: " in obi_text
        assert "(virtual)" in mm_text

        # then the connector dies under a running bot: one clear line, exit 1
        out = tmp_path / "mm2.out"
        mm = start_bot("mm", "--connector", name, "--symbol", "ethusdt", "--tick-size", "0.01",
                       "--order-qty", "0.05", "--dry-run", out=out)
        try:
            deadline = time.monotonic() + 20
            while "[    10] Mid:" not in out.read_text():
                assert mm.poll() is None and time.monotonic() < deadline, out.read_text()
                time.sleep(0.2)
            os.kill(_connector_pid(name), signal.SIGKILL)
            mm.wait(20)
        finally:
            if mm.poll() is None:
                mm.kill()
                mm.wait(5)
        text = out.read_text()
        assert mm.returncode == 1, text
        assert "error: connector gone" in text
        assert "Traceback" not in text


def _connector_pid(name: str) -> int:
    """The connector process of this test's stack (it owns the broadcast channel)."""
    from hftctl.ipc.segments import list_segments
    for seg in list_segments([name]):
        if seg.kind == "shm" and seg.channel == "bc" and seg.owner_pid:
            return seg.owner_pid
    raise AssertionError(f"no live segment for {name}: {list_segments([name])}")
