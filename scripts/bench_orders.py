#!/usr/bin/env python3
"""Order round trips through the connector: websocket order entry against REST, in one run.

For each exchange, one `hftctl sim` and two connectors on it, one with ``order_transport =
"rest"`` and one with ``"ws"``; a bot on each submits a limit order far from the touch and
cancels it, timing SubmitOrder -> acknowledged OrderUpdate and CancelOrder -> canceled
OrderUpdate at the bot. The two transports take turns in blocks of orders so both see the same
machine load. Prints p50/p99 per transport, the ws/REST ratio at p50 (issue 15 asks for at most
0.5) and a final JSON line. ``--quick`` for a short run.

The floor, in the same run: hftctl's exchange client alone (no connector, no shared memory,
the bench process awaiting ``submit``/``cancel``) over each transport against the same sim.
Its ws/REST ratio is what the transports themselves give; the connector path adds the same
fixed cost (two ring hops, a thread hand-over, the bot's wake-ups) to both of its transports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_connector import KEY, SECRET, SYMBOL, bot_orders, stats  # noqa: E402

from hftctl.connector.run import load  # noqa: E402
from hftctl.exchanges.base import NullSink, OrderRequest  # noqa: E402
from hftctl.instrument import Instrument  # noqa: E402
from hftctl.ipc import schema as s  # noqa: E402
from hftctl.ipc.endpoint import BotEndpoint  # noqa: E402
from hftctl.sim.process import start_sim  # noqa: E402

EXCHANGES = ("binancefutures", "binancespot", "bybit")
TRANSPORTS = ("rest", "ws")
BLOCK = 10          # orders per turn
# Submits per second, both transports together (they share the account): under the strictest
# order limits here, Bybit's 10 creates/s per account and spot's 100 orders per 10 s. Over them
# the connector waits for the budget, and such a wait is not a round trip.
SUBMITS_PER_S = 8.0


def _best_bid(ep: BotEndpoint) -> float:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = ep.recv(0.5)
        if isinstance(m, s.BestBidOffer):
            return m.bid_px
    raise SystemExit("no market data through the connector within 20 s")


async def direct_orders(exchange: str, cfgs: dict[str, Path], orders: int, best_bid: float,
                        tick: float, lot: float) -> dict[str, dict[str, list[float]]]:
    """The exchange client alone, per transport, in turns of BLOCK orders, paced like the bots."""
    clients = {}
    for t, path in cfgs.items():
        cfg, _, module, _ = load(exchange, path)
        client = module.create_client(cfg)
        await client.connect_market(NullSink())
        await client.connect_user()
        clients[t] = client
    inst = Instrument(SYMBOL, tick, lot)
    times: dict[str, dict[str, list[float]]] = {t: {"submit": [], "cancel": []} for t in clients}
    interval = len(clients) / SUBMITS_PER_S
    try:
        for start in range(0, orders, BLOCK):
            for t, client in clients.items():
                for i in range(start, min(orders, start + BLOCK)):
                    next_at = time.monotonic() + interval
                    cid = f"d{t[0]}{os.getpid()}x{i}"
                    px = round(best_bid * 0.95 - (i % 50) * tick, 6)
                    t0 = time.perf_counter_ns()
                    await client.submit(OrderRequest(inst, cid, 1, px, lot * 100, "limit", "gtc"))
                    times[t]["submit"].append((time.perf_counter_ns() - t0) / 1000)
                    t0 = time.perf_counter_ns()
                    await client.cancel(inst, cid)
                    times[t]["cancel"].append((time.perf_counter_ns() - t0) / 1000)
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        for client in clients.values():
            await client.close()
    return times


def _ratios(times: dict[str, dict[str, list[float]]], prefix: str = "") -> dict:
    res = {f"{prefix}{kind}_{t}": stats(times[t][kind]) for t in TRANSPORTS for kind in ("submit", "cancel")}
    res[f"{prefix}ws_vs_rest_p50"] = {
        kind: round(res[f"{prefix}{kind}_ws"]["p50_us"] / res[f"{prefix}{kind}_rest"]["p50_us"], 2)
        for kind in ("submit", "cancel")}
    return res


def run_exchange(exchange: str, orders: int, tmp: Path) -> dict:
    procs: list[subprocess.Popen] = []
    eps: dict[str, BotEndpoint] = {}
    cfgs: dict[str, Path] = {}
    tick, lot = (0.01, 0.00001) if exchange == "binancespot" else (0.1, 0.001)
    with start_sim(exchange, extra_args=["--no-rate-limits"]) as sim:
        try:
            for transport in TRANSPORTS:
                name = f"bo{os.getpid()}{transport}"
                cfg = tmp / f"{exchange}-{transport}.toml"
                urls = "".join(f'{k} = "{v}"\n' for k, v in sim.connector_config.items())
                cfg.write_text(f'{urls}order_prefix = "b{transport[0]}"\napi_key = "{KEY}"\nsecret = "{SECRET}"\n'
                               f'order_transport = "{transport}"\ndead_man_window_s = 0\n')
                cfgs[transport] = cfg
                log = open(tmp / f"{exchange}-{transport}.log", "wb")
                procs.append(subprocess.Popen([sys.executable, "-m", "hftctl", "connector", name, exchange, str(cfg)],
                                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              cwd=ROOT))
                ep = BotEndpoint.attach(name, f"bench-{transport}", timeout=30)
                ep.send(s.RegisterInstrument(ep.bot_id, SYMBOL, tick, lot))
                eps[transport] = ep
            bids = {t: _best_bid(ep) for t, ep in eps.items()}
            times: dict[str, dict[str, list[float]]] = {t: {"submit": [], "cancel": []} for t in TRANSPORTS}
            done = 0
            while done < orders:
                n = min(BLOCK, orders - done)
                for t in TRANSPORTS:
                    sub, can = bot_orders(eps[t], n, bids[t], first_id=20_000 + done,
                                          interval_s=len(TRANSPORTS) / SUBMITS_PER_S)
                    times[t]["submit"] += sub
                    times[t]["cancel"] += can
                done += n
            direct = asyncio.run(direct_orders(exchange, cfgs, orders, bids["ws"], tick, lot))
        finally:
            for ep in eps.values():
                ep.close()
            for p in procs:
                p.send_signal(signal.SIGINT)
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
    return {**_ratios(times), **_ratios(direct, "client_")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=200, help="round trips per transport and exchange")
    ap.add_argument("--exchange", action="append", choices=EXCHANGES, help="default: all three")
    ap.add_argument("--quick", action="store_true", help="40 orders")
    args = ap.parse_args()
    if args.quick:
        args.orders = 40
    tmp = Path(tempfile.mkdtemp(prefix="hftctl-bench-orders-"))
    out = {ex: run_exchange(ex, args.orders, tmp) for ex in args.exchange or EXCHANGES}
    print(f"{'exchange':16} {'measure':21} {'n':>5} {'p50 us':>10} {'p99 us':>10}")
    for ex, res in out.items():
        for k, v in res.items():
            if not k.endswith("ws_vs_rest_p50"):
                print(f"{ex:16} {k:21} {v['n']:>5} {v['p50_us']:>10.1f} {v['p99_us']:>10.1f}")
        print(f"{ex:16} ws / REST at p50, through the connector: {res['ws_vs_rest_p50']}; "
              f"the exchange client alone: {res['client_ws_vs_rest_p50']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
