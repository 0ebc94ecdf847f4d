"""The guardian process on its own pipe (the connector's side is covered end to end by
test_dead_man.py): a clean stop makes it leave at once, signals do not take it down before the
pipe says how the connector ended, an unreachable exchange or a half-written line never keeps it
alive past its bound, and bad input is one line. Real processes, a real (refused) socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from hftctl.children import preexec
from hftctl.connector.guardian import READY, STOP_LINE, Start, symbols_line

SECRET = "guardian-test-secret-93f1"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(within_s: float = 30.0) -> Start:
    port = _closed_port()
    config = {"stream_url": f"ws://127.0.0.1:{port}/ws", "api_url": f"http://127.0.0.1:{port}",
              "order_prefix": "gd", "api_key": "in-the-file-key", "secret": "in-the-file-secret",
              "request_timeout_s": 1.0}
    return Start("binancespot", config, {"HFTCTL_API_KEY": "guardian-key", "HFTCTL_SECRET": SECRET},
                 "gd", "gdtest", "abcd12", "info", within_s)


def _spawn(tmp_path) -> tuple[subprocess.Popen, object]:
    err = open(tmp_path / "guardian.log", "wb")
    p = subprocess.Popen([sys.executable, "-m", "hftctl.connector.guardian", "gdtest"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=err, preexec_fn=preexec())
    return p, err


def _ready(p: subprocess.Popen, start: Start) -> None:
    p.stdin.write(start.to_line())
    p.stdin.flush()
    assert p.stdout.readline() == READY


def _log(tmp_path) -> str:
    return (tmp_path / "guardian.log").read_text()


def _finish(p: subprocess.Popen, timeout: float) -> int:
    try:
        return p.wait(timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)


def test_a_clean_stop_makes_it_leave_at_once_and_signals_do_not(tmp_path):
    p, err = _spawn(tmp_path)
    with err:
        _ready(p, _start())
        p.stdin.write(symbols_line(["BTCUSDT"]))
        p.stdin.flush()
        # One signal at a time, each waited for in the log: the test checks that every signal is
        # survived and said, not how fast a loaded machine schedules the guardian (the bound is
        # generous for that reason; a dead guardian fails it at once).
        for n, sig in enumerate((signal.SIGTERM, signal.SIGINT), start=1):
            p.send_signal(sig)
            deadline = time.monotonic() + 30
            while _log(tmp_path).count("ignored: the guardian leaves when its connector stops") < n:
                assert p.poll() is None, f"the guardian died of {sig.name}: {_log(tmp_path)}"
                assert time.monotonic() < deadline, f"{sig.name} never logged: {_log(tmp_path)}"
                time.sleep(0.05)
            assert f"{sig.name} ignored" in _log(tmp_path)
        p.stdin.write(STOP_LINE)
        p.stdin.close()
        assert _finish(p, 10) == 0
    assert "cancelling" not in _log(tmp_path)


def test_unreachable_exchange_and_half_a_line_still_end_within_its_bound(tmp_path):
    """The connector died mid-write (half a line), the exchange does not answer: the guardian
    tries, says so in one line and exits 1 within its bound; no secret in what it printed."""
    p, err = _spawn(tmp_path)
    with err:
        _ready(p, _start(within_s=4.0))
        p.stdin.write(symbols_line(["BTCUSDT", "ETHUSDT"]) + b'{"symb')
        p.stdin.close()
        assert _finish(p, 4.0 + 15) == 1
    log = _log(tmp_path)
    assert ("connector gdtest is gone without a clean stop: cancelling its open orders (prefix gd, tag abcd12) "
            "on BTCUSDT, ETHUSDT") in log
    last = log.strip().splitlines()[-1]
    assert "ERROR guardian: connector gdtest: its orders may still be open at the exchange" in last, log
    assert "Traceback" not in log and SECRET not in log and "in-the-file-secret" not in log


def test_nothing_traded_nothing_to_do_and_bad_input_is_one_line(tmp_path):
    p, err = _spawn(tmp_path)
    with err:
        _ready(p, _start())
        p.stdin.close()                            # gone before any bot registered a symbol
        assert _finish(p, 10) == 0
    assert "it traded no symbol: nothing to cancel" in _log(tmp_path)

    for junk in (b"not json\n", b'{"symbols": []}\n', b""):
        p, err = _spawn(tmp_path)
        with err:
            p.stdin.write(junk)
            p.stdin.close()
            assert _finish(p, 10) == 1
        lines = _log(tmp_path).strip().splitlines()
        assert len(lines) == 1 and "ERROR guardian:" in lines[0], lines


def test_its_environment_carries_no_credentials(tmp_path, monkeypatch):
    """The connector strips HFTCTL_API_KEY / HFTCTL_SECRET from the guardian's environment."""
    import asyncio

    from hftctl.connector.guardian_link import GuardianLink

    monkeypatch.setenv("HFTCTL_SECRET", SECRET)
    monkeypatch.setenv("HFTCTL_API_KEY", "guardian-key")
    link = GuardianLink(_start())

    async def go() -> None:
        await link.launch()
        environ = open(f"/proc/{link.pid}/environ", "rb").read()
        cmdline = open(f"/proc/{link.pid}/cmdline", "rb").read()
        assert SECRET.encode() not in environ + cmdline and b"guardian-key" not in environ + cmdline
        assert os.getsid(link.pid) == link.pid         # a session of its own
        await link.stop()
        assert link.exit_code() == 0

    try:
        asyncio.run(go())
    finally:
        link.kill()
