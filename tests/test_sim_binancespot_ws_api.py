"""The sim's Binance spot WebSocket API (/ws-api/v3) against web-socket-api.md (checked
2026-12-01): envelopes, sessions and user data subscriptions, the order methods with their
documented results and errors, the same answers as REST, and the unknown-outcome fault."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from hftctl.exchanges.binance.spot import messages as spot_wire
from hftctl.sim.process import start_sim
from tests.binance_ws_api import WsApi, order_event
from tests.test_sim_support import public, signed

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000",
         "price": "50000.00"}


@pytest.fixture(scope="module")
def spot():
    with start_sim("binancespot", extra_args=["--seed", "7"]) as h:
        yield h


@pytest.fixture
async def api(spot):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(spot.extra["ws_api_url"]) as ws:
            yield WsApi(ws)


async def _fault(spot, **switches):
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{spot.control_url}/fault", json=switches) as r:
            assert r.status == 200, await r.text()


async def _best(spot) -> tuple[float, float]:
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, spot.rest_url, "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
    return float(depth["bids"][0][0]), float(depth["asks"][0][0])


async def test_envelopes_ids_and_rate_limits(api, spot):
    reply = await api.reply(await api.send("ping", rid="e2a85d9f-07a5-4f94-8d5f-789dc3deb097"))
    assert reply["id"] == "e2a85d9f-07a5-4f94-8d5f-789dc3deb097" and reply["status"] == 200
    assert reply["result"] == {}
    (weight,) = reply["rateLimits"]
    assert {k: weight[k] for k in ("rateLimitType", "interval", "intervalNum", "limit")} == {
        "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}
    reply = await api.reply(await api.send("v3/time", {"returnRateLimits": False}, rid=7))
    assert set(reply) == {"id", "status", "result"} and reply["result"]["serverTime"] > 0
    assert (await api.reply(await api.send("time", rid=None)))["id"] is None
    reply = await api.call("no.such.method")
    assert (reply["status"], reply["error"]["code"]) == (400, -1020)
    await api.ws.send_str("not json")
    reply = await api.reply(None)
    assert (reply["status"], reply["error"]["code"]) == (400, -1102)
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(spot.extra["ws_api_url"] + "?returnRateLimits=false") as ws:
            quiet = WsApi(ws)
            assert "rateLimits" not in await quiet.call("ping")
            assert "rateLimits" in await quiet.call("ping", {"returnRateLimits": True})


async def test_sessions_and_user_data_subscriptions(api):
    status = await api.call("session.status")
    assert status["result"]["apiKey"] is None and status["result"]["userDataStream"] is False
    # session.logon is for Ed25519 keys only; the sim's keys are HMAC
    logon = await api.call("session.logon", signed=True)
    assert (logon["status"], logon["error"]["code"]) == (400, -1022)
    assert (await api.call("session.logon", signed=True, key="nobody"))["error"]["code"] == -2015
    bad = await api.call("userDataStream.subscribe.signature", signed=True, secret="wrong")
    assert (bad["status"], bad["error"]) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    assert (await api.call("userDataStream.subscribe.signature", signed=True, ts_ms=1))["error"]["code"] == -1021
    sub = await api.call("userDataStream.subscribe.signature", signed=True)
    assert sub["status"] == 200 and sub["result"] == {"subscriptionId": 0}
    again = await api.call("userDataStream.subscribe.signature", signed=True)
    assert again["error"] == {"code": -2035, "msg": "User Data Stream subscription already active."}
    assert (await api.call("session.subscriptions"))["result"] == [{"subscriptionId": 0}]
    assert (await api.call("session.status"))["result"]["userDataStream"] is True
    # unsubscribe needs no signature (authorization NONE since 2025-08-12)
    assert (await api.call("userDataStream.unsubscribe", {"subscriptionId": 0}))["result"] == {}
    ended = await api.event(order_event("eventStreamTerminated"))
    assert ended["subscriptionId"] == 0 and ended["event"]["E"] > 0
    assert (await api.call("session.subscriptions"))["result"] == []
    # a new subscription gets a new id
    assert (await api.call("userDataStream.subscribe.signature", signed=True))["result"] == {"subscriptionId": 1}


async def test_order_place_response_types_and_events(api, spot):
    await api.call("userDataStream.subscribe.signature", signed=True)
    ack = await api.call("order.place", {**LIMIT, "newClientOrderId": "ws-ack", "newOrderRespType": "ACK"},
                         signed=True)
    assert ack["status"] == 200
    assert set(ack["result"]) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert [r["rateLimitType"] for r in ack["rateLimits"]] == ["ORDERS", "ORDERS", "REQUEST_WEIGHT"]
    res = await api.call("order.place", {**LIMIT, "newClientOrderId": "ws-result", "newOrderRespType": "RESULT"},
                         signed=True)
    assert res["result"]["status"] == "NEW" and "fills" not in res["result"]
    full = await api.call("order.place", {**LIMIT, "newClientOrderId": "ws-full"}, signed=True)   # LIMIT: FULL
    assert full["result"]["fills"] == [] and full["result"]["workingTime"] > 0
    maker = {k: v for k, v in LIMIT.items() if k != "timeInForce"}
    maker = await api.call("order.place", {**maker, "type": "LIMIT_MAKER", "newClientOrderId": "ws-maker"},
                           signed=True)                     # LIMIT_MAKER defaults to ACK
    assert set(maker["result"]) == set(ack["result"])
    frame = await api.event(order_event("executionReport", c="ws-ack"))
    assert frame["subscriptionId"] == 0 and frame["event"]["x"] == "NEW"
    await api.event(order_event("outboundAccountPosition"))
    async with aiohttp.ClientSession() as rest:          # REST answers in the same three shapes
        for resp_type, ws_body in (("ACK", ack), ("RESULT", res), ("FULL", full)):
            status, body, _ = await signed(rest, "POST", spot.rest_url, "/api/v3/order",
                                           {**LIMIT, "newClientOrderId": f"rest-{resp_type}",
                                            "newOrderRespType": resp_type})
            assert status == 200 and list(body) == list(ws_body["result"]), resp_type
    bad = await api.call("order.place", {**LIMIT, "newOrderRespType": "SOME"}, signed=True)
    assert (bad["status"], bad["error"]["code"]) == (400, -1100)
    status = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "ws-result"}, signed=True)
    assert status["result"]["status"] == "NEW" and status["result"]["clientOrderId"] == "ws-result"
    wrong = await api.call("order.status", {"symbol": "BTCUSDT", "orderId": res["result"]["orderId"],
                                            "origClientOrderId": "ws-full"}, signed=True)
    assert wrong["error"] == {"code": -2039, "msg": "Client order ID is not correct for this order ID."}
    opened = await api.call("openOrders.status", {"symbol": "BTCUSDT"}, signed=True)
    assert {o["clientOrderId"] for o in opened["result"]} >= {"ws-ack", "ws-result", "ws-full"}
    cancel = await api.call("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws-ack"}, signed=True)
    assert cancel["result"]["status"] == "CANCELED" and cancel["result"]["origClientOrderId"] == "ws-ack"
    again = await api.call("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws-ack"}, signed=True)
    assert (again["status"], again["error"]) == (400, {"code": -2011, "msg": "Unknown order sent."})
    neither = await api.call("order.cancel", {"symbol": "BTCUSDT"}, signed=True)
    assert neither["error"]["code"] == -1102
    done = await api.call("openOrders.cancelAll", {"symbol": "BTCUSDT"}, signed=True)
    assert {o["status"] for o in done["result"]} == {"CANCELED"}


async def test_the_same_request_gets_the_same_answer_on_both_transports(api, spot):
    cases = [
        {**LIMIT, "quantity": "0.000001"},                      # LOT_SIZE
        {**LIMIT, "price": "50000.001"},                        # PRICE_FILTER
        {**LIMIT, "timeInForce": "GTD"},                        # -1115
        {**LIMIT, "side": "UP"},                                # -1117
        {**LIMIT, "symbol": "NOPE"},                            # -1121
        {**LIMIT, "quantity": "5", "side": "SELL", "price": "90000"},   # balance
        {k: v for k, v in LIMIT.items() if k != "quantity"},    # -1102
    ]
    async with aiohttp.ClientSession() as s:
        for params in cases:
            status, body, _ = await signed(s, "POST", spot.rest_url, "/api/v3/order", params)
            reply = await api.call("order.place", params, signed=True)
            assert (reply["status"], reply["error"]) == (status, body), params


async def test_cancel_replace_results_per_the_docs_matrix(api, spot):
    bid, ask = await _best(spot)
    old = (await api.call("order.place", {**LIMIT, "newClientOrderId": "cr-1"}, signed=True))["result"]
    # both succeed: 200
    ok = await api.call("order.cancelReplace", {**LIMIT, "cancelReplaceMode": "STOP_ON_FAILURE",
                                                "cancelOrigClientOrderId": "cr-1", "newClientOrderId": "cr-2",
                                                "newOrderRespType": "RESULT"}, signed=True)
    assert ok["status"] == 200 and ok["result"]["cancelResult"] == ok["result"]["newOrderResult"] == "SUCCESS"
    assert ok["result"]["cancelResponse"]["orderId"] == old["orderId"]
    assert ok["result"]["newOrderResponse"]["clientOrderId"] == "cr-2"
    # STOP_ON_FAILURE, unknown order: 400 / -2022, the new order not attempted
    stop = await api.call("order.cancelReplace", {**LIMIT, "cancelReplaceMode": "STOP_ON_FAILURE",
                                                  "cancelOrigClientOrderId": "gone"}, signed=True)
    assert stop["status"] == 400
    assert stop["error"] == {"code": -2022, "msg": "Order cancel-replace failed.", "data": {
        "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
        "cancelResponse": {"code": -2011, "msg": "Unknown order sent."}, "newOrderResponse": None}}
    # ALLOW_FAILURE, unknown order, new order placed: 409 / -2021
    allow = await api.call("order.cancelReplace", {**LIMIT, "cancelReplaceMode": "ALLOW_FAILURE",
                                                   "cancelOrigClientOrderId": "gone", "newClientOrderId": "cr-3"},
                           signed=True)
    assert (allow["status"], allow["error"]["code"]) == (409, -2021)
    data = allow["error"]["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "SUCCESS")
    assert data["newOrderResponse"]["clientOrderId"] == "cr-3" and data["newOrderResponse"]["fills"] == []
    # cancelled, but the LIMIT_MAKER would take: 409 / -2021 and the old order stays cancelled
    take = await api.call("order.cancelReplace", {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01000", "price": f"{ask:.2f}",
        "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "cr-2"}, signed=True)
    assert (take["status"], take["error"]["code"]) == (409, -2021)
    data = take["error"]["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["status"] == "CANCELED"
    assert data["newOrderResponse"] == {"code": -2010, "msg": "Order would immediately match and take."}
    # both fail (ALLOW_FAILURE): 400 / -2022
    both = await api.call("order.cancelReplace", {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01000", "price": f"{ask:.2f}",
        "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrigClientOrderId": "cr-2"}, signed=True)
    assert (both["status"], both["error"]["code"]) == (400, -2022)
    assert (both["error"]["data"]["cancelResult"], both["error"]["data"]["newOrderResult"]) == ("FAILURE", "FAILURE")
    # the same request over REST gets the same body and status
    async with aiohttp.ClientSession() as s:
        status, body, _ = await signed(s, "POST", spot.rest_url, "/api/v3/order/cancelReplace", {
            **LIMIT, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "gone"})
    assert (status, body) == (stop["status"], stop["error"])
    await api.call("openOrders.cancelAll", {"symbol": "BTCUSDT"}, signed=True)


async def test_cancel_replace_over_the_order_limit(tmp_path):
    """DO_NOTHING: 429 / -1015 and nothing happens; CANCEL_ONLY: the cancel goes through and the
    new order fails with -1015 (409 / -2021)."""
    cfg = tmp_path / "sim.toml"
    cfg.write_text("[rate_limits]\norders_per_10s = 2\n")
    with start_sim("binancespot", extra_args=["--config", str(cfg)]) as sim:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(sim.extra["ws_api_url"]) as ws:
                api = WsApi(ws)
                for cid in ("lim-1", "lim-2"):
                    assert (await api.call("order.place", {**LIMIT, "newClientOrderId": cid}, signed=True))["status"] == 200
                replace = {**LIMIT, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "lim-1"}
                nothing = await api.call("order.cancelReplace", replace, signed=True)
                assert (nothing["status"], nothing["error"]["code"]) == (429, -1015)
                assert "data" not in nothing["error"]
                still = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "lim-1"}, signed=True)
                assert still["result"]["status"] == "NEW"
                only = await api.call("order.cancelReplace", {**replace, "orderRateLimitExceededMode": "CANCEL_ONLY"},
                                      signed=True)
                assert (only["status"], only["error"]["code"]) == (409, -2021)
                data = only["error"]["data"]
                assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
                assert data["newOrderResponse"]["code"] == -1015


@pytest.mark.parametrize("when", ["after", "before"])
async def test_unknown_outcome_fault_on_both_transports(api, spot, when):
    """-1007 ("execution status unknown") with HTTP/WS status 500; "after": the order exists."""
    await _fault(spot, **{f"unknown_{when}_exec_rate": 1.0})
    try:
        reply = await api.call("order.place", {**LIMIT, "newClientOrderId": f"u-ws-{when}"}, signed=True)
        async with aiohttp.ClientSession() as s:
            status, body, _ = await signed(s, "POST", spot.rest_url, "/api/v3/order",
                                           {**LIMIT, "newClientOrderId": f"u-rest-{when}"})
    finally:
        await _fault(spot, **{f"unknown_{when}_exec_rate": 0.0})
    unknown = {"code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown; "
               "execution status unknown."}
    assert (reply["status"], reply["error"]) == (500, unknown)
    assert (status, body) == (500, unknown)
    for cid in (f"u-ws-{when}", f"u-rest-{when}"):
        q = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": cid}, signed=True)
        if when == "after":
            assert q["result"]["status"] == "NEW"
        else:
            assert q["error"] == {"code": -2013, "msg": "Order does not exist."}
    await api.call("openOrders.cancelAll", {"symbol": "BTCUSDT"}, signed=True)


async def test_expire_user_stream_fault_terminates_subscriptions(api, spot):
    await api.call("userDataStream.subscribe.signature", signed=True)
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{spot.control_url}/fault", json={"expire_user_stream": True}) as r:
            assert (await r.json())["expired"] == ["default"]
        async with s.get(f"{spot.control_url}/state") as r:
            assert (await r.json())["accounts"][0]["user_streams"] == 0
    frame = await api.event(order_event("eventStreamTerminated"))
    assert frame["subscriptionId"] == 0
    assert (await api.call("session.subscriptions"))["result"] == []
    # the connection stays usable: subscribe again
    assert (await api.call("userDataStream.subscribe.signature", signed=True))["result"] == {"subscriptionId": 1}


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    """A market that does not move, 20 USDT wide: orders inside the spread meet only each other."""
    cfg = tmp_path_factory.mktemp("still") / "sim.toml"
    cfg.write_text("[synthetic]\nspread_ticks = 2000\nmove_prob = 0.0\ntrades_per_s = 0.0\n")
    with start_sim("binancespot", extra_args=["--config", str(cfg), "--symbol", "BTCUSDT"]) as h:
        yield h


async def test_self_trade_prevention_as_spot_reports_it(still):
    """faqs/stp_faq.md: the taker's mode decides (the symbol's default: EXPIRE_MAKER); expired
    orders are EXPIRED_IN_MATCH with a preventedMatchId, their reports x = TRADE_PREVENTION."""
    bid, ask = await _best(still)
    mid = f"{(bid + ask) / 2:.2f}"
    order = {"symbol": "BTCUSDT", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000", "price": mid}
    async with aiohttp.ClientSession() as s:
        _, info, _ = await public(s, still.rest_url, "/api/v3/exchangeInfo")
        sym = info["symbols"][0]
        assert sym["defaultSelfTradePreventionMode"] == "EXPIRE_MAKER"
        assert sym["allowedSelfTradePreventionModes"] == ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
        async with s.ws_connect(still.extra["ws_api_url"]) as ws:
            api = WsApi(ws)
            await api.call("userDataStream.subscribe.signature", signed=True)

            async def place(**p) -> dict:
                reply = await api.call("order.place", {**order, **p}, signed=True)
                assert reply["status"] == 200, reply
                return reply["result"]

            async def report(oid: int, x: str) -> dict:
                return (await api.event(lambda f: f["event"].get("i") == oid and f["event"].get("x") == x))["event"]

            async def status(oid: int) -> dict:
                return (await api.call("order.status", {"symbol": "BTCUSDT", "orderId": oid}, signed=True))["result"]

            bad = await api.call("order.place", {**order, "side": "BUY", "selfTradePreventionMode": "DECREMENT"},
                                 signed=True)
            assert bad["error"] == {"code": -1013, "msg": "This symbol does not allow the specified self-trade "
                                                          "prevention mode."}
            # the default, EXPIRE_MAKER: the resting order expires, the taker rests
            maker = await place(side="BUY", selfTradePreventionMode="NONE", newClientOrderId="stp-m1")
            taker = await place(side="SELL", newClientOrderId="stp-t1")
            assert (taker["status"], taker["selfTradePreventionMode"]) == ("NEW", "EXPIRE_MAKER")
            assert taker["preventedMatches"] == [{"preventedMatchId": 0, "makerOrderId": maker["orderId"],
                                                  "price": f"{float(mid):.8f}", "makerPreventedQuantity": "0.01000000"}]
            er = await report(maker["orderId"], "TRADE_PREVENTION")
            assert (er["X"], er["v"], er["A"], er["B"], er["U"], er["Cs"], er["V"]) == (
                "EXPIRED_IN_MATCH", 0, "0.01000000", "0.01000000", taker["orderId"], "BTCUSDT", "NONE")
            assert float(er["l"]) == float(er["L"]) == float(er["Y"]) == 0        # pl/pL/pY say what it would be
            assert (float(er["pl"]), float(er["pL"])) == (0.01, float(mid)) and float(er["pY"]) == pytest.approx(
                0.01 * float(mid))
            q = await status(maker["orderId"])
            assert (q["status"], q["preventedMatchId"], q["preventedQuantity"]) == ("EXPIRED_IN_MATCH", 0, "0.01000000")
            assert "preventedMatchId" not in await status(taker["orderId"])
            # hftctl's client maps the report to an expired order with the reason
            upd = spot_wire.execution_report(spot_wire.user_event(orjson.dumps(er)), 1)
            assert upd.status == "expired" and upd.reason.startswith("self-trade prevention")
            await api.call("openOrders.cancelAll", {"symbol": "BTCUSDT"}, signed=True)

            # EXPIRE_TAKER: the taker expires, the resting order stays
            maker = await place(side="BUY", newClientOrderId="stp-m2")
            taker = await place(side="SELL", selfTradePreventionMode="EXPIRE_TAKER", newClientOrderId="stp-t2")
            assert (taker["status"], taker["preventedQuantity"]) == ("EXPIRED_IN_MATCH", "0.01000000")
            assert taker["preventedMatches"] == [{"preventedMatchId": 1, "makerOrderId": maker["orderId"],
                                                  "price": f"{float(mid):.8f}", "takerPreventedQuantity": "0.01000000"}]
            er = await report(taker["orderId"], "TRADE_PREVENTION")
            assert (er["v"], er["U"], er["X"]) == (1, maker["orderId"], "EXPIRED_IN_MATCH")
            assert (await status(maker["orderId"]))["status"] == "NEW"

            # EXPIRE_BOTH: one prevented match, both orders expired by it
            taker = await place(side="SELL", selfTradePreventionMode="EXPIRE_BOTH", quantity="0.03000")
            assert taker["status"] == "EXPIRED_IN_MATCH" and taker["preventedQuantity"] == "0.03000000"
            assert taker["preventedMatches"] == [{
                "preventedMatchId": 2, "makerOrderId": maker["orderId"], "price": f"{float(mid):.8f}",
                "takerPreventedQuantity": "0.03000000", "makerPreventedQuantity": "0.01000000"}]
            m_er, t_er = await report(maker["orderId"], "TRADE_PREVENTION"), await report(taker["orderId"],
                                                                                          "TRADE_PREVENTION")
            assert (m_er["v"], t_er["v"], m_er["U"], t_er["U"]) == (2, 2, taker["orderId"], maker["orderId"])
            assert (float(t_er["pl"]), t_er["A"]) == (0.01, "0.03000000")   # it would have traded the maker's 0.01

            # NONE: the account trades with itself
            maker = await place(side="BUY", newClientOrderId="stp-m4")
            taker = await place(side="SELL", selfTradePreventionMode="NONE")
            assert taker["status"] == "FILLED" and "preventedMatches" not in taker
            assert (await status(maker["orderId"]))["status"] == "FILLED"


async def test_every_param_is_signed_returnratelimits_and_decimal_recvwindow_too(api):
    reply = await api.call("order.status", {"symbol": "BTCUSDT", "orderId": 1, "returnRateLimits": False,
                                            "recvWindow": 6000.346}, signed=True)
    assert set(reply) == {"id", "status", "error"} and reply["error"]["code"] == -2013    # authenticated
    reply = await api.call("order.status", {"symbol": "BTCUSDT", "orderId": 1, "recvWindow": 6000.3465},
                           signed=True)
    assert reply["error"]["code"] == -1131                  # at most three decimals


async def test_order_amend_keep_priority(api, spot):
    """web-socket-api.md / rest-api.md § Order Amend Keep Priority: a smaller quantity only, the
    answer's own field names, x=REPLACED, the client id as sent (random if not), -2038 for an
    increase, no change, an unknown order and the eleventh amend (MAX_NUM_ORDER_AMENDS = 10),
    weight 4 (0 when the amend expires the order); the same answers over REST."""
    await api.call("userDataStream.subscribe.signature", signed=True)
    info = await api.call("exchangeInfo")
    sym = next(x for x in info["result"]["symbols"] if x["symbol"] == "BTCUSDT")
    assert sym["amendAllowed"] is True
    assert {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": 10} in sym["filters"]
    placed = (await api.call("order.place", {**LIMIT, "quantity": "0.02000", "newClientOrderId": "am-1"},
                             signed=True))["result"]
    amend = {"symbol": "BTCUSDT", "orderId": placed["orderId"], "newClientOrderId": "am-1", "newQty": "0.01900"}
    ok = await api.call("order.amend.keepPriority", amend, signed=True)
    assert ok["status"] == 200, ok
    order = ok["result"]["amendedOrder"]
    assert (order["orderId"], order["origClientOrderId"], order["clientOrderId"], order["qty"], order["status"]) == (
        placed["orderId"], "am-1", "am-1", "0.01900000", "NEW")
    assert {"qty", "cumulativeQuoteQty", "preventedQty"} <= set(order) and "origQty" not in order
    assert set(ok["result"]) == {"transactTime", "executionId", "amendedOrder"}
    report = await api.event(order_event("executionReport", x="REPLACED"))
    assert (report["event"]["i"], report["event"]["q"], report["event"]["c"]) == (placed["orderId"], "0.01900000", "am-1")
    unnamed = {k: v for k, v in amend.items() if k != "newClientOrderId"}
    random_id = await api.call("order.amend.keepPriority", {**unnamed, "newQty": "0.01800"}, signed=True)
    renamed = random_id["result"]["amendedOrder"]["clientOrderId"]
    assert renamed != "am-1" and len(renamed) == 22
    async with aiohttp.ClientSession() as s:
        cases = [{**amend, "newQty": "0.03000"},                                   # an increase
                 {**amend, "newQty": "0.01800", "newClientOrderId": renamed},      # no change
                 {**amend, "orderId": 1},                                          # unknown order
                 {**amend, "newQty": "0.000001"}]                                  # LOT_SIZE
        for params in cases:
            status, body, _ = await signed(s, "PUT", spot.rest_url, "/api/v3/order/amend/keepPriority", params)
            reply = await api.call("order.amend.keepPriority", params, signed=True)
            assert status == 400 and (reply["status"], reply["error"]) == (status, body), params
        assert [c for c in (await _codes(s, spot, cases))] == [
            (-2038, "Order amend (quantity increase) is not supported."),
            (-2038, "The requested action would change no state; rejecting"),
            (-2038, "Unknown order sent."), (-1013, "Filter failure: LOT_SIZE")]
        for qty in range(17, 9, -1):                    # amends 3 to 10
            r = await api.call("order.amend.keepPriority", {**amend, "newClientOrderId": renamed,
                                                             "newQty": f"0.0{qty:02d}00"}, signed=True)
            assert r["status"] == 200, r
        over = await api.call("order.amend.keepPriority", {**amend, "newClientOrderId": renamed,
                                                            "newQty": "0.00500"}, signed=True)
        assert over["error"] == {"code": -2038, "msg": "Filter failure: MAX_NUM_ORDER_AMENDS"}
    await api.call("openOrders.cancelAll", {"symbol": "BTCUSDT"}, signed=True)


async def _codes(s, spot, cases: list[dict]) -> list[tuple[int, str]]:
    out = []
    for params in cases:
        _, body, _ = await signed(s, "PUT", spot.rest_url, "/api/v3/order/amend/keepPriority", params)
        out.append((body["code"], body["msg"]))
    return out
