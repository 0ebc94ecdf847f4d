"""The sim speaking Bybit v5 linear: X-BAPI-* signed REST, public orderbook/publicTrade topics,
private order/execution/position topics after `auth`, and the trade websocket."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import msgspec
import orjson
import pytest

from hftctl.exchanges.bybit import messages as bybit_wire
from hftctl.exchanges.bybit import schemas as bs
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


def bybit_sim(tmp_path_factory, config: str):
    """``hftctl sim --exchange bybit`` with ``config`` (a context manager)."""
    cfg = tmp_path_factory.mktemp("bybit") / "sim.toml"
    cfg.write_text(config)
    return start_sim("bybit", extra_args=["--config", str(cfg)])


@pytest.fixture(scope="module")
def bybit(tmp_path_factory):
    with bybit_sim(tmp_path_factory, CONFIG) as h:
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
        async with s.get(f"{bybit.rest_url}/v5/account/wallet-balance?{q}",
                         headers=_headers(("alice-key", "nope"), q)) as r:
            bad = await r.json()      # a bad signature: HTTP 200 and retCode 10004, the full envelope
            assert r.status == 200 and bad["retCode"] == 10004 and list(bad) == [
                "retCode", "retMsg", "result", "retExtInfo", "time"]
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
                auth = await _auth(tws)       # the trade channel's own envelope (trade/guideline.mdx)
                assert (auth["retCode"], auth["retMsg"], auth["op"]) == (0, "OK", "auth") and "reqId" not in auth
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
            # linear: "Cancelled" also after fills (PartiallyFilledCanceled is spot's only, enum.mdx)
            assert (o["orderStatus"], o["cumExecQty"], o["cancelType"]) == ("Cancelled", "0.004", "CancelByUser")
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


STATIC = CONFIG.replace("[synthetic]\n", "[synthetic]\ninterval_ms = 1000000000\n") + "\n[rate_limits]\nenabled = false\n"


@pytest.fixture(scope="module")
def static_bybit(tmp_path_factory):
    """A frozen market (one book step per 10^9 ms) and no rate limits: for counting messages
    and for placing hundreds of orders."""
    with bybit_sim(tmp_path_factory, STATIC) as h:
        yield h


async def _sub(ws, *topics) -> dict:
    await ws.send_str(orjson.dumps({"op": "subscribe", "args": list(topics), "req_id": topics[0]}).decode())
    return await _next(ws, lambda d: d.get("op") == "subscribe" and d.get("req_id") == topics[0])


async def test_depths_are_todays_and_level_1_is_snapshot_only(bybit, static_bybit):
    """orderbook.mdx § Depths: linear 1/50/200/1000; 500 was switched off on 2025-09-30. Level 1
    pushes snapshots only (ts before type) and re-pushes an unchanged book after 3 s, same u."""
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(bybit.ws_url) as ws:
            refused = await _sub(ws, "orderbook.500.BTCUSDT")
            assert (refused["success"], refused["ret_msg"]) == (False, "error:handler not found,topic:orderbook.500.BTCUSDT")
            assert (await _sub(ws, *(f"orderbook.{d}.BTCUSDT" for d in (1, 50, 200, 1000))))["success"] is True
            kinds: dict[int, set] = {}
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                raw = await ws.receive_str(timeout=5)
                d = orjson.loads(raw)
                depth = int(d["topic"].split(".")[1])
                kinds.setdefault(depth, set()).add(d["type"])
                if depth == 1:
                    assert raw.startswith('{"topic":"orderbook.1.BTCUSDT","ts":'), raw[:60]
                    assert len(d["data"]["b"]) == len(d["data"]["a"]) == 1
            assert kinds[1] == {"snapshot"} and kinds[50] == kinds[200] == kinds[1000] == {"snapshot", "delta"}
        book = await (await s.get(f"{bybit.rest_url}/v5/market/orderbook?category=linear&symbol=BTCUSDT")).json()
        assert len(book["result"]["b"]) == 25                       # linear default limit
        big = await (await s.get(f"{bybit.rest_url}/v5/market/orderbook?category=linear&symbol=BTCUSDT"
                                 "&limit=1000")).json()
        assert big["retCode"] == 0 and set(big["result"]) == {"s", "b", "a", "ts", "u", "seq", "cts"}
        over = await (await s.get(f"{bybit.rest_url}/v5/market/orderbook?category=linear&symbol=BTCUSDT"
                                  "&limit=1001")).json()
        assert over["retCode"] == 10001

        async with s.ws_connect(static_bybit.ws_url) as ws:
            await _sub(ws, "orderbook.1.ETHUSDT")
            first = await _next(ws, lambda d: d.get("topic") == "orderbook.1.ETHUSDT")
            t0 = time.monotonic()
            again = await _next(ws, lambda d: d.get("topic") == "orderbook.1.ETHUSDT", timeout=6)
            assert 2.5 < time.monotonic() - t0 < 4.5
            assert again["type"] == "snapshot" and again["data"]["u"] == first["data"]["u"]
            assert (again["data"]["b"], again["data"]["a"]) == (first["data"]["b"], first["data"]["a"])


async def _order(s, base, cred=ALICE, **kw) -> dict:
    body = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.010", **kw}
    return await post(s, base, "/v5/order/create", body, cred=cred)


async def test_order_lists_page_and_keep_closed_orders_as_documented(static_bybit):
    """open-order.mdx: limit 20 by default, at most 50, nextPageCursor; the 500 most recent
    closed orders by id. order-list.mdx: 7-day windows, unfilled cancels for 24 hours."""
    base = static_bybit.rest_url
    async with aiohttp.ClientSession() as s:
        book = await (await s.get(f"{base}/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=1")).json()
        bid, ask = float(book["result"]["b"][0][0]), float(book["result"]["a"][0][0])
        for i in range(23):
            assert (await _order(s, base, price=f"{bid - 100 - i:.1f}", orderLinkId=f"pg-{i}"))["retCode"] == 0
        q = "category=linear&settleCoin=USDT"
        first = await get(s, base, "/v5/order/realtime", q)
        assert len(first["result"]["list"]) == 20 and first["result"]["nextPageCursor"]
        created = [int(o["createdTime"]) for o in first["result"]["list"]]
        assert created == sorted(created, reverse=True)              # newest first
        second = await get(s, base, "/v5/order/realtime", f"{q}&cursor={first['result']['nextPageCursor']}")
        assert len(second["result"]["list"]) == 3 and second["result"]["nextPageCursor"] == ""
        links = {o["orderLinkId"] for o in first["result"]["list"] + second["result"]["list"]}
        assert links == {f"pg-{i}" for i in range(23)}
        assert len((await get(s, base, "/v5/order/realtime", f"{q}&limit=50"))["result"]["list"]) == 23
        assert (await get(s, base, "/v5/order/realtime", f"{q}&limit=51"))["retCode"] == 10001
        assert (await get(s, base, "/v5/order/realtime", "category=linear"))["retCode"] == 10001

        # a cancelled order: still known to realtime by id (and openOnly=1), and to history
        r = await post(s, base, "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "pg-0"})
        assert r["retCode"] == 0
        by_id = await get(s, base, "/v5/order/realtime", "category=linear&symbol=BTCUSDT&orderLinkId=pg-0")
        assert [o["orderStatus"] for o in by_id["result"]["list"]] == ["Cancelled"]
        closed = await get(s, base, "/v5/order/realtime", "category=linear&symbol=BTCUSDT&openOnly=1")
        assert "pg-0" in {o["orderLinkId"] for o in closed["result"]["list"]}
        # ... and a filled one
        assert (await _order(s, base, orderType="Market", orderLinkId="pg-filled"))["retCode"] == 0
        # 500 newer closed orders (post-only orders that would take: cancelled at once) push
        # pg-0 out of realtime's memory; history still has it
        for i in range(0, 500, 50):
            await asyncio.gather(*(_order(s, base, price=f"{ask + 10:.1f}", timeInForce="PostOnly",
                                          orderLinkId=f"po-{j}") for j in range(i, i + 50)))
        gone = await get(s, base, "/v5/order/realtime", "category=linear&symbol=BTCUSDT&orderLinkId=pg-0")
        assert gone["retCode"] == 0 and gone["result"]["list"] == []
        hist = await get(s, base, "/v5/order/history", "category=linear&symbol=BTCUSDT&orderLinkId=pg-0")
        assert [(o["orderLinkId"], o["orderStatus"]) for o in hist["result"]["list"]] == [("pg-0", "Cancelled")]
        page = await get(s, base, "/v5/order/history", "category=linear&limit=50")
        assert len(page["result"]["list"]) == 50 and page["result"]["nextPageCursor"]
        assert all(o["orderStatus"] in ("Cancelled", "Filled") for o in page["result"]["list"])
        now = int(time.time() * 1000)
        too_wide = await get(s, base, "/v5/order/history", f"category=linear&startTime={now - 8 * 86400_000}&endTime={now}")
        assert too_wide["retCode"] == 10001
        # a day later (the sim's clock moved on): unfilled cancels are gone, fills stay
        async with s.post(f"{static_bybit.control_url}/fault", data=b'{"clock_shift_ms": 90000000}') as r:
            assert r.status == 200
        try:
            later = int(time.time() * 1000) + 90_000_000
            day = await get_at(s, base, "/v5/order/history", "category=linear&symbol=BTCUSDT&orderLinkId=pg-0", later)
            assert day["retCode"] == 0 and day["result"]["list"] == []
            filled = await get_at(s, base, "/v5/order/history", "category=linear&orderLinkId=pg-filled", later)
            assert [o["orderStatus"] for o in filled["result"]["list"]] == ["Filled"]
        finally:
            async with s.post(f"{static_bybit.control_url}/fault", data=b'{"clock_shift_ms": 0}') as r:
                assert r.status == 200
        await post(s, base, "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"})
        await _order(s, base, side="Sell", orderType="Market", reduceOnly=True)


async def get_at(s, base, path, query, ts: int, cred=ALICE) -> dict:
    async with s.get(f"{base}{path}?{query}", headers=_headers(cred, query, ts)) as r:
        return await r.json()


async def test_position_list_with_settle_coin_lists_only_open_positions(static_bybit):
    """position.mdx: with settleCoin only positions with a size > 0; with symbol, even a flat one."""
    base = static_bybit.rest_url
    async with aiohttp.ClientSession() as s:
        assert (await _order(s, base, cred=BOB, orderType="Market"))["retCode"] == 0
        listed = await get(s, base, "/v5/position/list", "category=linear&settleCoin=USDT", cred=BOB)
        assert [(p["symbol"], p["side"], p["size"]) for p in listed["result"]["list"]] == [("BTCUSDT", "Buy", "0.010")]
        flat = await get(s, base, "/v5/position/list", "category=linear&symbol=ETHUSDT", cred=BOB)
        assert [(p["symbol"], p["side"], p["size"]) for p in flat["result"]["list"]] == [("ETHUSDT", "", "0.00")]
        assert (await get(s, base, "/v5/position/list", "category=linear", cred=BOB))["retCode"] == 10001
        await _order(s, base, cred=BOB, side="Sell", orderType="Market", reduceOnly=True)
        closed = await get(s, base, "/v5/position/list", "category=linear&settleCoin=USDT", cred=BOB)
        assert closed["retCode"] == 0 and closed["result"]["list"] == [] and closed["result"]["nextPageCursor"] == ""


async def test_trade_websocket_envelopes_and_unknown_outcome(static_bybit):
    """trade/guideline.mdx: reqId echoed only when sent, 20006 for a repeated one, 10404 for an
    unknown op; under the unknown-outcome faults order.create answers 10016 after or without
    executing."""
    base = static_bybit.rest_url
    async with aiohttp.ClientSession() as s, s.ws_connect(static_bybit.extra["trade_ws_url"]) as tws:
        assert (await _auth(tws))["retCode"] == 0

        async def op(name: str, args: list, **extra) -> dict:
            await tws.send_str(orjson.dumps({**extra, "header": {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000))},
                                             "op": name, "args": args}).decode())
            return await _next(tws, lambda d: d.get("op") == name)

        book = await (await s.get(f"{base}/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=1")).json()
        px = f"{float(book['result']['b'][0][0]) - 50:.2f}"
        order = {"category": "linear", "symbol": "ETHUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.10",
                 "price": px}
        r = await op("order.create", [{**order, "orderLinkId": "ws-1"}])
        assert r["retCode"] == 0 and "reqId" not in r and list(r["header"])[:3] == [
            "X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp"]
        assert (await op("order.create", [{**order, "orderLinkId": "ws-2"}], reqId="r1"))["reqId"] == "r1"
        assert (await op("order.create", [{**order, "orderLinkId": "ws-3"}], reqId="r1"))["retCode"] == 20006
        assert (await op("order.replace", [order]))["retCode"] == 10404
        for fault, link, exists in (("unknown_after_exec_rate", "ws-after", True),
                                    ("unknown_before_exec_rate", "ws-before", False)):
            async with s.post(f"{static_bybit.control_url}/fault", data=orjson.dumps({fault: 1})) as resp:
                assert resp.status == 200
            try:
                r = await op("order.create", [{**order, "orderLinkId": link}])
            finally:
                async with s.post(f"{static_bybit.control_url}/fault", data=orjson.dumps({fault: 0})) as resp:
                    assert resp.status == 200
            assert r["retCode"] == 10016
            found = await get(s, base, "/v5/order/realtime", f"category=linear&symbol=ETHUSDT&orderLinkId={link}")
            assert len(found["result"]["list"]) == (1 if exists else 0)
        await post(s, base, "/v5/order/cancel-all", {"category": "linear", "symbol": "ETHUSDT"})


async def test_self_match_prevention_decided_by_the_incoming_orders_smp_type(static_bybit):
    """smp.mdx: smpType None (default) lets an account trade with itself; CancelMaker /
    CancelTaker / CancelBoth cancel the resting, the incoming or both orders (cancelType
    CancelBySmp, smpOrderId the other order); the resting order's own smpType does not count."""
    base = static_bybit.rest_url
    async with aiohttp.ClientSession() as s, s.ws_connect(static_bybit.extra["private_ws_url"]) as pws:
        assert (await _auth(pws, BOB))["success"] is True
        await pws.send_str('{"op":"subscribe","args":["order"]}')
        await _next(pws, lambda d: d.get("op") == "subscribe")
        book = await (await s.get(f"{base}/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=1")).json()
        px = f"{float(book['result']['b'][0][0]) + 0.1:.2f}"     # inside the 20-tick spread
        order = {"category": "linear", "symbol": "ETHUSDT", "orderType": "Limit", "qty": "0.10", "price": px}

        async def place(link: str, side: str, **kw) -> str:
            r = await post(s, base, "/v5/order/create", {**order, "side": side, "orderLinkId": link, **kw}, cred=BOB)
            assert r["retCode"] == 0, r
            return r["result"]["orderId"]

        async def state(link: str) -> dict:
            q = await get(s, base, "/v5/order/realtime", f"category=linear&symbol=ETHUSDT&orderLinkId={link}", cred=BOB)
            (row,) = q["result"]["list"]
            return row

        assert (await post(s, base, "/v5/order/create", {**order, "side": "Buy", "smpType": "Sometimes"},
                           cred=BOB))["retCode"] == 10001
        cases = [("None", {}, "Filled", "Filled"),
                 ("CancelMaker", {}, "Cancelled", "New"),
                 ("CancelTaker", {"timeInForce": "IOC"}, "New", "Cancelled"),
                 ("CancelBoth", {}, "Cancelled", "Cancelled")]
        for smp, extra, maker_status, taker_status in cases:
            maker = await place(f"m-{smp}", "Buy", smpType="CancelBoth")     # a resting order's own type: ignored
            taker = await place(f"t-{smp}", "Sell", smpType=smp, **extra)
            m, t = await state(f"m-{smp}"), await state(f"t-{smp}")
            assert (m["orderStatus"], t["orderStatus"], t["smpType"]) == (maker_status, taker_status, smp), smp
            for row, other in ((m, taker), (t, maker)):
                if row["orderStatus"] == "Cancelled":
                    assert (row["cancelType"], row["smpOrderId"]) == ("CancelBySmp", other), smp
                    pushed = await _next(pws, lambda d: d.get("topic") == "order" and any(
                        o["orderId"] == row["orderId"] and o["orderStatus"] == "Cancelled" for o in d["data"]))
                    o = next(o for o in pushed["data"] if o["orderId"] == row["orderId"])
                    assert o["cancelType"] == "CancelBySmp"
                    u = bybit_wire.order(msgspec.convert(o, bs.OrderRow, strict=False), 1)
                    assert (u.status, u.reason) == ("canceled", "CancelBySmp")   # what the bot is told
            await post(s, base, "/v5/order/cancel-all", {"category": "linear", "symbol": "ETHUSDT"}, cred=BOB)
        pos = await get(s, base, "/v5/position/list", "category=linear&symbol=ETHUSDT", cred=BOB)
        assert pos["result"]["list"][0]["size"] == "0.00"          # the self-trade left no position


async def test_an_amend_goes_to_the_back_of_the_queue_on_both_transports(static_bybit):
    """amend-order.mdx says nothing of queue priority; the sim keeps a place only where an
    exchange documents it (docs/protocols.md), so an amended order, even one whose quantity only
    went down, is filled after an order that joined its price later. Without the amend the older
    order is filled first (the control). Over REST and over the trade websocket alike."""
    base = static_bybit.rest_url
    async with aiohttp.ClientSession() as s, s.ws_connect(static_bybit.extra["trade_ws_url"]) as tws:
        assert (await _auth(tws))["retCode"] == 0
        book = await (await s.get(f"{base}/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=1")).json()
        bid = float(book["result"]["b"][0][0])            # the spread is 20 ticks: nobody else inside

        async def ws_amend(link: str, qty: str) -> dict:
            await tws.send_str(orjson.dumps({"reqId": f"am-{link}", "header": {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000))},
                                             "op": "order.amend", "args": [{"category": "linear", "symbol": "ETHUSDT",
                                                                            "orderLinkId": link, "qty": qty}]}).decode())
            return await _next(tws, lambda d: d.get("reqId") == f"am-{link}")

        async def rest_amend(link: str, qty: str) -> dict:
            return await post(s, base, "/v5/order/amend", {"category": "linear", "symbol": "ETHUSDT",
                                                           "orderLinkId": link, "qty": qty})

        async def filled(link: str) -> str:
            q = await get(s, base, "/v5/order/realtime", f"category=linear&symbol=ETHUSDT&orderLinkId={link}")
            return q["result"]["list"][0]["cumExecQty"]

        for i, amend in enumerate((None, rest_amend, ws_amend)):
            px = f"{bid + 0.01 * (i + 1):.2f}"
            for link in (f"old-{i}", f"new-{i}"):
                assert (await _order(s, base, symbol="ETHUSDT", qty="0.20", price=px, orderLinkId=link))["retCode"] == 0
            if amend is not None:
                assert (await amend(f"old-{i}", "0.10"))["retCode"] == 0          # a quantity decrease
            hit = await _order(s, base, cred=BOB, symbol="ETHUSDT", side="Sell", qty="0.10", price=px,
                               timeInForce="IOC")
            assert hit["retCode"] == 0
            first, second = (f"old-{i}", f"new-{i}") if amend is None else (f"new-{i}", f"old-{i}")
            assert (await filled(first), await filled(second)) == ("0.10", "0.00"), amend
        # an amend to at most the filled quantity: 110064 (error.mdx)
        r = await rest_amend("new-1", "0.10")
        assert r["retCode"] == 110064 and (await ws_amend("new-2", "0.05"))["retCode"] == 110064
        await post(s, base, "/v5/order/cancel-all", {"category": "linear", "symbol": "ETHUSDT"})
        await _order(s, base, symbol="ETHUSDT", side="Buy", orderType="Market", qty="0.30", cred=BOB, reduceOnly=True)
