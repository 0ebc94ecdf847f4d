"""The Bybit client (hftctl.exchanges.bybit.client) in this process against the real Bybit sim:
answers whose outcome is unknown, paged lists, flat positions, the websocket life cycle, orders
over the order websocket (/v5/trade) and their REST fallback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request

import aiohttp
import orjson
import pytest

from hftctl.connector.outcomes import resolve_order
from hftctl.exchanges.base import Instrument, NullSink, OrderRequest
from hftctl.exchanges.bybit.client import BybitClient, ConnectBudget
from hftctl.exchanges.bybit.config import BybitConfig
from hftctl.exchanges.errors import ExchangeRejected, OrderNotFound, OutcomeUnknown
from hftctl.secrets import Secret
from hftctl.sim.server import Sim, SimOptions
from hftctl.sim.wshub import WsLimits
from tests.test_sim_bybit import bybit_sim

KEY, SECRET = "hftctl-sim-key", "hftctl-sim-secret"
STATIC = """
[synthetic]
interval_ms = 1000000000
trades_per_s = 0

[rate_limits]
enabled = false
"""
BTC = Instrument("BTCUSDT", 0.1, 0.001)


def _config(urls: dict, **kw) -> BybitConfig:
    return BybitConfig(public_url=urls["public_url"], private_url=urls["private_url"], trade_url=urls["trade_url"],
                       rest_url=urls["rest_url"], category="linear", order_prefix="tc",
                       api_key=Secret(KEY), secret=Secret(SECRET), **kw)


def _control(sim, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"{sim.control_url}/{path}", data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with bybit_sim(tmp_path_factory, STATIC) as h:
        yield h


@pytest.fixture
async def client(sim):
    c = BybitClient(_config(sim.connector_config))
    await c.rest.open()
    await c.rest.sync_time()
    try:
        yield c
    finally:
        _control(sim, "fault", {"unknown_after_exec_rate": 0, "unknown_before_exec_rate": 0})
        await c.rest.post("/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"}, safe=True)
        await c.close()


def _sim_orders(sim) -> dict[str, dict]:
    return {o["client_order_id"]: o for o in _control(sim, "state?symbol=BTCUSDT")["accounts"][0]["open_orders"]}


async def test_unknown_outcome_after_and_before_execution_ends_in_the_true_state(sim, client):
    """10000 / 10016 with HTTP 200 on create, amend and cancel: OutcomeUnknown, never a re-send;
    a query by orderLinkId then tells the truth (the connector's resolution, outcomes.py)."""
    book = _control(sim, "state?symbol=BTCUSDT&depth=1")["book"]
    px = float(book["bids"][0][0]) - 500
    req = OrderRequest(BTC, "tc-1-1-1", 1, px, 0.01, "limit", "gtc")
    _control(sim, "fault", {"unknown_after_exec_rate": 1})
    with pytest.raises(OutcomeUnknown, match="retCode 10000 Server Timeout"):
        await client.rest.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                    "orderType": "Limit", "qty": "0.010", "price": f"{px:.1f}",
                                                    "orderLinkId": "tc-raw"}, safe=False)
    assert "tc-raw" in _sim_orders(sim)                          # executed, then the answer was lost
    with pytest.raises(OutcomeUnknown, match="retCode 10016"):  # the client never re-sends a submit:
        await client.submit(req)                                 # the connector finds it (outcomes.py)
    up = await client.query_order(BTC, "tc-1-1-1")               # ... by orderLinkId
    assert (up.client_order_id, up.status, up.px) == ("tc-1-1-1", "new", px)
    assert list(_sim_orders(sim)).count("tc-1-1-1") == 1         # placed once, not re-sent

    with pytest.raises(OutcomeUnknown):
        await client.cancel(BTC, "tc-1-1-1")
    assert (await client.query_order(BTC, "tc-1-1-1")).status == "canceled"

    _control(sim, "fault", {"unknown_after_exec_rate": 0, "unknown_before_exec_rate": 1})
    with pytest.raises(OutcomeUnknown):
        await client.submit(OrderRequest(BTC, "tc-1-1-2", 1, px, 0.01, "limit", "gtc"))
    assert "tc-1-1-2" not in _sim_orders(sim)
    with pytest.raises(OrderNotFound):
        await client.query_order(BTC, "tc-1-1-2")
    with pytest.raises(OutcomeUnknown):
        await client.modify(BTC, "tc-raw", 1, px - 1, 0.01)
    assert (await client.query_order(BTC, "tc-raw")).px == px   # the amend never ran


async def test_open_orders_follow_the_cursor_and_absent_positions_are_flat(sim, client):
    book = _control(sim, "state?symbol=BTCUSDT&depth=1")["book"]
    bid = float(book["bids"][0][0])
    for i in range(57):                                         # two pages of 50 + 7
        await client.rest.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                    "orderType": "Limit", "qty": "0.001",
                                                    "price": f"{bid - 300 - i:.1f}", "orderLinkId": f"tc-9-1-{i}"},
                               safe=False)
    opened = await client.open_orders()
    assert sorted(u.client_order_id for u in opened) == sorted(f"tc-9-1-{i}" for i in range(57))
    await client.subscribe(Instrument("ETHUSDT", 0.01, 0.01))     # traded, never held
    await client.rest.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                "orderType": "Market", "qty": "0.002"}, safe=False)
    held = {p.symbol: p.qty for p in await client.positions()}
    assert held == {"BTCUSDT": pytest.approx(0.002), "ETHUSDT": 0.0}
    await client.rest.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Sell",
                                                "orderType": "Market", "qty": "0.002", "reduceOnly": True},
                           safe=False)
    # position/list (settleCoin) now lists nothing: BTCUSDT, held before, is reported flat
    assert {p.symbol: p.qty for p in await client.positions()} == {"BTCUSDT": 0.0, "ETHUSDT": 0.0}


async def test_connect_budget_waits_instead_of_exceeding_the_limit():
    budget = ConnectBudget(limit=3, window_s=0.6)
    t0 = time.monotonic()
    for _ in range(3):
        await budget.take("wss://stream.example/v5/public/linear")
    await budget.take("wss://other.example/v5/private")          # counted per domain
    assert budget.waited == 0
    await budget.take("wss://stream.example/v5/private")
    assert budget.waited == 1 and time.monotonic() - t0 >= 0.5


@contextlib.asynccontextmanager
async def _in_process(tmp_path, short_limits: bool):
    cfg = tmp_path / "sim.toml"
    cfg.write_text(STATIC)
    sim = Sim(SimOptions(exchange="bybit", port=0, config=cfg))
    if short_limits:             # before start: the idle-cut loop reads its period then
        sim.protocol.streams.idle_cut_s = 1.2
        sim.protocol.streams.limits = WsLimits(max_connects=4, connect_window_s=60)
    runner = await sim.start()
    try:
        yield sim, sim.ready_info(sim.bound_port(runner))
    finally:
        await sim.stop(runner)


@pytest.fixture
async def inproc_sim(tmp_path):
    """The sim in this process, so a test can reach into it (its connections, DCP state)."""
    async with _in_process(tmp_path, short_limits=False) as h:
        yield h


@pytest.fixture
async def local_sim(tmp_path):
    """The sim in this process with Bybit's 10-minute idle cut and its connection-attempt limit
    shortened."""
    async with _in_process(tmp_path, short_limits=True) as h:
        yield h


async def test_pongs_idle_cut_max_active_time_and_connection_limit(local_sim):
    sim, info = local_sim
    urls = info["connector_config"]
    async with aiohttp.ClientSession() as s:
        # each channel's pong as documented (wss-authentication.mdx, trade/guideline.mdx)
        async with s.ws_connect(urls["public_url"]) as pub, s.ws_connect(urls["private_url"]) as prv, \
                s.ws_connect(urls["trade_url"]) as trd:
            await pub.send_str('{"op":"ping"}')
            pong = orjson.loads(await pub.receive_str(timeout=5))
            assert list(pong) == ["success", "ret_msg", "conn_id", "req_id", "op"]
            assert (pong["success"], pong["ret_msg"], pong["op"]) == (True, "pong", "ping")
            await prv.send_str('{"req_id":"p1","op":"ping"}')
            pong = orjson.loads(await prv.receive_str(timeout=5))
            assert list(pong) == ["req_id", "op", "args", "conn_id"] and pong["op"] == "pong"
            assert abs(int(pong["args"][0]) - time.time() * 1000) < 5000
            await trd.send_str('{"op":"ping"}')
            pong = orjson.loads(await trd.receive_str(timeout=5))
            assert list(pong) == ["retCode", "retMsg", "op", "data", "connId"]
            assert (pong["retCode"], pong["retMsg"], pong["op"]) == (0, "OK", "pong")
            # a trade-channel auth with a bad signature: 10004; private: success false
            expires = int(time.time() * 1000) + 10_000
            await trd.send_str(orjson.dumps({"reqId": "a", "op": "auth", "args": [KEY, expires, "00" * 32]}).decode())
            bad = orjson.loads(await trd.receive_str(timeout=5))
            assert (bad["reqId"], bad["retCode"], bad["op"]) == ("a", 10004, "auth")
            await prv.send_str(orjson.dumps({"op": "auth", "args": [KEY, expires, "00" * 32]}).decode())
            bad = orjson.loads(await prv.receive_str(timeout=5))
            assert (bad["success"], bad["op"]) == (False, "auth") and "req_id" not in bad
            # pinging keeps one socket up; the silent one is cut after the idle time
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3.0:
                await prv.send_str('{"op":"ping"}')
                assert orjson.loads(await prv.receive_str(timeout=5))["op"] == "pong"
                await asyncio.sleep(0.3)
            closed = await pub.receive(timeout=5)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
            assert not prv.closed
        # max_active_time: 30 s to 600 s (or minutes) on private and trade
        for bad in ("10s", "11m", "soon"):
            async with s.get(f"{urls['private_url']}?max_active_time={bad}") as r:
                assert r.status == 400
        async with s.ws_connect(f"{urls['trade_url']}?max_active_time=1m"):
            alive = {c.state["alive_s"] for c in sim.protocol.streams.conns}
            assert alive == {60.0}
        # the connection-attempt limit (here 4 per minute, Bybit's is 500 per 5 min) refuses more
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with s.ws_connect(urls["public_url"]):
                pass
        assert refused.value.status == 429


async def test_client_pings_keep_its_sockets_up_and_it_reconnects_within_the_budget(local_sim):
    sim, info = local_sim
    sim.protocol.streams.limits = WsLimits(max_connects=7, connect_window_s=60)     # one more than the budget
    client = BybitClient(_config(info["connector_config"], ping_interval_s=0.4, reconnect_min_s=0.05,
                                 reconnect_max_s=0.1))
    client.connect_budget = ConnectBudget(limit=6, window_s=60)
    socks = (client.public, client.private, client.trade.ws)
    try:
        await client.connect_market(NullSink(), timeout_s=10)
        await client.connect_user(timeout_s=10)
        await asyncio.sleep(3.0)                 # well past the 1.2 s idle cut: the pings keep all three up
        assert [s.connects for s in socks] == [1, 1, 1]
        assert all(s.connected.is_set() for s in socks) and client.trade.ready.is_set()
        for _ in range(3):                       # the exchange drops everyone, three times
            sim.hub.drop_all()
            await asyncio.sleep(0.5)
        # 3 + 3 attempts fit the budget of 6; the next ones wait (the sim would take a 7th)
        assert client.connect_budget.waited > 0
        assert sum(s.connects for s in socks) == 6
    finally:
        await client.close()


def _load(**over) -> BybitConfig:
    from hftctl.configfile import ConfigReader
    from hftctl.exchanges.bybit.config import load_config
    data = {"public_url": "ws://127.0.0.1:9/v5/public/linear", "private_url": "ws://127.0.0.1:9/v5/private",
            "trade_url": "ws://127.0.0.1:9/v5/trade", "rest_url": "http://127.0.0.1:9", "order_prefix": "t",
            "api_key": "k", "secret": "s", **over}
    return load_config(ConfigReader(data, "c.toml", env={}))


def test_config_book_depths_and_ping_within_the_alive_time():
    for depth in (1, 50, 200, 1000):
        assert _load(book_depth=depth).book_depth == depth
    with pytest.raises(Exception, match=r"orderbook.500 was switched off by Bybit on 2025-09-30: "
                                        r"expected one of 1, 50, 200, 1000 for key 'book_depth'"):
        _load(book_depth=500)
    with pytest.raises(Exception, match="expected one of 1, 50, 200, 1000"):
        _load(book_depth=25)
    assert _load(private_url="ws://h/v5/private?max_active_time=1m", ping_interval_s=20).ping_interval_s == 20
    with pytest.raises(Exception, match="more often than the private_url's 30 s idle cut"):
        _load(private_url="ws://h/v5/private?max_active_time=30s", ping_interval_s=30)
    with pytest.raises(Exception, match="not between 30s and 600s in 'trade_url'"):
        _load(trade_url="ws://h/v5/trade?max_active_time=5s")


def test_free_balance_without_available_to_withdraw_and_cancel_reasons():
    """wallet-balance.mdx: availableToWithdraw is "" on unified accounts since 2025-01-09; the free
    balance is walletBalance - totalPositionIM - totalOrderIM - locked - bonus (isolated) or
    totalAvailableBalance converted at the coin's price (cross): the smaller."""
    import msgspec

    from hftctl.exchanges.bybit import messages, schemas

    def bal(total_available: str, **coin) -> float:
        row = {"accountType": "UNIFIED", "totalAvailableBalance": total_available,
               "coin": [{"coin": "USDT", "walletBalance": "1000", "equity": "1010", "usdValue": "1011.01",
                         "availableToWithdraw": "", "totalOrderIM": "100", "totalPositionIM": "200",
                         "locked": "0", "bonus": "0", **coin}]}
        (b,) = messages.wallet(msgspec.convert(row, schemas.Wallet, strict=False))
        assert b.wallet == 1000.0
        return b.available

    assert bal("5000") == pytest.approx(700.0)                   # isolated formula is smaller
    assert bal("5000", bonus="50", locked="25") == pytest.approx(625.0)
    assert bal("500") == pytest.approx(500 * 1010 / 1011.01)     # cross: USD converted at 1.001 USD/USDT
    assert bal("") == pytest.approx(700.0) and bal("0") == 0.0
    row = {"symbol": "BTCUSDT", "orderId": "x", "side": "Buy", "orderStatus": "Cancelled", "qty": "1",
           "orderLinkId": "t-1-1-1"}
    for cancel, reject, reason in (("CancelByUser", "EC_NoError", None), ("CancelBySmp", "EC_BySelfMatch", "CancelBySmp"),
                                   ("UNKNOWN", "EC_PostOnlyWillTakeLiquidity", "EC_PostOnlyWillTakeLiquidity")):
        u = messages.order(msgspec.convert({**row, "cancelType": cancel, "rejectReason": reject}, schemas.OrderRow,
                                           strict=False), 1)
        assert (u.status, u.reason) == ("canceled", reason)


class Recorder(NullSink):
    """A sink that keeps the order updates of the private stream."""

    def __init__(self) -> None:
        self.orders: list = []

    def order(self, update) -> None:
        self.orders.append(update)

    def seen(self, cid: str, status: str, **fields) -> bool:
        return any(u.client_order_id == cid and u.status == status
                   and all(getattr(u, k) == pytest.approx(v) for k, v in fields.items()) for u in self.orders)


async def _until(pred, timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def ws_client(sim):
    rec = Recorder()
    c = BybitClient(_config(sim.connector_config))
    await c.connect_market(rec, timeout_s=10)
    await c.connect_user(timeout_s=10)
    try:
        yield c, rec
    finally:
        _control(sim, "fault", {"unknown_after_exec_rate": 0, "unknown_before_exec_rate": 0, "ws_delay_ms": 0})
        await c.rest.post("/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"}, safe=True)
        await c.close()


def _rest_requests(sim) -> int:
    return _control(sim, "state")["counters"]["rest_requests"]


async def test_every_order_action_goes_over_the_order_websocket(sim, ws_client):
    """create, amend and cancel over /v5/trade with no REST request at all; the private stream
    tells the order's life: new, the same order at its new price and size, cancelled."""
    c, rec = ws_client
    assert c.trade.ready.is_set() and c.cfg.order_transport == "ws"
    px = float(_control(sim, "state?symbol=BTCUSDT&depth=1")["book"]["bids"][0][0]) - 500
    before = _rest_requests(sim)
    assert await c.submit(OrderRequest(BTC, "tc-2-1-1", 1, px, 0.01, "limit", "gtc")) is None   # state: the stream's
    await _until(lambda: rec.seen("tc-2-1-1", "new", px=px, qty=0.01), what="the new order on the stream")
    assert await c.modify(BTC, "tc-2-1-1", 1, px - 1, 0.02) is None
    await _until(lambda: rec.seen("tc-2-1-1", "new", px=px - 1, qty=0.02), what="the amended order")
    amended = _sim_orders(sim)["tc-2-1-1"]
    assert (float(amended["price"]), float(amended["qty"])) == (px - 1, 0.02)
    assert await c.cancel(BTC, "tc-2-1-1") is None
    await _until(lambda: rec.seen("tc-2-1-1", "canceled"), what="the cancel")
    assert len({u.exch_order_id for u in rec.orders if u.client_order_id == "tc-2-1-1"}) == 1   # one order, amended
    # refusals come back over the socket as the REST ones would
    with pytest.raises(OrderNotFound):
        await c.cancel(BTC, "tc-2-1-1")
    await c.submit(OrderRequest(BTC, "tc-2-1-2", 1, px, 0.01, "limit", "gtc"))
    with pytest.raises(ExchangeRejected, match="110072"):
        await c.submit(OrderRequest(BTC, "tc-2-1-2", 1, px, 0.01, "limit", "gtc"))
    with pytest.raises(ExchangeRejected, match="110064|10001"):
        await c.modify(BTC, "tc-2-1-2", 1, px, 0.0)
    assert _rest_requests(sim) == before                        # nothing over REST
    assert (c.trade.sent, c.rest_fallbacks) == (4, 0)
    assert c.stats()["order_ws_requests"] == 4


async def test_orders_in_flight_when_the_order_websocket_drops_end_in_their_true_state(sim, ws_client):
    """Answers held back, then every socket cut: each request in flight is OutcomeUnknown (never
    re-sent), and the query the connector resolves it with finds the truth; one order each."""
    c, rec = ws_client
    px = float(_control(sim, "state?symbol=BTCUSDT&depth=1")["book"]["bids"][0][0]) - 500
    await c.submit(OrderRequest(BTC, "tc-3-1-0", 1, px, 0.01, "limit", "gtc"))
    await _until(lambda: rec.seen("tc-3-1-0", "new"), what="the order to cancel")
    _control(sim, "fault", {"ws_delay_ms": 8000})
    creates = [c.submit(OrderRequest(BTC, f"tc-3-1-{i}", 1, px - i, 0.01, "limit", "gtc")) for i in (1, 2, 3)]
    results = asyncio.gather(*creates, c.cancel(BTC, "tc-3-1-0"), c.modify(BTC, "tc-3-1-1", 1, px, 0.01),
                             return_exceptions=True)

    def executed() -> bool:          # by the sim, in order; the answers are still held back
        o = _sim_orders(sim)
        return ("tc-3-1-0" not in o and all(f"tc-3-1-{i}" in o for i in (1, 2, 3))
                and float(o["tc-3-1-1"]["price"]) == px)
    await _until(executed, 6, "the sim to carry out the five requests")
    _control(sim, "fault", {"drop_ws": True, "ws_delay_ms": 0})
    outcomes = await results
    assert all(isinstance(r, OutcomeUnknown) for r in outcomes), outcomes
    assert c.trade.lost == 5 and c.rest_fallbacks == 0
    found = {}
    for cid in ("tc-3-1-0", "tc-3-1-1", "tc-3-1-2", "tc-3-1-3"):
        res = await resolve_order(lambda cid=cid: c.query_order(BTC, cid), lambda: False, 1.0, cid)
        found[cid] = (res.update.status, res.update.px)
    assert found["tc-3-1-0"] == ("canceled", px)
    assert {cid: st for cid, (st, _) in found.items() if cid != "tc-3-1-0"} == dict.fromkeys(
        ("tc-3-1-1", "tc-3-1-2", "tc-3-1-3"), "new")
    assert found["tc-3-1-1"][1] == px and found["tc-3-1-2"][1] == px - 2
    sim_open = list(_sim_orders(sim))
    assert sorted(sim_open) == ["tc-3-1-1", "tc-3-1-2", "tc-3-1-3"]     # each exactly once
    # the socket is back and carries orders again; "before execution" loses nothing either
    await _until(lambda: c.trade.ready.is_set(), 10, "the order websocket to reconnect")
    _control(sim, "fault", {"unknown_before_exec_rate": 1})
    with pytest.raises(OutcomeUnknown, match="10016"):
        await c.submit(OrderRequest(BTC, "tc-3-1-4", 1, px, 0.01, "limit", "gtc"))
    _control(sim, "fault", {"unknown_before_exec_rate": 0})
    res = await resolve_order(lambda: c.query_order(BTC, "tc-3-1-4"), lambda: False, 1.0, "tc-3-1-4")
    assert res.absent and "tc-3-1-4" not in _sim_orders(sim)


async def test_order_websocket_down_means_rest_and_back(inproc_sim):
    """While the order websocket is down, requests go over REST (nothing was sent on the socket,
    so nothing can be doubled); once it is back, over the socket again."""
    sim, info = inproc_sim
    rec = Recorder()
    # a reconnect 1.5 to 4.5 s after the cut: time for a request while the socket is down
    c = BybitClient(_config(info["connector_config"], reconnect_min_s=3.0, reconnect_max_s=3.0))
    try:
        await c.connect_market(rec, timeout_s=10)
        await c.connect_user(timeout_s=10)
        book = sim.engine.books["BTCUSDT"]
        px = float(book.spec.price_str(book.best_bid - 5000))
        await c.submit(OrderRequest(BTC, "tc-4-1-1", 1, px, 0.01, "limit", "gtc"))
        for conn in [x for x in sim.protocol.streams.conns if x.request.path == "/v5/trade"]:
            conn.drop()
        await _until(lambda: not c.trade.ready.is_set(), what="the client to see the order websocket gone")
        requests = sim.protocol.requests
        up = await c.modify(BTC, "tc-4-1-1", 1, px - 1, 0.01)        # over REST, read back at once
        assert (up.client_order_id, up.px, up.status) == ("tc-4-1-1", px - 1, "new")
        assert c.rest_fallbacks == 1 and sim.protocol.requests == requests + 2     # amend + read-back
        await _until(lambda: c.trade.ready.is_set(), 10, "the order websocket to come back")
        assert await c.cancel(BTC, "tc-4-1-1") is None                 # over the socket again
        await _until(lambda: rec.seen("tc-4-1-1", "canceled"), what="the cancel")
        assert (c.trade.ws.connects, c.rest_fallbacks, sim.protocol.requests) == (2, 1, requests + 2)
    finally:
        await c.close()


async def test_rest_transport_and_demo_venues(sim):
    """order_transport = "rest" never opens the order websocket; Bybit's demo trading has none, so
    a demo config gets REST unless it asks for "ws", which is an error."""
    c = BybitClient(_config(sim.connector_config, order_transport="rest"))
    await c.connect_market(NullSink(), timeout_s=10)
    await c.connect_user(timeout_s=10)
    try:
        px = float(_control(sim, "state?symbol=BTCUSDT&depth=1")["book"]["bids"][0][0]) - 500
        up = await c.submit(OrderRequest(BTC, "tc-5-1-1", 1, px, 0.01, "limit", "gtc"))
        assert (up.status, up.px) == ("new", px) and c.trade is None
        up = await c.modify(BTC, "tc-5-1-1", 1, px + 1, 0.03)          # amend over REST
        assert (up.px, up.qty, up.status) == (px + 1, 0.03, "new")
        assert (await c.cancel(BTC, "tc-5-1-1")).status == "canceled"
    finally:
        await c.close()
    demo = {"rest_url": "https://api-demo.bybit.com", "private_url": "wss://stream-demo.bybit.com/v5/private",
            "public_url": "wss://stream.bybit.com/v5/public/linear"}
    cfg = _load(**demo)
    assert (cfg.order_transport, cfg.trade_url) == ("rest", "") and "trade_url" not in cfg.urls()
    with pytest.raises(Exception, match="Bybit demo trading has none, or no trade_url is given\\): expected "
                                        "\"rest\" for key 'order_transport'"):
        _load(**demo, order_transport="ws")
    with pytest.raises(Exception, match="expected one of 'ws', 'rest' for key 'order_transport'"):
        _load(order_transport="websocket")
    assert _load().order_transport == "ws"
    no_trade = _load(order_transport="rest")
    assert no_trade.trade_url == ""
