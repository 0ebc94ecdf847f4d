"""The connector's end of its guardian (connector/guardian.py): start it, tell it the traded
symbols, tell it when a stop is clean. Only the connector holds the write end of the guardian's
stdin, so the kernel closes it when the connector dies however it dies."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable

from hftctl.configfile import ENV_API_KEY, ENV_SECRET
from hftctl.connector.guardian import READY, STOP_LINE, Start, symbols_line
from hftctl.errors import HftctlError

log = logging.getLogger("hftctl.connector")

READY_WITHIN_S = 15.0
EXIT_WITHIN_S = 5.0


class GuardianLink:
    def __init__(self, start: Start) -> None:
        self.start = start
        self.proc: subprocess.Popen | None = None
        self.symbols: list[str] | None = None       # as last told

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    async def launch(self, timeout_s: float = READY_WITHIN_S) -> None:
        """Start a guardian and wait until it has loaded the config; one-line HftctlError if not."""
        # The credentials go over the pipe only: not in its argv, not in its environment.
        env = {k: v for k, v in os.environ.items() if k not in (ENV_API_KEY, ENV_SECRET)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hftctl.connector.guardian", self.start.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        self.symbols = None
        try:
            self._write(self.start.to_line())
            await self._ready(timeout_s)
        except BaseException:
            self.kill()
            raise

    async def _ready(self, timeout_s: float) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        deadline, got = time.monotonic() + timeout_s, b""
        while READY not in got:
            try:
                chunk = os.read(fd, 64)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                raise HftctlError(f"guardian exited at start (status {self.proc.wait(EXIT_WITHIN_S)}; "
                                  "its error is logged above)")
            got += chunk or b""
            if time.monotonic() > deadline:
                raise HftctlError(f"guardian not ready within {timeout_s:.0f}s")
            if chunk is None:
                await asyncio.sleep(0.02)
        self.proc.stdout.close()

    def tell_symbols(self, symbols: Iterable[str]) -> None:
        want = sorted(symbols)
        if want != self.symbols:
            self._write(symbols_line(want))
            self.symbols = want

    def _write(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise HftctlError(f"guardian pid {self.proc.pid} is gone (status {self.proc.poll()})") from None

    async def stop(self) -> None:
        """A clean stop: the guardian exits without touching anything."""
        if not self.alive():
            return
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self._write(STOP_LINE)
            self.proc.stdin.close()
        except HftctlError:
            return
        deadline = time.monotonic() + EXIT_WITHIN_S
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.proc.poll() is None:
            log.warning("guardian pid %d did not exit after the stop message; killing it", self.proc.pid)
            self.kill()

    def release(self) -> None:
        """Close the pipe without a stop message: the guardian acts as if we had been killed."""
        if self.proc is not None and self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def kill(self) -> None:
        """For a guardian that is not working: it must not act on a pipe closed by our exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(EXIT_WITHIN_S)
