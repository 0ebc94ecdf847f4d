#!/usr/bin/env python3
"""Benchmark the connector path against talking to the exchange directly, in one run.

Against a local `hftctl sim` replaying the real USD-M recording:
- tick-to-bot latency: for every depth diff, trade and book ticker, the time from the sim's
  event time ``E``/``T`` to (a) a direct websocket client receiving it (the baseline) and
  (b) a bot receiving the same event through the connector and shared memory. Both read the
  same clock; E/T are milliseconds, so both figures carry the same +0..1 ms quantisation.
  Exact figures without that quantisation: the connector's added latency per event (bot receive
  minus direct receive, same event) and its internal hop (bot receive minus the connector's own
  websocket receive time ``local_ts``).
- order round trip: SubmitOrder -> acknowledged OrderUpdate and CancelOrder -> canceled
  OrderUpdate through the connector, against signed REST POST/DELETE /fapi/v1/order sent
  directly with aiohttp.

Prints a table, the ratios and a final JSON line. ``--quick`` for a short run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import orjson  # noqa: E402

from hftctl.exchanges.binance.common.signing import binance_signature  # noqa: E402
from hftctl.ipc import schema as s  # noqa: E402
from hftctl.ipc.endpoint import BotEndpoint  # noqa: E402
from hftctl.ipc.ring import Overrun, WriterGone  # noqa: E402
from hftctl.sim.process import start_sim  # noqa: E402

RECORDING = ROOT.parent / "shared/data/recordings/usdm/btcusdt_20240808.gz"
KEY, SECRET = "hftctl-sim-key", "hftctl-sim-secret"
SYMBOL = "BTCUSDT"
CTX = mp.get_context("fork")


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def stats(values_us: list[float]) -> dict:
    return {"n": len(values_us), "p50_us": round(pct(values_us, 0.5), 1),
            "p99_us": round(pct(values_us, 0.99), 1)}


def _lv(levels) -> tuple:
    return tuple((float(p), float(q)) for p, q in levels)


# --- the direct websocket client (baseline), in its own process --------------------------------

def direct_client(ws_root: str, seconds: float, out) -> None:
    async def run() -> dict:
        keys: dict = {}
        lat: list[float] = []
        sym = SYMBOL.lower()
        # USD-M serves depth, bookTicker and trades on /public (docs/protocols.md)
        urls = [f"{ws_root}/public/stream?streams={sym}@depth@0ms/{sym}@bookTicker/{sym}@trade"]
        end = time.monotonic() + seconds

        async def read(session, url: str) -> None:
            async with session.ws_connect(url, max_msg_size=0) as ws:
                while time.monotonic() < end:
                    try:
                        msg = await ws.receive(timeout=max(0.01, end - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    now = time.time_ns()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    d = orjson.loads(msg.data).get("data") or {}
                    e = d.get("e")
                    if e == "depthUpdate":
                        key, ts = ("d", d["E"], _lv(d["b"]), _lv(d["a"])), d["E"]
                    elif e == "trade":
                        key, ts = ("t", d["T"], float(d["p"]), float(d["q"])), d["T"]
                    elif e == "bookTicker":
                        key, ts = ("b", d["T"], float(d["b"]), float(d["a"]), float(d["B"]), float(d["A"])), d["T"]
                    else:
                        continue
                    keys[key] = now
                    lat.append((now - ts * 1_000_000) / 1000)

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(read(session, u) for u in urls))
        return {"keys": keys, "lat": lat}

    out.send(asyncio.run(run()))


# --- the bot side ----------------------------------------------------------------------------

def bot_market(ep: BotEndpoint, seconds: float) -> dict:
    keys: dict = {}
    lat: list[float] = []
    hop: list[float] = []
    end = time.monotonic() + seconds
    last_hb = 0.0
    while time.monotonic() < end:
        m = ep.recv(0.05)
        now = time.time_ns()
        if time.monotonic() - last_hb > 0.5:
            ep.send(s.BotHeartbeat(ep.bot_id, now))
            last_hb = time.monotonic()
        if m is None or isinstance(m, (Overrun, WriterGone)):
            continue
        t = type(m)
        if t is s.DepthDiff:
            ms = m.exch_ts // 1_000_000
            key = ("d", ms, tuple(m.bids), tuple(m.asks))
        elif t is s.Trade:
            ms = m.exch_ts // 1_000_000
            key = ("t", ms, m.px, m.qty)
        elif t is s.BestBidOffer:
            ms = m.exch_ts // 1_000_000
            key = ("b", ms, m.bid_px, m.ask_px, m.bid_qty, m.ask_qty)
        else:
            continue
        keys[key] = now
        lat.append((now - ms * 1_000_000) / 1000)
        hop.append((now - m.local_ts) / 1000)
    return {"keys": keys, "lat": lat, "hop": hop}


def bot_orders(ep: BotEndpoint, n: int, best_bid: float, first_id: int = 10_000,
               interval_s: float = 0.0) -> tuple[list[float], list[float]]:
    """``interval_s``: least time between two submits, to stay under the exchange's order rate
    limits (over them the connector rightly waits, and the wait is not a round trip)."""
    submit, cancel = [], []
    req = first_id * 2
    next_at = 0.0
    for i in range(n):
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at = time.monotonic() + interval_s
        oid = first_id + i
        px = round(best_bid * 0.95 - (i % 50) * 0.1, 1)
        for kind in ("submit", "cancel"):
            req += 1
            t0 = time.perf_counter_ns()
            if kind == "submit":
                ep.send(s.SubmitOrder(ep.bot_id, req, SYMBOL, oid, 1, px, 0.005, "limit", "gtc"))
            else:
                ep.send(s.CancelOrder(ep.bot_id, req, SYMBOL, oid))
            while True:
                m = ep.recv(5.0)
                if m is None:
                    raise SystemExit(f"no answer to {kind} {oid} within 5 s")
                if isinstance(m, (s.OrderUpdate, s.Error)) and m.req_id == req:
                    break
            dt = (time.perf_counter_ns() - t0) / 1000
            if isinstance(m, s.Error) or m.status == "rejected":
                raise SystemExit(f"{kind} {oid} failed: {m}")
            (submit if kind == "submit" else cancel).append(dt)
    return submit, cancel


async def direct_orders(rest_url: str, n: int, best_bid: float) -> tuple[list[float], list[float]]:
    submit, cancel = [], []
    async with aiohttp.ClientSession() as session:
        async def call(method: str, params: dict) -> None:
            q = urlencode({**params, "timestamp": int(time.time() * 1000), "recvWindow": 5000})
            q += "&signature=" + binance_signature(SECRET, q)
            async with session.request(method, f"{rest_url}/fapi/v1/order?{q}",
                                       headers={"X-MBX-APIKEY": KEY}) as r:
                body = await r.read()
                if r.status != 200:
                    raise SystemExit(f"direct {method} failed: {r.status} {body[:200]!r}")
        for i in range(n):
            cid = f"bench-direct-{i}"
            px = f"{best_bid * 0.95 - (i % 50) * 0.1:.1f}"
            t0 = time.perf_counter_ns()
            await call("POST", {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                "quantity": "0.005", "price": px, "newClientOrderId": cid,
                                "newOrderRespType": "RESULT"})
            submit.append((time.perf_counter_ns() - t0) / 1000)
            t0 = time.perf_counter_ns()
            await call("DELETE", {"symbol": SYMBOL, "origClientOrderId": cid})
            cancel.append((time.perf_counter_ns() - t0) / 1000)
    return submit, cancel


# --- orchestration ---------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="market-data phase length")
    ap.add_argument("--orders", type=int, default=200, help="order round trips per path")
    ap.add_argument("--speed", type=float, default=2.0, help="replay speed (x real time)")
    ap.add_argument("--quick", action="store_true", help="5 s and 50 orders")
    ap.add_argument("--order-transport", choices=("ws", "rest"), default="ws",
                    help="the connector's order_transport (its config key)")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.orders = 5.0, 50
    if not RECORDING.exists():
        raise SystemExit(f"recording not found: {RECORDING}")

    name = f"bench{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="hftctl-bench-connector-"))
    with start_sim(extra_args=["--replay", str(RECORDING), "--speed", str(args.speed),
                               "--no-rate-limits"]) as sim:
        cfg = tmp / "connector.toml"
        urls = "".join(f'{k} = "{v}"\n' for k, v in sim.connector_config.items())
        cfg.write_text(f'{urls}order_prefix = "bench"\napi_key = "{KEY}"\nsecret = "{SECRET}"\n'
                       f'order_transport = "{args.order_transport}"\n')
        log = open(tmp / "connector.log", "wb")
        conn = subprocess.Popen([sys.executable, "-m", "hftctl", "connector", name, "binancefutures", str(cfg)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            ep = BotEndpoint.attach(name, "bench", timeout=20)
            ep.send(s.RegisterInstrument(ep.bot_id, SYMBOL, 0.1, 0.001))
            best_bid = None
            deadline = time.monotonic() + 20
            while best_bid is None and time.monotonic() < deadline:
                m = ep.recv(0.5)
                if isinstance(m, s.BestBidOffer):
                    best_bid = m.bid_px
            if best_bid is None:
                raise SystemExit("no market data through the connector within 20 s")
            rx, tx = CTX.Pipe(duplex=False)
            direct = CTX.Process(target=direct_client, args=(sim.ws_root, args.seconds, tx))
            direct.start()
            time.sleep(0.3)   # let the direct client subscribe before both start counting
            bot = bot_market(ep, args.seconds - 0.6)
            base = rx.recv()
            direct.join(10)

            b_submit, b_cancel = bot_orders(ep, args.orders, best_bid)
            d_submit, d_cancel = asyncio.run(direct_orders(sim.rest_url, args.orders, best_bid))
            ep.close()
        finally:
            conn.send_signal(signal.SIGINT)
            try:
                conn.wait(20)
            except subprocess.TimeoutExpired:
                conn.kill()
            log.close()

    added = [(t - base["keys"][k]) / 1000 for k, t in bot["keys"].items() if k in base["keys"]]
    res = {
        "direct_ws_tick_latency": stats(base["lat"]),
        "connector_tick_to_bot_latency": stats(bot["lat"]),
        "connector_added_latency_same_event": stats(added),
        "connector_internal_hop": stats(bot["hop"]),
        "order_submit_rtt_connector": stats(b_submit),
        "order_submit_rtt_direct_rest": stats(d_submit),
        "order_cancel_rtt_connector": stats(b_cancel),
        "order_cancel_rtt_direct_rest": stats(d_cancel),
    }
    r = lambda a, b: round(res[a]["p50_us"] / res[b]["p50_us"], 2)
    res["ratios_p50"] = {
        "tick_to_bot_vs_direct_ws": r("connector_tick_to_bot_latency", "direct_ws_tick_latency"),
        "submit_connector_vs_direct": r("order_submit_rtt_connector", "order_submit_rtt_direct_rest"),
        "cancel_connector_vs_direct": r("order_cancel_rtt_connector", "order_cancel_rtt_direct_rest"),
    }
    print(f"{'measure':40} {'n':>7} {'p50 us':>10} {'p99 us':>10}")
    for k, v in res.items():
        if k != "ratios_p50":
            print(f"{k:40} {v['n']:>7} {v['p50_us']:>10.1f} {v['p99_us']:>10.1f}")
    print("p50 ratios (connector / direct):", res["ratios_p50"])
    print("note: tick latencies are measured from the exchange's millisecond E/T stamps (+0..1 ms "
          "for both paths alike); the 'added' and 'hop' rows use exact receive times.")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
