"""hftctl's Binance spot client amending orders (ModifyOrder), in-process against a real `hftctl
sim --exchange binancespot`, on both order transports: a smaller quantity at the same price is an
amend keep-priority (the queue place kept: the taker fills it before an order placed after it),
anything else a cancel-replace that the bot sees as its one order going on (same client id,
fills carried over, the queue place lost); the amend limit, cancelReplace's partial failures, a
fill racing the replace and a replace whose answer is lost all end with the bot's view true."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import orjson
import pytest

from hftctl.configfile import ConfigReader
from hftctl.exchanges.base import Instrument, OrderRequest
from hftctl.exchanges.binance.spot.client import BinanceSpotClient, create_client, load_config
from hftctl.exchanges.errors import ExchangeRejected, OutcomeUnknown
from hftctl.ipc.schema import FINAL_STATUSES
from hftctl.sim.process import start_sim
from tests.test_sim_support import KEY, SECRET, TAKER, OrderSink, public, signed, two_accounts, until

BTC = Instrument("BTCUSDT", 0.01, 0.00001)
@pytest.fixture(scope="module")
def spot(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("spot-amend") / "sim.toml"
    cfg.write_text(two_accounts(spread_ticks=400))
    with start_sim("binancespot", extra_args=["--config", str(cfg)]) as h:
        yield h


def _client(sim, transport: str) -> BinanceSpotClient:
    return create_client(load_config(ConfigReader(
        {**sim.connector_config, "order_prefix": "ta", "api_key": KEY, "secret": SECRET, "order_transport": transport,
         "request_timeout_s": 5.0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5}, "test", env={})))


@contextlib.asynccontextmanager
async def _connected(sim, transport: str):
    sink = OrderSink()
    client = _client(sim, transport)
    try:
        await client.connect_market(sink, timeout_s=10)
        await client.connect_user(timeout_s=10)
        yield client, sink
    finally:
        with contextlib.suppress(Exception):
            await client.cancel_all(BTC)
        await client.close()


async def _fault(sim, **switches) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim.control_url}/fault", data=orjson.dumps(switches)) as r:
            assert r.status == 200, await r.text()


async def _mid(sim) -> float:
    async with aiohttp.ClientSession() as s:
        _, d, _ = await public(s, sim.rest_url, "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
    return round((float(d["bids"][0][0]) + float(d["asks"][0][0])) / 2, 2)


async def _take(sim, px: float, qty: str) -> dict:
    """The other account sells ``qty`` at ``px`` (IOC): it meets the maker's bids there in queue order."""
    async with aiohttp.ClientSession() as s:
        status, body, _ = await signed(s, "POST", sim.rest_url, "/api/v3/order", {
            "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC", "quantity": qty,
            "price": f"{px:.2f}", "newOrderRespType": "RESULT"}, **TAKER)
    assert status == 200, body
    return body


async def _sim_orders(sim, cid: str) -> list[dict]:
    """Every exchange order (open and done) the sim has under client id ``cid``."""
    async with aiohttp.ClientSession() as s:
        _, body, _ = await signed(s, "GET", sim.rest_url, "/api/v3/allOrders", {"symbol": "BTCUSDT", "limit": 1000})
    return [o for o in body if o["clientOrderId"] == cid]


def _bid(cid: str, px: float, qty: float = 0.002, tif: str = "gtc") -> OrderRequest:
    return OrderRequest(BTC, cid, 1, px, qty, "limit", tif)


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_a_smaller_quantity_keeps_the_queue_place(spot, transport):
    async with _connected(spot, transport) as (client, sink):
        px = await _mid(spot)
        first = await client.submit(_bid(f"kp1-{transport}", px))
        await client.submit(_bid(f"kp2-{transport}", px))
        amended = await client.modify(BTC, f"kp1-{transport}", 1, px, 0.001)
        assert (amended.client_order_id, amended.exch_order_id, amended.qty, amended.status) == (
            f"kp1-{transport}", first.exch_order_id, 0.001, "new")
        await until(lambda: any(u.qty == 0.001 for u in sink.of(f"kp1-{transport}")), 5, "the REPLACED report")
        await _take(spot, px, "0.00100")
        await until(lambda: any(u.status == "filled" for u in sink.of(f"kp1-{transport}")), 5, "the amended order filled")
        assert all(u.status == "new" for u in sink.of(f"kp2-{transport}"))      # behind it: untouched
        assert len(await _sim_orders(spot, f"kp1-{transport}")) == 1


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_a_cancel_replace_is_one_order_to_the_bot(spot, transport):
    """A partly filled order moved to a new price with a larger total: a new exchange order (the
    back of the queue) under the same client id; the bot's order keeps its fills, its total
    quantity is what it asked, and it never ends on the way."""
    cid = f"cr-{transport}"
    async with _connected(spot, transport) as (client, sink):
        px = await _mid(spot)
        first = await client.submit(_bid(cid, px, 0.004))
        await _take(spot, px, "0.00100")
        await until(lambda: any(u.cum_qty == 0.001 for u in sink.of(cid)), 5, "the partial fill")
        moved = await client.modify(BTC, cid, 1, px + 0.05, 0.006)
        assert (moved.client_order_id, moved.px, moved.qty, moved.cum_qty, moved.status) == (
            cid, pytest.approx(px + 0.05), pytest.approx(0.006), pytest.approx(0.001), "partially_filled")
        assert moved.exch_order_id != first.exch_order_id
        await _take(spot, px + 0.05, "0.00200")                 # the new exchange order fills 0.002
        await until(lambda: any(u.cum_qty == pytest.approx(0.003) for u in sink.of(cid)), 5,
                     "the fill at the new price, on top of the earlier one")
        await asyncio.sleep(0.2)
        ups = sink.of(cid)
        assert not any(u.status in FINAL_STATUSES for u in ups), ups      # the old exchange order's cancel is hidden
        assert max(u.qty for u in ups) == pytest.approx(0.006)
        now = await client.query_order(BTC, cid)
        assert (now.qty, now.cum_qty, now.status, now.exch_order_id) == (
            pytest.approx(0.006), pytest.approx(0.003), "partially_filled", moved.exch_order_id)
        assert now.exec_px == pytest.approx((0.001 * px + 0.002 * (px + 0.05)) / 0.003)    # the average over both
        at_sim = {o["orderId"]: (o["status"], o["origQty"]) for o in await _sim_orders(spot, cid)}
        assert at_sim[int(first.exch_order_id)] == ("CANCELED", "0.00400000")
        assert at_sim[int(moved.exch_order_id)][1] == "0.00500000"          # what was still wanted


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_a_cancel_replace_loses_the_queue_place(spot, transport):
    """The same price, a larger quantity: a cancel-replace; the order placed after it now fills first."""
    async with _connected(spot, transport) as (client, sink):
        px = await _mid(spot) - 0.10
        await client.submit(_bid(f"lp1-{transport}", px))
        await client.submit(_bid(f"lp2-{transport}", px))
        grown = await client.modify(BTC, f"lp1-{transport}", 1, px, 0.003)
        assert (grown.qty, grown.status) == (pytest.approx(0.003), "new")
        await _take(spot, px, "0.00200")
        await until(lambda: any(u.status == "filled" for u in sink.of(f"lp2-{transport}")), 5, "the second order filled")
        assert (await client.query_order(BTC, f"lp1-{transport}")).cum_qty == 0


async def test_past_the_amend_limit_it_is_a_cancel_replace(spot):
    """MAX_NUM_ORDER_AMENDS (10): the eleventh smaller quantity is refused (-2038) by the
    exchange, and the client replaces the order instead."""
    async with _connected(spot, "ws") as (client, sink):
        px = await _mid(spot) - 0.20
        first = await client.submit(_bid("lim-1", px, 0.02))
        for i in range(10):
            upd = await client.modify(BTC, "lim-1", 1, px, 0.019 - i * 0.001)
            assert upd.exch_order_id == first.exch_order_id
        last = await client.modify(BTC, "lim-1", 1, px, 0.005)
        assert (last.qty, last.status) == (pytest.approx(0.005), "new") and last.exch_order_id != first.exch_order_id
        async with aiohttp.ClientSession() as s:
            status, body, _ = await signed(s, "PUT", spot.rest_url, "/api/v3/order/amend/keepPriority", {
                "symbol": "BTCUSDT", "orderId": first.exch_order_id, "newQty": "0.001"})
        assert (status, body["code"]) == (400, -2038)        # the old one is gone


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_cancel_done_new_order_refused_ends_the_order(spot, transport):
    """409 / -2021: the cancel went through, the new (post-only) order would take: the bot's
    order is cancelled, and says why."""
    cid = f"pf-{transport}"
    async with _connected(spot, transport) as (client, sink):
        mid = await _mid(spot)
        await client.submit(_bid(cid, mid - 0.5, tif="gtx"))
        upd = await client.modify(BTC, cid, 1, mid + 5.0, 0.002)
        assert upd.status == "canceled" and "would immediately match" in upd.reason
        assert [o["status"] for o in await _sim_orders(spot, cid)] == ["CANCELED"]


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_a_fill_the_client_has_not_seen_fails_the_replace_safely(spot, transport):
    """The client knows of no fill, so the cancel is ONLY_NEW; a fill it has not heard of yet
    (events held back) makes the cancel fail (400 / -2022, the new order not attempted): the
    amend is refused and the order is as the exchange has it."""
    cid = f"on-{transport}"
    async with _connected(spot, transport) as (client, sink):
        px = await _mid(spot)
        await client.submit(_bid(cid, px, 0.004))
        await _fault(spot, ws_delay_ms=1500)
        try:
            await _take(spot, px, "0.00100")
            with pytest.raises(ExchangeRejected) as e:
                await client.modify(BTC, cid, 1, px + 0.05, 0.004)
            assert e.value.code == -2022 and "cancel restrictions" in e.value.reason
        finally:
            await _fault(spot, ws_delay_ms=0)
        now = await client.query_order(BTC, cid)
        assert (now.status, now.px, now.cum_qty) == ("partially_filled", pytest.approx(px), pytest.approx(0.001))


async def test_a_fill_racing_a_replace_is_taken_off_the_new_order(spot):
    """A partly filled order (ONLY_PARTIALLY_FILLED) fills more while it is replaced: the new
    exchange order would overfill by that much, so the client reduces it at once."""
    cid = "race-1"
    async with _connected(spot, "rest") as (client, sink):
        px = await _mid(spot)
        await client.submit(_bid(cid, px, 0.005))
        await _take(spot, px, "0.00100")
        await until(lambda: any(u.cum_qty == 0.001 for u in sink.of(cid)), 5, "the first fill")
        await _fault(spot, ws_delay_ms=1500)
        try:
            await _take(spot, px, "0.00100")              # unseen by the client
            upd = await client.modify(BTC, cid, 1, px + 0.05, 0.005)
        finally:
            await _fault(spot, ws_delay_ms=0)
        assert (upd.qty, upd.cum_qty, upd.status) == (pytest.approx(0.005), pytest.approx(0.002), "partially_filled")
        live = [o for o in await _sim_orders(spot, cid) if o["status"] == "NEW"]
        assert [o["origQty"] for o in live] == ["0.00300000"]        # 0.005 wanted, 0.002 filled


@pytest.mark.parametrize("when", ["after", "before"])
async def test_a_replace_whose_answer_is_lost_is_settled_by_query(spot, when):
    cid = f"lost-{when}"
    async with _connected(spot, "ws") as (client, sink):
        px = await _mid(spot) - 0.30
        first = await client.submit(_bid(cid, px))
        await _fault(spot, **{f"unknown_{when}_exec_rate": 1.0})
        try:
            with pytest.raises(OutcomeUnknown):
                await client.modify(BTC, cid, 1, px - 0.05, 0.003)
        finally:
            await _fault(spot, **{f"unknown_{when}_exec_rate": 0.0})
        await asyncio.sleep(0.2)                        # the stream's reports are held meanwhile
        assert not any(u.status in FINAL_STATUSES for u in sink.of(cid))
        now = await client.query_order(BTC, cid)
        if when == "after":
            assert (now.px, now.qty, now.status) == (pytest.approx(px - 0.05), pytest.approx(0.003), "new")
            assert now.exch_order_id != first.exch_order_id
        else:
            assert (now.px, now.qty, now.exch_order_id) == (pytest.approx(px), pytest.approx(0.002),
                                                             first.exch_order_id)
        assert not any(u.status in FINAL_STATUSES for u in sink.of(cid))
        assert len([o for o in await _sim_orders(spot, cid) if o["status"] == "NEW"]) == 1


async def test_a_cancel_that_fails_under_allow_failure_leaves_no_stray_order(spot):
    """cancelResult FAILURE with newOrderResult SUCCESS (possible only in ALLOW_FAILURE: the
    client sends STOP_ON_FAILURE, this test forces the other): the order had filled, a new one
    went in under its client id; the client cancels that one and refuses the amend."""
    cid = "af-1"
    async with _connected(spot, "rest") as (client, sink):
        client.replace_mode = "ALLOW_FAILURE"
        px = await _mid(spot)
        await client.submit(_bid(cid, px))
        await _fault(spot, ws_delay_ms=1500)             # the fill is not seen before the amend
        try:
            await _take(spot, px, "0.00200")
            with pytest.raises(ExchangeRejected) as e:
                await client.modify(BTC, cid, 1, px - 0.05, 0.002)
        finally:
            await _fault(spot, ws_delay_ms=0)
        assert e.value.code == -2021
        assert sorted(o["status"] for o in await _sim_orders(spot, cid)) == ["CANCELED", "FILLED"]
        # the order's true end reached the sink before the refusal (no stray order meanwhile)
        assert [u.status for u in sink.of(cid)][-1] == "filled"
        assert all(u.px == pytest.approx(px) for u in sink.of(cid))


async def test_an_amend_to_the_filled_quantity_expires_the_order_and_costs_nothing(spot):
    """The keep-priority amend's weight is 4, and 0 when it expires the order (CHANGELOG
    § 2026-04-02): a new quantity at or below what has filled expires it."""
    async with aiohttp.ClientSession() as s:
        px = await _mid(spot)
        _, placed, _ = await signed(s, "POST", spot.rest_url, "/api/v3/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.00400",
            "price": f"{px:.2f}", "newClientOrderId": "ex-1"})
        await _take(spot, px, "0.00100")
        amend = {"symbol": "BTCUSDT", "orderId": placed["orderId"], "newClientOrderId": "ex-1"}
        for attempt in range(2):            # the per-minute weight window may roll in between: again
            t0 = time.time()
            _, _, before = await signed(s, "GET", spot.rest_url, "/api/v3/order", {"symbol": "BTCUSDT",
                                                                                   "orderId": placed["orderId"]})
            status, kept, after = await signed(s, "PUT", spot.rest_url, "/api/v3/order/amend/keepPriority",
                                               {**amend, "newQty": f"0.00{3 - attempt}00"})
            if int(time.time() // 60) == int(t0 // 60):
                break
        assert status == 200 and kept["amendedOrder"]["status"] == "PARTIALLY_FILLED"
        assert int(after["X-MBX-USED-WEIGHT-1M"]) - int(before["X-MBX-USED-WEIGHT-1M"]) == 4
        _, _, before = await signed(s, "GET", spot.rest_url, "/api/v3/order", {"symbol": "BTCUSDT",
                                                                               "orderId": placed["orderId"]})
        status, gone, after = await signed(s, "PUT", spot.rest_url, "/api/v3/order/amend/keepPriority",
                                           {**amend, "newQty": "0.00100"})
        assert status == 200 and gone["amendedOrder"]["status"] == "EXPIRED"
        assert int(after["X-MBX-USED-WEIGHT-1M"]) in (int(before["X-MBX-USED-WEIGHT-1M"]), 0)
