"""hftctl demo end to end: real sim, connector, collector --ipc and mm processes; the recording
exists and converts, and nothing (process, shared memory, status file) is left behind - after a
normal run, after Ctrl-C, and after the demo itself is SIGKILLed."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.ipc_helpers import remove_channels

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def name():
    n = f"tdemo-{uuid.uuid4().hex[:6]}"
    yield n
    remove_channels(n)


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "HFTCTL_STATUS_DIR": str(tmp_path / "status")}


def processes_mentioning(*needles: str) -> list[str]:
    """Command lines of live processes that mention any of ``needles`` (our children)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"Z":
            continue
        if any(n in cmd for n in needles):
            found.append(f"{pid}: {cmd}")
    return found


def assert_nothing_left(name: str, tmp_path: Path) -> None:
    deadline = time.monotonic() + 15
    while processes_mentioning(name, str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(name, str(tmp_path)) == []
    assert [f for f in os.listdir("/dev/shm") if f.startswith((f"hftctl.{name}.", f"sem.hftctl.{name}."))] == []
    status = tmp_path / "status"
    assert not status.exists() or list(status.iterdir()) == []


def check_outputs(out: Path, stdout: str) -> None:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    (rec,) = list((run_dir / "data").glob("btcusdt_*.gz"))
    with gzip.open(rec, "rb") as f:
        lines = f.read().splitlines()
    assert len(lines) > 20
    for line in lines:
        ts, _, raw = line.partition(b" ")
        assert int(ts) > 1_600_000_000_000_000_000
        json.loads(raw)
    assert any(b'"lastUpdateId"' in ln[:40] for ln in lines[:5] + lines)     # a REST snapshot line
    assert any(b"@depth" in ln for ln in lines) and any(b"@trade" in ln for ln in lines)
    npz = run_dir / "btcusdt.npz"
    with np.load(npz) as z:
        rows = sum(len(z[k]) for k in z.files)
    assert rows > len(lines)        # depth messages expand to one row per level
    assert str(rec) in stdout and str(npz) in stdout and f"{rows} event rows" in stdout
    assert "shared memory: nothing left behind" in stdout
    assert "processes stopped: sim 0, connector 0, collector 0, mm 0" in stdout
    for log in ("sim", "connector", "collector", "mm", "convert"):
        assert (run_dir / "logs" / f"{log}.log").exists()
    conn_log = (run_dir / "logs" / "connector.log").read_text()
    assert "shared memory removed" in conn_log
    mm_log = (run_dir / "logs" / "mm.log").read_text()
    assert "Open orders: 0" in mm_log


def test_short_demo_run(tmp_path, name, env):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "hftctl", "demo", "--seconds", "8", "--out", str(out),
                        "--name", name, "--no-live"], env=env, cwd=tmp_path, capture_output=True,
                       text=True, timeout=150, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr + r.stdout
    assert "s left] BTCUSDT mid " in r.stdout and "messages/s to bots (ring)" in r.stdout
    assert f"hftctl health --connector {name} before the stop: healthy" in r.stdout
    check_outputs(out, r.stdout)
    assert_nothing_left(name, tmp_path)


def _start_and_wait_up(tmp_path, name, env) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "out"
    log = tmp_path / "demo.out"
    with open(log, "wb") as f:
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "demo", "--seconds", "120", "--out", str(out),
                              "--name", name, "--no-live"], env=env, cwd=tmp_path, stdout=f,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while "stack up" not in log.read_text() or "s left]" not in log.read_text():
        assert p.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    time.sleep(2)       # some quotes and a first recording flush
    return p, log


def test_ctrl_c_stops_everything_cleanly(tmp_path, name, env):
    p, log = _start_and_wait_up(tmp_path, name, env)
    try:
        p.send_signal(signal.SIGINT)
        assert p.wait(90) == 130
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = log.read_text()
    assert "Traceback" not in text and "interrupted: stopping everything cleanly" in text
    check_outputs(tmp_path / "out", text)
    assert_nothing_left(name, tmp_path)


def test_killed_demo_takes_its_children_down(tmp_path, name, env):
    """Even SIGKILL of the demo leaves nothing: children get SIGTERM from the kernel and clean up."""
    p, _ = _start_and_wait_up(tmp_path, name, env)
    p.kill()
    p.wait()
    assert_nothing_left(name, tmp_path)


def test_bad_input_is_one_line_error(tmp_path, env):
    for args, msg in ((["--seconds", "0"], "--seconds must be > 0"),
                      (["--replay", str(tmp_path / "nope.gz")], "replay file not found"),
                      (["--name", "bad name"], "invalid connector name")):
        r = subprocess.run([sys.executable, "-m", "hftctl", "demo", "--out", str(tmp_path / "o"), *args],
                           env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr.strip().splitlines() == [f"error: {r.stderr.strip()[7:]}"] and msg in r.stderr
