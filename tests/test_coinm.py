"""Binance COIN-M futures (``binancefuturescm``, hftbacktest's collector name): told apart from
USD-M, converted exactly as hftbacktest converts it, recorded by `hftctl collect` from the sim
(replaying the real COIN-M recording) into a file hftbacktest's converter turns into the same rows."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from hftctl import exchanges
from hftctl.convert import ConvertOptions, read_file
from hftctl.convert.pipeline import finalize
from hftctl.errors import HftctlError
from hftctl.sim.process import start_sim
from hftctl.sim.server import Sim, SimOptions
from tests.conftest import ROOT, import_hftbacktest

CM = "recordings/cm/btcusd_perp_20240808.gz"
USDM = "recordings/usdm/btcusdt_20240808.gz"


def hbt_convert(path) -> np.ndarray:
    bf = import_hftbacktest("hftbacktest.data.utils.binancefutures")
    with contextlib.redirect_stdout(io.StringIO()):
        return bf.convert(str(path))


def hftctl_convert(path) -> tuple[np.ndarray, str]:
    rows = read_file(str(path), ConvertOptions())
    assert rows.problems.skipped == 0, rows.problems.problems
    return finalize(rows.data, ConvertOptions()), rows.exchange


def _line(data: dict, stream: str) -> bytes:
    return b"1723161256172216566 " + json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


def test_the_shared_coinm_recording_converts_equal_to_hftbacktest(shared_data):
    ref = hbt_convert(shared_data / CM)
    got, exchange = hftctl_convert(shared_data / CM)
    assert exchange == "binancefuturescm"
    assert got.dtype == ref.dtype and len(got) == 303_861
    assert np.array_equal(got, ref)


def test_detect_tells_coinm_from_usdm(shared_data):
    for rel, name in ((CM, "binancefuturescm"), (USDM, "binancefutures")):
        with gzip.open(shared_data / rel, "rb") as f:
            assert exchanges.detect(f.read(300_000)) == name
    depth = {"e": "depthUpdate", "E": 2, "T": 1, "U": 1, "u": 2, "pu": 0, "b": [], "a": []}
    cases = [
        # before the CM/UM integration: the symbol's shape
        ({**depth, "s": "BTCUSD_PERP", "ps": "BTCUSD"}, "binancefuturescm"),
        ({**depth, "s": "ETHUSD_241227", "ps": "ETHUSD"}, "binancefuturescm"),      # a delivery contract
        ({**depth, "s": "BTCUSDT_241227"}, "binancefutures"),                     # USD-M's quarterly
        ({**depth, "s": "BTCUSDT"}, "binancefutures"),
        # after it (2026-06-30): payloads carry st (1 = UM, 2 = CM) and both carry ps
        ({**depth, "s": "BTCUSDT", "ps": "BTCUSDT", "st": 1}, "binancefutures"),
        ({**depth, "s": "BTCUSD_PERP", "ps": "BTCUSD", "st": 2}, "binancefuturescm"),
        ({"e": "trade", "E": 2, "T": 1, "s": "BTCUSD_PERP", "t": 1, "p": "1", "q": "1", "X": "MARKET",
          "m": True}, "binancefuturescm"),
    ]
    for data, name in cases:
        assert exchanges.detect(_line(data, data["s"].lower() + "@depth@0ms")) == name, data


def test_the_sim_speaks_the_recordings_exchange_by_default(shared_data):
    for rel, name, symbol in ((CM, "binancefuturescm", "BTCUSD_PERP"), (USDM, "binancefutures", "BTCUSDT")):
        sim = Sim(SimOptions(replay=[shared_data / rel], port=0))
        for coro in sim.background:          # built, never started
            coro.close()
        assert sim.options.exchange == name and list(sim.engine.specs) == [symbol]


def test_no_coinm_connector_is_one_line():
    with pytest.raises(HftctlError, match="no connector"):
        exchanges.get("binancefuturescm").connector()


def test_collect_from_the_sim_converts_equal_to_hftbacktest(tmp_path, shared_data):
    """The sim replays the real COIN-M recording on dstream's unrouted paths and /dapi; the
    collector records it from the mainnet venue's URL set (no --allow-mainnet: public data);
    hftbacktest's converter and hftctl's give the same rows for that file, and the audit finds it
    whole."""
    replay = ["--replay", str(shared_data / CM), "--speed", "20"]
    with start_sim("binancefuturescm", ["--venue", "mainnet", *replay]) as sim:
        r = subprocess.run([sys.executable, "-m", "hftctl", "collect", "binancefuturescm", "btcusd_perp",
                            "--stand-in", f"127.0.0.1:{sim.port}", "--out", str(tmp_path / "rec"),
                            "--duration", "6", "--no-progress"],
                           cwd=ROOT, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert f"ws://127.0.0.1:{sim.port}/stream" in r.stderr          # dstream: one connection, no route
    (path,) = (tmp_path / "rec").iterdir()
    body = gzip.decompress(path.read_bytes())
    for kind in (b'"btcusd_perp@depth@0ms"', b'"btcusd_perp@trade"', b'"btcusd_perp@bookTicker"',
                 b'{"lastUpdateId"', b'"ps":"BTCUSD"', b'"pair":"BTCUSD"'):
        assert kind in body, kind
    assert b"@gap" not in body
    ref = hbt_convert(path)
    got, exchange = hftctl_convert(path)
    assert exchange == "binancefuturescm" and len(ref) > 1000
    assert np.array_equal(got, ref)
    audit = subprocess.run([sys.executable, "-m", "hftctl", "audit", str(path), "--json"], capture_output=True,
                           text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    (report,) = json.loads(audit.stdout)["files"]
    assert report["exchange"] == "binancefuturescm" and report["sequence_breaks"]["count"] == 0
    (book,) = report["book"].values()
    assert book["crossed"] == 0 and book["checked"] > 100
