"""The sim speaking Binance spot (/api/v3, executionReport, outboundAccountPosition over the
WebSocket API, depth U/u)."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from hftctl.sim.process import start_sim
from tests.binance_ws_api import WsApi
from tests.test_sim_support import LocalBook, public, signed


class SpotBook(LocalBook):
    """Binance spot's local-book procedure: first event U <= id+1 <= u, then U == previous u + 1."""

    def stale(self, d: dict) -> bool:
        return d["u"] <= self.last

    def check_sequence(self, d: dict) -> None:
        if not self.synced:
            assert d["U"] <= self.last + 1 <= d["u"]
            self.synced = True
        else:
            assert d["U"] == self.last + 1, ("gap", d["U"], self.last)

    def levels(self, n: int):
        bids, asks = super().levels()
        return bids[:n], asks[:n]


async def _matches_state(session, handle, ws, book: SpotBook, depth: int) -> None:
    """Merged (100 ms) diffs only line up with the sim's book at message boundaries: apply the
    next message, read the state at once, and compare when both are at the same update id."""
    for _ in range(100):
        book.apply(orjson.loads((await ws.receive(timeout=5)).data))
        state = await (await session.get(f"{handle.control_url}/state?symbol=BTCUSDT&depth={depth}")).json()
        if state["book"]["update_id"] == book.last:
            assert book.levels(depth) == (state["book"]["bids"], state["book"]["asks"])
            return
    pytest.fail("the stream never lined up with /_sim/state")


@pytest.fixture(scope="module")
def spot():
    with start_sim("binancespot", extra_args=["--seed", "5"]) as h:
        yield h


async def _next(api: WsApi, pred, timeout=5.0):
    return (await api.event(lambda f: pred(f["event"]), timeout))["event"]


async def test_spot_orders_balances_and_user_stream(spot):
    """REST orders, their events on a WebSocket API user data subscription."""
    base = spot.rest_url
    async with aiohttp.ClientSession() as s:
        _, depth, _ = await public(s, base, "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
        ask = float(depth["asks"][0][0])
        assert depth["asks"][0][0].endswith("000000")           # 8-decimal strings as on spot
        async with s.ws_connect(spot.extra["ws_api_url"]) as raw:
            ws = WsApi(raw)
            sub = await ws.call("userDataStream.subscribe.signature", signed=True)
            assert sub["status"] == 200 and sub["result"] == {"subscriptionId": 0}
            status, body, _ = await signed(s, "POST", base, "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01", "price": f"{ask:.2f}"})
            assert (status, body["code"]) == (400, -2010)
            status, o, headers = await signed(s, "POST", base, "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01000", "price": "50000.00", "newClientOrderId": "spot-1"})
            assert status == 200 and o["status"] == "NEW" and o["fills"] == []
            assert headers["X-MBX-ORDER-COUNT-10S"] == headers["X-MBX-ORDER-COUNT-1D"] == "2"
            _, info, _ = await public(s, base, "/api/v3/exchangeInfo")
            assert {(r["interval"], r["limit"]) for r in info["rateLimits"]} == {
                ("MINUTE", 6000), ("SECOND", 100), ("DAY", 200000)}
            frame = await ws.event(lambda f: f["event"]["e"] == "executionReport")
            assert set(frame) == {"subscriptionId", "event"} and frame["subscriptionId"] == 0
            er = frame["event"]
            assert (er["x"], er["X"], er["c"], er["o"], er["w"]) == ("NEW", "NEW", "spot-1", "LIMIT", True)
            pos = await _next(ws, lambda d: d["e"] == "outboundAccountPosition")
            assert pos["B"] == [{"a": "USDT", "f": "99500.00000000", "l": "500.00000000"}]
            status, c, _ = await signed(s, "DELETE", base, "/api/v3/order",
                                        {"symbol": "BTCUSDT", "origClientOrderId": "spot-1"})
            assert c["status"] == "CANCELED" and c["origClientOrderId"] == "spot-1"
            er = await _next(ws, lambda d: d["e"] == "executionReport")
            assert (er["x"], er["X"]) == ("CANCELED", "CANCELED")
            pos = await _next(ws, lambda d: d["e"] == "outboundAccountPosition")
            assert pos["B"] == [{"a": "USDT", "f": "100000.00000000", "l": "0.00000000"}]
            status, m, _ = await signed(s, "POST", base, "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.02"})
            assert m["status"] == "FILLED" and m["fills"] and m["fills"][0]["commissionAsset"] == "BTC"
            er = await _next(ws, lambda d: d["e"] == "executionReport" and d["x"] == "TRADE")
            assert er["X"] == "FILLED" and er["N"] == "BTC" and er["m"] is False
            _, trades, _ = await signed(s, "GET", base, "/api/v3/myTrades", {"symbol": "BTCUSDT"})
            assert sum(float(t["qty"]) for t in trades) == pytest.approx(0.02)
            assert all(t["orderId"] == m["orderId"] and t["isBuyer"] and not t["isMaker"] for t in trades)
            _, history, _ = await signed(s, "GET", base, "/api/v3/allOrders", {"symbol": "BTCUSDT"})
            assert [h["status"] for h in history] == ["CANCELED", "FILLED"]
            _, acct, _ = await signed(s, "GET", base, "/api/v3/account", {})
            bal = {b["asset"]: b for b in acct["balances"]}
            spent = float(m["cummulativeQuoteQty"])
            assert float(bal["USDT"]["free"]) == pytest.approx(100000 - spent)
            assert float(bal["BTC"]["free"]) == pytest.approx(1 + 0.02 * (1 - 0.0005))
            status, body, _ = await signed(s, "POST", base, "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "5", "price": "90000"})
            assert (status, body["code"]) == (400, -2010) and "insufficient balance" in body["msg"]
            status, body, _ = await signed(s, "POST", base, "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTD",
                "quantity": "0.01", "price": "50000"})
            assert body["code"] == -1115


async def test_the_retired_listen_key_endpoints_answer_gone(spot):
    """POST/PUT/DELETE /api/v3/userDataStream were retired (testnet 2026-02-04, mainnet
    2026-02-20); the docs do not say the answer: the sim's is HTTP 410 with -1016."""
    async with aiohttp.ClientSession() as s:
        for method in ("POST", "PUT", "DELETE"):
            status, body, _ = await public(s, spot.rest_url, "/api/v3/userDataStream", {"listenKey": "x" * 60},
                                           method=method, key="hftctl-sim-key")
            assert (status, body) == (410, {"code": -1016, "msg": "This service is no longer available."})
        async with s.ws_connect(spot.extra["ws_api_url"]) as raw:
            reply = await WsApi(raw).call("userDataStream.start", {"apiKey": "hftctl-sim-key"})
            assert (reply["status"], reply["error"]["code"]) == (410, -1016)


async def test_spot_book_from_snapshot_and_diffs(spot):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{spot.ws_url}/btcusdt@depth@100ms") as ws:
            first = orjson.loads((await ws.receive(timeout=5)).data)
            assert set(first) == {"e", "E", "s", "U", "u", "b", "a"}
            _, snap, _ = await public(s, spot.rest_url, "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000})
            book = SpotBook(snap)
            for _ in range(5):
                book.apply(orjson.loads((await ws.receive(timeout=5)).data))
            await _matches_state(s, spot, ws, book, 100)


async def test_spot_replay_of_real_recording(shared_data):
    rec = shared_data / "recordings" / "spot" / "btcusdt_20240808.gz"
    with start_sim("binancespot", extra_args=["--replay", str(rec), "--speed", "10"]) as h:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(f"{h.ws_url}/btcusdt@depth@100ms") as ws:
                _, snap, _ = await public(s, h.rest_url, "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000})
                book = SpotBook(snap)
                t0 = time.monotonic()
                while time.monotonic() - t0 < 1.5:
                    d = orjson.loads((await ws.receive(timeout=5)).data)
                    assert abs(d["E"] - time.time() * 1000) < 3000
                    book.apply(d)
                await _matches_state(s, h, ws, book, 200)
