"""Opt-in streams (``collect --streams``): mark price / funding, liquidations and aggTrade on
Binance futures (USD-M and COIN-M), tickers and allLiquidation on Bybit. The sim serves them
(made up where its market has none, replayed where a recording has them), the collector records
them in the same file, and convert stays equal to hftbacktest's converter, counting the lines it
skips in one summary line."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import numpy as np
import orjson
import pytest

from hftctl.convert import ConvertOptions, read_file
from hftctl.convert.pipeline import finalize
from hftctl.sim.process import start_sim
from tests.conftest import ROOT, import_hftbacktest

SECONDS = 5
FUTURES = {"binancefutures": "btcusdt", "binancefuturescm": "btcusd_perp"}


def sim_config(tmp_path: Path) -> Path:
    """Ten synthetic liquidations a second: every 1 s / 500 ms window of the streams has some."""
    path = tmp_path / "sim.toml"
    path.write_text("[synthetic]\nliquidations_per_min = 600\n")
    return path


def collect(tmp_path: Path, exchange: str, symbol: str, streams: str, *sim_args: str) -> tuple[Path, str]:
    with start_sim(exchange, ["--venue", "mainnet", "--config", str(sim_config(tmp_path)), *sim_args]) as sim:
        r = subprocess.run([sys.executable, "-m", "hftctl", "collect", exchange, symbol, "--streams", streams,
                            "--stand-in", f"127.0.0.1:{sim.port}", "--out", str(tmp_path / "rec"),
                            "--duration", str(SECONDS), "--no-progress"],
                           cwd=ROOT, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    (path,) = (tmp_path / "rec").iterdir()
    return path, r.stderr


def messages(path: Path) -> list[dict]:
    return [orjson.loads(ln.split(b" ", 1)[1]) for ln in gzip.decompress(path.read_bytes()).splitlines()]


def hbt(module: str, fn: str, path: Path, **kw) -> np.ndarray:
    mod = import_hftbacktest(f"hftbacktest.data.utils.{module}")
    with contextlib.redirect_stdout(io.StringIO()):
        return getattr(mod, fn)(str(path), **kw)


def hftctl_convert(path: Path, opt: str = "", **kw):
    rows = read_file(str(path), ConvertOptions(opt=opt, **kw))
    assert rows.problems.skipped == 0, rows.problems.problems
    return finalize(rows.data, ConvertOptions(opt=opt, **kw)), rows.unconverted


def convert_cli(path: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", "convert", str(path), str(out), *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("exchange", list(FUTURES))
def test_binance_futures_mark_price_liquidations_and_agg_trades(tmp_path, exchange):
    path, log = collect(tmp_path, exchange, FUTURES[exchange], "markPrice,forceOrder,aggTrade")
    if exchange == "binancefutures":                 # USD-M: on the /market route, next to trades
        assert "/market/stream" in log
    msgs = messages(path)
    by_stream: dict[str, list[dict]] = {}
    for m in msgs:
        if "stream" in m:
            by_stream.setdefault(m["stream"].partition("@")[2], []).append(m["data"])
    marks, liquidations, aggs = by_stream["markPrice@1s"], by_stream["forceOrder"], by_stream["aggTrade"]
    # markPrice@1s: one a second, with mark, index, funding and the next funding time
    assert SECONDS - 2 <= len(marks) <= SECONDS + 1
    assert all(m["e"] == "markPriceUpdate" and float(m["p"]) > 0 and m["r"] == "0.00010000"
               and m["T"] % (8 * 3600 * 1000) == 0 for m in marks)
    assert all(b["E"] - a["E"] >= 900 for a, b in zip(marks, marks[1:]))
    # forceOrder: only the latest liquidation of each 1000 ms window
    assert len(liquidations) >= SECONDS - 2
    assert all(b["E"] - a["E"] >= 900 for a, b in zip(liquidations, liquidations[1:]))
    assert all(d["e"] == "forceOrder" and d["o"]["S"] in ("BUY", "SELL") and d["o"]["X"] == "FILLED"
               for d in liquidations)
    # aggTrade: one per trade (the sim's trades are single fills), the same ids and prices
    trades = by_stream["trade"]
    assert [(a["a"], a["p"], a["q"], a["m"]) for a in aggs] == [(t["t"], t["p"], t["q"], t["m"]) for t in trades]
    # convert: equal to hftbacktest's converter, default and with its mark/bookTicker options
    for opt in ("", "mt"):
        ref = hbt("binancefutures", "convert", path, opt=opt)
        got, unconverted = hftctl_convert(path, opt)
        assert np.array_equal(got, ref), opt
    assert unconverted == {"aggTrade": len(aggs), "forceOrder": len(liquidations)}
    out = convert_cli(path, tmp_path / "x.npz")
    assert out.returncode == 0, out.stderr
    summary = [ln for ln in out.stderr.splitlines() if ln.startswith("not converted")]
    assert summary == [f"not converted (no hftbacktest event for them), lines: aggTrade {len(aggs)}, "
                       f"bookTicker {len(by_stream['bookTicker'])}, forceOrder {len(liquidations)}, "
                       f"markPrice {len(marks)} (--opt t converts bookTicker; --opt m converts markPrice)"]
    assert "warning" not in out.stderr


def test_bybit_tickers_and_liquidations(tmp_path):
    path, _ = collect(tmp_path, "bybit", "btcusdt", "tickers,liquidation")
    msgs = messages(path)
    tickers = [m for m in msgs if m.get("topic") == "tickers.BTCUSDT"]
    liquidations = [m for m in msgs if m.get("topic") == "allLiquidation.BTCUSDT"]
    assert not any(m.get("topic", "").startswith("liquidation.") for m in msgs)   # deprecated: never asked for
    # tickers: a snapshot, then deltas of what changed, at most every 100 ms
    assert tickers[0]["type"] == "snapshot" and all(t["type"] == "delta" for t in tickers[1:])
    assert len(tickers) > SECONDS * 3
    state: dict[str, str] = {}
    for t in tickers:
        assert t["data"]["symbol"] == "BTCUSDT"
        state.update(t["data"])
    assert {"markPrice", "indexPrice", "fundingRate", "nextFundingTime", "bid1Price", "ask1Price",
            "lastPrice"} <= set(state)
    assert float(state["bid1Price"]) < float(state["ask1Price"]) and state["fundingRate"] == "0.0001"
    # allLiquidation: every liquidation of each 500 ms window, position side Buy/Sell
    assert len(liquidations) >= SECONDS
    assert all(b["ts"] - a["ts"] >= 450 for a, b in zip(liquidations, liquidations[1:]))
    assert all(row["S"] in ("Buy", "Sell") and float(row["v"]) > 0 for m in liquidations for row in m["data"])
    ref = hbt("bybit", "convert_depth", path, single_depth_level=1000)
    got, unconverted = hftctl_convert(path)
    assert np.array_equal(got, ref)
    assert unconverted == {"tickers": len(tickers), "allLiquidation": len(liquidations)}


def _replay_recording(shared_data: Path, out: Path) -> tuple[list[bytes], list[bytes]]:
    """The first 3,000 lines of the real USD-M recording with a mark price line every second and a
    liquidation every two, whose values the sim could not make up (an odd funding rate, size 7.777)."""
    with gzip.open(shared_data / "recordings/usdm/btcusdt_20240808.gz", "rb") as f:
        lines = [next(f).rstrip(b"\n") for _ in range(3000)]
    t0 = int(lines[0].split(b" ", 1)[0])
    out_lines, marks, liqs = [], [], []
    next_mark = t0
    for ln in lines:
        ts = int(ln.split(b" ", 1)[0])
        while ts >= next_mark:
            k = (next_mark - t0) // 1_000_000_000
            e = next_mark // 1_000_000 + 1270
            mark = {"stream": "btcusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": e, "s": "BTCUSDT",
                    "p": f"{61234.5 + k:.8f}", "i": "61230.00000000", "P": "61231.00000000", "r": "0.00038167",
                    "T": 1723190400000}}
            marks.append(b"%d %s" % (next_mark, orjson.dumps(mark)))
            out_lines.append(marks[-1])
            if k % 2 == 0:
                liq = {"stream": "btcusdt@forceOrder", "data": {"e": "forceOrder", "E": e, "o": {
                       "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "7.777", "p": "61000.0",
                       "ap": "61000.0", "X": "FILLED", "l": "7.777", "z": "7.777", "T": e - 5}}}
                liqs.append(b"%d %s" % (next_mark, orjson.dumps(liq)))
                out_lines.append(liqs[-1])
            next_mark += 1_000_000_000
        out_lines.append(ln)
    out.write_bytes(gzip.compress(b"\n".join(out_lines) + b"\n"))
    return marks, liqs


def test_the_sim_replays_recorded_marks_and_liquidations(tmp_path, shared_data):
    """A recording that has them is replayed as recorded (values the sim would not make up);
    one that lacks them gets the sim's own, at the book's mid."""
    rec = tmp_path / "with_marks.gz"
    marks, liqs = _replay_recording(shared_data, rec)
    assert len(marks) >= 5 and len(liqs) >= 3

    async def listen(sim, seconds: float) -> list[dict]:
        got = []
        url = f"{sim.ws_root}/market/stream?streams=btcusdt@markPrice@1s/btcusdt@forceOrder"
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            loop = asyncio.get_running_loop()
            end = loop.time() + seconds
            while loop.time() < end:
                try:
                    msg = await ws.receive(timeout=max(0.05, end - loop.time()))
                except asyncio.TimeoutError:
                    break
                if msg.type == aiohttp.WSMsgType.TEXT:
                    got.append(json.loads(msg.data))
        return got

    with start_sim("binancefutures", ["--replay", str(rec), "--speed", "2"]) as sim:
        got = asyncio.run(listen(sim, 4.0))
    mark_msgs = [m["data"] for m in got if m["stream"] == "btcusdt@markPrice@1s"]
    liq_msgs = [m["data"] for m in got if m["stream"] == "btcusdt@forceOrder"]
    assert mark_msgs and all(m["r"] == "0.00038167" and m["i"] == "61230.00000000" for m in mark_msgs)
    assert liq_msgs and all(m["o"]["q"] == "7.777" and m["o"]["S"] == "SELL" for m in liq_msgs)

    with start_sim("binancefutures", ["--replay", str(shared_data / "recordings/usdm/btcusdt_20240808.gz"),
                                      "--speed", "2"]) as sim:
        got = asyncio.run(listen(sim, 2.5))
    mark_msgs = [m["data"] for m in got if m["stream"] == "btcusdt@markPrice@1s"]
    assert mark_msgs and all(m["r"] == "0.00010000" and 60_000 < float(m["p"]) < 63_000 for m in mark_msgs)


def test_unconverted_counts_are_the_same_in_worker_processes(shared_data, monkeypatch):
    from hftctl.convert import pipeline

    rel = "recordings/usdm/btcusdt_20240808.gz"
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(pipeline, "SHARE_CHUNK", 1 << 20)
    parallel = read_file(str(shared_data / rel), ConvertOptions(jobs=2))
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 1 << 62)
    single = read_file(str(shared_data / rel), ConvertOptions(jobs=1))
    with gzip.open(shared_data / rel, "rb") as f:
        tickers = sum(b'@bookTicker"' in ln for ln in f)
    assert parallel.unconverted == single.unconverted == Counter(bookTicker=tickers)
    assert not read_file(str(shared_data / rel), ConvertOptions(opt="t")).unconverted   # converted with t
