"""Starting a real `hftctl sim` process for tests and the demo, and always cleaning it up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hftctl import exchanges
from hftctl.children import preexec
from hftctl.errors import HftctlError


@dataclass
class SimHandle:
    pid: int
    exchange: str
    host: str
    port: int
    rest_url: str
    ws_url: str
    control_url: str
    connector_config: dict            # URL keys of a connector config pointed at this sim
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)
    extra: dict = field(default_factory=dict)     # the exchange's other URLs (e.g. private, trade ws)
    ws_root: str = ""                 # where the exchange's websocket routes hang off (else ws_url)

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in `timeout` seconds; returns the exit code."""
        return _terminate(self.process, timeout)

    def log_text(self) -> str:
        """The sim's stdout/stderr so far (the file is removed when start_sim's block exits)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@contextmanager
def start_sim(exchange: str = exchanges.DEFAULT, extra_args: list[str] | None = None,
              timeout: float = 20.0, env: dict | None = None) -> Iterator[SimHandle]:
    """Run `hftctl sim --port 0` and yield once it listens (its ready file exists). The sim is
    SIGKILLed by the kernel if this process dies first (a killed test run leaves no sim)."""
    workdir = Path(tempfile.mkdtemp(prefix="hftctl-sim-"))
    ready = workdir / "ready.json"
    log_path = workdir / "sim.log"
    cmd = [sys.executable, "-m", "hftctl", "sim", "--exchange", exchange, "--port", "0",
           "--ready-file", str(ready), *(extra_args or [])]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, preexec_fn=preexec())
    handle = None
    try:
        deadline = time.monotonic() + timeout
        while True:
            if ready.exists():
                info = json.loads(ready.read_text())
                known = {k: info.pop(k) for k in ("pid", "exchange", "host", "port", "rest_url", "ws_url",
                                                  "control_url", "connector_config")}
                ws_root = info.pop("ws_root", None) or known["ws_url"]
                handle = SimHandle(process=proc, log_path=log_path, extra=info, ws_root=ws_root, **known)
                break
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
                raise HftctlError(f"sim exited with code {proc.returncode} before listening: {tail[0]}")
            if time.monotonic() > deadline:
                raise HftctlError(f"sim did not become ready within {timeout} s")
            time.sleep(0.05)
        yield handle
    finally:
        _terminate(proc, 5.0)
        shutil.rmtree(workdir, ignore_errors=True)


def _terminate(p: subprocess.Popen, timeout: float) -> int:
    # SIGTERM lets the sim close its websockets cleanly; SIGKILL is the bound on a wedged one.
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout)
    return p.returncode
