"""hftctl convert on recordings made by `hftctl collect` against `hftctl sim` (Bybit, Binance spot)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np

from hftctl.convert import events as E
from hftctl.convert.correction import validate_event_order
from hftctl.sim.process import start_sim
from tests.conftest import ROOT


def collect(exchange: str, out, seconds: int = 3):
    with start_sim(exchange) as sim:
        proc = subprocess.run(
            [sys.executable, "-m", "hftctl", "collect", exchange, "btcusdt", "--out", str(out),
             "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--no-progress",
             "--duration", f"{seconds}s"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.iterdir()
    return path


def convert_cli(path, out_npz) -> np.ndarray:
    proc = subprocess.run([sys.executable, "-m", "hftctl", "convert", str(path), str(out_npz), "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return np.load(out_npz)["data"]


def raw_messages(path) -> list[dict]:
    return [json.loads(line.split(b" ", 1)[1]) for line in gzip.decompress(path.read_bytes()).splitlines()]


def test_bybit_collected_from_sim(tmp_path):
    path = collect("bybit", tmp_path / "rec")
    data = convert_cli(path, tmp_path / "bybit.npz")
    validate_event_order(data)
    msgs = raw_messages(path)
    books = [m for m in msgs if m.get("topic", "").startswith("orderbook.1000.")]
    trades = [t for m in msgs if m.get("topic", "").startswith("publicTrade.") for t in m["data"]]
    assert books and any(m.get("topic", "").startswith("orderbook.1.") for m in msgs)
    # Deepest book only (1000): each level once, plus one clear row per non-empty snapshot side.
    levels = sum(len(m["data"]["b"]) + len(m["data"]["a"]) for m in books)
    clears = sum((len(m["data"]["b"]) > 0) + (len(m["data"]["a"]) > 0) for m in books if m["type"] == "snapshot")
    exch = data[(data["ev"] & np.uint64(E.EXCH_EVENT)) != 0]
    kind = exch["ev"] & 0xFF
    assert np.sum(kind == E.TRADE_EVENT) == len(trades)
    assert np.sum(np.isin(kind, [E.DEPTH_EVENT, E.DEPTH_SNAPSHOT_EVENT])) == levels
    assert np.sum(kind == E.DEPTH_CLEAR_EVENT) == clears


def test_binancespot_collected_from_sim(tmp_path):
    path = collect("binancespot", tmp_path / "rec")
    data = convert_cli(path, tmp_path / "spot.npz")
    validate_event_order(data)
    assert np.all(data["local_ts"] >= data["exch_ts"])
    msgs = raw_messages(path)
    snapshots = [m for m in msgs if "lastUpdateId" in m]
    depth = [m["data"] for m in msgs if m.get("stream", "").endswith("@depth@100ms")]
    assert snapshots and depth
    exch = data[(data["ev"] & np.uint64(E.EXCH_EVENT)) != 0]
    kind = exch["ev"] & 0xFF
    assert np.sum(kind == E.DEPTH_EVENT) == sum(len(d["b"]) + len(d["a"]) for d in depth)
    assert np.sum(kind == E.DEPTH_SNAPSHOT_EVENT) == sum(len(s["bids"]) + len(s["asks"]) for s in snapshots)
