"""Child processes of the demo: started so that they can only be stopped in order, by us.

Each child runs in its own session, so a Ctrl-C in the terminal reaches the demo alone and the
demo stops the children one by one (bot first, so it can cancel its orders while the connector
is still up; connector before the sim, so its cancel-all reaches the exchange). Each child also
asks the kernel for SIGTERM if the demo dies (PR_SET_PDEATHSIG), so even a SIGKILLed demo leaves
children that shut down cleanly instead of orphans holding shared memory (hftctl.children).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hftctl.children import preexec

log = logging.getLogger(__name__)



class Child:
    """One ``python -m hftctl ...`` child with its output in a log file."""

    def __init__(self, label: str, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.label = label
        self.args = args
        self.log_path = log_path
        self.returncode: int | None = None
        self.killed = False
        cmd = [sys.executable, "-m", "hftctl", *args]
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(log_path, "wb") as f:
            self.popen = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=child_env, start_new_session=True,
                                          preexec_fn=preexec(signal.SIGTERM))
        self.pid = self.popen.pid
        log.debug("started %s (pid %d): %s", label, self.pid, " ".join(cmd))

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 1) -> str:
        tail = [ln for ln in self.log_text().strip().splitlines() if ln.strip()][-lines:]
        return " | ".join(tail) if tail else "(no output)"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        """Ask politely, wait, then SIGKILL; always reaps the process. Returns the exit code."""
        p = self.popen
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) did not stop within %.0fs; killing it", self.label, self.pid, timeout)
                self.killed = True
                p.kill()
                p.wait(5)
        self.returncode = p.returncode
        return p.returncode


def wait_until(pred, timeout: float, what: str, children: list[Child], interval: float = 0.05):
    """Wait for ``pred()``; fail fast (one line, with the child's last log line) if a child dies."""
    from hftctl.errors import HftctlError

    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        for c in children:
            if not c.alive():
                raise HftctlError(f"{c.label} exited with code {c.popen.returncode} while waiting for "
                                  f"{what}: {c.log_tail()} (log: {c.log_path})")
        if time.monotonic() > deadline:
            raise HftctlError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
