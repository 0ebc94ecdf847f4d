"""Replay of real recordings through a real sim process, and the CLI's bad-input errors."""

from __future__ import annotations

import asyncio
import gzip
import socket
import subprocess
import sys
import time

import aiohttp
import orjson
import pytest

from hftctl.sim.process import start_sim
from tests.conftest import ROOT
from tests.test_sim_support import LocalBook, public


def _small_recording(shared_data, path, lines: int = 400):
    """The first `lines` lines of the real usdm recording (its snapshot is line 55)."""
    src = shared_data / "recordings" / "usdm" / "btcusdt_20240808.gz"
    with gzip.open(src, "rb") as f, gzip.open(path, "wb") as out:
        for i, line in enumerate(f):
            if i >= lines:
                break
            out.write(line)
    return path


async def _rebuild_and_compare(session, handle, ws, seconds: float) -> LocalBook:
    snap = (await public(session, handle.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000}))[1]
    book = LocalBook(snap)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        env = orjson.loads((await ws.receive(timeout=5)).data)
        if env["stream"] == "btcusdt@depth@0ms":
            book.apply(env["data"])
    state = await (await session.get(f"{handle.control_url}/state?symbol=BTCUSDT&depth=500")).json()
    while book.last < state["book"]["update_id"]:
        env = orjson.loads((await ws.receive(timeout=5)).data)
        if env["stream"] == "btcusdt@depth@0ms":
            book.apply(env["data"])
    assert book.last == state["book"]["update_id"]
    bids, asks = book.levels()
    # a 1000-level snapshot only knows the top of a deeper book; compare the top 500
    assert bids[:500] == state["book"]["bids"] and asks[:500] == state["book"]["asks"]
    return book


async def test_replay_of_real_recording_is_fresh_and_consistent(shared_data):
    rec = shared_data / "recordings" / "usdm" / "btcusdt_20240808.gz"
    with start_sim(extra_args=["--replay", str(rec), "--speed", "10"]) as h:
        async with aiohttp.ClientSession() as s:
            url = f"{h.ws_root}/public/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker"
            async with s.ws_connect(url) as ws, s.ws_connect(f"{h.ws_root}/public/stream?streams=btcusdt@trade") as trades:
                kinds: dict[str, dict] = {}
                while len(kinds) < 2:
                    env = orjson.loads((await ws.receive(timeout=5)).data)
                    kinds.setdefault(env["stream"], env["data"])
                env = orjson.loads((await trades.receive(timeout=5)).data)
                kinds[env["stream"]] = env["data"]
                now = time.time() * 1000
                for d in kinds.values():
                    assert abs(d["E"] - now) < 3000          # fresh, not 2024's timestamps
                assert set(kinds["btcusdt@trade"]) == {"e", "E", "T", "s", "t", "p", "q", "X", "m"}
                assert set(kinds["btcusdt@bookTicker"]) == {"e", "u", "s", "b", "B", "a", "A", "T", "E"}
                last_t: dict[str, int] = {}
                for _ in range(500):       # T never goes backwards on a stream and is never after E
                    env = orjson.loads((await ws.receive(timeout=5)).data)
                    d = env["data"]
                    assert last_t.get(env["stream"], 0) <= d["T"] <= d["E"]
                    last_t[env["stream"]] = d["T"]
                await _rebuild_and_compare(s, h, ws, 2.0)
            state = await (await s.get(f"{h.control_url}/state")).json()
            assert list(state["books"]) == ["BTCUSDT"]
            replay = state["replay"][0]
            assert replay["achieved_speed"] > 8, replay


async def test_snapshot_time_is_its_last_updates_time(shared_data):
    """A REST snapshot's T is the transaction time of the last update in it, as on Binance, so no
    diff newer than the snapshot has an earlier T; otherwise a backtest ordering by exchange time
    applies the snapshot over that diff and keeps a stale level (seen in `hftctl collect` runs).
    Snapshots are taken every few ms while the replay streams, to hit the moments right before
    an update."""
    rec = shared_data / "recordings" / "usdm" / "btcusdt_20240808.gz"
    with start_sim(extra_args=["--replay", str(rec), "--speed", "20"]) as h:
        async with aiohttp.ClientSession() as s:
            url = f"{h.ws_root}/public/stream?streams=btcusdt@depth@0ms"
            async with s.ws_connect(url) as ws:
                diffs: list[dict] = []

                async def read() -> None:
                    async for msg in ws:
                        diffs.append(orjson.loads(msg.data)["data"])

                reader = asyncio.create_task(read())
                snaps = []
                for _ in range(150):
                    snaps.append((await public(s, h.rest_url, "/fapi/v1/depth",
                                               {"symbol": "BTCUSDT", "limit": 5}))[1])
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.3)
                reader.cancel()
    checked = 0
    for snap in snaps:
        assert snap["E"] >= snap["T"]
        for d in diffs:
            if d["u"] > snap["lastUpdateId"]:
                assert d["T"] >= snap["T"], (snap["lastUpdateId"], snap["T"], d["u"], d["T"])
                checked += 1
    assert checked > 1000


async def test_replay_loop_keeps_sequence_numbers_increasing(shared_data, tmp_path):
    rec = _small_recording(shared_data, tmp_path / "small.gz")
    with start_sim(extra_args=["--replay", str(rec), "--speed", "4", "--loop"]) as h:
        async with aiohttp.ClientSession() as s:
            url = f"{h.ws_root}/public/stream?streams=btcusdt@depth@0ms"
            async with s.ws_connect(url) as ws:
                prev = None
                t0 = time.monotonic()
                while time.monotonic() - t0 < 2.5:
                    d = orjson.loads((await ws.receive(timeout=5)).data)["data"]
                    if prev is not None:
                        assert d["pu"] == prev and d["u"] > prev
                    prev = d["u"]
                await _rebuild_and_compare(s, h, ws, 1.0)
            state = await (await s.get(f"{h.control_url}/state")).json()
            assert state["replay"][0]["loops"] >= 2


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", "sim", "--port", "0", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("case", ["missing_replay", "corrupt_gzip", "truncated_gzip", "not_a_recording",
                                  "bad_toml", "bad_config_value", "unknown_key", "unknown_exchange",
                                  "unknown_symbol", "port_in_use", "port_too_big", "port_negative",
                                  "ready_file_folder_missing", "ready_file_unwritable", "ws_ping_zero"])
def test_bad_input_is_one_line_error(case, tmp_path, shared_data):
    args: list[str]
    if case == "missing_replay":
        args, expect = ["--replay", str(tmp_path / "nope.gz")], "does not exist"
    elif case == "corrupt_gzip":
        bad = tmp_path / "bad.gz"
        bad.write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate" * 10)
        args, expect = ["--replay", str(bad)], "corrupt"
    elif case == "truncated_gzip":
        good = _small_recording(shared_data, tmp_path / "good.gz", 2000).read_bytes()
        cut = tmp_path / "cut.gz"
        cut.write_bytes(good[: len(good) // 2])
        args, expect = ["--replay", str(cut)], "truncated"
    elif case == "not_a_recording":
        txt = tmp_path / "x.gz"
        with gzip.open(txt, "wb") as f:
            f.write(b"hello world\n")
        args, expect = ["--replay", str(txt)], "not a recording line"
    elif case == "bad_toml":
        cfg = tmp_path / "sim.toml"
        cfg.write_text("[[accounts]\napi_key = ")
        args, expect = ["--config", str(cfg)], "not valid TOML"
    elif case == "bad_config_value":
        cfg = tmp_path / "sim.toml"
        cfg.write_text('[[accounts]]\napi_key = "k"\nsecret = "s"\ntaker_fee = "high"\n')
        args, expect = ["--config", str(cfg)], "taker_fee"
    elif case == "unknown_key":
        cfg = tmp_path / "sim.toml"
        cfg.write_text('[synthetic]\nvolatility = 3\n')
        args, expect = ["--config", str(cfg)], "unknown key synthetic.volatility"
    elif case == "unknown_exchange":
        args, expect = ["--exchange", "kraken"], "unknown exchange"
    elif case == "unknown_symbol":
        args, expect = ["--exchange", "bybit", "--symbol", "DOGEUSDT"], "not listed"
    elif case == "port_too_big":
        args, expect = ["--port", "99999"], "--port must be between 0 (any free port) and 65535, got 99999"
    elif case == "port_negative":
        args, expect = ["--port", "-1"], "--port must be between 0"
    elif case == "ready_file_folder_missing":
        args, expect = ["--ready-file", "/nonexistent/x.json"], "folder /nonexistent does not exist"
    elif case == "ready_file_unwritable":
        # /proc refuses new files even to root; the sim listens, fails to announce itself, stops
        args, expect = ["--ready-file", "/proc/x.json", "--log-level", "warning"], "cannot write --ready-file"
    elif case == "ws_ping_zero":
        args, expect = ["--ws-ping-interval", "0"], "--ws-ping-interval must be > 0"
    else:
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args, expect = ["--port", str(busy.getsockname()[1])], "address already in use"
    out = _cli(*args)
    if case == "port_in_use":
        busy.close()
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], out.stderr


async def test_malformed_lines_in_a_recording_are_skipped(shared_data, tmp_path):
    """A recording with a garbled message (e.g. a collector killed mid-write) still replays."""
    src = _small_recording(shared_data, tmp_path / "small.gz", 300)
    with gzip.open(src, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    lines.insert(120, b'1723161255400000000 {"stream":"btcusdt@trade","data":{"e":"trade","p":\n')
    lines.insert(140, b'1723161255400000001 {"stream":"btcusdt@trade","data":{"e":"trade"}}\n')
    bad = tmp_path / "bad_lines.gz"
    with gzip.open(bad, "wb") as f:
        f.writelines(lines)
    with start_sim(extra_args=["--replay", str(bad), "--speed", "20"]) as h:
        async with aiohttp.ClientSession() as s:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                state = await (await s.get(f"{h.control_url}/state?depth=1")).json()
                if state["replay"][0]["finished"]:
                    break
                await asyncio.sleep(0.2)
            rep = state["replay"][0]
            assert rep["finished"] and rep["skipped"] == 2 and rep["lines_emitted"] > 200, rep
            assert "skipping malformed" in h.log_text()
