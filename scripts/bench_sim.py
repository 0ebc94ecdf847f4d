#!/usr/bin/env python
"""Benchmark of `hftctl sim`: (1) signed order requests per second (new + cancel from concurrent
aiohttp clients) against the unsigned /fapi/v1/ping rate measured in the same run as baseline;
(2) replay of the usdm BTCUSDT recording at 10x real time with a websocket client attached:
achieved speed vs requested, and how late messages reach the client.

Usage: .venv/bin/python scripts/bench_sim.py [--seconds 5] [--concurrency 32] [--replay-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hftctl.exchanges.binance.common.signing import binance_signature  # noqa: E402
from hftctl.sim.process import start_sim  # noqa: E402

KEY, SECRET = "hftctl-sim-key", "hftctl-sim-secret"
RECORDING = ROOT.parent / "shared" / "data" / "recordings" / "usdm" / "btcusdt_20240808.gz"


def _signed(params: dict) -> str:
    params["timestamp"] = int(time.time() * 1000)
    q = urlencode(params)
    return f"{q}&signature={binance_signature(SECRET, q)}"


async def _rate(base: str, seconds: float, concurrency: int, orders: bool) -> tuple[float, int]:
    """Requests per second completed (errors counted separately)."""
    done = errors = 0
    stop_at = time.monotonic() + seconds
    headers = {"X-MBX-APIKEY": KEY}
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(f"{base}/fapi/v1/depth?symbol=BTCUSDT&limit=5") as r:
            bid = float((await r.json())["bids"][0][0])
        price = f"{bid - 500:.1f}"

        async def worker() -> None:
            nonlocal done, errors
            while time.monotonic() < stop_at:
                if not orders:
                    async with s.get(f"{base}/fapi/v1/ping") as r:
                        await r.read()
                        done += 1
                        errors += r.status != 200
                    continue
                q = _signed({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                             "quantity": "0.002", "price": price})
                async with s.post(f"{base}/fapi/v1/order?{q}", headers=headers) as r:
                    body = orjson.loads(await r.read())
                    done += 1
                    if r.status != 200:
                        errors += 1
                        continue
                q = _signed({"symbol": "BTCUSDT", "orderId": body["orderId"]})
                async with s.delete(f"{base}/fapi/v1/order?{q}", headers=headers) as r:
                    await r.read()
                    done += 1
                    errors += r.status != 200

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - t0
    return done / elapsed, errors


async def _replay(h, seconds: float) -> dict:
    # USD-M serves depth, bookTicker and trades on /public (docs/protocols.md)
    urls = [f"{h.ws_root}/public/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade"]
    lags: list[float] = []

    async def read(s, url: str) -> None:
        async with s.ws_connect(url, max_msg_size=0) as ws:
            t0 = time.monotonic()
            while time.monotonic() - t0 < seconds:
                try:
                    msg = await ws.receive(timeout=2)
                except asyncio.TimeoutError:
                    break
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                d = orjson.loads(msg.data)["data"]
                lags.append(time.time() * 1000 - d["E"])

    async with aiohttp.ClientSession() as s:
        await asyncio.gather(*(read(s, u) for u in urls))
        n = len(lags)
        async with s.get(f"{h.control_url}/state?depth=1") as r:
            state = await r.json()
    rep = state["replay"][0]
    lags.sort()
    return {"messages": n, "achieved_speed": rep["achieved_speed"], "requested_speed": rep["requested_speed"],
            "recorded_s": rep["recorded_elapsed_s"], "wall_s": rep["wall_elapsed_s"],
            "max_schedule_lag_ms": rep["max_lag_ms"],
            "client_lag_p50_ms": statistics.median(lags) if lags else float("nan"),
            "client_lag_p99_ms": lags[int(len(lags) * 0.99)] if lags else float("nan")}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (so the figure survives a busy machine)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(h, seconds: float, concurrency: int, orders: bool) -> tuple[float, int, float]:
    """(requests/s, errors, sim CPU microseconds per request)."""
    c0, t0 = _cpu_s(h.pid), time.monotonic()
    rate, errors = asyncio.run(_rate(h.rest_url, seconds, concurrency, orders))
    n = rate * (time.monotonic() - t0)
    return rate, errors, (_cpu_s(h.pid) - c0) / max(n, 1) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--replay-seconds", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=10.0)
    args = ap.parse_args()

    load = os.getloadavg()[0]
    with start_sim(extra_args=["--no-rate-limits", "--log-level", "warning"]) as h:
        ping_rate, ping_err, ping_us = _measure(h, args.seconds, args.concurrency, orders=False)
        order_rate, order_err, order_us = _measure(h, args.seconds, args.concurrency, orders=True)
    print(f"(1) order requests: {order_rate:,.0f} signed req/s (new+cancel, {args.concurrency} concurrent "
          f"aiohttp clients in one process, {order_err} errors); baseline unsigned ping {ping_rate:,.0f} req/s "
          f"({ping_err} errors); ratio {order_rate / ping_rate:.2f}; target >= 1,000 req/s: "
          f"{'OK' if order_rate >= 1000 else 'MISSED'}")
    print(f"    sim CPU per request: order {order_us:,.0f} us, ping {ping_us:,.0f} us (ratio "
          f"{order_us / ping_us:.2f}) -> one sim core sustains ~{1e6 / order_us:,.0f} order req/s; "
          f"load average at start {load:.1f} on {os.cpu_count()} cores")
    if not RECORDING.exists():
        print(f"(2) replay: skipped, {RECORDING} not found")
        return
    with start_sim(extra_args=["--replay", str(RECORDING), "--speed", str(args.speed),
                               "--log-level", "warning"]) as h:
        r = asyncio.run(_replay(h, args.replay_seconds))
    ok = r["achieved_speed"] >= 0.95 * r["requested_speed"]
    print(f"(2) replay at {r['requested_speed']:g}x: achieved {r['achieved_speed']:.2f}x "
          f"(ratio {r['achieved_speed'] / r['requested_speed']:.3f}; {r['recorded_s']:.1f} s of recording in "
          f"{r['wall_s']:.1f} s), {r['messages']:,} messages to the client "
          f"({r['messages'] / max(r['wall_s'], 1e-9):,.0f}/s), max schedule lag {r['max_schedule_lag_ms']:.1f} ms, "
          f"client lag p50 {r['client_lag_p50_ms']:.1f} ms p99 {r['client_lag_p99_ms']:.1f} ms: "
          f"{'keeps up' if ok else 'FALLS BEHIND'}")


if __name__ == "__main__":
    main()
