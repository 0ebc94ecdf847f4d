"""OrderBook: snapshot, diffs, deletes, crossing, best tracking, range and band queries."""

from __future__ import annotations

import math
import random

import pytest

from hftctl.book import NO_ASK, NO_BID, OrderBook
from hftctl.errors import HftctlError


def make_book() -> OrderBook:
    b = OrderBook(0.1, 0.001)
    b.apply_snapshot([(100.0, 1.0), (99.9, 2.0), (99.5, 3.0)],
                     [(100.1, 1.5), (100.3, 2.5), (101.0, 4.0)])
    return b


def test_snapshot_best_and_mid():
    b = make_book()
    assert b.best_bid_tick == 1000 and b.best_ask_tick == 1001
    assert b.best_bid == 100.0 and b.best_ask == 100.1
    assert b.best_bid_qty == 1.0 and b.best_ask_qty == 1.5
    assert b.mid == pytest.approx(100.05)
    assert b.spread_ticks == 1
    assert b.ready


def test_float_prices_map_to_same_tick():
    b = OrderBook(0.1)
    b.update_bid(0.1 * 3, 1.0)       # 0.30000000000000004
    b.update_bid(0.3, 2.0)
    assert b.bids == {3: 2.0}
    assert b.best_bid == 0.3


def test_diff_updates_and_deletes_best():
    b = make_book()
    b.apply_diff([(100.0, 0.0)], [(100.1, 0.0)])
    assert b.best_bid == 99.9 and b.best_ask == 100.3
    b.apply_diff([(99.9, 0)], [])
    assert b.best_bid == 99.5
    b.apply_diff([(100.05 - 0.05, 7.0)], [(100.2, 1.0)])   # re-add at 100.0, new ask 100.2
    assert b.best_bid == 100.0 and b.best_bid_qty == 7.0 and b.best_ask == 100.2
    # deleting a level that is not present changes nothing
    b.apply_diff([(50.0, 0.0)], [(500.0, 0.0)])
    assert b.best_bid == 100.0 and b.best_ask == 100.2


def test_delete_best_far_from_next_level_falls_back_to_scan():
    b = OrderBook(0.1)
    b.apply_snapshot([(100.0, 1.0), (10.0, 1.0)], [(100.1, 1.0), (1000.0, 1.0)])
    b.update_bid(100.0, 0)
    b.update_ask(100.1, 0)
    assert b.best_bid == 10.0 and b.best_ask == 1000.0
    b.update_bid(10.0, 0)
    b.update_ask(1000.0, 0)
    assert b.best_bid_tick == NO_BID and b.best_ask_tick == NO_ASK
    assert math.isnan(b.best_bid) and math.isnan(b.best_ask) and math.isnan(b.mid)
    assert not b.ready
    with pytest.raises(HftctlError):
        _ = b.spread_ticks


def test_crossing_bid_removes_crossed_asks():
    b = make_book()
    b.update_bid(100.3, 0.5)
    assert b.best_bid == 100.3
    assert b.best_ask == 101.0
    assert 1001 not in b.asks and 1003 not in b.asks
    b.update_ask(99.9, 0.2)
    assert b.best_ask == 99.9
    assert b.best_bid == 99.5
    assert set(b.bids) == {995}


def test_clear_sides():
    b = make_book()
    b.clear(1)
    assert not b.has_bid and b.has_ask
    b = make_book()
    b.clear(-1)
    assert b.has_bid and not b.has_ask
    b.clear()
    assert not b.bids and not b.asks and not b.ready


def test_levels_and_depth_queries():
    b = make_book()
    assert b.bid_levels() == [(100.0, 1.0), (99.9, 2.0), (99.5, 3.0)]
    assert b.ask_levels(2) == [(100.1, 1.5), (100.3, 2.5)]
    assert b.bid_qty(99.9) == 2.0 and b.ask_qty(100.2) == 0.0
    assert b.bid_qty_at_tick(995) == 3.0 and b.ask_qty_at_tick(1010) == 4.0
    assert b.levels_in_range(1, 99.5, 99.9) == [(99.9, 2.0), (99.5, 3.0)]
    assert b.levels_in_range(-1, 100.2, 101.0) == [(100.3, 2.5), (101.0, 4.0)]
    assert b.levels_in_range(-1, 102.0, 103.0) == []


def test_qty_in_band_inclusive_both_paths():
    b = make_book()
    assert b.qty_in_band(1, 99.5, 100.0) == pytest.approx(6.0)
    assert b.qty_in_band(1, 99.6, 100.0) == pytest.approx(3.0)
    assert b.qty_in_band(-1, 100.0, 100.3) == pytest.approx(4.0)
    assert b.qty_in_band(-1, 100.4, 100.2) == 0.0
    # A wide band (more ticks than levels) takes the scan path; same answer.
    assert b.qty_in_band(-1, 0.0, 10_000.0) == pytest.approx(8.0)
    assert b.qty_in_band(1, 0.0, 10_000.0) == pytest.approx(6.0)


def test_random_updates_match_bruteforce():
    rng = random.Random(7)
    b = OrderBook(0.5)
    ref_b: dict[int, float] = {}
    ref_a: dict[int, float] = {}
    for _ in range(5000):
        tick = rng.randint(150, 250)
        qty = rng.choice([0.0, 0.0, rng.random()])
        # keep the reference uncrossed the same way the book does
        if tick < 200:
            b.update_bid_tick(tick, qty)
            if qty > 0:
                ref_b[tick] = qty
            else:
                ref_b.pop(tick, None)
        else:
            b.update_ask_tick(tick, qty)
            if qty > 0:
                ref_a[tick] = qty
            else:
                ref_a.pop(tick, None)
        assert b.best_bid_tick == (max(ref_b) if ref_b else NO_BID)
        assert b.best_ask_tick == (min(ref_a) if ref_a else NO_ASK)
    assert b.bids == ref_b and b.asks == ref_a


def test_bad_tick_size_is_user_error():
    with pytest.raises(HftctlError):
        OrderBook(0.0)
    with pytest.raises(HftctlError):
        OrderBook(float("nan"))
    with pytest.raises(HftctlError):
        OrderBook(0.1, -1.0)


def test_qty_between_ticks():
    b = make_book()
    assert b.qty_between_ticks(1, 995, 999) == pytest.approx(5.0)
    assert b.qty_between_ticks(-1, 1001, 1002) == pytest.approx(1.5)
    assert b.qty_between_ticks(-1, 1003, 1001) == 0.0
    assert OrderBook(0.1).qty_between_ticks(1, 0, 10) == 0.0


def test_prices_are_clean_decimals():
    b = OrderBook(0.1)
    assert b.to_price(600006) == 60000.6
    assert repr(b.to_price(600006)) == "60000.6"
    assert OrderBook(0.0001).to_price(12345) == 1.2345
    assert OrderBook(5.0).to_price(3) == 15.0
