"""The Bybit client (hftctl.exchanges.bybit.client) in this process against the real Bybit sim:
answers whose outcome is unknown, paged lists, flat positions, the websocket life cycle."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import aiohttp
import orjson
import pytest

from hftctl.exchanges.base import Instrument, NullSink, OrderRequest
from hftctl.exchanges.bybit.client import BybitClient, ConnectBudget
from hftctl.exchanges.bybit.config import BybitConfig
from hftctl.exchanges.bybit.signing import bybit_ws_auth_signature
from hftctl.exchanges.errors import OrderNotFound, OutcomeUnknown
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


@pytest.fixture
async def local_sim(tmp_path):
    """The sim in this process, so a test can shorten Bybit's 10-minute idle cut and its
    connection-attempt limit."""
    cfg = tmp_path / "sim.toml"
    cfg.write_text(STATIC)
    sim = Sim(SimOptions(exchange="bybit", port=0, config=cfg))
    sim.protocol.streams.idle_cut_s = 1.2
    sim.protocol.streams.limits = WsLimits(max_connects=4, connect_window_s=60)
    runner = await sim.start()
    try:
        yield sim, sim.ready_info(sim.bound_port(runner))
    finally:
        await sim.stop(runner)


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
    sim.protocol.streams.limits = WsLimits(max_connects=5, connect_window_s=60)     # one more than the budget
    client = BybitClient(_config(info["connector_config"], ping_interval_s=0.4, reconnect_min_s=0.05,
                                 reconnect_max_s=0.1))
    client.connect_budget = ConnectBudget(limit=4, window_s=60)
    try:
        await client.connect_market(NullSink(), timeout_s=10)
        await client.connect_user(timeout_s=10)
        await asyncio.sleep(3.0)                 # well past the 1.2 s idle cut: the pings keep both up
        assert (client.public.connects, client.private.connects) == (1, 1)
        assert client.public.connected.is_set() and client.private.connected.is_set()
        for _ in range(3):                       # the exchange drops everyone, three times
            sim.hub.drop_all()
            await asyncio.sleep(0.5)
        # 2 + 2 attempts fit the budget of 4; the next ones wait (the sim would take a 5th)
        assert client.connect_budget.waited > 0
        assert client.public.connects + client.private.connects == 4
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
