"""The sim as a user's program sees it: real `hftctl sim` processes, plain aiohttp clients,
Binance USD-M futures wire format."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from hftctl.sim.process import start_sim
from tests.test_sim_support import KEY, SECRET, LocalBook, public, signed
from tests.test_sim_support import next_event as _next_event

QUIET_CONFIG = """
[[accounts]]
name = "alice"
api_key = "alice-key"
secret = "alice-secret"
balances = { USDT = 100000 }
maker_fee = 0.0002
taker_fee = 0.0005

[[accounts]]
name = "bob"
api_key = "bob-key"
secret = "bob-secret"
balances = { USDT = 50000 }

[synthetic]
move_prob = 0.0        # the touch never moves and nothing trades: fills come only from users
trades_per_s = 0.0
spread_ticks = 20
"""


@pytest.fixture(scope="module")
def sim():
    with start_sim(extra_args=["--seed", "7"]) as handle:
        yield handle


@pytest.fixture(scope="module")
def quiet_sim(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("simcfg") / "sim.toml"
    cfg.write_text(QUIET_CONFIG)
    with start_sim(extra_args=["--config", str(cfg)]) as handle:
        yield handle


async def _json_msgs(ws, n: int, timeout: float = 5.0) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        out.append(orjson.loads(msg.data))
    return out


async def test_ready_file_time_and_exchange_info(sim):
    root = f"ws://127.0.0.1:{sim.port}"
    assert sim.rest_url == f"http://127.0.0.1:{sim.port}" and sim.ws_root == root
    assert sim.ws_url == f"{root}/public/ws" and sim.extra["market_ws_url"] == f"{root}/market/ws"
    assert sim.extra["private_ws_url"] == f"{root}/private/ws"
    assert sim.connector_config == {"stream_url": root, "api_url": sim.rest_url}
    async with aiohttp.ClientSession() as s:
        status, body, headers = await public(s, sim.rest_url, "/fapi/v1/time")
        assert status == 200 and abs(body["serverTime"] - time.time() * 1000) < 2000
        assert int(headers["X-MBX-USED-WEIGHT-1M"]) >= 1
        status, info, _ = await public(s, sim.rest_url, "/fapi/v1/exchangeInfo")
        btc = next(x for x in info["symbols"] if x["symbol"] == "BTCUSDT")
        filters = {f["filterType"]: f for f in btc["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
        assert filters["LOT_SIZE"]["stepSize"] == "0.001"
        assert filters["MIN_NOTIONAL"]["notional"] == "100"
        assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT"}
        status, body, _ = await public(s, sim.rest_url, "/fapi/v1/depth", {"symbol": "NOPEUSDT"})
        assert status == 400 and body["code"] == -1121


async def test_signatures_accepted_and_rejected(sim):
    base = sim.rest_url
    async with aiohttp.ClientSession() as s:
        status, body, headers = await signed(s, "GET", base, "/fapi/v2/balance", {})
        assert status == 200 and body[0]["asset"] == "USDT" and float(body[0]["balance"]) == 100000
        status, body, _ = await signed(s, "GET", base, "/fapi/v2/balance", {}, secret="wrong")
        assert (status, body["code"]) == (400, -1022)
        status, body, _ = await signed(s, "GET", base, "/fapi/v2/balance", {}, key="nobody")
        assert (status, body["code"]) == (401, -2015)
        stale = int(time.time() * 1000) - 10_000
        status, body, _ = await signed(s, "GET", base, "/fapi/v2/balance", {}, ts_ms=stale)
        assert (status, body["code"]) == (400, -1021)
        status, body, _ = await signed(s, "GET", base, "/fapi/v2/balance", {"recvWindow": 20000}, ts_ms=stale)
        assert status == 200
        # signature over query + form body, the signature itself in the body
        ts = int(time.time() * 1000)
        from hftctl.exchanges.binance.common.signing import binance_signature
        query, body_text = "symbol=BTCUSDT", f"timestamp={ts}"
        sig = binance_signature(SECRET, query + body_text)
        async with s.get(f"{base}/fapi/v1/openOrders?{query}", data=f"{body_text}&signature={sig}",
                         headers={"X-MBX-APIKEY": KEY,
                                  "Content-Type": "application/x-www-form-urlencoded"}) as r:
            assert r.status == 200, await r.text()
        async with s.get(f"{base}/fapi/v1/openOrders?symbol=BTCUSDT&timestamp={ts}",
                         headers={"X-MBX-APIKEY": KEY}) as r:
            assert r.status == 400 and (await r.json())["code"] == -1102


async def test_order_life_rest_and_user_stream(quiet_sim):
    base, A, B = quiet_sim.rest_url, ("alice-key", "alice-secret"), ("bob-key", "bob-secret")
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, base, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5})
        bid, ask = float(depth["bids"][0][0]), float(depth["asks"][0][0])
        assert round((ask - bid) / 0.1) == 20
        px = f"{bid + 0.5:.2f}"                      # inside the spread: rests as maker
        _, lk, _ = await public(s, base, "/fapi/v1/listenKey", method="POST", key=A[0])
        async with s.ws_connect(f"{quiet_sim.extra['private_ws_url']}/{lk['listenKey']}") as ws:
            # post-only that would take is refused
            status, body, _ = await signed(s, "POST", base, "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTX",
                "quantity": "0.010", "price": f"{ask:.1f}"}, *A)
            assert (status, body["code"]) == (400, -5022)
            status, order, headers = await signed(s, "POST", base, "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTX",
                "quantity": "0.010", "price": px, "newClientOrderId": "life-1"}, *A)
            assert status == 200, order
            assert order["status"] == "NEW" and order["clientOrderId"] == "life-1"
            assert headers["X-MBX-ORDER-COUNT-1M"] == "2"   # the rejected one counts too
            ev = await _next_event(ws, lambda d: d["e"] == "ORDER_TRADE_UPDATE")
            assert (ev["o"]["x"], ev["o"]["X"], ev["o"]["i"]) == ("NEW", "NEW", order["orderId"])
            # bob sells into alice's bid: partial fill
            status, taker, _ = await signed(s, "POST", base, "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC",
                "quantity": "0.004", "price": px, "newOrderRespType": "RESULT"}, *B)
            assert status == 200 and taker["status"] == "FILLED" and taker["executedQty"] == "0.004"
            ev = await _next_event(ws, lambda d: d["e"] == "ORDER_TRADE_UPDATE")
            o = ev["o"]
            assert (o["x"], o["X"], o["l"], o["z"], o["L"], o["m"]) == (
                "TRADE", "PARTIALLY_FILLED", "0.004", "0.004", px, True)
            assert float(o["n"]) == pytest.approx(float(px) * 0.004 * 0.0002, rel=1e-6)
            acct = await _next_event(ws, lambda d: d["e"] == "ACCOUNT_UPDATE")
            assert acct["a"]["P"][0]["pa"] == "0.004" and acct["a"]["B"][0]["a"] == "USDT"
            status, q, _ = await signed(s, "GET", base, "/fapi/v1/order",
                                        {"symbol": "BTCUSDT", "origClientOrderId": "life-1"}, *A)
            assert q["status"] == "PARTIALLY_FILLED" and q["executedQty"] == "0.004"
            # the rest fills
            await signed(s, "POST", base, "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.006", "price": px}, *B)
            ev = await _next_event(ws, lambda d: d["e"] == "ORDER_TRADE_UPDATE")
            assert (ev["o"]["X"], ev["o"]["z"], ev["o"]["ap"][:len(px)]) == ("FILLED", "0.010", px)
            status, risk, _ = await signed(s, "GET", base, "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}, *A)
            assert risk[0]["positionAmt"] == "0.010" and float(risk[0]["entryPrice"]) == float(px)
            _, bal, _ = await signed(s, "GET", base, "/fapi/v2/balance", {}, *A)
            assert float(bal[0]["balance"]) == pytest.approx(100000 - float(px) * 0.010 * 0.0002, abs=1e-6)
            # a second order is cancelled
            _, o2, _ = await signed(s, "POST", base, "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.005", "price": f"{ask + 10:.1f}"}, *A)
            _, opened, _ = await signed(s, "GET", base, "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}, *A)
            assert [x["orderId"] for x in opened] == [o2["orderId"]]
            status, c, _ = await signed(s, "DELETE", base, "/fapi/v1/order",
                                        {"symbol": "BTCUSDT", "orderId": o2["orderId"]}, *A)
            assert status == 200 and c["status"] == "CANCELED"
            ev = await _next_event(ws, lambda d: d["e"] == "ORDER_TRADE_UPDATE" and d["o"]["i"] == o2["orderId"]
                                   and d["o"]["x"] != "NEW")
            assert (ev["o"]["x"], ev["o"]["X"]) == ("CANCELED", "CANCELED")
            status, body, _ = await signed(s, "DELETE", base, "/fapi/v1/order",
                                           {"symbol": "BTCUSDT", "orderId": o2["orderId"]}, *A)
            assert (status, body["code"]) == (400, -2011)
            _, trades, _ = await signed(s, "GET", base, "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}, *A)
            assert [(t["qty"], t["maker"], t["buyer"], t["orderId"]) for t in trades] == [
                ("0.004", True, True, order["orderId"]), ("0.006", True, True, order["orderId"])]
            _, history, _ = await signed(s, "GET", base, "/fapi/v1/allOrders", {"symbol": "BTCUSDT"}, *A)
            assert [(h["orderId"], h["status"]) for h in history] == [
                (order["orderId"], "FILLED"), (o2["orderId"], "CANCELED")]
        state = await (await s.get(f"{quiet_sim.control_url}/state?symbol=BTCUSDT")).json()
        alice = next(a for a in state["accounts"] if a["name"] == "alice")
        assert alice["open_orders"] == [] and alice["positions"][0]["qty"] == 0.01
        assert state["counters"]["maker_fills"] >= 2 and state["counters"]["taker_fills"] >= 2


async def test_book_from_snapshot_and_diffs_equals_sim_book(sim):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{sim.ws_url}/btcusdt@depth@0ms") as ws:
            first = (await _json_msgs(ws, 1))[0]
            assert set(first) == {"e", "E", "T", "s", "U", "u", "pu", "b", "a"} and first["e"] == "depthUpdate"
            _, snap, _ = await public(s, sim.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000})
            book = LocalBook(snap)
            book.apply(first)
            for d in await _json_msgs(ws, 10):
                book.apply(d)
            state = await (await s.get(f"{sim.control_url}/state?symbol=BTCUSDT")).json()
            target = state["book"]["update_id"]
            while book.last < target:
                book.apply((await _json_msgs(ws, 1))[0])
            assert book.last == target
            bids, asks = book.levels()
            assert bids == state["book"]["bids"] and asks == state["book"]["asks"]
            assert len(bids) >= 20 and len(asks) >= 20
            assert float(asks[0][0]) > float(bids[0][0])


async def test_subscribe_frames_and_combined_streams(sim):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(sim.ws_url) as ws:
            await ws.send_str(orjson.dumps({"method": "SUBSCRIBE", "params": [
                "btcusdt@bookTicker", "ethusdt@trade"], "id": 7}).decode())
            reply = await _next_event(ws, lambda d: "id" in d)
            assert reply == {"result": None, "id": 7}
            seen = set()
            deadline = time.monotonic() + 8
            while seen != {"bookTicker", "trade"} and time.monotonic() < deadline:
                d = (await _json_msgs(ws, 1, timeout=8))[0]
                seen.add(d.get("e"))
                if d.get("e") == "trade":
                    assert d["s"] == "ETHUSDT" and isinstance(d["p"], str) and isinstance(d["m"], bool)
            assert seen == {"bookTicker", "trade"}
            await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":8}')
            reply = await _next_event(ws, lambda d: d.get("id") == 8)
            assert reply["result"] == ["btcusdt@bookTicker", "ethusdt@trade"]
            await ws.send_str('{"method":"UNSUBSCRIBE","params":["btcusdt@bookTicker","ethusdt@trade"],"id":9}')
            assert (await _next_event(ws, lambda d: d.get("id") == 9)) == {"result": None, "id": 9}
        async with s.ws_connect(f"{sim.ws_root}/public/stream") as ws:     # combined + SUBSCRIBE
            await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@depth@0ms"],"id":1}')
            assert (await _next_event(ws, lambda d: "id" in d)) == {"result": None, "id": 1}
            env = await _next_event(ws, lambda d: "stream" in d)
            assert env["stream"] == "btcusdt@depth@0ms" and env["data"]["e"] == "depthUpdate"
        url = f"{sim.ws_root}/public/stream?streams=ethusdt@depth@100ms/btcusdt@bookTicker"
        async with s.ws_connect(url) as ws:
            prev_u = None
            depth_seen = 0
            for env in await _json_msgs(ws, 40, timeout=10):
                assert set(env) == {"stream", "data"}
                if env["stream"] == "ethusdt@depth@100ms":
                    d = env["data"]
                    if prev_u is not None:
                        assert d["pu"] == prev_u
                    prev_u = d["u"]
                    depth_seen += 1
                else:
                    assert env["stream"] == "btcusdt@bookTicker" and env["data"]["e"] == "bookTicker"
            assert depth_seen >= 2


async def test_ping_is_answered_with_pong(sim):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{sim.extra['market_ws_url']}/btcusdt@trade", autoping=False) as ws:
            await ws.ping(b"hello")
            msg = await _next_pong(ws)
            assert msg.data == b"hello"


async def _next_pong(ws):
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type == aiohttp.WSMsgType.PONG:
            return msg


async def test_order_errors_as_binance_returns_them(quiet_sim):
    base, A = quiet_sim.rest_url, ("alice-key", "alice-secret")
    good = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.010", "price": "50000.0"}
    cases = [
        ({"symbol": "NOPEUSDT"}, -1121), ({"price": "50000.05"}, -4014), ({"quantity": "0.0105"}, -1111),
        ({"quantity": "1e-3"}, -1100), ({"quantity": "0.001"}, -4164), ({"quantity": "5000"}, -1013),
        ({"side": "UP"}, -1117), ({"type": "STOP_LOSS"}, -1116), ({"timeInForce": "GTD"}, -1115),
        ({"newClientOrderId": "bad id!"}, -4015), ({"quantity": "45"}, -2019),
    ]
    async with aiohttp.ClientSession() as s:
        for change, code in cases:
            status, body, _ = await signed(s, "POST", base, "/fapi/v1/order", good | change, *A)
            assert (status, body.get("code")) == (400, code), (change, body)
        params = dict(good)
        del params["price"]
        status, body, _ = await signed(s, "POST", base, "/fapi/v1/order", params, *A)
        assert body == {"code": -1102, "msg": "Mandatory parameter 'price' was not sent, was empty/null, or malformed."}
        status, body, _ = await signed(s, "PUT", base, "/fapi/v1/order", {
            "symbol": "BTCUSDT", "orderId": 1, "side": "BUY", "quantity": "0.01", "price": "50000"}, *A)
        assert body["code"] == -2013
        status, body, _ = await signed(s, "GET", base, "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 1}, *A)
        assert body["code"] == -2013


async def test_rate_limits_weight_and_order_count(tmp_path):
    cfg = tmp_path / "sim.toml"
    cfg.write_text("[rate_limits]\nweight_per_min = 40\norders_per_10s = 3\n")
    async with aiohttp.ClientSession() as s:
        with start_sim(extra_args=["--config", str(cfg)]) as h:
            codes = []
            for _ in range(4):
                status, body, headers = await signed(s, "POST", h.rest_url, "/fapi/v1/order", {
                    "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                    "quantity": "0.010", "price": "50000.0"})
                codes.append(body.get("code", status))
            assert codes[:3] == [200, 200, 200] and codes[3] == -1015
            assert headers["X-MBX-ORDER-COUNT-10S"] == "4"
            last = None
            for _ in range(60):
                status, body, headers = await public(s, h.rest_url, "/fapi/v1/time")
                last = (status, body.get("code"), int(headers["X-MBX-USED-WEIGHT-1M"]))
                if status == 429:
                    break
            assert last[:2] == (429, -1003) and last[2] > 40
