#!/usr/bin/env python3
"""Backtest speed of ``hftctl mm --backtest`` against hftbacktest's numba grid-trading example.

Usage: scripts/bench_backtest.py [--data FILE.npz] [--repeat 3]

Every figure counts the rows of the .npz (the same numerator for everything) and is the median
of --repeat runs, measured in this run so the ratios hold on a shared, noisy machine.

Baseline: the ``gridtrading`` function of hftbacktest's "High-Frequency Grid Trading" tutorial,
compiled with numba and given hftctl mm's parameters (grid of 5 quotes a side, half spread
0.01%, grid step 0.005% of mid, 0.001 BTC a quote, max position 0.01, every 100 ms), on
HashMapMarketDepthBacktest with the models hftctl uses by default (constant 10 ms order
latency each way, risk-averse queue, no partial fills, maker 0.02% / taker 0.05%).
Its JIT compile time (first call minus a warm call) is reported apart; its events/s is warm,
with the rows already in memory (hftctl's figure excludes loading too); the tutorial's way,
hftbacktest reading the file itself, is printed for reference.

Targets, each printed as a ratio against the baseline:
  1. events/s of the grid MM through ``hftctl mm --backtest FILE --json`` (a subprocess; the
     replay's wall time is the ``wall_s`` field of its report, loading excluded): >= 0.5.
  2. whole-process wall time of ``hftctl mm --backtest FILE`` (start-up, loading, replay,
     report), against a process that imports hftbacktest, compiles and runs the example.
Also printed: ``--engine builtin`` (when the command has the option) and ``hftctl obi-mm``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "reference" / "usdm_btcusdt_20240808.npz"

GRID = dict(grid_num=5, max_position=0.01, order_qty=0.001, half_spread=0.0001, grid_interval=0.00005)
MM_ARGS = ["--half-spread", str(GRID["half_spread"]), "--grid-interval", str(GRID["grid_interval"]),
           "--grid-num", str(GRID["grid_num"]), "--order-qty", str(GRID["order_qty"]),
           "--max-position", str(GRID["max_position"])]

# The tutorial's gridtrading(), with its constants turned into hftctl mm's parameters (prices as
# fractions of mid, and never inside the best bid/ask, as hftctl mm quotes). Run in a child
# process so its import and JIT time can be measured whole.
NUMBA_EXAMPLE = r'''
import sys, time, json
t_start = time.perf_counter()
import numpy as np
from numba import njit, uint64
from numba.typed import Dict
from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest, Recorder, BUY, SELL, GTX, LIMIT

@njit
def gridtrading(hbt, recorder, grid_num, max_position, order_qty, half_spread, grid_interval):
    asset_no = 0
    tick_size = hbt.depth(asset_no).tick_size
    while hbt.elapse(100_000_000) == 0:
        hbt.clear_inactive_orders(asset_no)
        depth = hbt.depth(asset_no)
        position = hbt.position(asset_no)
        orders = hbt.orders(asset_no)
        best_bid = depth.best_bid
        best_ask = depth.best_ask
        mid_price = (best_bid + best_ask) / 2.0
        step = max(round(grid_interval * mid_price / tick_size), 1) * tick_size
        bid_price = np.floor(min(mid_price * (1 - half_spread), best_bid) / step) * step
        ask_price = np.ceil(max(mid_price * (1 + half_spread), best_ask) / step) * step
        new_bid_orders = Dict.empty(np.uint64, np.float64)
        if position < max_position and np.isfinite(bid_price):
            for i in range(grid_num):
                new_bid_orders[uint64(round(bid_price / tick_size))] = bid_price
                bid_price -= step
        new_ask_orders = Dict.empty(np.uint64, np.float64)
        if position > -max_position and np.isfinite(ask_price):
            for i in range(grid_num):
                new_ask_orders[uint64(round(ask_price / tick_size))] = ask_price
                ask_price += step
        order_values = orders.values()
        while order_values.has_next():
            order = order_values.get()
            if order.cancellable:
                if ((order.side == BUY and order.order_id not in new_bid_orders)
                        or (order.side == SELL and order.order_id not in new_ask_orders)):
                    hbt.cancel(asset_no, order.order_id, False)
        for order_id, order_price in new_bid_orders.items():
            if order_id not in orders:
                hbt.submit_buy_order(asset_no, order_id, order_price, order_qty, GTX, LIMIT, False)
        for order_id, order_price in new_ask_orders.items():
            if order_id not in orders:
                hbt.submit_sell_order(asset_no, order_id, order_price, order_qty, GTX, LIMIT, False)
        recorder.record(hbt)
    return True

def make(data):
    asset = (BacktestAsset().data(data).linear_asset(1.0)
             .constant_order_latency(10_000_000, 10_000_000)
             .risk_adverse_queue_model().no_partial_fill_exchange()
             .trading_value_fee_model(0.0002, 0.0005).tick_size(0.1).lot_size(0.001))
    return HashMapMarketDepthBacktest([asset])

path, repeat, g = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
args = (g["grid_num"], g["max_position"], g["order_qty"], g["half_spread"], g["grid_interval"])

def run(data):
    hbt = make(data)
    rec = Recorder(1, 1_000_000)
    t = time.perf_counter()
    gridtrading(hbt, rec.recorder, *args)
    dt = time.perf_counter() - t
    trades = hbt.state_values(0).num_trades
    hbt.close()
    return dt, trades

cold, trades = run([path])                 # as the tutorial: hftbacktest reads the file
first_process_s = time.perf_counter() - t_start
files = [run([path])[0] for _ in range(repeat)]
rows = np.load(path)["data"]               # loaded before timing, as hftctl's wall_s excludes it
memory = [run(rows)[0] for _ in range(repeat)]
print(json.dumps({"cold_s": cold, "file_s": files, "warm_s": memory, "trades": trades,
                  "first_process_s": first_process_s}))
'''


def hftctl(*args: str) -> tuple[float, dict]:
    """Run ``hftctl ARGS --json``; (whole-process wall seconds, its report)."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "hftctl", *args, "--json"], capture_output=True,
                       text=True, cwd=ROOT)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"hftctl {' '.join(args)} failed: {r.stderr.strip()}")
    return dt, json.loads(r.stdout)


def runs(repeat: int, *args: str) -> tuple[float, float, dict]:
    """Median whole-process and replay seconds of ``repeat`` runs, and the last report."""
    procs, walls, rep = [], [], {}
    for _ in range(repeat):
        dt, rep = hftctl(*args)
        procs.append(dt)
        walls.append(rep["wall_s"])
    return statistics.median(procs), statistics.median(walls), rep


def has_option(command: str, option: str) -> bool:
    r = subprocess.run([sys.executable, "-m", "hftctl", command, "--help"], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    return option in r.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.data.is_file():
        print(f"error: data not found: {args.data}", file=sys.stderr)
        return 1
    import numpy as np
    with np.load(args.data) as z:
        rows = len(z["data"])
    data = str(args.data)
    print(f"data: {args.data.name}, {rows:,} rows; load average {os.getloadavg()[0]:.2f}")

    # Baseline: hftbacktest's numba example, in its own process.
    r = subprocess.run([sys.executable, "-c", NUMBA_EXAMPLE, data, str(args.repeat), json.dumps(GRID)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("hftbacktest (with numba) not importable: no baseline (pip install 'hftctl[backtest]')\n"
              + r.stderr.strip()[-500:], file=sys.stderr)
        return 1
    base = json.loads(r.stdout)
    warm, file_warm = statistics.median(base["warm_s"]), statistics.median(base["file_s"])
    base_eps = rows / warm
    print(f"{'baseline: hftbacktest numba grid example':<40} {warm:7.3f} s  {base_eps:12,.0f} events/s  "
          f"(warm, rows in memory; {base['trades']} fills)")
    print(f"{'  JIT compile (apart)':<40} {base['cold_s'] - file_warm:7.3f} s")
    print(f"{'  rows read from the file by hftbacktest':<40} {file_warm:7.3f} s  {rows / file_warm:12,.0f} events/s")
    print(f"{'  whole process (import + JIT + run)':<40} {base['first_process_s']:7.3f} s")

    cases = [("mm", "hftctl mm --backtest", ["mm", "--backtest", data, *MM_ARGS])]
    if has_option("mm", "--engine"):
        cases.append(("mm-builtin", "hftctl mm --backtest --engine builtin",
                      ["mm", "--backtest", data, *MM_ARGS, "--engine", "builtin"]))
    cases.append(("obi", "hftctl obi-mm --backtest", ["obi-mm", "--backtest", data]))
    for key, label, cmd in cases:
        proc, wall, rep = runs(args.repeat, *cmd)
        eps = rows / wall
        print(f"{label:<40} {wall:7.3f} s  {eps:12,.0f} events/s  ({rep.get('engine', '?')}; "
              f"{rep['trades']} fills)  ratio to baseline {eps / base_eps:.3f}"
              + ("  [target >= 0.5]" if key == "mm" else ""))
        if key == "mm":
            print(f"{'  whole process':<40} {proc:7.3f} s  ratio baseline/hftctl "
                  f"{base['first_process_s'] / proc:.3f}  (>1: hftctl finishes first)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
