"""hftctl's USD-M client sending its orders over the WebSocket API (``order_transport = "ws"``,
the default), in-process against a real `hftctl sim`: every order action over the socket with
its rateLimits counted, requests in flight when every socket drops (each order's true state
found by query, none doubled), REST while the socket is down, and amend."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import orjson
import pytest

from hftctl.configfile import ConfigReader
from hftctl.exchanges.base import Instrument, OrderRequest
from hftctl.exchanges.binance.futures.client import BinanceFuturesClient, load_config
from hftctl.exchanges.errors import ExchangeRejected, OutcomeUnknown
from hftctl.sim.process import start_sim
from tests.test_sim_support import TAKER, OrderSink, public, signed, two_accounts, until

BTC = Instrument("BTCUSDT", 0.1, 0.001)


@pytest.fixture(scope="module")
def usdm(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("usdm-orders") / "sim.toml"
    cfg.write_text(two_accounts(spread_ticks=40))
    with start_sim(extra_args=["--config", str(cfg)]) as h:
        yield h


def _client(sim, **extra) -> BinanceFuturesClient:
    return BinanceFuturesClient(load_config(ConfigReader(
        {**sim.connector_config, "order_prefix": "t", "api_key": "hftctl-sim-key", "secret": "hftctl-sim-secret",
         "request_timeout_s": 5.0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5, **extra}, "test", env={})))


@contextlib.asynccontextmanager
async def _connected(client: BinanceFuturesClient, sink: OrderSink | None = None):
    try:
        await client.connect_market(sink or OrderSink(), timeout_s=10)
        await client.connect_user(timeout_s=10)
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.cancel_all(BTC)
        await client.close()


async def _fault(sim, **switches) -> dict:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim.control_url}/fault", data=orjson.dumps(switches)) as r:
            assert r.status == 200, await r.text()
            return await r.json()


async def _rest_requests(sim) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{sim.control_url}/state") as r:
            return (await r.json())["counters"]["rest_requests"]


async def _all_orders(sim) -> list[dict]:
    async with aiohttp.ClientSession() as s:
        _, body, _ = await signed(s, "GET", sim.rest_url, "/fapi/v1/allOrders", {"symbol": "BTCUSDT", "limit": 1000})
    return body


async def _bid(sim) -> float:
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, sim.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5})
    return float(depth["bids"][0][0])


def _req(cid: str, px: float, qty: float = 0.002, tif: str = "gtc") -> OrderRequest:
    return OrderRequest(BTC, cid, 1, px, qty, "limit", tif)


async def test_every_order_action_goes_over_the_websocket_api(usdm):
    client = _client(usdm)
    async with _connected(client):
        assert client.order_api is not None and client.order_api.up
        bid = await _bid(usdm)
        rest_before = await _rest_requests(usdm)
        placed = await client.submit(_req("ws-1", bid - 100))
        assert (placed.client_order_id, placed.status) == ("ws-1", "new")
        assert (await client.query_order(BTC, "ws-1")).status == "new"
        amended = await client.modify(BTC, "ws-1", 1, bid - 90, 0.003)
        assert (amended.px, amended.qty, amended.exch_order_id) == (pytest.approx(bid - 90), 0.003,
                                                                    placed.exch_order_id)
        assert (await client.cancel(BTC, "ws-1")).status == "canceled"
        assert await _rest_requests(usdm) == rest_before          # none of them went over REST
        stats = client.stats()
        assert (stats["order_transport"], stats["order_rest_fallbacks"], stats["order_api_connects"]) == ("ws", 0, 1)
        # the answers' rateLimits reach the limiter REST uses (modify counts as an order)
        assert client.rest.limiter.used["orders_1m"] >= 1 and client.rest.limiter.used["weight_1m"] >= 1
        # a refusal is the exchange's, typed as over REST
        with pytest.raises(ExchangeRejected) as e:
            await client.submit(_req("ws-2", bid + 1000, tif="gtx"))
        assert e.value.code == -5022


async def test_orders_in_flight_when_the_sockets_drop_are_found_once(usdm):
    """Answers held back, then every socket cut: each submit and the cancel in flight raise
    OutcomeUnknown (nothing is sent again); asked by client id, the exchange has each order
    exactly once, and the cancel happened."""
    client = _client(usdm)
    async with _connected(client):
        bid = await _bid(usdm)
        await client.submit(_req("fl-c", bid - 120))
        await _fault(usdm, ws_delay_ms=400)
        try:
            tasks = [asyncio.create_task(client.submit(_req(f"fl-{i}", bid - 100 - i))) for i in range(5)]
            tasks.append(asyncio.create_task(client.cancel(BTC, "fl-c")))
            await asyncio.sleep(0.15)
            assert (await _fault(usdm, drop_ws=True))["dropped"] >= 3       # market data, user data, orders
        finally:
            await _fault(usdm, ws_delay_ms=0)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, OutcomeUnknown) and "dropped" in str(r) for r in results), results
        assert client.stats()["order_api_lost"] == 6
        found = {cid: (await client.query_order(BTC, cid)).status for cid in [f"fl-{i}" for i in range(5)] + ["fl-c"]}
        assert found == {**{f"fl-{i}": "new" for i in range(5)}, "fl-c": "canceled"}
        cids = [o["clientOrderId"] for o in await _all_orders(usdm)]
        assert all(cids.count(f"fl-{i}") == 1 for i in range(5))
        await until(lambda: client.order_api.up, 5, "the order socket back")
        assert client.stats()["order_api_connects"] == 2


async def test_orders_go_over_rest_while_the_socket_is_down(usdm):
    client = _client(usdm, reconnect_min_s=1.5, reconnect_max_s=1.5)
    async with _connected(client):
        bid = await _bid(usdm)
        await _fault(usdm, drop_ws=True)
        await until(lambda: not client.order_api.up, 2, "the order socket down")
        rest_before = await _rest_requests(usdm)
        placed = await client.submit(_req("fb-1", bid - 100))
        assert placed.status == "new" and client.stats()["order_rest_fallbacks"] == 1
        assert await _rest_requests(usdm) == rest_before + 1
        await until(lambda: client.order_api.up, 10, "the order socket back")
        await client.cancel(BTC, "fb-1")
        assert client.stats()["order_rest_fallbacks"] == 1              # over the socket again


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_amend_loses_priority_and_cancels_a_gtx_that_would_take(usdm, transport):
    """USD-M's modify: to the back of the queue even for a smaller quantity at the same price
    (the taker fills the order placed after it), and a post-only order moved through the book
    is cancelled, as the docs say, on either transport."""
    sink = OrderSink()
    client = _client(usdm, order_transport=transport)
    async with _connected(client, sink):
        bid = await _bid(usdm)
        px = bid + 1.0
        first = await client.submit(_req(f"pr1-{transport}", px))
        await client.submit(_req(f"pr2-{transport}", px))
        amended = await client.modify(BTC, f"pr1-{transport}", 1, px, 0.001)
        assert (amended.status, amended.qty, amended.exch_order_id) == ("new", 0.001, first.exch_order_id)
        async with aiohttp.ClientSession() as s:
            await signed(s, "POST", usdm.rest_url, "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC", "quantity": "0.002",
                "price": f"{px:.1f}"}, **TAKER)
        await until(lambda: any(u.client_order_id == f"pr2-{transport}" and u.status == "filled"
                                 for u in sink.updates), 5, "the later order filled")
        assert (await client.query_order(BTC, f"pr1-{transport}")).status == "new"
        gtx = await client.submit(_req(f"gx-{transport}", bid - 50, tif="gtx"))
        assert gtx.status == "new"
        gone = await client.modify(BTC, f"gx-{transport}", 1, bid + 1000, 0.002)
        assert gone.status == "canceled"
        assert client.stats()["order_rest_fallbacks"] == 0
