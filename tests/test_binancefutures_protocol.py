"""Binance USD-M as the exchange documents it today, against real `hftctl sim` processes: routed
websockets (/public, /market, /private) and what a stream on the wrong route does, the
per-connection message limit and the client's pacing, unknown-outcome answers, self-trade
prevention on the user stream, leverageBracket and newOrderRespType. Sources: docs/protocols.md."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from hftctl.configfile import ConfigReader
from hftctl.errors import HftctlError
from hftctl.exchanges.base import Instrument, NullSink, OrderRequest
from hftctl.exchanges.binance.common.market_stream import MarketStream
from hftctl.exchanges.binance.common.rest import ALL_5XX_UNKNOWN, NOT_EXECUTED, UNKNOWN
from hftctl.exchanges.binance.futures import messages as futures_wire
from hftctl.exchanges.binance.futures.client import OUTCOMES, BinanceFuturesClient, load_config
from hftctl.exchanges.errors import ExchangeRejected, OrderNotFound, OutcomeUnknown, Unavailable
from hftctl.sim.process import start_sim
from tests.test_sim_support import next_event as _event, public, signed

QUIET = """
[synthetic]
move_prob = 0.0        # the touch never moves and nothing trades: fills come only from users
trades_per_s = 0.0
spread_ticks = 20
"""
BTC = Instrument("BTCUSDT", 0.1, 0.001)
SILENCE_S = 1.5        # long enough for several of the sim's synthetic updates (default cadence)


@pytest.fixture(scope="module")
def sim():
    with start_sim(extra_args=["--seed", "5"]) as handle:
        yield handle


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("usdm") / "sim.toml"
    cfg.write_text(QUIET)
    with start_sim(extra_args=["--config", str(cfg)]) as handle:
        yield handle


async def _fault(s: aiohttp.ClientSession, sim, **switches) -> dict:
    async with s.post(f"{sim.control_url}/fault", data=orjson.dumps(switches)) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _state(s: aiohttp.ClientSession, sim) -> dict:
    async with s.get(f"{sim.control_url}/state?symbol=BTCUSDT") as r:
        return await r.json()


async def _frames(ws, seconds: float) -> list[dict]:
    """Every text frame within ``seconds`` (ends early if the server closes)."""
    out, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        out.append(orjson.loads(msg.data))
    return out


def _kinds(frames: list[dict]) -> set[str]:
    return {(f.get("data") or f).get("e") for f in frames if "e" in (f.get("data") or f)}


# --- routes ------------------------------------------------------------------------------------

async def test_each_stream_is_delivered_on_its_own_route_only(sim):
    root = sim.ws_root
    async with aiohttp.ClientSession() as s:
        # raw (ws) and combined (stream) mode on each route, plus the same streams on the other one
        async with s.ws_connect(f"{root}/public/ws/btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade") as pub, \
                s.ws_connect(f"{root}/market/stream?streams=btcusdt@trade/btcusdt@aggTrade/btcusdt@depth@0ms"
                             "/btcusdt@bookTicker") as mkt:
            on_public, on_market = await asyncio.gather(_frames(pub, SILENCE_S * 2), _frames(mkt, SILENCE_S * 2))
            assert _kinds(on_public) == {"depthUpdate", "bookTicker", "trade"}
            assert _kinds(on_market) == {"aggTrade"}                           # trade, depth, bookTicker: silent
            assert {f["stream"] for f in on_market} == {"btcusdt@aggTrade"}
            # a stream on the wrong route is accepted and listed, as on an unrouted connection
            await mkt.send_str('{"method":"LIST_SUBSCRIPTIONS","id":3}')
            listed = await _event(mkt, lambda d: d.get("id") == 3)
            assert sorted(listed["result"]) == ["btcusdt@aggTrade", "btcusdt@bookTicker",
                                                "btcusdt@depth@0ms", "btcusdt@trade"]
            await pub.send_str('{"method":"SUBSCRIBE","params":["ethusdt@trade","ethusdt@depth@100ms"],"id":4}')
            assert await _event(pub, lambda d: d.get("id") == 4) == {"result": None, "id": 4}
            later = await _frames(pub, SILENCE_S * 2)
            assert {f["s"] for f in later if f.get("e") == "depthUpdate"} >= {"ETHUSDT"}
            assert {f["s"] for f in later if f.get("e") == "trade"} >= {"ETHUSDT"}


async def test_unrouted_paths_are_gone_unless_the_legacy_switch_is_on(sim):
    async with aiohttp.ClientSession() as s:
        for path in ("/ws/btcusdt@depth@0ms", "/stream?streams=btcusdt@depth@0ms", "/ws"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                async with s.ws_connect(f"{sim.ws_root}{path}"):
                    pass
            assert e.value.status == 404
    with start_sim(extra_args=["--seed", "5", "--legacy-ws-paths"]) as old:
        async with aiohttp.ClientSession() as s:
            _, lk, _ = await public(s, old.rest_url, "/fapi/v1/listenKey", method="POST", key="hftctl-sim-key")
            # as the docs say of mainnet: an unrouted connection gets public streams only
            async with s.ws_connect(f"{old.ws_root}/ws/btcusdt@depth@0ms/btcusdt@trade/btcusdt@bookTicker") as ws, \
                    s.ws_connect(f"{old.ws_root}/ws/{lk['listenKey']}") as user:
                assert _kinds(await _frames(ws, SILENCE_S * 2)) == {"depthUpdate", "bookTicker", "trade"}
                await signed(s, "POST", old.rest_url, "/fapi/v1/order", {
                    "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"})
                assert await _frames(user, SILENCE_S) == []                      # no user data either


async def test_private_route_takes_a_path_key_a_query_with_events_and_subscribe(quiet):
    base = quiet.rest_url
    async with aiohttp.ClientSession() as s:
        _, lk, _ = await public(s, base, "/fapi/v1/listenKey", method="POST", key="hftctl-sim-key")
        key = lk["listenKey"]
        private = f"{quiet.ws_root}/private"
        async with s.ws_connect(f"{private}/ws/{key}") as path_form, \
                s.ws_connect(f"{private}/ws?listenKey={key}&events=ACCOUNT_UPDATE") as only_account, \
                s.ws_connect(f"{private}/stream?listenKey={key}&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE") as combined, \
                s.ws_connect(f"{private}/stream") as subscribed, \
                s.ws_connect(f"{quiet.ws_root}/public/ws/{key}") as wrong_route:
            await subscribed.send_str(orjson.dumps({"method": "SUBSCRIBE", "params": [key], "id": 1}).decode())
            assert await _event(subscribed, lambda d: d.get("id") == 1) == {"result": None, "id": 1}
            status, order, _ = await signed(s, "POST", base, "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"})
            assert status == 200, order
            got = await asyncio.gather(*(_frames(ws, SILENCE_S) for ws in
                                         (path_form, only_account, combined, subscribed, wrong_route)))
        assert _kinds(got[0]) == {"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"}
        assert _kinds(got[1]) == {"ACCOUNT_UPDATE"}                   # events= filters
        assert _kinds(got[2]) == {"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"}
        assert {f["stream"] for f in got[2]} == {key}                  # combined: the key names the stream
        assert _kinds(got[3]) == {"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"}
        assert got[4] == []                                            # user data lives on /private only
        # a name on /private that is no live listenKey is refused
        async with s.ws_connect(f"{private}/ws/not-a-key") as ws:
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and ws.close_code == 1008


@pytest.mark.parametrize("exchange", ["binancefutures", "binancespot"])
async def test_a_connection_id_in_the_path_then_subscribe(exchange):
    """Client libraries open /ws/<their connection id> and subscribe afterwards (USD-M: on a
    route; both markets share the sim's code for it)."""
    with start_sim(exchange=exchange, extra_args=["--seed", "5"]) as h:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(f"{h.ws_url}/conn42") as ws:
                await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@bookTicker"],"id":9}')
                assert await _event(ws, lambda d: d.get("id") == 9) == {"result": None, "id": 9}
                # a bookTicker (spot's has no "e"): best bid and ask with their quantities
                tick = await _event(ws, lambda d: "B" in d and "A" in d)
                assert tick["s"] == "BTCUSDT"
                await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":10}')
                assert (await _event(ws, lambda d: d.get("id") == 10))["result"] == ["btcusdt@bookTicker"]


# --- limits and pacing -------------------------------------------------------------------------

async def test_more_than_ten_messages_a_second_disconnect(sim):
    async with aiohttp.ClientSession() as s:
        before = (await _state(s, sim))["counters"]["ws_limit_drops"]
        async with s.ws_connect(f"{sim.ws_root}/market/stream") as ws:
            for i in range(7):                         # 7 + 2 pings: inside one second, allowed
                await ws.send_str(f'{{"method":"LIST_SUBSCRIPTIONS","id":{i}}}')
            await ws.ping()
            await ws.ping()
            assert len([f for f in await _frames(ws, 1.2) if "id" in f]) == 7
            assert not ws.closed
            await asyncio.sleep(1.0)
            for i in range(21):                        # over 10 within one second: cut
                await ws.send_str(f'{{"method":"LIST_SUBSCRIPTIONS","id":{i}}}')
            await _frames(ws, 2.0)
            assert ws.closed
        assert (await _state(s, sim))["counters"]["ws_limit_drops"] == before + 1


async def test_the_client_paces_and_batches_subscriptions_under_the_limit(sim):
    """Bots registering many symbols at once, then one by one: every SUBSCRIBE is batched or
    spaced, so the 10-messages-a-second rule never cuts the connection."""
    routes = {r: f"{sim.ws_root}/{r}/stream" for r in ("public", "market")}
    frames: list[str] = []
    reconnects: list[str] = []

    async def on_reconnect(route: str) -> None:
        reconnects.append(route)

    def streams(sym: str) -> dict[str, list[str]]:
        return {"public": [f"{sym.lower()}@depth@0ms"], "market": [f"{sym.lower()}@trade"]}

    ms = MarketStream(routes, streams, lambda name, raw, ts: frames.append(name), on_reconnect,
                      lambda state: None, 0.1, 1.0, messages_per_s=10)
    tasks = [asyncio.create_task(r) for r in ms.runners()]
    async with aiohttp.ClientSession() as s:
        before = (await _state(s, sim))["counters"]["ws_limit_drops"]
        try:
            await asyncio.wait_for(ms.wait_connected(), 10)
            await asyncio.gather(*(ms.subscribe(f"S{i}USDT") for i in range(40)))   # a burst: batched
            for i in range(15):                                                     # one by one: spaced
                await ms.subscribe(f"T{i}USDT")
            await ms.subscribe("BTCUSDT")
            deadline = time.monotonic() + 10
            while "btcusdt@depth@0ms" not in frames and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.5)
        finally:
            await ms.stop()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert (await _state(s, sim))["counters"]["ws_limit_drops"] == before
    assert reconnects == [] and ms.connects == 2
    assert "btcusdt@depth@0ms" in frames


# --- unknown outcomes --------------------------------------------------------------------------

def _client(sim) -> BinanceFuturesClient:
    return BinanceFuturesClient(load_config(ConfigReader(
        {**sim.connector_config, "order_prefix": "t", "api_key": "hftctl-sim-key",
         "secret": "hftctl-sim-secret", "request_timeout_s": 5.0}, "test", env={})))


def test_the_usdm_error_table_reads_the_documented_answers():
    cases = [(503, -1000, "Unknown error, please check your request or try again later.", UNKNOWN),
             (408, -1007, "Timeout waiting for response from backend server.", UNKNOWN),
             (500, -1006, "An unexpected response was received from the message bus.", UNKNOWN),
             (503, -1000, "HTTP 503 Service Unavailable.", NOT_EXECUTED),
             (503, -1001, "Internal error; unable to process your request. Please try again.", NOT_EXECUTED),
             (503, -1008, "Request throttled by system-level protection. Reduce-only/close-position orders "
                          "are exempt. Please try again.", NOT_EXECUTED),
             (502, -1, "HTTP 502 Bad Gateway", UNKNOWN),              # not in the table: fails closed
             (400, -2019, "Margin is insufficient.", None)]
    for status, code, msg, verdict in cases:
        assert OUTCOMES.verdict(status, code, msg) == verdict, msg
    # spot's docs: every 5XX is unknown, whatever it says
    assert ALL_5XX_UNKNOWN.verdict(503, -1001, "Internal error; unable to process your request.") == UNKNOWN


async def _query(s, sim, cid: str) -> tuple[int, dict]:
    status, body, _ = await signed(s, "GET", sim.rest_url, "/fapi/v1/order",
                                   {"symbol": "BTCUSDT", "origClientOrderId": cid})
    return status, body


async def test_unknown_outcome_after_and_before_execution(quiet):
    client = _client(quiet)
    async with aiohttp.ClientSession() as s:
        bid = float((await public(s, quiet.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5}))[1]
                    ["bids"][0][0])
        try:
            def req(cid: str) -> OrderRequest:
                return OrderRequest(BTC, cid, 1, bid - 50, 0.002, "limit", "gtc")

            # executed, then answered "unknown": the client says so; the order is there
            await _fault(s, quiet, unknown_after_exec_rate=1.0)
            for i in range(4):          # every documented variant is drawn in a few tries
                with pytest.raises(OutcomeUnknown):
                    await client.rest.signed("POST", "/fapi/v1/order", client.new_order_params(req(f"ua-{i}")),
                                             safe=False, is_order=True)
                status, body = await _query(s, quiet, f"ua-{i}")
                assert status == 200 and body["status"] == "NEW"
            # a cancel and an amend are state-changing too: unknown, and yet executed
            with pytest.raises(OutcomeUnknown):
                await client.modify(BTC, "ua-0", 1, bid - 60, 0.003)
            assert float((await _query(s, quiet, "ua-0"))[1]["price"]) == pytest.approx(bid - 60)
            with pytest.raises(OutcomeUnknown):
                await client.cancel(BTC, "ua-1")
            assert (await _query(s, quiet, "ua-1"))[1]["status"] == "CANCELED"
            # answered "unknown" without executing: the order does not exist
            await _fault(s, quiet, unknown_after_exec_rate=0.0, unknown_before_exec_rate=1.0)
            for i in range(3):
                with pytest.raises(OutcomeUnknown):
                    await client.rest.signed("POST", "/fapi/v1/order", client.new_order_params(req(f"ub-{i}")),
                                             safe=False, is_order=True)
                status, body = await _query(s, quiet, f"ub-{i}")
                assert (status, body["code"]) == (400, -2013)
            with pytest.raises(OutcomeUnknown):
                await client.cancel(BTC, "ua-2")
            assert (await _query(s, quiet, "ua-2"))[1]["status"] == "NEW"
            await _fault(s, quiet, unknown_before_exec_rate=0.0)
            # the client's own query finds the truth once the fault is off
            assert (await client.query_order(BTC, "ua-2")).status == "new"
            with pytest.raises(OrderNotFound):
                await client.query_order(BTC, "ub-0")
        finally:
            await _fault(s, quiet, unknown_after_exec_rate=0.0, unknown_before_exec_rate=0.0)
            await client.cancel_all(BTC)
            await client.rest.close()


async def test_a_documented_failure_is_a_refusal_not_an_unknown_outcome(quiet):
    """USD-M's 503 "Internal error; ... Please try again." (the sim's --rest-5xx-rate answer) was not
    executed: a new order is refused; a query is retried and then given up as Unavailable."""
    client = _client(quiet)
    async with aiohttp.ClientSession() as s:
        try:
            await _fault(s, quiet, rest_5xx_rate=1.0)
            with pytest.raises(ExchangeRejected) as e:
                await client.submit(OrderRequest(BTC, "fail-1", 1, 50_000.0, 0.002, "limit", "gtc"))
            assert not isinstance(e.value, OutcomeUnknown) and e.value.code == -1001
            with pytest.raises(Unavailable):
                await client.open_orders("BTCUSDT")
        finally:
            await _fault(s, quiet, rest_5xx_rate=0.0)
            await client.rest.close()
        assert (await _query(s, quiet, "fail-1"))[1]["code"] == -2013


# --- self-trade prevention ---------------------------------------------------------------------

class _Orders(NullSink):
    def __init__(self) -> None:
        self.updates: list = []

    def order(self, update) -> None:
        self.updates.append(update)


async def test_stp_expiries_on_the_user_stream(quiet):
    client = _client(quiet)
    sink = _Orders()
    client.sink = sink
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, quiet.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5})
        px = float(depth["bids"][0][0]) + 1.0          # inside the spread: nothing else trades there
        _, lk, _ = await public(s, quiet.rest_url, "/fapi/v1/listenKey", method="POST", key="hftctl-sim-key")
        try:
            await client.connect_user(timeout_s=10)
            # the connector's client: its new order sends EXPIRE_MAKER, so its own stale quote goes
            maker = await client.submit(OrderRequest(BTC, "stp-m1", -1, px, 0.002, "limit", "gtc"))
            assert maker.status == "new"
            taker = await client.submit(OrderRequest(BTC, "stp-t1", 1, px, 0.003, "limit", "gtc"))
            assert taker.status == "new" and taker.cum_qty == 0          # rests: its match was prevented
            deadline = time.monotonic() + 5
            while not any(u.client_order_id == "stp-m1" and u.status == "expired" for u in sink.updates):
                assert time.monotonic() < deadline, sink.updates
                await asyncio.sleep(0.05)
            gone = next(u for u in sink.updates if u.client_order_id == "stp-m1" and u.status == "expired")
            assert "self-trade" in gone.reason and gone.cum_qty == 0
            assert (await _query(s, quiet, "stp-m1"))[1]["status"] == "EXPIRED_IN_MATCH"
            await client.cancel(BTC, "stp-t1")
            # the wire, per mode: x=EXPIRED, X=EXPIRED_IN_MATCH, V=the taker's mode, er=1 (3 for IOC)
            async with s.ws_connect(f"{quiet.extra['private_ws_url']}/{lk['listenKey']}") as ws:
                for mode, tif, maker_cid, taker_cid, expired in (
                        ("EXPIRE_TAKER", "GTC", "m2", "t2", {"t2"}), ("EXPIRE_BOTH", "IOC", "m3", "t3", {"m3", "t3"})):
                    await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", {
                        "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                        "quantity": "0.002", "price": f"{px:.1f}", "newClientOrderId": maker_cid})
                    status, body, _ = await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", {
                        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": tif,
                        "quantity": "0.002", "price": f"{px:.1f}", "selfTradePreventionMode": mode,
                        "newClientOrderId": taker_cid, "newOrderRespType": "RESULT"})
                    assert status == 200 and body["selfTradePreventionMode"] == mode, body
                    seen: dict[str, dict] = {}
                    while set(seen) != expired:
                        ev = await _event(ws, lambda d: d.get("e") == "ORDER_TRADE_UPDATE"
                                          and d["o"]["X"] == "EXPIRED_IN_MATCH")
                        seen[ev["o"]["c"]] = ev
                    for cid, ev in seen.items():
                        o = ev["o"]
                        assert (o["x"], o["l"], o["z"]) == ("EXPIRED", "0.000", "0.000")
                        assert o["er"] == ("3" if cid == taker_cid and tif == "IOC" else "1")
                        upd = futures_wire.order_trade_update(futures_wire.user_event(orjson.dumps(ev)), 0)
                        assert upd.status == "expired" and "self-trade" in upd.reason
                    assert seen[taker_cid]["o"]["V"] == mode
                    if mode == "EXPIRE_TAKER":       # the maker was left alone
                        assert (await _query(s, quiet, maker_cid))[1]["status"] == "NEW"
                        await signed(s, "DELETE", quiet.rest_url, "/fapi/v1/order",
                                     {"symbol": "BTCUSDT", "origClientOrderId": maker_cid})
        finally:
            await client.cancel_all(BTC)
            await client.close()
    state = await _fetch_state(quiet)
    assert not [o for o in state["accounts"][0]["open_orders"] if o["client_order_id"] in
                ("stp-m1", "stp-t1", "m2", "t2", "m3", "t3")]


async def _fetch_state(sim) -> dict:
    async with aiohttp.ClientSession() as s:
        return await _state(s, sim)


async def test_modify_resets_stp_to_none(quiet):
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, quiet.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5})
        px = float(depth["bids"][0][0]) + 1.0
        _, o, _ = await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
            "price": f"{px - 0.5:.1f}", "selfTradePreventionMode": "EXPIRE_BOTH"})
        assert o["selfTradePreventionMode"] == "EXPIRE_BOTH"
        status, m, _ = await signed(s, "PUT", quiet.rest_url, "/fapi/v1/order", {
            "symbol": "BTCUSDT", "orderId": o["orderId"], "side": "BUY", "quantity": "0.002",
            "price": f"{px - 0.4:.1f}"})
        assert status == 200 and m["selfTradePreventionMode"] == "NONE"
        status, body, _ = await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
            "price": f"{px - 0.5:.1f}", "selfTradePreventionMode": "SOMETIMES"})
        assert (status, body["code"]) == (400, -5039)
        await signed(s, "DELETE", quiet.rest_url, "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})


# --- REST compatibility ------------------------------------------------------------------------

async def test_leverage_bracket_object_with_symbol_array_without(sim):
    async with aiohttp.ClientSession() as s:
        status, one, _ = await signed(s, "GET", sim.rest_url, "/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"})
        assert status == 200 and isinstance(one, dict) and one["symbol"] == "BTCUSDT"
        brackets = one["brackets"]
        assert [b["bracket"] for b in brackets] == list(range(1, len(brackets) + 1))
        assert brackets[0]["notionalFloor"] == 0 and brackets[0]["initialLeverage"] == 125
        assert all(a["notionalCap"] == b["notionalFloor"] for a, b in zip(brackets, brackets[1:]))
        assert set(brackets[0]) == {"bracket", "initialLeverage", "notionalCap", "notionalFloor",
                                    "maintMarginRatio", "cum"}
        status, every, _ = await signed(s, "GET", sim.rest_url, "/fapi/v1/leverageBracket", {})
        assert status == 200 and isinstance(every, list)
        assert {r["symbol"] for r in every} == {"BTCUSDT", "ETHUSDT"}
        status, body, _ = await public(s, sim.rest_url, "/fapi/v1/leverageBracket")
        assert (status, body["code"]) == (401, -2015)                # USER_DATA: key and signature


async def test_new_order_resp_type_ack_and_result(quiet):
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, quiet.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5})
        ask = depth["asks"][0][0]
        ioc = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC", "quantity": "0.002",
               "price": ask}
        _, ack, _ = await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", {**ioc, "newOrderRespType": "ACK"})
        assert (ack["status"], ack["executedQty"], ack["avgPrice"]) == ("NEW", "0.000", "0.00")
        status, final = await _query(s, quiet, ack["clientOrderId"])
        assert final["status"] == "FILLED"                           # the ACK was only an acknowledgement
        _, default, _ = await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", ioc)
        assert default["status"] == "NEW"                            # omitted: ACK
        _, result, _ = await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", {**ioc, "newOrderRespType": "RESULT"})
        assert (result["status"], result["executedQty"]) == ("FILLED", "0.002")
        status, body, _ = await signed(s, "POST", quiet.rest_url, "/fapi/v1/order", {**ioc, "newOrderRespType": "FULL"})
        assert (status, body["code"]) == (400, -1136)


# --- config ------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["wss://fstream.binancefuture.com", "wss://fstream.binancefuture.com/",
                                 "wss://fstream.binancefuture.com/ws", "wss://fstream.binancefuture.com/stream",
                                 "wss://fstream.binancefuture.com/public", "wss://fstream.binancefuture.com/market/ws"])
def test_stream_url_may_be_the_root_a_route_or_the_old_ws(url):
    client = BinanceFuturesClient(load_config(ConfigReader(
        {"stream_url": url, "api_url": "https://demo-fapi.binance.com", "order_prefix": "t",
         "api_key": "k" * 16, "secret": "s" * 16}, "cfg.toml", env={})))
    root = "wss://fstream.binancefuture.com"
    assert client.market_routes() == {"public": f"{root}/public/stream"}
    assert client.user_url("KEY") == f"{root}/private/ws/KEY"
    assert client.symbol_streams("BTCUSDT") == {"public": ["btcusdt@depth@0ms", "btcusdt@trade",
                                                           "btcusdt@bookTicker"]}


def test_a_stream_url_with_a_query_is_refused_in_one_line():
    with pytest.raises(HftctlError) as e:
        load_config(ConfigReader({"stream_url": "wss://fstream.binancefuture.com/stream?streams=btcusdt@trade",
                                  "api_url": "https://demo-fapi.binance.com", "order_prefix": "t",
                                  "api_key": "k" * 16, "secret": "s" * 16}, "cfg.toml", env={}))
    assert "websocket root" in str(e.value) and "\n" not in str(e.value)
