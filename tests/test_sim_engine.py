"""The sim's fill rule and accounting, driven in-process (the wire is covered by the other
test_sim_* files through a real process)."""

from __future__ import annotations

import pytest

from hftctl.exchanges.binance.futures.sim_instruments import SPECS
from hftctl.sim.accounts import Account
from hftctl.sim.engine import SimEngine
from hftctl.sim.errors import SimReject
from hftctl.sim.events import AccountEvent, OrderEvent
from hftctl.sim.faults import Faults

BTC = SPECS["BTCUSDT"]


@pytest.fixture
def eng():
    a = Account("a", "ka", "sa", {"USDT": 100_000.0})
    b = Account("b", "kb", "sb", {"USDT": 100_000.0})
    e = SimEngine({"BTCUSDT": BTC}, [a, b], Faults())
    # public book: bids 59999.0 .. 59995.0, asks 60001.0 .. 60005.0, 1.000 each
    e.books["BTCUSDT"].replace({BTC.ticks(f"{59999 - i}.0"): 1000 for i in range(5)},
                               {BTC.ticks(f"{60001 + i}.0"): 1000 for i in range(5)})
    e.events = []
    e.user_listeners.append(e.events.append)
    return e


def _acct(e, name):
    return next(a for a in e.accounts if a.name == name)


def _trades(e, order):
    return [ev for ev in e.events if isinstance(ev, OrderEvent) and ev.order is order and ev.exec_type == "trade"]


def test_market_order_sweeps_levels_as_taker_and_pays_taker_fee(eng):
    a = _acct(eng, "a")
    o = eng.place(a, "BTCUSDT", 1, "market", "gtc", 0, BTC.lots("1.5"))
    assert o.status == "filled"
    fills = _trades(eng, o)
    assert [(BTC.price_str(f.last_ticks), BTC.qty_str(f.last_lots), f.is_maker) for f in fills] == [
        ("60001.00", "1.000", False), ("60002.00", "0.500", False)]
    notional = 60001 * 1.0 + 60002 * 0.5
    assert a.balances["USDT"] == pytest.approx(100_000 - notional * a.taker_fee)
    assert a.positions["BTCUSDT"].lots == 1500
    assert a.positions["BTCUSDT"].entry_price == pytest.approx(notional / 1.5)
    # the public book is the market's: taking does not change it
    assert eng.books["BTCUSDT"].asks[BTC.ticks("60001")] == 1000


def test_resting_order_fills_when_a_trade_prints_through_it(eng):
    a = _acct(eng, "a")
    o = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59990"), BTC.lots("0.5"))
    eng.market_trade("BTCUSDT", "59990.10", "1.000", True)        # above a bid: no fill
    assert o.filled_lots == 0
    eng.market_trade("BTCUSDT", "59989.90", "0.200", True)        # through: fills up to the trade size
    assert (o.status, o.filled_lots) == ("partially_filled", 200)
    f = _trades(eng, o)[-1]
    assert f.is_maker and BTC.price_str(f.last_ticks) == "59990.00"
    eng.market_trade("BTCUSDT", "59980.00", "5.000", True)
    assert o.status == "filled" and o.order_id not in a.orders


def test_a_trade_at_the_orders_price_fills_it_only_past_the_queue_ahead(eng):
    """Joining 59999 (1.000 public there) puts 1.000 ahead: a 0.6 sell trade there fills
    nothing, the next 0.6 fills 0.2; a buy-aggressor trade at the price is not on its side."""
    a = _acct(eng, "a")
    o = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59999"), BTC.lots("0.5"))
    assert o.queue_ahead == 1000
    eng.market_trade("BTCUSDT", "59999.00", "0.600", False)       # buyer aggressor: hits asks, not us
    assert (o.filled_lots, o.queue_ahead) == (0, 1000)
    eng.market_trade("BTCUSDT", "59999.00", "0.600", True)
    assert (o.filled_lots, o.queue_ahead) == (0, 400)
    eng.market_trade("BTCUSDT", "59999.00", "0.600", True)
    assert (o.filled_lots, o.queue_ahead) == (200, 0)


def test_a_shrinking_level_moves_the_queue_up_and_user_orders_keep_time_priority(eng):
    a, b = _acct(eng, "a"), _acct(eng, "b")
    first = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59999"), BTC.lots("0.3"))
    second = eng.place(b, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59999"), BTC.lots("0.3"))
    eng.market_depth("BTCUSDT", [["59999.00", "0.100"]], [], 10, 11)   # 0.9 left the level
    assert (first.queue_ahead, second.queue_ahead) == (100, 100)
    eng.market_trade("BTCUSDT", "59999.00", "0.500", True)        # 0.1 public, 0.3 first, 0.1 second
    assert (first.filled_lots, second.filled_lots) == (300, 100)


@pytest.mark.parametrize("keep", [True, False])
def test_an_amend_keeps_its_place_only_when_the_exchange_says_so(eng, keep):
    """A quantity amend with keep_priority keeps the order ahead of one that joined later; without
    it the order goes behind it (and counts the public lots there again)."""
    a, b = _acct(eng, "a"), _acct(eng, "b")
    o = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59999"), BTC.lots("0.3"), client_id="q1")
    later = eng.place(b, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59999"), BTC.lots("0.3"))
    eng.market_trade("BTCUSDT", "59999.00", "0.400", True)        # the public queue moves: 0.6 ahead
    eng.modify(a, "BTCUSDT", None, "q1", 1, BTC.ticks("59999"), BTC.lots("0.2"), keep_priority=keep)
    assert (o.priority < later.priority) is keep
    assert o.queue_ahead == (600 if keep else 1000)
    eng.market_trade("BTCUSDT", "59999.00", "0.900", True)        # 0.6 public, then 0.3 to whoever is first
    assert (o.filled_lots, later.filled_lots) == ((200, 100) if keep else (0, 300))


def test_a_new_price_always_goes_to_the_back_of_the_level(eng):
    a, b = _acct(eng, "a"), _acct(eng, "b")
    o = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59999"), BTC.lots("0.3"), client_id="q1")
    there = eng.place(b, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59998"), BTC.lots("0.3"))
    eng.modify(a, "BTCUSDT", None, "q1", 1, BTC.ticks("59998"), o.qty_lots, keep_priority=True)
    assert o.priority > there.priority and o.queue_ahead == 1000


def test_resting_order_fills_when_the_book_moves_through_it(eng):
    a = _acct(eng, "a")
    o = eng.place(a, "BTCUSDT", -1, "limit", "gtc", BTC.ticks("60003"), BTC.lots("2"))
    assert o.status == "new"
    # bids move up to 60003.5 with 0.7 there and 0.4 at 60003.0
    eng.market_depth("BTCUSDT", [["60003.50", "0.700"], ["60003.00", "0.400"]], [], 10, 11)
    assert o.filled_lots == 1100 and o.status == "partially_filled"
    assert all(f.is_maker and BTC.price_str(f.last_ticks) == "60003.00" for f in _trades(eng, o))


def test_aggressive_order_takes_other_users_resting_orders_first_at_better_prices(eng):
    a, b = _acct(eng, "a"), _acct(eng, "b")
    maker = eng.place(b, "BTCUSDT", -1, "limit", "gtx", BTC.ticks("60000.5"), BTC.lots("0.3"))
    taker = eng.place(a, "BTCUSDT", 1, "limit", "ioc", BTC.ticks("60001"), BTC.lots("0.5"))
    assert [BTC.price_str(f.last_ticks) for f in _trades(eng, taker)] == ["60000.50", "60001.00"]
    assert maker.status == "filled" and _trades(eng, maker)[0].is_maker
    assert b.positions["BTCUSDT"].lots == -300 and a.positions["BTCUSDT"].lots == 500


def test_time_in_force_rules(eng):
    a = _acct(eng, "a")
    with pytest.raises(SimReject) as exc:
        eng.place(a, "BTCUSDT", 1, "limit", "gtx", BTC.ticks("60001"), 100)
    assert exc.value.reason == "would_take"
    fok = eng.place(a, "BTCUSDT", 1, "limit", "fok", BTC.ticks("60001"), BTC.lots("1.5"))
    assert fok.status == "expired" and fok.filled_lots == 0
    ioc = eng.place(a, "BTCUSDT", 1, "limit", "ioc", BTC.ticks("60001"), BTC.lots("1.5"))
    assert ioc.status == "expired" and ioc.filled_lots == 1000
    gtc = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("60001"), BTC.lots("1.5"))
    assert gtc.status == "partially_filled" and gtc.order_id in eng.resting["BTCUSDT"]


def test_realized_pnl_fees_and_reduce_only(eng):
    a = _acct(eng, "a")
    eng.place(a, "BTCUSDT", 1, "market", "gtc", 0, BTC.lots("1"))            # buy 1 @ 60001
    with pytest.raises(SimReject) as exc:
        eng.place(a, "BTCUSDT", 1, "market", "gtc", 0, 100, reduce_only=True)
    assert exc.value.reason == "reduce_only"
    eng.books["BTCUSDT"].replace({BTC.ticks("60100"): 5000}, {BTC.ticks("60101"): 5000})
    before = a.balances["USDT"]
    eng.place(a, "BTCUSDT", -1, "market", "gtc", 0, BTC.lots("1"), reduce_only=True)  # sell @ 60100
    assert a.positions["BTCUSDT"].lots == 0
    assert a.balances["USDT"] - before == pytest.approx(99.0 - 60100 * a.taker_fee)
    acct_events = [ev for ev in eng.events if isinstance(ev, AccountEvent)]
    assert acct_events[-1].positions[0].lots == 0


def test_filters_and_margin(eng):
    a = _acct(eng, "a")
    for args, reason in (
        (("NOPE", 1, "limit", "gtc", 1, 1), "unknown_symbol"),
        (("BTCUSDT", 1, "limit", "gtc", BTC.ticks("59000"), 1), "min_notional"),
        (("BTCUSDT", 1, "limit", "gtc", BTC.ticks("59000"), BTC.lots("2000")), "lot_size"),
        (("BTCUSDT", 1, "limit", "gtc", BTC.ticks("59000"), BTC.lots("40")), "margin"),   # 2.36M / 20x
    ):
        with pytest.raises(SimReject) as exc:
            eng.place(a, *args)
        assert exc.value.reason == reason


def test_modify_and_cancel(eng):
    a = _acct(eng, "a")
    o = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59000"), BTC.lots("0.01"), client_id="m1")
    eng.modify(a, "BTCUSDT", None, "m1", 1, BTC.ticks("59100"), BTC.lots("0.02"))
    assert (o.price_ticks, o.qty_lots) == (BTC.ticks("59100"), 20)
    assert [ev.exec_type for ev in eng.events if isinstance(ev, OrderEvent)] == ["new", "amended"]
    with pytest.raises(SimReject):
        eng.modify(a, "BTCUSDT", o.order_id, None, 1, BTC.ticks("59100"), 20)     # no change
    eng.cancel(a, "BTCUSDT", o.order_id)
    assert o.status == "canceled"
    with pytest.raises(SimReject) as exc:
        eng.cancel(a, "BTCUSDT", o.order_id)
    assert exc.value.reason == "unknown_order"
    assert eng.find_order(a, "BTCUSDT", o.order_id, include_done=True) is o


def _own_ask(eng, a, px="60000.5", qty="0.3"):
    """A resting sell of account ``a`` inside the public spread, and another account's behind it."""
    b = _acct(eng, "b")
    mine = eng.place(a, "BTCUSDT", -1, "limit", "gtc", BTC.ticks(px), BTC.lots(qty))
    theirs = eng.place(b, "BTCUSDT", -1, "limit", "gtc", BTC.ticks("60000.7"), BTC.lots("0.2"))
    return mine, theirs


@pytest.mark.parametrize("mode, taker_status, maker_status, taker_fills", [
    ("expire_taker", "expired", "new", []),
    ("expire_maker", "partially_filled", "expired", ["60000.70", "60001.00"]),
    ("expire_both", "expired", "expired", []),
    ("none", "filled", "filled", ["60000.50", "60000.70", "60001.00"]),
])
def test_self_trade_prevention_follows_the_takers_mode(eng, mode, taker_status, maker_status, taker_fills):
    a = _acct(eng, "a")
    mine, theirs = _own_ask(eng, a)
    taker = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("60001"), BTC.lots("1.5"), stp=mode)
    assert (taker.status, mine.status) == (taker_status, maker_status)
    assert [BTC.price_str(f.last_ticks) for f in _trades(eng, taker)] == taker_fills
    expired = [o for o in (taker, mine) if o.status == "expired"]
    assert all(o.reason == "stp" for o in expired)
    # an expiry is published as such, and an expired order is off the book
    for o in expired:
        assert [ev.exec_type for ev in eng.events if isinstance(ev, OrderEvent) and ev.order is o][-1] == "expired"
        assert o.order_id not in eng.resting["BTCUSDT"]
    if mode == "none":      # the account traded with itself: both sides of one fill
        assert _trades(eng, mine)[0].is_maker and a.positions["BTCUSDT"].lots == 1500 - 300


def test_self_trade_prevention_is_off_for_fok_and_post_only_counts_own_orders(eng):
    a = _acct(eng, "a")
    mine, _ = _own_ask(eng, a)
    # FOK ignores its mode (Binance's STP FAQ): it trades with the account's own order
    fok = eng.place(a, "BTCUSDT", 1, "limit", "fok", BTC.ticks("60000.5"), BTC.lots("0.1"), stp="expire_taker")
    assert fok.status == "filled" and mine.filled_lots == 100
    # a post-only order that would match the account's own order would take: refused
    with pytest.raises(SimReject) as exc:
        eng.place(a, "BTCUSDT", 1, "limit", "gtx", BTC.ticks("60000.5"), BTC.lots("0.1"), stp="expire_maker")
    assert exc.value.reason == "would_take"
    with pytest.raises(SimReject) as exc:
        eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59000"), BTC.lots("0.1"), stp="sometimes")
    assert exc.value.reason == "stp_mode"


def test_modify_can_replace_the_stp_mode(eng):
    a = _acct(eng, "a")
    mine, _ = _own_ask(eng, a)
    bid = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59999.5"), BTC.lots("0.1"), stp="expire_both")
    # amended onto its own ask with the mode reset to none (Binance USD-M): a self-trade
    eng.modify(a, "BTCUSDT", bid.order_id, None, 1, BTC.ticks("60000.5"), BTC.lots("0.1"), stp="none")
    assert (bid.stp, bid.status, mine.filled_lots) == ("none", "filled", 100)
