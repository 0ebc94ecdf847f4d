"""hftctl health against the real stack: hftctl sim, a real connector, a collector and a real
`hftctl mm` bot; then the bot and the connector killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hftctl.sim.process import start_sim
from tests.connector_procs import connector, write_config
from tests.test_health import health, health_json, wait_health

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def env(tmp_path, monkeypatch):
    # The connector fixture inherits os.environ: point every process at this test's status dir.
    monkeypatch.setenv("HFTCTL_STATUS_DIR", str(tmp_path / "status"))
    return dict(os.environ)


def hftctl(tmp_path, label, *args) -> subprocess.Popen:
    log = open(tmp_path / f"{label}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "hftctl", *args], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=ROOT)


def test_connector_bots_collector_then_sigkill(tmp_path, env):
    name = f"hc-{uuid.uuid4().hex[:6]}"
    children: list[subprocess.Popen] = []
    with start_sim() as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="hc", extra="bot_heartbeat_timeout_s = 1.5")
        with connector(name, cfg, tmp_path) as conn:
            try:
                coll = hftctl(tmp_path, "collector", "collect", "--ipc", name, "btcusdt", "--out",
                              str(tmp_path / "data"), "--no-progress")
                bot = hftctl(tmp_path, "mm", "mm", "--connector", name, "--symbol", "btcusdt",
                             "--half-spread", "0", "--grid-interval", "0.0000017", "--grid-num", "2",
                             "--order-qty", "0.002", "--max-position", "0.02")
                children += [coll, bot]

                def all_up(rc, rep):
                    c = rep["connectors"][0] if rep["connectors"] else None
                    return (rc == 0 and c is not None and len(c["bots"]) == 2
                            and any(b["role"] == "bot" and (b["open_orders"] or 0) > 0 for b in c["bots"])
                            and rep["collectors"] and rep["collectors"][0]["last_write_age"] is not None
                            and c["heartbeat_age"] is not None and c["heartbeat_age"] < 2.0)
                rc, rep = wait_health(env, name, all_up, "connector (fresh heartbeat), mm with orders and collector",
                                      timeout=40)
                (c,) = rep["connectors"]
                assert c["pid"] == conn.p.pid and c["alive"] and c["exchange"] == "binancefutures"
                streams = {s["name"]: s for s in c["streams"]}
                assert streams["market"]["state"] == "connected" and streams["market"]["last_msg_age"] < 5
                assert streams["user"]["state"] == "connected"
                assert c["books"] == {"BTCUSDT": "synced"}
                roles = {b["pid"]: b for b in c["bots"]}
                assert roles[coll.pid]["role"] == "collector" and roles[bot.pid]["role"] == "bot"
                mm = roles[bot.pid]
                assert mm["alive"] and mm["lag"] is not None and mm["name"] == "mm"
                (col,) = rep["collectors"]
                assert col["pid"] == coll.pid and col["source"] == f"connector {name}"
                assert col["last_write_age"] < 5 and col["messages"] > 0
                rc, out, _ = health(env, "--connector", name)
                assert rc == 0 and "HEALTHY" in out and "synced" in out and "collector" in out

                # SIGSTOP the bot past the heartbeat limit: reported silent (its orders cancelled),
                # then healthy again once it runs and speaks again.
                bot.send_signal(signal.SIGSTOP)
                try:
                    rc, rep = wait_health(env, name, lambda rc, r: rc == 1 and any(
                        b["pid"] == bot.pid and b["silent"] for b in r["connectors"][0]["bots"]), "silent bot")
                    assert any("went silent" in p and str(bot.pid) in p for p in rep["problems"]), rep["problems"]
                    rc, out, _ = health(env, "--connector", name)
                    assert rc == 1 and "silent" in out
                finally:
                    bot.send_signal(signal.SIGCONT)
                wait_health(env, name, lambda rc, r: rc == 0 and not any(
                    b["silent"] for b in r["connectors"][0]["bots"]), "bot back")

                # SIGKILL the bot: the connector cancels its orders and reaps its slot; health
                # reports the unclean death until --clean.
                bot.send_signal(signal.SIGKILL)
                bot.wait(5)
                rc, rep = wait_health(env, name, lambda rc, r: rc == 1 and not any(
                    b["pid"] == bot.pid and b["alive"] for b in r["connectors"][0]["bots"]), "dead bot")
                assert any(str(bot.pid) in p for p in rep["problems"]), rep["problems"]
                rc, rep = health_json(env, name, "--clean")
                assert rc == 0, rep["problems"]
                assert any(f.endswith(f".{bot.pid}.json") for f in rep["cleaned"])
                assert [b["pid"] for b in rep["connectors"][0]["bots"]] == [coll.pid]

                # SIGKILL the connector: down; the collector stays up waiting for it.
                conn.p.send_signal(signal.SIGKILL)
                conn.p.wait(5)
                rc, rep = wait_health(env, name, lambda rc, r: rc == 2, "connector down")
                assert rep["connectors"][0]["alive"] is False
                assert f"hftctl.{name}.bc" in {s["file"] for s in rep["stale"]}
                rc, rep = health_json(env, name, "--clean")
                assert rc == 2 and f"hftctl.{name}.bc" in rep["cleaned"] and f"hftctl.{name}.rq" in rep["cleaned"]
                assert not [f for f in os.listdir("/dev/shm") if f.startswith((f"hftctl.{name}.", f"sem.hftctl.{name}."))]
            finally:
                for p in children:
                    if p.poll() is None:
                        p.send_signal(signal.SIGINT)
                        try:
                            p.wait(10)
                        except subprocess.TimeoutExpired:
                            p.kill()
                            p.wait(5)
