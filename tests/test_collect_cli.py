"""`hftctl collect` bad input: one line on stderr, exit 1, no traceback, nothing half-written."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def collect(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", "collect", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL, env=env)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: nothing listens there


@pytest.mark.parametrize("args, message", [
    (["kraken", "btcusdt"], "error: unknown exchange 'kraken'"),
    (["binancefutures", "btcusdt", "--venue", "moon"], "binancefutures: unknown venue 'moon'"),
    (["binancefutures", "btcusdt", "--streams", "markPrice,kline"], "'kline' is not an optional stream"),
    (["bybit", "btcusdt", "--streams", "forceOrder"], "'forceOrder' is not an optional stream"),
    (["binancefutures", "btcusdt", "--stand-in", "192.0.2.1:80"], "only a loopback host can stand in"),
    (["binancefutures", "btcusdt", "--stand-in", "localhost"], "expected HOST:PORT"),
    (["binancefutures", "btcusdt", "--rotate", "soon"], "--rotate: cannot read duration 'soon'"),
    (["binancefutures", "btc/usdt"], "invalid symbol 'btc/usdt'"),
    (["binancefutures", "btcusdt", "--compress", "lz4"], "unknown compression 'lz4'"),
    (["binancefutures", "btcusdt", "--stream-url", "http://x"], "is not a ws/wss URL"),
    (["binancefutures", "btcusdt", "--config", "/nonexistent.toml"], "config file not found"),
    (["bf", "btcusdt", "--ipc", "--stream-url", "ws://127.0.0.1:1/ws"], "URL options and --config do not apply"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, args, message):
    out = collect(*args, "--out", str(tmp_path / "data"))
    assert out.returncode == 1, out
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


@pytest.mark.parametrize("text, message", [
    ('stream_url = "ws://127.0.0.1:1/ws"\napi_url = [1, 2\n', "malformed TOML"),
    ('stream_url = "http://127.0.0.1:1/ws"\n', "expected a ws/wss URL for key 'stream_url'"),
    ('stream_url = "ws://127.0.0.1:1/ws"\napi_url = 5\n', "key 'api_url'"),
])
def test_bad_config_is_one_line_error(tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    out = collect("binancefutures", "btcusdt", "--config", str(cfg), "--out", str(tmp_path))
    assert out.returncode == 1, out
    assert out.stderr.strip().splitlines()[-1].startswith(f"error: {cfg}") and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_unreachable_exchange_is_one_line_error(tmp_path):
    port = closed_port()
    out = collect("binancefutures", "btcusdt", "--out", str(tmp_path), "--stream-url", f"ws://127.0.0.1:{port}/ws",
                  "--rest-url", f"http://127.0.0.1:{port}")
    assert out.returncode == 1
    assert f"error: cannot reach http://127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr


def test_unwritable_output_is_one_line_error(tmp_path):
    blocker = tmp_path / "f"
    blocker.write_text("")
    out = collect("binancefutures", "btcusdt", "--out", str(blocker / "data"))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("error: cannot create output directory")
    assert "Traceback" not in out.stderr


def test_rotation_from_the_environment_is_checked_like_the_flag(tmp_path):
    """HFTCTL_COLLECT_ROTATE sets --rotate for a whole deployment (the test suite sets it to never)."""
    out = collect("binancefutures", "btcusdt", "--out", str(tmp_path / "data"),
                  env={**os.environ, "HFTCTL_COLLECT_ROTATE": "soon"})
    assert out.returncode == 1 and "--rotate: cannot read duration 'soon'" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "data").exists()
