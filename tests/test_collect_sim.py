"""`hftctl collect` end to end against the real simulator replaying a real Binance recording."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import zstandard

from hftctl.convert import ConvertOptions, finalize, read_file
from hftctl.sim.process import start_sim
from tests.collect_replay import (assert_same_book, book_from_events, book_from_lines, recording_lines,
                                  sim_book)
from tests.conftest import ROOT

SPEED = "40"   # the 6-minute recording in about 9 s


def http_json(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def replay_args(shared_data: Path, *extra: str) -> list[str]:
    return ["--replay", str(shared_data / "recordings/usdm/btcusdt_20240808.gz"), "--speed", SPEED, *extra]


def start_collector(sim, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hftctl", "collect", "binancefutures", "btcusdt", "--out", str(out),
         "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--no-progress", *extra],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(p: subprocess.Popen, sig: int = signal.SIGINT) -> str:
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.communicate(timeout=15)[1]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def replay_finished(sim) -> bool:
    return all(r["finished"] for r in http_json(f"{sim.control_url}/state?symbol=BTCUSDT")["replay"])


def recording_started(out: Path) -> bool:
    """The first flush is on disk: the collector is connected and recording."""
    return any(p.stat().st_size > 0 for p in out.iterdir())


def assert_books_match(out: Path, sim, lost_data: bool = False) -> None:
    state = http_json(f"{sim.control_url}/state?symbol=BTCUSDT")
    lines = recording_lines(out)
    from_lines, snap = book_from_lines(lines)
    expected = sim_book(state["book"])
    assert_same_book(from_lines, expected, snap)
    # hftctl convert's event rows (hftbacktest's corrections and validation included) rebuild it too
    (path,) = out.iterdir()
    rows = read_file(str(path), ConvertOptions())
    assert rows.problems.skipped <= sum(b'"e":"gap"' in ln for ln in lines)  # at most the gap marks
    assert_same_book(book_from_events(finalize(rows.data, ConvertOptions())), expected, snap,
                     only_snapshot_range=lost_data)


def test_recording_reproduces_the_sims_book(tmp_path, shared_data):
    with start_sim(extra_args=replay_args(shared_data)) as sim:
        p = start_collector(sim, tmp_path)
        try:
            wait_for(lambda: replay_finished(sim), 60, "the replay to finish")
            time.sleep(1.5)  # the last messages reach the collector and a flush
        finally:
            err = stop(p)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        (path,) = tmp_path.iterdir()
        assert path.name.startswith("btcusdt_") and path.suffix == ".gz"
        assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0
        lines = recording_lines(tmp_path)
        # the line format: "<19-digit ns> <combined-stream envelope or raw REST snapshot body>"
        assert all(ln[:19].isdigit() and ln[19:20] == b" " for ln in lines)
        streams = {json.loads(ln[20:]).get("stream") for ln in lines}
        assert streams == {"btcusdt@depth@0ms", "btcusdt@trade", "btcusdt@bookTicker", None}
        assert sum(b'"lastUpdateId"' in ln[20:40] for ln in lines) == 1  # one snapshot, after the first diff
        assert_books_match(tmp_path, sim)


def test_dropped_connection_and_sequence_gap_are_marked_and_followed_by_snapshots(tmp_path, shared_data):
    with start_sim(extra_args=replay_args(shared_data)) as sim:
        p = start_collector(sim, tmp_path)
        try:
            wait_for(lambda: recording_started(tmp_path), 30, "the collector to record")
            http_json(f"{sim.control_url}/fault", {"skip_depth_seq": 1})
            time.sleep(1.5)
            assert http_json(f"{sim.control_url}/fault", {"drop_ws": True})["dropped"] >= 1
            wait_for(lambda: replay_finished(sim), 60, "the replay to finish")
            time.sleep(1.5)
        finally:
            err = stop(p)
        assert p.returncode == 0, err
        lines = recording_lines(tmp_path)
        kinds = []
        for ln in lines:
            msg = json.loads(ln[20:])
            if "lastUpdateId" in msg:
                kinds.append("snapshot")
            elif msg["data"].get("e") == "gap":
                kinds.append(f"gap:{msg['data']['reason']}")
        # start snapshot, then each gap is followed by a fresh snapshot before anything else breaks
        assert kinds == ["snapshot", "gap:sequence", "snapshot", "gap:reconnect", "snapshot"], kinds
        assert "depth sequence gap" in err and "reconnecting" in err
        assert_books_match(tmp_path, sim, lost_data=True)


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_sigkill_mid_run_leaves_a_readable_recording(tmp_path, shared_data, compress):
    with start_sim(extra_args=replay_args(shared_data)) as sim:
        p = start_collector(sim, tmp_path, "--compress", compress)
        try:
            def flushed() -> int:
                files = list(tmp_path.iterdir())
                return files[0].stat().st_size if files else 0
            wait_for(lambda: flushed() > 200_000, 30, "a few flushes")
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        finally:
            stop(p)
    (path,) = tmp_path.iterdir()
    if compress == "gzip":
        data = gzip.decompress(path.read_bytes())          # raises on a torn member
        assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0
    else:
        if shutil.which("zstd"):
            assert subprocess.run(["zstd", "-t", "-q", str(path)]).returncode == 0
        with open(path, "rb") as f:
            data = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()
    assert data.endswith(b"\n")
    lines = data.splitlines()
    assert len(lines) > 1000
    assert all(json.loads(ln[20:]) for ln in lines)
    # and the converter takes it without a single problem
    rows = read_file(str(path), ConvertOptions())
    assert rows.problems.skipped == 0 and len(rows.data) > 1000


def test_ipc_recording_through_a_real_connector_reproduces_the_sims_book(tmp_path, shared_data):
    from tests.connector_procs import connector, write_config

    name = f"ccol{os.getpid()}"
    with start_sim(extra_args=replay_args(shared_data)) as sim:
        cfg = write_config(tmp_path / "connector.toml", sim, prefix="c")
        out = tmp_path / "data"
        with connector(name, cfg, tmp_path):
            p = subprocess.Popen(
                [sys.executable, "-m", "hftctl", "collect", "--ipc", name, "btcusdt", "--out", str(out),
                 "--no-progress"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            try:
                wait_for(lambda: replay_finished(sim), 60, "the replay to finish")
                time.sleep(1.5)
            finally:
                err = stop(p)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        lines = recording_lines(out)
        assert sum(b'"lastUpdateId"' in ln[20:40] for ln in lines) >= 1  # the connector's snapshot, raw
        assert {json.loads(ln[20:]).get("stream") for ln in lines} == {
            "btcusdt@depth@0ms", "btcusdt@trade", "btcusdt@bookTicker", None}
        assert_books_match(out, sim)
