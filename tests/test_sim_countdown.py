"""The sim's dead man's switch: Binance USD-M ``countdownCancelAll`` ("Auto-Cancel All Open
Orders"), in-process on the engine with a hand-driven clock, and over the wire on a real
`hftctl sim` (validation, errors, weight, expiry seen on the user stream, 0 disarming)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from hftctl.exchanges.binance.futures.sim_instruments import SPECS
from hftctl.sim.accounts import Account
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import OrderEvent
from hftctl.sim.faults import Faults
from tests.test_sim_binancefutures import quiet_sim  # noqa: F401  (the fixture: two accounts, a still market)
from tests.test_sim_support import public, signed
from tests.test_sim_support import next_event as _next_event

BTC, ETH = SPECS["BTCUSDT"], SPECS["ETHUSDT"]
A = ("alice-key", "alice-secret")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def eng():
    a = Account("a", "ka", "sa", {"USDT": 1_000_000.0})
    b = Account("b", "kb", "sb", {"USDT": 1_000_000.0})
    e = SimEngine({"BTCUSDT": BTC, "ETHUSDT": ETH}, [a, b], Faults())
    e.books["BTCUSDT"].replace({BTC.ticks("59999"): 1000}, {BTC.ticks("60001"): 1000})
    e.books["ETHUSDT"].replace({ETH.ticks("2999"): 1000}, {ETH.ticks("3001"): 1000})
    e.countdowns.clock = Clock()
    e.events = []
    e.user_listeners.append(e.events.append)
    return e


def _resting(e, name: str) -> tuple[Account, list]:
    acct = next(a for a in e.accounts if a.name == name)
    return acct, [e.place(acct, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59000"), BTC.lots("0.01")),
                  e.place(acct, "BTCUSDT", -1, "limit", "gtc", BTC.ticks("61000"), BTC.lots("0.01")),
                  e.place(acct, "ETHUSDT", 1, "limit", "gtc", ETH.ticks("2900"), ETH.lots("0.1"))]


def test_countdown_cancels_the_accounts_orders_on_its_symbol_when_it_runs_out(eng):
    a, (a_bid, a_ask, a_eth) = _resting(eng, "a")
    b, (b_bid, _, _) = _resting(eng, "b")
    clock = eng.countdowns.clock
    eng.countdowns.arm(a, "BTCUSDT", 1000)
    clock.t += 0.9
    assert eng.countdowns.fire_due() == []
    eng.countdowns.arm(a, "BTCUSDT", 1000)         # a heartbeat: the countdown starts again
    clock.t += 0.9                                  # 1.8 s after the first call, 0.9 after the second
    assert eng.countdowns.fire_due() == []
    assert eng.countdowns.remaining(a) == {"BTCUSDT": pytest.approx(0.1)}
    clock.t += 0.1
    assert eng.countdowns.fire_due() == [a_bid, a_ask]
    assert (a_bid.status, a_ask.status, a_bid.reason) == ("canceled", "canceled", "")
    # other symbols of the account and other accounts are untouched
    assert a_eth.is_open and b_bid.is_open
    assert sorted(o.symbol for o in eng.open_orders(a)) == ["ETHUSDT"]
    cancels = [ev.order for ev in eng.events if isinstance(ev, OrderEvent) and ev.exec_type == "canceled"]
    assert cancels == [a_bid, a_ask]                # the user stream hears of each, like any cancel
    # it fired once: off until armed again
    assert eng.countdowns.remaining(a) == {} and eng.counters["countdowns_fired"] == 1
    later = eng.place(a, "BTCUSDT", 1, "limit", "gtc", BTC.ticks("59000"), BTC.lots("0.01"))
    clock.t += 60
    assert eng.countdowns.fire_due() == [] and later.is_open


def test_zero_stops_the_countdown_and_scopes_are_per_account_and_symbol(eng):
    a, (a_bid, _, a_eth) = _resting(eng, "a")
    b, (b_bid, b_ask, _) = _resting(eng, "b")
    clock = eng.countdowns.clock
    eng.countdowns.arm(a, "BTCUSDT", 500)
    eng.countdowns.arm(a, "ETHUSDT", 500)
    eng.countdowns.arm(b, "BTCUSDT", 500)
    eng.countdowns.arm(a, "BTCUSDT", 0)             # countdownTime 0: the timer is cancelled
    assert set(eng.countdowns.remaining(a)) == {"ETHUSDT"}
    clock.t += 0.5
    assert sorted(o.order_id for o in eng.countdowns.fire_due()) == sorted(
        [a_eth.order_id, b_bid.order_id, b_ask.order_id])
    assert a_bid.is_open
    eng.countdowns.arm(a, "BTCUSDT", 0)             # stopping a stopped timer is fine
    assert eng.countdowns.remaining(a) == {} and eng.countdowns.remaining(b) == {}


def test_a_countdown_over_every_symbol_records_its_reason(eng):
    a, orders = _resting(eng, "a")
    eng.countdowns.arm(a, None, 200, reason="dcp")
    eng.countdowns.clock.t += 0.2
    assert sorted(o.order_id for o in eng.countdowns.fire_due()) == sorted(o.order_id for o in orders)
    assert {o.reason for o in orders} == {"dcp"}


async def test_the_running_sim_fires_a_countdown_when_due(eng):
    """The background task sleeps until the nearest deadline (no polling tick) and wakes when a
    countdown is re-armed earlier."""
    eng.countdowns.clock = time.monotonic
    a, (a_bid, a_ask, _) = _resting(eng, "a")
    task = asyncio.get_running_loop().create_task(eng.countdowns.run())
    try:
        eng.countdowns.arm(a, "BTCUSDT", 60_000)
        await asyncio.sleep(0.05)
        eng.countdowns.arm(a, "BTCUSDT", 100)       # re-armed shorter: the task must notice
        deadline = time.monotonic() + 10
        while a_bid.is_open and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert (a_bid.status, a_ask.status) == ("canceled", "canceled")
    finally:
        task.cancel()


async def _countdown(s, base: str, params: dict) -> tuple[int, dict, dict]:
    return await signed(s, "POST", base, "/fapi/v1/countdownCancelAll", params, *A)


async def _state(s, sim) -> dict:
    st = await (await s.get(f"{sim.control_url}/state")).json()
    return next(a for a in st["accounts"] if a["name"] == "alice")


async def test_countdown_cancel_all_over_rest_validation_and_errors(quiet_sim):
    base = quiet_sim.rest_url
    async with aiohttp.ClientSession() as s:
        cases = [({"symbol": "BTCUSDT"}, -1102), ({"countdownTime": "1000"}, -1102),
                 ({"symbol": "NOPEUSDT", "countdownTime": "1000"}, -1121),
                 ({"symbol": "BTCUSDT", "countdownTime": "-1000"}, -1100),
                 ({"symbol": "BTCUSDT", "countdownTime": "1.5"}, -1100),
                 ({"symbol": "BTCUSDT", "countdownTime": "abc"}, -1100)]
        for params, code in cases:
            status, body, _ = await _countdown(s, base, params)
            assert (status, body["code"]) == (400, code), (params, body)
        assert (await _state(s, quiet_sim))["countdowns"] == {}
        # unsigned: refused like any TRADE endpoint
        status, body, _ = await public(s, base, "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT",
                                       "countdownTime": "1000"}, method="POST", key=A[0])
        assert status == 400 and body["code"] == -1102
        _, _, h0 = await signed(s, "GET", base, "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}, *A)
        status, body, h1 = await _countdown(s, base, {"symbol": "BTCUSDT", "countdownTime": "120000"})
        assert status == 200 and body == {"symbol": "BTCUSDT", "countdownTime": "120000"}   # a string
        assert int(h1["X-MBX-USED-WEIGHT-1M"]) - int(h0["X-MBX-USED-WEIGHT-1M"]) == 10      # weight 10
        assert (await _state(s, quiet_sim))["countdowns"]["BTCUSDT"] > 110
        status, body, _ = await _countdown(s, base, {"symbol": "BTCUSDT", "countdownTime": "0"})
        assert status == 200 and body == {"symbol": "BTCUSDT", "countdownTime": "0"}
        assert (await _state(s, quiet_sim))["countdowns"] == {}


async def test_countdown_expiry_cancels_on_the_sim_and_the_user_stream_says_so(quiet_sim):
    base = quiet_sim.rest_url
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, base, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5})
        bid = float(depth["bids"][0][0])
        _, lk, _ = await public(s, base, "/fapi/v1/listenKey", method="POST", key=A[0])
        async with s.ws_connect(f"{quiet_sim.extra['private_ws_url']}/{lk['listenKey']}") as ws:
            ids = []
            for i in range(2):
                status, o, _ = await signed(s, "POST", base, "/fapi/v1/order", {
                    "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                    "quantity": "0.010", "price": f"{bid - 50 - i:.1f}", "newClientOrderId": f"cd-{i}"}, *A)
                assert status == 200, o
                ids.append(o["orderId"])
            # 0 disarms: a countdown stopped before it runs out cancels nothing
            await _countdown(s, base, {"symbol": "BTCUSDT", "countdownTime": "300"})
            await _countdown(s, base, {"symbol": "BTCUSDT", "countdownTime": "0"})
            await asyncio.sleep(0.9)                 # three times the stopped countdown
            assert len((await _state(s, quiet_sim))["open_orders"]) == 2
            t0 = time.monotonic()
            status, body, _ = await _countdown(s, base, {"symbol": "BTCUSDT", "countdownTime": "1000"})
            assert status == 200
            seen = set()
            while len(seen) < 2:
                ev = await _next_event(ws, lambda d: d.get("e") == "ORDER_TRADE_UPDATE"
                                       and d["o"]["x"] == "CANCELED", timeout=10)
                assert (ev["o"]["X"], ev["o"]["s"]) == ("CANCELED", "BTCUSDT")
                seen.add(ev["o"]["i"])
            assert time.monotonic() - t0 >= 0.99      # not before the countdown ran out
            assert seen == set(ids)
        alice = await _state(s, quiet_sim)
        assert alice["open_orders"] == [] and alice["countdowns"] == {}
        for oid in ids:
            _, q, _ = await signed(s, "GET", base, "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": oid}, *A)
            assert q["status"] == "CANCELED"
