"""Backtest back-end: the fill/latency/fee model on hand-made events, then real data via the CLI."""

from __future__ import annotations

import json
from dataclasses import asdict
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hftctl.bot.backtest import (BUY_EVENT, DEPTH_CLEAR_EVENT, DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT,
                                 EXCH_EVENT, LOCAL_EVENT, SELL_EVENT, TRADE_EVENT, BacktestBot)
from hftctl.bot.matching import ExecutionModel
from hftctl.bot.report import build_report, max_drawdown
from hftctl.bot.types import GTC, GTX, IOC, MARKET, Instrument
from hftctl.errors import HftctlError
from hftctl.strategies.grid_mm import GridConfig, GridMarketMaker

DTYPE = [("ev", "<u8"), ("exch_ts", "<i8"), ("local_ts", "<i8"), ("px", "<f8"), ("qty", "<f8"),
         ("order_id", "<u8"), ("ival", "<i8"), ("fval", "<f8")]
MS = 1_000_000
T0 = 1_700_000_000_000_000_000
INST = Instrument("btcusdt", 0.1, 0.001)
MODEL = ExecutionModel(entry_latency_ns=10 * MS, response_latency_ns=10 * MS, maker_fee=0.0002, taker_fee=0.0005)


def events(rows: list[tuple[int, int, float, float]]) -> np.ndarray:
    """rows of (ms after T0, ev flags, px, qty); all visible locally and at the exchange."""
    a = np.zeros(len(rows), dtype=DTYPE)
    for k, (ms, ev, px, qty) in enumerate(rows):
        a[k] = (ev | EXCH_EVENT | LOCAL_EVENT, T0 + ms * MS - 1000, T0 + ms * MS, px, qty, 0, 0, 0.0)
    return a


def base_book() -> list[tuple[int, int, float, float]]:
    return [
        (0, DEPTH_CLEAR_EVENT | BUY_EVENT, 0.0, 0.0),
        (0, DEPTH_CLEAR_EVENT | SELL_EVENT, 0.0, 0.0),
        (0, DEPTH_SNAPSHOT_EVENT | BUY_EVENT, 100.0, 1.0),
        (0, DEPTH_SNAPSHOT_EVENT | BUY_EVENT, 99.9, 2.0),
        (0, DEPTH_SNAPSHOT_EVENT | SELL_EVENT, 100.1, 1.0),
        (0, DEPTH_SNAPSHOT_EVENT | SELL_EVENT, 100.2, 2.0),
    ]


def test_resting_buy_fills_only_when_trade_prints_through_after_latency():
    data = events(base_book() + [
        (5, TRADE_EVENT | SELL_EVENT, 99.9, 0.5),     # before our order reaches the exchange
        (30, TRADE_EVENT | SELL_EVENT, 99.9, 0.5),    # at our price: no fill (we are last in queue)
        (50, TRADE_EVENT | SELL_EVENT, 99.8, 0.5),    # through our price: fill at 99.9
        (100, DEPTH_EVENT | BUY_EVENT, 99.9, 3.0),
    ])
    bot = BacktestBot(data, INST, MODEL)
    assert bot.elapse(1 * MS)
    assert bot.depth().best_bid == 100.0 and bot.depth().best_ask == 100.1
    o = bot.submit_buy_order(0, 7, 99.9, 0.002, GTX)
    assert o.req == "new" and not o.cancellable
    bot.elapse(25 * MS)                                 # t=26ms: ack arrived (t=1+10+10)
    assert o.status == "new" and o.req is None and o.exch_ts == T0 + 11 * MS
    bot.elapse(20 * MS)                                 # t=46: trade at 99.9 did not fill
    assert o.status == "new" and bot.position() == 0
    bot.elapse(10 * MS)                                 # t=56: fill at t=50 not yet known
    assert o.status == "new"
    bot.elapse(10 * MS)                                 # t=66: fill response delivered
    assert o.status == "filled" and o.exec_px == 99.9 and o.cum_qty == pytest.approx(0.002)
    acc = bot.account()
    assert acc.position == pytest.approx(0.002)
    assert acc.balance == pytest.approx(-99.9 * 0.002)
    assert acc.fee == pytest.approx(99.9 * 0.002 * 0.0002)
    assert acc.num_trades == 1
    bot.clear_inactive_orders()
    assert 7 not in bot.orders()


def test_resting_sell_fills_when_market_crosses_it():
    data = events(base_book() + [
        (40, DEPTH_EVENT | BUY_EVENT, 100.3, 1.0),    # bid jumps above our ask 100.2
    ])
    bot = BacktestBot(data, INST, MODEL)
    bot.elapse(1 * MS)
    o = bot.submit_sell_order(0, 1, 100.2, 0.001)
    bot.elapse(100 * MS)
    assert o.status == "filled" and o.exec_px == pytest.approx(100.2)
    assert bot.position() == pytest.approx(-0.001)
    # the crossing bid removed asks at or below it from the book
    assert bot.depth().best_ask_tick > bot.depth().to_tick(100.3)


def test_post_only_that_would_cross_expires_and_taker_orders_pay_taker_fee():
    bot = BacktestBot(events(base_book() + [(500, DEPTH_EVENT | BUY_EVENT, 99.0, 1.0)]), INST, MODEL)
    bot.elapse(1 * MS)
    gtx = bot.submit_buy_order(0, 1, 100.1, 0.001, GTX)
    mkt = bot.submit_buy_order(0, 2, 100.0, 0.003, IOC, MARKET)
    gtc = bot.submit_sell_order(0, 3, 99.0, 0.001, GTC)         # crosses: takes the best bid
    ioc = bot.submit_sell_order(0, 4, 101.0, 0.001, IOC)        # nothing to take
    bot.elapse(30 * MS)
    assert gtx.status == "expired"
    assert mkt.status == "filled" and mkt.exec_px == pytest.approx(100.1)
    assert gtc.status == "filled" and gtc.exec_px == pytest.approx(100.0)
    assert ioc.status == "expired"
    acc = bot.account()
    assert acc.position == pytest.approx(0.002)
    assert acc.fee == pytest.approx((100.1 * 0.003 + 100.0 * 0.001) * 0.0005)


def test_cancel_and_modify_round_trip():
    bot = BacktestBot(events(base_book() + [(500, TRADE_EVENT | SELL_EVENT, 99.0, 1.0)]), INST, MODEL)
    bot.elapse(1 * MS)
    a = bot.submit_buy_order(0, 1, 99.5, 0.001)
    b = bot.submit_buy_order(0, 2, 99.6, 0.001)
    assert not bot.cancel(0, 1)                  # not cancellable before the ack
    bot.elapse(30 * MS)
    assert bot.cancel(0, 1)
    assert bot.modify(0, 2, 98.0, 0.002)
    bot.elapse(30 * MS)
    assert a.status == "canceled"
    assert b.status == "new" and b.px == pytest.approx(98.0) and b.leaves_qty == pytest.approx(0.002)
    bot.elapse(1000 * MS)                        # the trade at 99.0 does not reach 98.0
    assert b.status == "new" and bot.position() == 0
    assert bot.open_orders() == 1


def test_end_of_data_and_wait_next():
    bot = BacktestBot(events(base_book() + [(10, TRADE_EVENT | BUY_EVENT, 100.1, 1.0)]), INST, MODEL)
    assert bot.wait_next(1_000 * MS)             # wakes at the first event
    assert bot.current_timestamp == T0
    assert bot.wait_next(1_000 * MS)
    assert bot.current_timestamp == T0 + 10 * MS
    assert len(bot.last_trades()) == 1 and bot.last_trades()[0].px == 100.1
    bot.clear_last_trades()
    assert not bot.last_trades()
    assert not bot.elapse(1_000 * MS)            # data exhausted


def test_max_drawdown():
    assert max_drawdown([0, 5, 3, 6, 1, 2]) == 5
    assert max_drawdown([0, 1, 2]) == 0
    assert max_drawdown([]) == 0


def test_bad_backtest_inputs_are_clear_errors(tmp_path: Path):
    with pytest.raises(HftctlError, match="not found"):
        BacktestBot(tmp_path / "missing.npz", INST)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(HftctlError, match="not a readable"):
        BacktestBot(bad, INST)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, data=np.zeros(3, dtype=[("a", "<i8")]))
    with pytest.raises(HftctlError, match="missing fields"):
        BacktestBot(wrong, INST)


# --- real data through the CLI ---------------------------------------------------------------

REFERENCE = "reference/usdm_btcusdt_20240808.npz"


def hftctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_mm_backtest_prints_metrics_and_writes_png(shared_data: Path, tmp_path: Path):
    png = tmp_path / "mm.png"
    r = hftctl("mm", "--backtest", str(shared_data / REFERENCE), "--duration", "120",
               "--half-spread", "0.0001", "--grid-interval", "0.00005", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    for label in ("PnL (net of fees):", "Position:", "Trades:", "Fees:", "Max drawdown:"):
        assert label in r.stdout
    assert "Simple Market Making Strategy" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_backtest_json_is_consistent_and_respects_max_position(shared_data: Path):
    r = hftctl("mm", "--backtest", str(shared_data / REFERENCE), "--duration", "120", "--json",
               "--half-spread", "0.0001", "--grid-interval", "0.00005", "--max-position", "0.004")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["trades"] > 0 and rep["events"] > 100_000
    assert rep["pnl"] == pytest.approx(rep["gross_pnl"] - rep["fees"])
    assert rep["fees"] == pytest.approx(rep["traded_value"] * 0.0002, rel=1e-6)   # all maker fills
    assert abs(rep["position"]) <= 0.004 + 1e-9
    assert rep["max_drawdown"] >= 0


def test_obi_backtest_runs_guide_config(shared_data: Path, tmp_path: Path):
    png = tmp_path / "obi.png"
    r = hftctl("obi-mm", "--backtest", str(shared_data / REFERENCE), "--plot", str(png), "--json",
               "--duration", "200")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["trades"] > 0
    assert abs(rep["position"]) <= 0.02 + 1e-9
    assert png.exists()


def test_obi_position_stays_within_max_position_in_process(shared_data: Path):
    from hftctl.strategies.obi_mm import ObiMarketMaker, load_obi_config
    cfg = load_obi_config(Path(__file__).parent.parent / "configs" / "obi_mm.toml")
    cfg.params.update_interval_ns = 1_000_000_000
    cfg.params.volatility_interval_ns = 10_000_000_000
    cfg.params.volatility_window = 6
    cfg.glob.max_position = 0.004
    bot = BacktestBot(shared_data / REFERENCE, INST, MODEL, duration_ns=150 * 1_000_000_000)
    s = ObiMarketMaker(bot, cfg, out=lambda _l: None)
    worst = 0.0
    while bot.elapse(1_000_000_000):
        s.step()
        worst = max(worst, abs(bot.position()))
    assert s.iteration > 100
    assert worst <= 0.004 + 1e-9
    assert build_report(bot).trades > 0


@pytest.mark.parametrize("args, message", [
    (["mm", "--backtest", "/nonexistent/x.npz"], "backtest data not found"),
    (["mm", "--config", "/nonexistent/mm.toml", "--backtest", "x.npz"], "config file not found"),
    (["mm", "--grid-num", "0", "--backtest", "x.npz"], "grid_num must be positive"),
    (["mm", "--dry-run", "--backtest", "x.npz"], "exclusive"),
    (["obi-mm", "--plot", "x.png"], "--plot only applies"),
    (["obi-mm", "--connector", "nosuchconnector", "--dry-run", "--connect-timeout", "0.2"], "nosuchconnector"),
])
def test_cli_errors_are_one_line(args: list[str], message: str):
    r = hftctl(*args, timeout=60)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert message in r.stderr


def test_obi_config_errors(tmp_path: Path):
    from hftctl.strategies.obi_mm import load_obi_config
    good = (Path(__file__).parent.parent / "configs" / "obi_mm.toml").read_text()
    cases = {
        "missing.toml": (good.replace("window = 360", ""), "missing key window"),
        "typo.toml": (good.replace("skew = 0.01", "skw = 0.01"), "unknown key(s) skw"),
        "type.toml": (good.replace("grid_num = 3", 'grid_num = "three"'), "expected an integer"),
        "table.toml": (good.replace("[stop_loss]", "[stoploss]"), "unknown table"),
        "negative.toml": (good.replace("order_qty = 0.002", "order_qty = -1"), "order_qty must be positive"),
        "broken.toml": ("[global\norder_qty = ", "malformed TOML"),
    }
    for name, (text, message) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(HftctlError) as exc:
            load_obi_config(p)
        assert message in str(exc.value), (name, str(exc.value))
    # and through the CLI: one line, exit 1, no traceback
    r = hftctl("obi-mm", "--config", str(tmp_path / "typo.toml"), "--backtest", "x.npz", timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "unknown key(s) skw" in r.stderr


def test_start_obi_mm_script_passes_flags_through(shared_data: Path):
    script = Path(__file__).resolve().parent.parent / "scripts" / "start_obi_mm.sh"
    r = subprocess.run([str(script), "--symbol", "btcusdt", "--backtest", str(shared_data / REFERENCE),
                        "--duration", "30", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["symbol"] == "btcusdt"
    r = subprocess.run([str(script), "--config"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--config needs a value" in r.stderr
    r = subprocess.run([str(script), "--config", "/nonexistent.toml", "--dry-run"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "config file not found" in r.stderr and "Traceback" not in r.stderr


def test_backtest_on_hftctl_convert_output_matches_reference(shared_data: Path, tmp_path: Path):
    """The whole offline path: recording -> hftctl convert -> backtest of the grid MM."""
    npz = tmp_path / "btcusdt.npz"
    r = hftctl("convert", str(shared_data / "recordings" / "usdm" / "btcusdt_20240808.gz"), str(npz))
    assert r.returncode == 0, r.stderr
    from hftctl.bot.runner import run_backtest
    cfg = GridConfig(half_spread=0.0001, grid_interval=0.00005)
    reports = [run_backtest(lambda bot: GridMarketMaker(bot, cfg, out=lambda _l: None), path, INST,
                            duration_s=90, out=lambda _l: None)
               for path in (npz, shared_data / REFERENCE)]
    a, b = ({k: v for k, v in asdict(rep).items() if k != "wall_s"} for rep in reports)
    assert a["trades"] > 0
    assert a == b


def test_replayed_book_equals_order_book_fed_row_by_row(shared_data: Path):
    """The replay loop's inlined book updates agree with OrderBook's own methods."""
    from hftctl.book import OrderBook
    from hftctl.bot.backtest import load_events
    data = load_events(shared_data / REFERENCE)
    local = data[(data["ev"] & LOCAL_EVENT) != 0][:150_000]
    bot = BacktestBot(local, INST, MODEL)
    ref = OrderBook(0.1)
    checked = 0
    for row in local.tolist():
        ev, px, qty = row[0], row[3], row[4]
        kind, side = ev & 0xFF, 1 if ev & BUY_EVENT else -1
        if kind in (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT):
            (ref.update_bid if side > 0 else ref.update_ask)(px, qty)
        elif kind == DEPTH_CLEAR_EVENT:
            ref.clear(side)
    while bot.elapse(10_000_000_000):
        checked += 1
    book = bot.depth()
    assert checked > 5
    assert book.bids == ref.bids and book.asks == ref.asks
    assert (book.best_bid_tick, book.best_ask_tick) == (ref.best_bid_tick, ref.best_ask_tick)


def test_obi_stop_loss_flattens_position_on_a_price_jump():
    """A 3% jump is a change z-score of ~10: quotes are cancelled and the position closed."""
    from hftctl.strategies.obi_mm import GlobalConfig, ObiConfig, ObiMarketMaker, ParamsConfig
    from hftctl.strategies.signals import StopLoss
    rows = base_book()
    # trades through every bid price for 12 s: our bids fill, we get long
    for k in range(1, 13):
        rows.append((k * 1000, TRADE_EVENT | SELL_EVENT, 99.0, 1.0))
        rows.append((k * 1000 + 1, DEPTH_EVENT | BUY_EVENT, 100.0, 1.0))
    # the market jumps 3% up
    rows += [(15_000, DEPTH_EVENT | SELL_EVENT, 103.1, 1.0), (15_000, DEPTH_EVENT | BUY_EVENT, 103.0, 1.0),
             (15_000, DEPTH_EVENT | BUY_EVENT, 100.0, 0.0), (15_000, DEPTH_EVENT | BUY_EVENT, 99.9, 0.0),
             (15_000, DEPTH_EVENT | SELL_EVENT, 100.1, 0.0), (15_000, DEPTH_EVENT | SELL_EVENT, 100.2, 0.0)]
    rows += [(k * 1000, DEPTH_EVENT | BUY_EVENT, 103.0, 1.0 + k) for k in range(16, 40)]
    cfg = ObiConfig(
        GlobalConfig(order_qty=0.002, max_position=0.006, grid_num=1, grid_interval=0.1),
        ParamsConfig(looking_depth=0.01, window=10, half_spread=0.0, skew=0.0, c1=0.0, power=1.0,
                     live_seconds=0.0, update_interval_ns=1_000_000_000,
                     volatility_interval_ns=5_000_000_000, volatility_window=60),
        StopLoss(volatility_mean=0.005, volatility_std=0.002, change_mean=0.001, change_std=0.003,
                 volatility_threshold=3.0, change_threshold=3.0))
    lines: list[str] = []
    bot = BacktestBot(events(rows), INST, MODEL)
    s = ObiMarketMaker(bot, cfg, out=lines.append)
    long_before = 0.0
    while bot.elapse(1_000_000_000):
        s.step()
        if bot.current_timestamp < T0 + 15_000 * MS:
            long_before = bot.position()
    assert long_before == pytest.approx(0.006)          # filled up to max_position, not beyond
    assert s.stop_loss_count == 1 and any(l.startswith("STOP LOSS") for l in lines)
    assert bot.position() == pytest.approx(0.0)         # flattened by a market sell
    assert bot.account().fee > 0.006 * 103.0 * 0.0005 * 0.99   # the close paid the taker fee
    assert not s.stopped and any(o.active for o in bot.orders().values())   # calm again: quoting
