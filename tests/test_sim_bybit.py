"""The sim speaking Bybit v5 linear: X-BAPI-* signed REST, public orderbook/publicTrade topics,
private order/execution/position topics after `auth`, and the trade websocket."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from hftctl.exchanges.bybit.signing import bybit_signature, bybit_ws_auth_signature
from hftctl.sim.process import start_sim

CONFIG = """
[[accounts]]
name = "alice"
api_key = "alice-key"
secret = "alice-secret"

[[accounts]]
name = "bob"
api_key = "bob-key"
secret = "bob-secret"

[synthetic]
move_prob = 0.0
trades_per_s = 0.0
spread_ticks = 20
"""
ALICE, BOB = ("alice-key", "alice-secret"), ("bob-key", "bob-secret")


@pytest.fixture(scope="module")
def bybit(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("bybit") / "sim.toml"
    cfg.write_text(CONFIG)
    with start_sim("bybit", extra_args=["--config", str(cfg)]) as h:
        yield h


def _headers(cred, payload: str, ts: int | None = None) -> dict:
    key, secret = cred
    ts_s = str(ts if ts is not None else int(time.time() * 1000))
    return {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts_s, "X-BAPI-RECV-WINDOW": "5000",
            "X-BAPI-SIGN": bybit_signature(secret, ts_s, key, "5000", payload)}


async def post(s, base, path, body, cred=ALICE, ts=None) -> dict:
    raw = orjson.dumps(body).decode()
    async with s.post(base + path, data=raw, headers={**_headers(cred, raw, ts),
                                                        "Content-Type": "application/json"}) as r:
        return await r.json()


async def get(s, base, path, query, cred=ALICE) -> dict:
    async with s.get(f"{base}{path}?{query}", headers=_headers(cred, query)) as r:
        return await r.json()


async def _auth(ws, cred=ALICE) -> dict:
    expires = int(time.time() * 1000) + 10_000
    await ws.send_str(orjson.dumps({"op": "auth", "args": [cred[0], expires,
                                                          bybit_ws_auth_signature(cred[1], expires)]}).decode())
    return orjson.loads(await ws.receive_str(timeout=5))


async def _next(ws, pred, timeout=5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        d = orjson.loads(await ws.receive_str(timeout=max(0.01, deadline - time.monotonic())))
        if pred(d):
            return d


async def test_signing_accepted_and_rejected(bybit):
    async with aiohttp.ClientSession() as s:
        q = "accountType=UNIFIED"
        ok = await get(s, bybit.rest_url, "/v5/account/wallet-balance", q)
        assert ok["retCode"] == 0 and ok["result"]["list"][0]["coin"][0]["walletBalance"] == "100000.00000000"
        bad = await get(s, bybit.rest_url, "/v5/account/wallet-balance", q, cred=("alice-key", "nope"))
        assert bad["retCode"] == 10004
        async with s.get(f"{bybit.rest_url}/v5/account/wallet-balance?{q}", headers=_headers(("x", "y"), q)) as r:
            assert r.status == 401 and (await r.json())["retCode"] == 10003
        stale = await post(s, bybit.rest_url, "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"},
                           ts=int(time.time() * 1000) - 60_000)
        assert stale["retCode"] == 10002
        info = await (await s.get(f"{bybit.rest_url}/v5/market/instruments-info?category=linear&symbol=BTCUSDT")).json()
        assert info["result"]["list"][0]["priceFilter"]["tickSize"] == "0.10"


async def test_order_life_private_and_trade_websockets(bybit):
    base = bybit.rest_url
    async with aiohttp.ClientSession() as s:
        book = await (await s.get(f"{base}/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=1")).json()
        bid, ask = float(book["result"]["b"][0][0]), float(book["result"]["a"][0][0])
        px = f"{bid + 0.5:.2f}"
        async with s.ws_connect(bybit.extra["private_ws_url"]) as pws:
            assert (await _auth(pws))["success"] is True
            await pws.send_str('{"op":"subscribe","args":["order","execution","position"],"req_id":"1"}')
            assert (await _next(pws, lambda d: d.get("op") == "subscribe"))["success"] is True
            # PostOnly that would take: accepted, then cancelled with Bybit's reason
            r = await post(s, base, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                         "orderType": "Limit", "qty": "0.010", "price": f"{ask:.2f}",
                                                         "timeInForce": "PostOnly", "orderLinkId": "po-take"})
            assert r["retCode"] == 0
            o = (await _next(pws, lambda d: d.get("topic") == "order"))["data"][0]
            assert (o["orderLinkId"], o["orderStatus"], o["rejectReason"]) == (
                "po-take", "Cancelled", "EC_PostOnlyWillTakeLiquidity")
            r = await post(s, base, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                         "orderType": "Limit", "qty": "0.010", "price": px,
                                                         "timeInForce": "PostOnly", "orderLinkId": "life"})
            oid = r["result"]["orderId"]
            o = (await _next(pws, lambda d: d.get("topic") == "order"))["data"][0]
            assert (o["orderId"], o["orderStatus"], o["timeInForce"]) == (oid, "New", "PostOnly")
            r = await post(s, base, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Sell",
                                                         "orderType": "Limit", "qty": "0.004", "price": px,
                                                         "timeInForce": "IOC"}, cred=BOB)
            assert r["retCode"] == 0
            ex = (await _next(pws, lambda d: d.get("topic") == "execution"))["data"][0]
            assert (ex["orderId"], ex["execQty"], ex["execPrice"], ex["isMaker"]) == (oid, "0.004", px, True)
            o = (await _next(pws, lambda d: d.get("topic") == "order"))["data"][0]
            assert (o["orderStatus"], o["cumExecQty"], o["leavesQty"]) == ("PartiallyFilled", "0.004", "0.006")
            pos = (await _next(pws, lambda d: d.get("topic") == "position"))["data"][0]
            assert (pos["side"], pos["size"]) == ("Buy", "0.004")
            q = await get(s, base, "/v5/order/realtime", "category=linear&symbol=BTCUSDT")
            assert [x["orderLinkId"] for x in q["result"]["list"]] == ["life"]
            async with s.ws_connect(bybit.extra["trade_ws_url"]) as tws:
                assert (await _auth(tws))["success"] is True
                await tws.send_str(orjson.dumps({
                    "reqId": "c1", "header": {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000))},
                    "op": "order.cancel", "args": [{"category": "linear", "symbol": "BTCUSDT", "orderId": oid}]}).decode())
                reply = await _next(tws, lambda d: d.get("reqId") == "c1")
                assert (reply["retCode"], reply["data"]["orderId"]) == (0, oid) and "X-Bapi-Limit" in reply["header"]
                await tws.send_str(orjson.dumps({
                    "reqId": "c2", "header": {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000))},
                    "op": "order.cancel", "args": [{"category": "linear", "symbol": "BTCUSDT", "orderId": oid}]}).decode())
                assert (await _next(tws, lambda d: d.get("reqId") == "c2"))["retCode"] == 110001
            o = (await _next(pws, lambda d: d.get("topic") == "order"))["data"][0]
            assert (o["orderStatus"], o["cumExecQty"]) == ("PartiallyFilledCanceled", "0.004")
        r = await post(s, base, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                     "orderType": "Limit", "qty": "0.0005", "price": px})
        assert r["retCode"] == 10001
        r = await post(s, base, "/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": "Buy",
                                                     "orderType": "Market", "qty": "0.01"})
        assert r["retCode"] == 10001


async def test_public_orderbook_snapshot_and_deltas_and_gap(bybit):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(bybit.ws_url) as ws:
            await ws.send_str('{"op":"subscribe","args":["orderbook.50.ETHUSDT"],"req_id":"b"}')
            assert (await _next(ws, lambda d: d.get("op") == "subscribe"))["success"] is True
            snap = await _next(ws, lambda d: d.get("topic") == "orderbook.50.ETHUSDT")
            assert snap["type"] == "snapshot" and len(snap["data"]["b"]) == 50
            bids, asks = dict(map(tuple, snap["data"]["b"])), dict(map(tuple, snap["data"]["a"]))
            u = snap["data"]["u"]
            matched = False
            for _ in range(100):
                d = await _next(ws, lambda d: d.get("topic") == "orderbook.50.ETHUSDT")
                assert d["type"] == "delta" and d["data"]["u"] == u + 1
                u = d["data"]["u"]
                for side, levels in ((bids, d["data"]["b"]), (asks, d["data"]["a"])):
                    for p, q in levels:
                        side.pop(p, None) if q == "0" else side.__setitem__(p, q)
                state = await (await s.get(f"{bybit.control_url}/state?symbol=ETHUSDT&depth=50")).json()
                if state["book"]["update_id"] == d["data"]["seq"]:
                    assert sorted(map(list, bids.items()), key=lambda x: -float(x[0])) == state["book"]["bids"]
                    assert sorted(map(list, asks.items()), key=lambda x: float(x[0])) == state["book"]["asks"]
                    matched = True
                    break
            assert matched
            async with s.post(f"{bybit.control_url}/fault", data=b'{"skip_depth_seq": 1}') as r:
                assert r.status == 200
            jumps = []
            for _ in range(6):
                d = await _next(ws, lambda d: d.get("topic") == "orderbook.50.ETHUSDT")
                jumps.append(d["data"]["u"] - u)
                u = d["data"]["u"]
            assert sorted(jumps) == [1] * 5 + [2], jumps   # one u never sent: the client must resubscribe
            await ws.send_str('{"op":"ping","req_id":"p"}')
            pong = await _next(ws, lambda d: d.get("op") == "ping")
            assert pong["ret_msg"] == "pong"


async def test_bybit_market_from_a_binance_recording(shared_data):
    """No Bybit recordings exist here: a Binance USD-M recording drives the Bybit sim's market."""
    rec = shared_data / "recordings" / "usdm" / "btcusdt_20240808.gz"
    with start_sim("bybit", extra_args=["--replay", str(rec), "--speed", "5"]) as h:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(h.ws_url) as ws:
                await ws.send_str('{"op":"subscribe","args":["orderbook.1.BTCUSDT","publicTrade.BTCUSDT"]}')
                snap = await _next(ws, lambda d: d.get("topic") == "orderbook.1.BTCUSDT")
                assert snap["type"] == "snapshot" and 50_000 < float(snap["data"]["b"][0][0]) < 70_000
                trade = await _next(ws, lambda d: d.get("topic") == "publicTrade.BTCUSDT")
                t = trade["data"][0]
                assert t["S"] in ("Buy", "Sell") and abs(t["T"] - time.time() * 1000) < 3000
