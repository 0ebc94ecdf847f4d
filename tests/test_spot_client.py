"""hftctl's Binance spot client in-process against the sim: every order action over the
WebSocket API, requests in flight when the sockets drop (each order's true state found, none
doubled), REST while the socket is down, unknown outcomes on both transports (found by query),
serverShutdown, and staying under spot's market stream message limit."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest

from hftctl.configfile import ConfigReader
from hftctl.exchanges.base import OrderRequest
from hftctl.exchanges.binance.spot.client import BinanceSpotClient, create_client, load_config
from hftctl.exchanges.errors import ConnectFailed, OrderNotFound, OutcomeUnknown
from hftctl.instrument import Instrument
from hftctl.sim.process import start_sim
from hftctl.sim.server import Sim, SimOptions
from tests.test_sim_support import KEY, SECRET, signed, until

BTC = Instrument("BTCUSDT", 0.01, 0.00001)


class Sink:
    """What the connector would receive."""

    def __init__(self) -> None:
        self.orders: list = []
        self.reconnects = 0
        self.symbol_errors: list[str] = []

    def order(self, update) -> None:
        self.orders.append(update)

    def user_stream_reconnected(self) -> None:
        self.reconnects += 1

    def symbol_error(self, symbol: str, code: int, message: str) -> None:
        self.symbol_errors.append(symbol)

    def __getattr__(self, name):
        return lambda *a, **k: None


def _client(rest_url: str, ws_url: str, **extra) -> BinanceSpotClient:
    cfg = {"stream_url": ws_url, "api_url": rest_url, "order_prefix": "tc", "api_key": KEY, "secret": SECRET,
           "reconnect_min_s": 0.05, "reconnect_max_s": 0.5, **extra}
    return create_client(load_config(ConfigReader(cfg, "test")))


@contextlib.asynccontextmanager
async def _connected(client: BinanceSpotClient, sink: Sink):
    try:
        await client.connect_market(sink, timeout_s=10)
        await client.connect_user(timeout_s=10)
        yield client
    finally:
        await client.close()


async def _fault(sim, **switches) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim.control_url}/fault", json=switches) as r:
            assert r.status == 200


def _request(cid: str) -> OrderRequest:
    return OrderRequest(BTC, cid, 1, 50000.0, 0.01, "limit", "gtc")


@pytest.fixture(scope="module")
def sim():
    with start_sim("binancespot", extra_args=["--seed", "3"]) as h:
        yield h


async def _rest_requests(sim) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{sim.control_url}/state") as r:
            return (await r.json())["counters"]["rest_requests"]


async def test_every_order_action_goes_over_the_websocket_api(sim):
    async with _connected(_client(sim.rest_url, sim.ws_url), Sink()) as client:
        rest_before = await _rest_requests(sim)
        placed = await client.submit(_request("tc-ws-all"))
        assert placed.status == "new"
        assert (await client.query_order(BTC, "tc-ws-all")).status == "new"
        assert [u.client_order_id for u in await client.open_orders("BTCUSDT")] == ["tc-ws-all"]
        kept = await client.modify(BTC, "tc-ws-all", 1, 50000.0, 0.005)             # keep-priority amend
        assert (kept.qty, kept.exch_order_id) == (0.005, placed.exch_order_id)
        moved = await client.modify(BTC, "tc-ws-all", 1, 49999.0, 0.005)            # cancel-replace
        assert (moved.px, moved.client_order_id) == (49999.0, "tc-ws-all") and moved.exch_order_id != kept.exch_order_id
        assert (await client.cancel(BTC, "tc-ws-all")).status == "canceled"
        await client.submit(_request("tc-ws-all-2"))
        await client.cancel_all(BTC)
        assert await client.open_orders("BTCUSDT") == []
        assert await _rest_requests(sim) == rest_before
        assert client.stats()["order_rest_fallbacks"] == 0
        assert client.rest.limiter.used["orders_10s"] >= 1          # the answers' rateLimits, as REST headers


async def test_orders_in_flight_when_the_socket_drops_are_found_once(sim):
    """Answers held back, then every socket cut: the submits and the cancel in flight raise
    OutcomeUnknown (nothing is sent again); asked by client id, each order is at the exchange
    once, and the cancel happened."""
    sink = Sink()
    async with _connected(_client(sim.rest_url, sim.ws_url), sink) as client:
        await client.submit(_request("tc-fl-c"))
        await _fault(sim, ws_delay_ms=400)
        try:
            tasks = [asyncio.create_task(client.submit(OrderRequest(BTC, f"tc-fl-{i}", 1, 50000.0 - i, 0.01, "limit",
                                                                     "gtc"))) for i in range(5)]
            tasks.append(asyncio.create_task(client.cancel(BTC, "tc-fl-c")))
            await asyncio.sleep(0.15)
            await _fault(sim, drop_ws=True)
        finally:
            await _fault(sim, ws_delay_ms=0)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, OutcomeUnknown) and "dropped" in str(r) for r in results), results
        cids = [f"tc-fl-{i}" for i in range(5)]
        found = {cid: (await client.query_order(BTC, cid)).status for cid in cids + ["tc-fl-c"]}
        assert found == {**dict.fromkeys(cids, "new"), "tc-fl-c": "canceled"}
        async with aiohttp.ClientSession() as s:
            _, every, _ = await signed(s, "GET", sim.rest_url, "/api/v3/allOrders", {"symbol": "BTCUSDT", "limit": 1000})
        names = [o["clientOrderId"] for o in every]
        assert all(names.count(cid) == 1 for cid in cids)
        await until(lambda: client.user_api.subscribed.is_set(), 5, "the new subscription")
        assert sink.reconnects == 1                       # the connector is told to reconcile
        await client.cancel_all(BTC)


async def test_orders_go_over_rest_while_the_socket_is_down(sim):
    client = _client(sim.rest_url, sim.ws_url, reconnect_min_s=1.5, reconnect_max_s=1.5)
    async with _connected(client, Sink()):
        await _fault(sim, drop_ws=True)
        await until(lambda: not client.order_api.up, 2, "the socket down")
        rest_before = await _rest_requests(sim)
        assert (await client.submit(_request("tc-fb-1"))).status == "new"
        assert client.stats()["order_rest_fallbacks"] == 1 and await _rest_requests(sim) == rest_before + 1
        await until(lambda: client.order_api.up, 10, "the socket back")
        await client.cancel(BTC, "tc-fb-1")
        assert client.stats()["order_rest_fallbacks"] == 1


@pytest.mark.parametrize("transport", ["rest", "ws"])
@pytest.mark.parametrize("when", ["after", "before"])
async def test_an_unknown_outcome_raises_and_the_query_finds_the_truth(sim, transport, when):
    """-1007 on a new order raises OutcomeUnknown on either transport; asked by client id, the
    exchange has the order if it executed it ("after") and not otherwise ("before")."""
    sink = Sink()
    async with _connected(_client(sim.rest_url, sim.ws_url, order_transport=transport), sink) as client:
        req = _request(f"tc-{transport}-{when}")
        await _fault(sim, **{f"unknown_{when}_exec_rate": 1.0})
        try:
            with pytest.raises(OutcomeUnknown, match="execution status unknown"):
                await client.submit(req)
        finally:
            await _fault(sim, **{f"unknown_{when}_exec_rate": 0.0})
        if when == "after":
            upd = await client.query_order(BTC, req.client_order_id)
            assert (upd.client_order_id, upd.status, upd.qty) == (req.client_order_id, "new", 0.01)
            await client.cancel(BTC, req.client_order_id)
        else:
            with pytest.raises(OrderNotFound):
                await client.query_order(BTC, req.client_order_id)


async def test_server_shutdown_moves_to_a_new_connection_at_once():
    """serverShutdown: the client opens a new connection, subscribes there and reconciles, long
    before the server would cut the old one."""
    sim = Sim(SimOptions(exchange="binancespot", port=0))
    runner = await sim.start()
    try:
        port = sim.bound_port(runner)
        sink = Sink()
        async with _connected(_client(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"), sink) as client:
            ws_api = sim.protocol.ws_api
            t0 = time.monotonic()
            assert ws_api.shutdown_notice(grace_s=30.0) == 1
            while client.user_api.ws.connects < 2 or not client.user_api.subscribed.is_set():
                await asyncio.sleep(0.01)
                assert time.monotonic() - t0 < 2.0, "no new connection within 2 s"
            assert client.stats()["server_shutdowns"] == 1 and sink.reconnects == 1
            assert sum(ws_api.active(a) for a in sim.engine.accounts) == 1
            await client.submit(_request("tc-after-shutdown"))
            while not any(u.client_order_id == "tc-after-shutdown" for u in sink.orders):
                await asyncio.sleep(0.01)
                assert time.monotonic() - t0 < 5.0, "no executionReport on the new connection"
            await client.cancel_all(BTC)
    finally:
        await sim.stop(runner)


async def test_subscriptions_stay_under_the_message_limit(sim):
    """Eight new symbols at once are eight SUBSCRIBEs (and, as the symbols are unknown, eight
    UNSUBSCRIBEs): spaced out, the 5 messages per second rule never cuts the connection."""
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{sim.control_url}/state") as r:
            drops_before = (await r.json())["counters"]["ws_limit_drops"]
    sink = Sink()
    async with _connected(_client(sim.rest_url, sim.ws_url), sink) as client:
        symbols = [f"X{i}USDT" for i in range(8)]
        await asyncio.gather(*(client.subscribe(Instrument(sym, 0.01, 0.01)) for sym in symbols))
        deadline = time.monotonic() + 15
        while sorted(sink.symbol_errors) != symbols:
            await asyncio.sleep(0.05)
            assert time.monotonic() < deadline, sink.symbol_errors
        await asyncio.sleep(1.2)                 # the last UNSUBSCRIBE went out
        assert client.market.connects == 1
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{sim.control_url}/state") as r:
            assert (await r.json())["counters"]["ws_limit_drops"] == drops_before


async def test_a_client_over_the_message_limit_is_disconnected(sim):
    """web-socket-streams.md § WebSocket Limits: more than 5 incoming messages in a second (a
    ping counts) and the sim cuts the connection, as the exchange does."""
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{sim.ws_url}") as ws:
            for i in range(5):
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
            await ws.ping()
            closed = False
            try:
                while True:
                    msg = await ws.receive(timeout=5)
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        closed = True
                        break
            except asyncio.TimeoutError:
                pass
            assert closed
        # five in a second is allowed
        async with s.ws_connect(f"{sim.ws_url}") as ws:
            for i in range(5):
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
            for _ in range(5):
                assert (await ws.receive_json(timeout=5))["result"] == []


async def test_at_most_1024_streams_per_connection(sim):
    names = [f"s{i}usdt@trade" for i in range(1025)]
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{sim.ws_url}") as ws:
            await ws.send_json({"method": "SUBSCRIBE", "params": names[:1024], "id": 1})
            assert await ws.receive_json(timeout=5) == {"result": None, "id": 1}
            await ws.send_json({"method": "SUBSCRIBE", "params": names[1024:], "id": 2})
            assert (await ws.receive_json(timeout=5))["error"]["code"] == 2
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
            assert len((await ws.receive_json(timeout=5))["result"]) == 1024
        async with s.get(f"{sim.rest_url}/stream?streams=" + "/".join(names)) as r:
            assert r.status == 400


async def test_refused_credentials_fail_the_user_connect_at_once(sim):
    """A subscription the exchange refuses (bad signature) is a clear error, not a 30 s wait."""
    client = _client(sim.rest_url, sim.ws_url, secret="not-the-secret")
    try:
        await client.connect_market(Sink(), timeout_s=10)
        t0 = time.monotonic()
        with pytest.raises(ConnectFailed, match="refused: -1022 Signature for this request is not valid"):
            await client.connect_user(timeout_s=30)
        assert time.monotonic() - t0 < 5
    finally:
        await client.close()
