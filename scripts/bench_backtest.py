#!/usr/bin/env python3
"""Backtest speed: events/s of hftctl's backtest, with hftbacktest's engine as the baseline.

Usage: scripts/bench_backtest.py [--data FILE.npz] [--repeat 3]

Events/s counts every row of the .npz (the same numerator for both engines) over wall time of
the replay (loading excluded, median of --repeat runs). Cases:
  replay  - no strategy, elapse in 1 s steps to the end of the data
  grid    - hftctl mm's grid strategy every 100 ms (guide parameters, tighter spread)
  obi     - hftctl obi-mm with configs/obi_mm.toml
hftbacktest baseline (if importable): the same replay from a numba @njit loop (compiled before
timing), i.e. hftbacktest at its native speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hftctl.bot.backtest import BacktestBot, load_events  # noqa: E402
from hftctl.bot.matching import ExecutionModel  # noqa: E402
from hftctl.bot.types import Instrument  # noqa: E402
from hftctl.strategies.grid_mm import GridConfig, GridMarketMaker  # noqa: E402
from hftctl.strategies.obi_mm import ObiMarketMaker, load_obi_config  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "reference" / "usdm_btcusdt_20240808.npz"
INST = Instrument("btcusdt", 0.1, 0.001)
MODEL = ExecutionModel()


def time_ours(data, case: str) -> float:
    bot = BacktestBot(data, INST, MODEL)
    if case == "grid":
        s = GridMarketMaker(bot, GridConfig(half_spread=0.0001, grid_interval=0.00005), out=lambda _l: None)
    elif case == "obi":
        s = ObiMarketMaker(bot, load_obi_config(ROOT / "configs" / "obi_mm.toml"), out=lambda _l: None)
    else:
        s = None
    t = time.perf_counter()
    if s is None:
        while bot.elapse(1_000_000_000):
            pass
    else:
        s.run()
    return time.perf_counter() - t


def time_hftbacktest(path: Path) -> float | None:
    try:
        from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest
        from numba import njit
    except ImportError:
        return None

    @njit
    def replay(hbt):
        while hbt.elapse(1_000_000_000) == 0:
            pass
        return True

    def make():
        asset = (BacktestAsset().data([str(path)]).linear_asset(1.0)
                 .constant_order_latency(MODEL.entry_latency_ns, MODEL.response_latency_ns)
                 .risk_adverse_queue_model().no_partial_fill_exchange()
                 .trading_value_fee_model(MODEL.maker_fee, MODEL.taker_fee)
                 .tick_size(INST.tick_size).lot_size(INST.lot_size))
        return HashMapMarketDepthBacktest([asset])

    hbt = make()
    replay(hbt)            # compile
    hbt.close()
    hbt = make()
    t = time.perf_counter()
    replay(hbt)
    dt = time.perf_counter() - t
    hbt.close()
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.data.is_file():
        print(f"error: data not found: {args.data}", file=sys.stderr)
        return 1
    data = load_events(args.data)
    rows = len(data)
    print(f"data: {args.data.name}, {rows} rows")
    results: dict[str, float] = {}
    for case in ("replay", "grid", "obi"):
        dt = statistics.median(time_ours(data, case) for _ in range(args.repeat))
        results[case] = rows / dt
        print(f"hftctl  {case:<7} {dt:7.3f} s  {rows / dt:12,.0f} events/s")
    base = [t for t in (time_hftbacktest(args.data) for _ in range(args.repeat)) if t is not None]
    if base:
        dt = statistics.median(base)
        hb = rows / dt
        print(f"hftbacktest replay {dt:7.3f} s  {hb:12,.0f} events/s  (numba @njit, baseline)")
        for case, eps in results.items():
            print(f"ratio hftctl {case} / hftbacktest replay: {eps / hb:.3f}")
    else:
        print("hftbacktest not installed: no baseline (pip install 'hftctl[bench]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
