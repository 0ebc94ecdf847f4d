#!/usr/bin/env python3
"""Order round trips through the connector: websocket order entry against REST, in one run.

For each exchange, one `hftctl sim` and two connectors on it, one with ``order_transport =
"rest"`` and one with ``"ws"``; a bot on each submits a limit order far from the touch and
cancels it, timing SubmitOrder -> acknowledged OrderUpdate and CancelOrder -> canceled
OrderUpdate at the bot. The two transports take turns in blocks of orders so both see the same
machine load. Prints p50/p99 per transport, the ws/REST ratio at p50 (issue 15 asks for at most
0.5) and a final JSON line. ``--quick`` for a short run.
"""

from __future__ import annotations

import argparse
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


def run_exchange(exchange: str, orders: int, tmp: Path) -> dict:
    procs: list[subprocess.Popen] = []
    eps: dict[str, BotEndpoint] = {}
    with start_sim(exchange, extra_args=["--no-rate-limits"]) as sim:
        try:
            for transport in TRANSPORTS:
                name = f"bo{os.getpid()}{transport}"
                cfg = tmp / f"{exchange}-{transport}.toml"
                urls = "".join(f'{k} = "{v}"\n' for k, v in sim.connector_config.items())
                cfg.write_text(f'{urls}order_prefix = "b{transport[0]}"\napi_key = "{KEY}"\nsecret = "{SECRET}"\n'
                               f'order_transport = "{transport}"\ndead_man_window_s = 0\n')
                log = open(tmp / f"{exchange}-{transport}.log", "wb")
                procs.append(subprocess.Popen([sys.executable, "-m", "hftctl", "connector", name, exchange, str(cfg)],
                                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              cwd=ROOT))
                ep = BotEndpoint.attach(name, f"bench-{transport}", timeout=30)
                tick, lot = (0.01, 0.00001) if exchange == "binancespot" else (0.1, 0.001)
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
    res = {f"{kind}_{t}": stats(times[t][kind]) for t in TRANSPORTS for kind in ("submit", "cancel")}
    res["ws_vs_rest_p50"] = {kind: round(res[f"{kind}_ws"]["p50_us"] / res[f"{kind}_rest"]["p50_us"], 2)
                             for kind in ("submit", "cancel")}
    return res


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
    print(f"{'exchange':16} {'measure':14} {'n':>5} {'p50 us':>10} {'p99 us':>10}")
    for ex, res in out.items():
        for k, v in res.items():
            if k != "ws_vs_rest_p50":
                print(f"{ex:16} {k:14} {v['n']:>5} {v['p50_us']:>10.1f} {v['p99_us']:>10.1f}")
        print(f"{ex:16} ws / REST at p50: {res['ws_vs_rest_p50']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
