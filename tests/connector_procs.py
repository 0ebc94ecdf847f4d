"""Process fixtures for the connector tests: a connector and bots against a running `hftctl sim`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
BOT = Path(__file__).resolve().parent / "connector_bot.py"


def write_config(path: Path, sim, prefix: str = "t", api_key: str = "hftctl-sim-key",
                 secret: str = "hftctl-sim-secret", extra: str = "") -> Path:
    """A connector config with the URL keys the sim's ready file names for its exchange."""
    urls = "".join(f'{k} = "{v}"\n' for k, v in sim.connector_config.items())
    path.write_text(f'{urls}order_prefix = "{prefix}"\napi_key = "{api_key}"\nsecret = "{secret}"\n{extra}\n')
    return path


def wait_for(pred, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def segments(name: str) -> list[str]:
    return [n for n in os.listdir("/dev/shm") if n.startswith((f"hftctl.{name}.", f"sem.hftctl.{name}."))]


class Proc:
    def __init__(self, popen: subprocess.Popen, log: Path) -> None:
        self.p = popen
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 25.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        return self.p.returncode


@contextmanager
def connector(name: str, config: Path, tmp: Path, env: dict | None = None,
              args: list[str] | None = None, exchange: str = "binancefutures") -> Iterator[Proc]:
    log = tmp / f"connector-{name}.log"
    with open(log, "wb") as f:
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "connector", name, exchange,
                              str(config), *(args or [])], stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, **(env or {})})
    proc = Proc(p, log)
    try:
        wait_for(lambda: "Listening for bot connections..." in proc.text() or p.poll() is not None,
                 30, "connector start")
        assert p.poll() is None, f"connector exited: {proc.text()[-2000:]}"
        yield proc
    finally:
        proc.stop()
        # A connector that was SIGKILLed cannot clean up; never leave its segments behind.
        for n in segments(name):
            try:
                os.unlink(f"/dev/shm/{n}")
            except FileNotFoundError:
                pass


@contextmanager
def bot(name: str, out: Path, *args: str) -> Iterator[subprocess.Popen]:
    log = out.with_suffix(".log")
    with open(log, "wb") as f:
        p = subprocess.Popen([sys.executable, str(BOT), "--name", name, "--out", str(out), *args],
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)


def bot_view(p: subprocess.Popen, out: Path, timeout: float = 10.0) -> dict:
    """Ask the bot for a fresh dump of its view (SIGUSR1) and read it."""
    before = out.stat().st_mtime_ns if out.exists() else 0
    p.send_signal(signal.SIGUSR1)
    wait_for(lambda: out.exists() and out.stat().st_mtime_ns != before, timeout, "bot view dump")
    return json.loads(out.read_text())


def sim_state(sim, symbol: str = "BTCUSDT", all_orders: bool = False) -> dict:
    query = f"symbol={symbol}" + ("&orders=all" if all_orders else "")
    with urllib.request.urlopen(f"{sim.control_url}/state?{query}", timeout=10) as r:
        return json.loads(r.read())


def sim_fault(sim, **switches) -> dict:
    req = urllib.request.Request(f"{sim.control_url}/fault", data=json.dumps(switches).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())
