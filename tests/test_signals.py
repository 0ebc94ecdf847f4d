"""Each market-maker signal against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from hftctl.book import OrderBook
from hftctl.strategies.signals import (RollingStd, RollingZScore, StopLoss, obi_quote_prices,
                                       order_book_imbalance, reservation_price, volatility_ratio)


def test_obi_counts_levels_inside_looking_depth_only():
    # tick 1, bid 99 / ask 101 -> mid 100; looking_depth 0.03 -> asks [101, floor(103)=103) i.e.
    # 101, 102; bids (ceil(97)=97, 99] i.e. 99, 98.
    b = OrderBook(1.0)
    b.apply_snapshot([(99, 2.0), (98, 3.0), (97, 50.0), (90, 100.0)],
                     [(101, 1.0), (102, 1.5), (103, 40.0), (110, 100.0)])
    assert order_book_imbalance(b, 0.03) == pytest.approx((2.0 + 3.0) - (1.0 + 1.5))
    # deeper: asks up to floor(105) exclusive -> 101..104; bids down to ceil(95) exclusive -> 96..99
    assert order_book_imbalance(b, 0.05) == pytest.approx((2 + 3 + 50) - (1 + 1.5 + 40))


def test_obi_nan_on_one_sided_book():
    b = OrderBook(0.1)
    b.apply_snapshot([(100.0, 1.0)], [])
    assert math.isnan(order_book_imbalance(b, 0.001))


def test_rolling_std_population_and_window():
    r = RollingStd(3)
    for x in (1.0, 2.0, 3.0):
        r.update(x)
    assert r.mean == pytest.approx(2.0)
    assert r.std == pytest.approx(math.sqrt(2 / 3))          # population std of 1,2,3
    r.update(7.0)                                            # window now 2,3,7
    assert r.count == 3
    assert r.mean == pytest.approx(4.0)
    assert r.std == pytest.approx(math.sqrt((4 + 1 + 9) / 3))


def test_zscore_includes_current_value_and_guards_zero_std():
    z = RollingZScore(4)
    assert z.update(5.0) == 0.0                  # single sample: std 0 -> alpha 0
    assert z.update(5.0) == 0.0
    # window 5,5,11: mean 7, var = (4+4+16)/3 = 8 -> z = (11-7)/sqrt(8)
    assert z.update(11.0) == pytest.approx(4 / math.sqrt(8))
    z.update(1.0)                                 # 5,5,11,1
    # window 5,11,1,3: mean 5, var = (0+36+16+4)/4 = 14 -> z = (3-5)/sqrt(14)
    assert z.update(3.0) == pytest.approx(-2 / math.sqrt(14))


def test_rolling_std_stays_exact_over_many_updates():
    r = RollingStd(10)
    for k in range(10_000):
        r.update(1e6 + (k % 10))
    vals = [1e6 + k for k in range(10)]
    m = sum(vals) / 10
    assert r.std == pytest.approx(math.sqrt(sum((v - m) ** 2 for v in vals) / 10), rel=1e-9)


def test_volatility_ratio():
    assert volatility_ratio(0.01, 0.005, 1.0) == pytest.approx(2.0)
    assert volatility_ratio(0.01, 0.005, 2.0) == pytest.approx(4.0)
    assert volatility_ratio(0.0025, 0.005, 0.5) == pytest.approx(math.sqrt(0.5))


def test_skew_moves_reservation_against_position():
    # fair 100, long 3 lots of 0.5 (pos 1.5), skew 0.01 -> 100 - 0.01 * 3 * 100 = 97
    assert reservation_price(100.0, 1.5, 0.5, 0.01, 100.0) == pytest.approx(97.0)
    assert reservation_price(100.0, -1.0, 0.5, 0.01, 100.0) == pytest.approx(102.0)
    assert reservation_price(100.0, 0.0, 0.5, 0.01, 100.0) == pytest.approx(100.0)


def test_obi_quote_prices_by_hand():
    # mid 1000, alpha 2, c1 0.001 -> fair 1002; flat; half spread 0.001 * ratio 1.5 = 1.5
    # -> 1000.5 / 1003.5; bid capped at best bid 999.9 -> 999.9; ask 1003.5 on the 0.1 grid.
    bid, ask = obi_quote_prices(mid=1000.0, best_bid=999.9, best_ask=1000.1, alpha=2.0, c1=0.001,
                                half_spread=0.001, vol_ratio=1.5, skew=0.0, position=0.0,
                                order_qty=1.0, tick_size=0.1)
    assert bid == pytest.approx(999.9)
    assert ask == pytest.approx(1003.5)
    # alpha -3 -> fair 997; half spread 1 -> 996 / 998 -> ask raised to best ask 1000.1
    bid, ask = obi_quote_prices(mid=1000.0, best_bid=999.9, best_ask=1000.1, alpha=-3.0, c1=0.001,
                                half_spread=0.001, vol_ratio=1.0, skew=0.0, position=0.0,
                                order_qty=1.0, tick_size=0.1)
    assert bid == pytest.approx(996.0)
    assert ask == pytest.approx(1000.1)
    # rounding: bid floors, ask ceils to the tick
    bid, ask = obi_quote_prices(mid=1000.0, best_bid=1000.0, best_ask=1000.0, alpha=0.0, c1=0.0,
                                half_spread=0.00012, vol_ratio=1.0, skew=0.0, position=0.0,
                                order_qty=1.0, tick_size=0.1)
    assert bid == pytest.approx(999.8)    # 999.88 -> 999.8
    assert ask == pytest.approx(1000.2)   # 1000.12 -> 1000.2


def test_stop_loss_trigger():
    sl = StopLoss(volatility_mean=0.005, volatility_std=0.002, change_mean=0.001, change_std=0.003,
                  volatility_threshold=3.0, change_threshold=3.0)
    assert sl.volatility_z(0.011) == pytest.approx(3.0)
    assert not sl.triggered(0.011, 0.0)                 # z exactly 3 is not beyond the threshold
    assert sl.triggered(0.0111, 0.0)                    # vol z 3.05
    assert sl.change_z(-0.008) == pytest.approx(3.0)
    assert sl.triggered(0.005, -0.0081)                 # |(-0.0081 - 0.001)| / 0.003 = 3.03
    assert sl.triggered(0.005, 0.0101)                  # (0.0101 - 0.001) / 0.003 = 3.03
    assert not sl.triggered(0.005, 0.001)
    off = StopLoss(0.005, 0.0, 0.0, 0.0, 3.0, 3.0)     # zero std disables a check
    assert not off.triggered(1.0, 1.0)
