"""hftctl health against real processes: a broadcast writer standing in for a connector, reader
processes standing in for bots, SIGKILL of either, and --clean of what the dead left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.ipc_helpers import remove_channels

ROOT = Path(__file__).resolve().parent.parent
PROCS = Path(__file__).resolve().parent / "health_procs.py"

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def name():
    n = f"h{os.getpid()}-{uuid.uuid4().hex[:6]}"
    yield n
    remove_channels(n)


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "HFTCTL_STATUS_DIR": str(tmp_path / "status"), "PYTHONPATH": str(ROOT)}


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(5)


def spawn(procs, env, role, name) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, str(PROCS), role, name], env=env, cwd=ROOT,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.append(p)
    return p


def health(env, *args) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-m", "hftctl", "health", *args], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, r.stdout, r.stderr


def health_json(env, name, *args) -> tuple[int, dict]:
    rc, out, _ = health(env, "--connector", name, "--json", *args)
    return rc, json.loads(out)


def wait_health(env, name, pred, what, timeout=20.0) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    while True:
        rc, rep = health_json(env, name)
        if pred(rc, rep):
            return rc, rep
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last report (exit {rc}): {json.dumps(rep)[:3000]}")
        time.sleep(0.2)


def test_running_then_killed_bot_and_connector(name, env, procs):
    writer = spawn(procs, env, "writer", name)
    rc, rep = wait_health(env, name, lambda rc, r: rc == 0, "a healthy connector")
    (conn,) = rep["connectors"]
    assert conn["name"] == name and conn["pid"] == writer.pid and conn["alive"]
    assert conn["heartbeat_age"] < 2.0 and conn["exchange"] == "binancefutures"
    assert {s["name"]: s["state"] for s in conn["streams"]} == {"market": "connected", "user": "connected"}
    assert conn["books"] == {"BTCUSDT": "synced"} and conn["bots"] == []

    r1, r2 = spawn(procs, env, "reader", name), spawn(procs, env, "reader", name)
    rc, rep = wait_health(env, name, lambda rc, r: rc == 0 and len(r["connectors"][0]["bots"]) == 2
                          and all(b["status_age"] is not None and b["lag"] is not None
                                  for b in r["connectors"][0]["bots"]), "two bots")
    bots = {b["pid"]: b for b in rep["connectors"][0]["bots"]}
    assert set(bots) == {r1.pid, r2.pid}
    for b in bots.values():
        assert b["alive"] and b["role"] == "bot" and b["name"].startswith("reader")
        assert b["open_orders"] == 2 and b["positions"] == {"BTCUSDT": 0.003}
        assert 0 <= b["lag"] < 1000 and b["overruns"] == 0
    rc, out, _ = health(env, "--connector", name)
    assert rc == 0 and out.startswith("HEALTHY") and name in out and str(r1.pid) in out

    # A bot killed with SIGKILL: its slot is reaped by the connector, its status file stays.
    r1.send_signal(signal.SIGKILL)
    r1.wait(5)
    rc, rep = wait_health(env, name, lambda rc, r: rc == 1, "a dead bot reported")
    dead = [b for b in rep["connectors"][0]["bots"] if b["pid"] == r1.pid]
    assert dead and not dead[0]["alive"]
    assert any(str(r1.pid) in p and "died" in p for p in rep["problems"])
    assert any(s["kind"] == "status" and s["owner_pid"] == r1.pid for s in rep["stale"])
    rc, rep = health_json(env, name, "--clean")
    assert rc == 0, rep
    assert any(f.startswith("bot.") and f.endswith(f".{r1.pid}.json") for f in rep["cleaned"])
    assert [b["pid"] for b in rep["connectors"][0]["bots"]] == [r2.pid]

    # The connector killed with SIGKILL: down, its segment is a leftover until --clean.
    writer.send_signal(signal.SIGKILL)
    writer.wait(5)
    rc, rep = wait_health(env, name, lambda rc, r: rc == 2, "connector down")
    assert not rep["connectors"][0]["alive"]
    stale = {s["file"] for s in rep["stale"]}
    assert f"hftctl.{name}.bc" in stale
    assert any(f.startswith(f"connector.{name}.") for f in stale)
    rc, out, _ = health(env, "--connector", name)
    assert rc == 2 and "DOWN" in out and "--clean" in out
    rc, rep = health_json(env, name, "--clean")
    assert rc == 2 and f"hftctl.{name}.bc" in rep["cleaned"]
    assert rep["stale"] == [] and rep["connectors"] == []
    assert not [f for f in os.listdir("/dev/shm") if f.startswith((f"hftctl.{name}.", f"sem.hftctl.{name}."))]

    # The surviving bot exits cleanly: its status file goes with it.
    r2.send_signal(signal.SIGTERM)
    assert r2.wait(10) == 0, r2.stderr.read()
    assert not list(Path(env["HFTCTL_STATUS_DIR"]).glob(f"*.{r2.pid}.json"))


def test_unknown_connector_is_down(env):
    rc, rep = health_json(env, f"nosuch-{uuid.uuid4().hex[:6]}")
    assert rc == 2 and rep["verdict"] == "down" and "not running" in rep["summary"]
    rc, out, _ = health(env, "--connector", "nosuch-x")
    assert rc == 2 and "not running" in out


def test_bad_connector_name_is_one_line_error(env):
    rc, out, err = health(env, "--connector", "no/such")
    assert rc == 1 and err.strip().startswith("error: invalid connector name") and len(err.strip().splitlines()) == 1


def test_nothing_running_says_so(tmp_path, monkeypatch):
    """With an empty /dev/shm view and no status files: exit 2 and a plain sentence."""
    from typer.testing import CliRunner

    from hftctl.cli import app
    from hftctl.ipc import segments

    monkeypatch.setattr(segments, "SHM_DIR", str(tmp_path / "shm"))
    monkeypatch.setenv("HFTCTL_STATUS_DIR", str(tmp_path / "status"))
    r = CliRunner().invoke(app, ["health"])
    assert r.exit_code == 2, r.output
    assert "nothing is running" in r.output and "No hftctl connector" in r.output
    r = CliRunner().invoke(app, ["health", "--json"])
    assert r.exit_code == 2 and json.loads(r.output)["verdict"] == "down"
