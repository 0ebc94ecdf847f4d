"""The same grid strategy on our backtest and on hftbacktest's engine agrees within tolerance.

Skipped when hftbacktest (the optional ``bench`` extra) is not installed. Tolerance (docs/bots.md):
fill counts and traded volume within 35% (+2 fills), net PnL within 5 bp of the larger traded
value. The engines differ by design: hftbacktest's risk-averse queue model also fills once the
quantity ahead at our price has traded, and its exchange runs on exchange timestamps, while ours
fills only on trade-through/cross and judges orders on the bot's (local) feed.
"""

from __future__ import annotations

from pathlib import Path

from hftctl.bot.backtest import BacktestBot
from hftctl.bot.matching import ExecutionModel
from hftctl.bot.report import build_report
from hftctl.bot.types import Instrument
from hftctl.strategies.grid_mm import GridConfig, GridMarketMaker
from tests.conftest import import_hftbacktest

import_hftbacktest("hftbacktest")

from hftctl.bot.hbt_engine import HbtBot  # noqa: E402  (needs hftbacktest)


def test_grid_mm_agrees_with_hftbacktest(shared_data: Path):
    data = shared_data / "reference" / "usdm_btcusdt_20240808.npz"
    inst = Instrument("btcusdt", 0.1, 0.001)
    model = ExecutionModel(entry_latency_ns=10_000_000, response_latency_ns=10_000_000,
                           maker_fee=0.0002, taker_fee=0.0005)
    cfg = GridConfig(half_spread=0.0001, grid_interval=0.00005, grid_num=5, order_qty=0.001,
                     max_position=0.01, interval_ms=250)
    duration = 90 * 1_000_000_000

    ours = BacktestBot(data, inst, model, duration_ns=duration)
    GridMarketMaker(ours, cfg, out=lambda _l: None).run()
    r = build_report(ours)

    theirs = HbtBot(data, inst, model, duration_ns=duration)
    GridMarketMaker(theirs, cfg, out=lambda _l: None).run()
    st = theirs.state()
    their_pnl = st["balance"] + st["position"] * theirs.depth().mid - st["fee"]
    theirs.close()

    assert r.trades > 5 and st["trades"] > 5, (r, st)
    assert abs(r.trades - st["trades"]) <= 0.35 * max(r.trades, st["trades"]) + 2, (r, st)
    assert abs(r.volume - st["volume"]) <= 0.35 * max(r.volume, st["volume"]) + 0.002, (r, st)
    assert abs(r.pnl - their_pnl) <= 0.0005 * max(r.traded_value, st["value"]), (r.pnl, their_pnl)
    assert abs(r.position) <= 0.01 + 1e-9 and abs(st["position"]) <= 0.01 + 1e-9
