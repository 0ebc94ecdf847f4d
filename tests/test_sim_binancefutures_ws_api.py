"""The sim's Binance USD-M WebSocket API (/ws-fapi/v1) against the USD-M docs (checked
2026-12-01; docs/protocols.md): the envelopes and rateLimits, the handshake's weight, every
order method, the same answers as REST for the same requests, the unknown-outcome faults, and
what Modify Order does (both price and quantity, the back of the queue, a GTX order that would
take or a quantity at or below the filled one cancels the order)."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from hftctl.sim.process import start_sim
from tests.binance_ws_api import WsApi, signed_params
from tests.test_sim_support import TAKER, public, signed, two_accounts



@pytest.fixture(scope="module")
def usdm(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("usdm-ws-api") / "sim.toml"
    cfg.write_text(two_accounts(spread_ticks=40))
    with start_sim(extra_args=["--config", str(cfg)]) as h:
        yield h


@pytest.fixture
async def api(usdm):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(usdm.extra["ws_api_url"]) as ws:
            yield WsApi(ws)


async def _fault(sim, **switches) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim.control_url}/fault", data=orjson.dumps(switches)) as r:
            assert r.status == 200, await r.text()


async def _touch(sim) -> tuple[float, float]:
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, sim.rest_url, "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5})
    return float(depth["bids"][0][0]), float(depth["asks"][0][0])


def _limit(px: float, qty: str = "0.002", side: str = "BUY", tif: str = "GTC", **more) -> dict:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": tif, "quantity": qty,
            "price": f"{px:.1f}", "newOrderRespType": "RESULT", **more}


async def _cancel_all(sim) -> None:
    async with aiohttp.ClientSession() as s:
        await signed(s, "DELETE", sim.rest_url, "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})
        await signed(s, "DELETE", sim.rest_url, "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"}, **TAKER)


def test_the_ready_file_names_the_websocket_api(usdm):
    assert usdm.extra["ws_api_url"] == f"ws://127.0.0.1:{usdm.port}/ws-fapi/v1"


async def test_envelopes_rate_limits_and_the_handshake_weight(api, usdm):
    bid, _ = await _touch(usdm)
    placed = await api.reply(await api.send("order.place", signed_params(_limit(bid - 100, newClientOrderId="env-1")),
                                            rid="a-1"))
    assert placed["id"] == "a-1" and placed["status"] == 200
    assert placed["result"]["clientOrderId"] == "env-1" and placed["result"]["status"] == "NEW"
    kinds = {(r["rateLimitType"], r["interval"], r["intervalNum"]) for r in placed["rateLimits"]}
    assert kinds == {("REQUEST_WEIGHT", "MINUTE", 1), ("ORDERS", "SECOND", 10), ("ORDERS", "MINUTE", 1)}
    orders = {(r["interval"], r["count"]) for r in placed["rateLimits"] if r["rateLimitType"] == "ORDERS"}
    assert all(count >= 1 for _, count in orders)
    hidden = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "env-1",
                                             "returnRateLimits": False}, signed=True)
    assert hidden["result"]["status"] == "NEW" and "rateLimits" not in hidden
    # "WebSocket handshake attempt costs 5 weight"; order.status costs 1
    for _ in range(3):                      # the per-minute window may roll in between: try again
        before = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "env-1"}, signed=True)
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(usdm.extra["ws_api_url"]):
                pass
        after = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "env-1"}, signed=True)
        w0, w1 = (next(r["count"] for r in x["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
                  for x in (before, after))
        if w1 >= w0:
            break
    assert w1 - w0 == 5 + 1
    # a version prefix names another method on USD-M ("v2/account.status"): not order.status
    unknown = await api.call("v1/order.status", {"symbol": "BTCUSDT", "origClientOrderId": "env-1"}, signed=True)
    assert (unknown["status"], unknown["error"]["code"]) == (400, -1020)
    await _cancel_all(usdm)


async def test_every_order_method(api, usdm):
    bid, _ = await _touch(usdm)
    placed = (await api.call("order.place", _limit(bid - 100, newClientOrderId="life-1"), signed=True))["result"]
    modified = await api.call("order.modify", {"symbol": "BTCUSDT", "origClientOrderId": "life-1", "side": "BUY",
                                               "price": f"{bid - 90:.1f}", "quantity": "0.003"}, signed=True)
    assert modified["status"] == 200, modified
    m = modified["result"]
    assert (m["orderId"], float(m["price"]), m["origQty"], m["status"]) == (placed["orderId"], bid - 90, "0.003", "NEW")
    status = (await api.call("order.status", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}, signed=True))["result"]
    assert (float(status["price"]), status["origQty"]) == (bid - 90, "0.003")
    canceled = (await api.call("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "life-1"},
                               signed=True))["result"]
    assert canceled["status"] == "CANCELED" and canceled["orderId"] == placed["orderId"]


async def test_the_same_request_gets_the_same_answer_on_both_transports(api, usdm):
    bid, ask = await _touch(usdm)
    ok = _limit(bid - 100)
    cases = [
        ("order.place", "POST", {**ok, "price": f"{bid - 100:.1f}5"}),           # -4014 tick
        ("order.place", "POST", {**ok, "quantity": "0.0015"}),                   # -1111 step
        ("order.place", "POST", {**ok, "side": "UP"}),                           # -1117
        ("order.place", "POST", {**ok, "timeInForce": "GTD"}),                   # -1115
        ("order.place", "POST", {**ok, "symbol": "NOPE"}),                       # -1121
        ("order.place", "POST", {k: v for k, v in ok.items() if k != "quantity"}),   # -1102
        ("order.place", "POST", {**ok, "newClientOrderId": "bad id!"}),          # -4015
        ("order.place", "POST", {**ok, "newOrderRespType": "FULL"}),             # -1136
        ("order.place", "POST", {**ok, "selfTradePreventionMode": "SOMETIMES"}),  # -5039
        ("order.place", "POST", _limit(ask, tif="GTX")),                         # -5022 post-only would take
        ("order.cancel", "DELETE", {"symbol": "BTCUSDT", "origClientOrderId": "gone"}),          # -2011
        ("order.status", "GET", {"symbol": "BTCUSDT", "origClientOrderId": "gone"}),             # -2013
        ("order.modify", "PUT", {"symbol": "BTCUSDT", "origClientOrderId": "gone", "side": "BUY",
                                 "price": f"{bid - 100:.1f}", "quantity": "0.002"}),             # -2013
    ]
    async with aiohttp.ClientSession() as s:
        for method, verb, params in cases:
            status, body, _ = await signed(s, verb, usdm.rest_url, "/fapi/v1/order", params)
            reply = await api.call(method, params, signed=True)
            assert status >= 400 and (reply["status"], reply["error"]) == (status, body), (method, params)
        # no change: -5027 on both
        await signed(s, "POST", usdm.rest_url, "/fapi/v1/order", _limit(bid - 100, newClientOrderId="same-1"))
        same = {"symbol": "BTCUSDT", "origClientOrderId": "same-1", "side": "BUY", "price": f"{bid - 100:.1f}",
                "quantity": "0.002"}
        status, body, _ = await signed(s, "PUT", usdm.rest_url, "/fapi/v1/order", same)
        reply = await api.call("order.modify", same, signed=True)
        assert (reply["status"], reply["error"]) == (status, body) and body["code"] == -5027
    await _cancel_all(usdm)


@pytest.mark.parametrize("when", ["after", "before"])
async def test_unknown_outcome_faults_on_the_websocket_api(api, usdm, when):
    bid, _ = await _touch(usdm)
    await _fault(usdm, **{f"unknown_{when}_exec_rate": 1.0})
    try:
        replies = [await api.call("order.place", _limit(bid - 100, newClientOrderId=f"u-{when}-{i}"), signed=True)
                   for i in range(4)]
    finally:
        await _fault(usdm, **{f"unknown_{when}_exec_rate": 0.0})
    documented = {(503, -1000), (408, -1007), (503, -1006)}
    assert {(r["status"], r["error"]["code"]) for r in replies} <= documented
    for i in range(4):
        q = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": f"u-{when}-{i}"}, signed=True)
        if when == "after":
            assert q["result"]["status"] == "NEW"
        else:
            assert q["error"]["code"] == -2013
    await _cancel_all(usdm)


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_modify_goes_to_the_back_of_the_queue(api, usdm, transport):
    """Two orders at one price; the first is modified to a smaller quantity at the same price:
    "modified orders will be reordered in the match queue", so a taker meets the second first."""
    bid, _ = await _touch(usdm)
    px = bid + 1.0                         # inside the spread: the two orders are the whole level
    async with aiohttp.ClientSession() as s:
        for cid in (f"q1-{transport}", f"q2-{transport}"):
            await signed(s, "POST", usdm.rest_url, "/fapi/v1/order", _limit(px, newClientOrderId=cid))
        amend = {"symbol": "BTCUSDT", "origClientOrderId": f"q1-{transport}", "side": "BUY",
                 "price": f"{px:.1f}", "quantity": "0.001"}
        if transport == "ws":
            assert (await api.call("order.modify", amend, signed=True))["status"] == 200
        else:
            assert (await signed(s, "PUT", usdm.rest_url, "/fapi/v1/order", amend))[0] == 200
        status, taken, _ = await signed(s, "POST", usdm.rest_url, "/fapi/v1/order",
                                        _limit(px, side="SELL", tif="IOC"), **TAKER)
        assert status == 200 and taken["status"] == "FILLED"
        states = {}
        for cid in (f"q1-{transport}", f"q2-{transport}"):
            states[cid] = (await signed(s, "GET", usdm.rest_url, "/fapi/v1/order",
                                        {"symbol": "BTCUSDT", "origClientOrderId": cid}))[1]["status"]
    assert states == {f"q1-{transport}": "NEW", f"q2-{transport}": "FILLED"}
    await _cancel_all(usdm)


@pytest.mark.parametrize("transport", ["ws", "rest"])
async def test_modify_cancels_where_the_docs_say(api, usdm, transport):
    """A GTX order whose new price would take, and a partly filled order whose new quantity is not
    above the filled one, are cancelled by the modify (not refused)."""
    bid, ask = await _touch(usdm)
    px = bid + 1.0
    async with aiohttp.ClientSession() as s:
        async def modify(params: dict) -> tuple[int, dict]:
            if transport == "ws":
                r = await api.call("order.modify", params, signed=True)
                return r["status"], r.get("result") or r.get("error")
            status, body, _ = await signed(s, "PUT", usdm.rest_url, "/fapi/v1/order", params)
            return status, body

        await signed(s, "POST", usdm.rest_url, "/fapi/v1/order", _limit(bid - 50, tif="GTX",
                                                                         newClientOrderId=f"gtx-{transport}"))
        status, body = await modify({"symbol": "BTCUSDT", "origClientOrderId": f"gtx-{transport}", "side": "BUY",
                                     "price": f"{ask:.1f}", "quantity": "0.002"})
        assert (status, body["status"]) == (200, "CANCELED")
        await signed(s, "POST", usdm.rest_url, "/fapi/v1/order", _limit(px, qty="0.004",
                                                                         newClientOrderId=f"part-{transport}"))
        await signed(s, "POST", usdm.rest_url, "/fapi/v1/order", _limit(px, side="SELL", tif="IOC"), **TAKER)
        status, body = await modify({"symbol": "BTCUSDT", "origClientOrderId": f"part-{transport}", "side": "BUY",
                                     "price": f"{px:.1f}", "quantity": "0.002"})
        assert (status, body["status"], body["executedQty"]) == (200, "CANCELED", "0.002")
    await _cancel_all(usdm)


async def test_orders_count_once_across_transports(usdm):
    """One order budget per account: orders over REST and the WebSocket API count together."""
    bid, _ = await _touch(usdm)
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(usdm.extra["ws_api_url"]) as ws:
            api = WsApi(ws)
            t0 = time.time()
            _, _, headers = await signed(s, "POST", usdm.rest_url, "/fapi/v1/order", _limit(bid - 100))
            reply = await api.call("order.place", _limit(bid - 100), signed=True)
            if int(time.time() // 10) == int(t0 // 10):          # the same 10 s window
                tens = next(r["count"] for r in reply["rateLimits"] if r["interval"] == "SECOND")
                assert tens == int(headers["X-MBX-ORDER-COUNT-10S"]) + 1
    await _cancel_all(usdm)
