"""Bybit's disconnection protection (DCP) against the sim: the endpoints (order/dcp.mdx,
account/dcp-info.mdx) and the trigger (websocket/private/dcp.mdx: all private connections that
subscribed dcp.future gone for the window -> every order cancelled, CancelByDCP)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.test_sim_bybit import _auth, _next, bybit_sim, get, post

ACCOUNTS = ["a1", "a2", "a3", "a4"]
CONFIG = "".join(f'[[accounts]]\nname = "{a}"\napi_key = "{a}-key"\nsecret = "{a}-secret"\n\n' for a in ACCOUNTS) + """
[[accounts]]
name = "plain"
api_key = "plain-key"
secret = "plain-secret"
institutional = false

[synthetic]
interval_ms = 1000000000
trades_per_s = 0
"""
PLAIN = ("plain-key", "plain-secret")
WINDOW = 3


def cred(name: str) -> tuple[str, str]:
    return f"{name}-key", f"{name}-secret"


@pytest.fixture(scope="module")
def dcp_sim(tmp_path_factory):
    with bybit_sim(tmp_path_factory, CONFIG) as h:
        yield h


async def _bid(s, base) -> float:
    book = await (await s.get(f"{base}/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=1")).json()
    return float(book["result"]["b"][0][0])


async def _rest_orders(s, base, c, n: int = 3) -> list[str]:
    bid = await _bid(s, base)
    links = [f"{c[0][:2]}-{i}" for i in range(n)]
    for i, link in enumerate(links):
        r = await post(s, base, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                     "orderType": "Limit", "qty": "0.001",
                                                     "price": f"{bid - 100 - i:.1f}", "orderLinkId": link}, cred=c)
        assert r["retCode"] == 0, r
    return links


async def _open(s, base, c) -> list[str]:
    q = await get(s, base, "/v5/order/realtime", "category=linear&symbol=BTCUSDT", cred=c)
    return sorted(o["orderLinkId"] for o in q["result"]["list"])


async def _member(s, url, c) -> aiohttp.ClientWebSocketResponse:
    """A private connection that counts for DCP: authenticated, dcp.future subscribed, pinging."""
    ws = await s.ws_connect(url)
    assert (await _auth(ws, c))["success"] is True
    await ws.send_str('{"op":"subscribe","args":["dcp.future"],"req_id":"d"}')
    assert (await _next(ws, lambda d: d.get("req_id") == "d"))["success"] is True
    await ws.send_str('{"op":"ping"}')
    await _next(ws, lambda d: d.get("op") == "pong")
    return ws


async def _set(s, base, c, window: int = WINDOW, product: str = "DERIVATIVES") -> dict:
    return await post(s, base, "/v5/order/disconnected-cancel-all", {"product": product, "timeWindow": window}, cred=c)


async def test_dcp_endpoints_validate_and_refuse_ordinary_accounts(dcp_sim):
    base = dcp_sim.rest_url
    async with aiohttp.ClientSession() as s:
        info = (await get(s, base, "/v5/account/query-dcp-info", "", cred=cred("a4")))["result"]
        assert info == {"dcpInfos": [{"product": p, "dcpStatus": "ON", "timeWindow": "10"}      # the default
                                     for p in ("OPTIONS", "DERIVATIVES", "SPOT")]}
        for body in ({"product": "DERIVATIVES"}, {"product": "DERIVATIVES", "timeWindow": 2},
                     {"product": "DERIVATIVES", "timeWindow": 301}, {"product": "DERIVATIVES", "timeWindow": "10"},
                     {"product": "FUTURES", "timeWindow": 10}, {"timeWindow": 9.5}):
            r = await post(s, base, "/v5/order/disconnected-cancel-all", body, cred=cred("a4"))
            assert r["retCode"] == 10001, (body, r)
            await asyncio.sleep(0.25)                # under the endpoint's 5 per second
        ok = await post(s, base, "/v5/order/disconnected-cancel-all", {"timeWindow": 300}, cred=cred("a4"))
        assert (ok["retCode"], ok["retMsg"]) == (0, "success")       # no product: OPTIONS (order/dcp.mdx)
        await asyncio.sleep(0.25)
        assert (await _set(s, base, cred("a4"), 3))["retCode"] == 0
        info = (await get(s, base, "/v5/account/query-dcp-info", "", cred=cred("a4")))["result"]["dcpInfos"]
        assert {d["product"]: d["timeWindow"] for d in info} == {"OPTIONS": "300", "DERIVATIVES": "3", "SPOT": "10"}
        # an ordinary (non-institutional) account: refused, and its query "always returns empty"
        refused = await _set(s, base, PLAIN)
        assert refused["retCode"] == 10005
        assert (await get(s, base, "/v5/account/query-dcp-info", "", cred=PLAIN))["result"] == {"dcpInfos": []}
        # 5 requests per second per UID (rate-limit.mdx)
        await asyncio.sleep(1.0)
        answers = await asyncio.gather(*(_set(s, base, cred("a4"), 10) for _ in range(12)))
        assert 10006 in {a["retCode"] for a in answers}
        # the private topics: dcp.future/.spot/.option; the bare "dcp" is deprecated (2024-06-18)
        async with s.ws_connect(dcp_sim.extra["private_ws_url"]) as ws:
            await _auth(ws, cred("a4"))
            await ws.send_str('{"op":"subscribe","args":["dcp"],"req_id":"x"}')
            assert (await _next(ws, lambda d: d.get("req_id") == "x"))["success"] is False
            await ws.send_str('{"op":"subscribe","args":["dcp.future","dcp.spot","dcp.option"],"req_id":"y"}')
            assert (await _next(ws, lambda d: d.get("req_id") == "y"))["success"] is True


async def test_dcp_cancels_after_the_window_and_only_when_every_dcp_connection_is_gone(dcp_sim):
    """Four accounts side by side, window 3 s: a1 loses its only dcp.future connection (its
    other private connection, without the topic, does not count) -> every order cancelled with
    CancelByDCP after 3 s, not before; a2 reconnects (subscribe + ping) within the window ->
    nothing; a3 unsubscribes before closing -> nothing; an ordinary account -> nothing."""
    base, url = dcp_sim.rest_url, dcp_sim.extra["private_ws_url"]

    async with aiohttp.ClientSession() as s:
        async def cancelled(name: str) -> None:
            c = cred(name)
            assert (await _set(s, base, c))["retCode"] == 0
            watcher = await s.ws_connect(url)                   # a private connection without dcp.future
            await _auth(watcher, c)
            await watcher.send_str('{"op":"subscribe","args":["order"]}')
            await _next(watcher, lambda d: d.get("op") == "subscribe")
            member = await _member(s, url, c)
            links = await _rest_orders(s, base, c)
            t0 = time.monotonic()
            await member.close()
            await asyncio.sleep(WINDOW - 1.0)
            assert await _open(s, base, c) == links, "cancelled before the window"
            gone: dict[str, str] = {}
            while len(gone) < len(links):
                d = await _next(watcher, lambda d: d.get("topic") == "order", timeout=5)
                gone.update({o["orderLinkId"]: o["cancelType"] for o in d["data"] if o["orderStatus"] == "Cancelled"})
            elapsed = time.monotonic() - t0
            assert gone == dict.fromkeys(links, "CancelByDCP")
            assert WINDOW - 0.2 <= elapsed < WINDOW + 1.5, elapsed
            assert await _open(s, base, c) == []
            await watcher.close()

        async def stays(name: str, how: str) -> None:
            c = cred(name) if name != "plain" else PLAIN
            assert (await _set(s, base, c))["retCode"] == (0 if name != "plain" else 10005)
            member = await _member(s, url, c)
            links = await _rest_orders(s, base, c)
            if how == "unsubscribe":
                await member.send_str('{"op":"unsubscribe","args":["dcp.future"],"req_id":"u"}')
                assert (await _next(member, lambda d: d.get("req_id") == "u"))["success"] is True
            await member.close()
            if how == "reconnect":
                await asyncio.sleep(1.0)
                member = await _member(s, url, c)               # back within the window, heartbeat resumed
            await asyncio.sleep(WINDOW + 1.5)
            assert await _open(s, base, c) == links, name
            await member.close()
            await post(s, base, "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"}, cred=c)

        await asyncio.gather(cancelled("a1"), stays("a2", "reconnect"), stays("a3", "unsubscribe"),
                             stays("plain", "close"))


def test_sim_config_institutional_flag(tmp_path):
    from hftctl.errors import HftctlError
    from hftctl.sim.config import load_config
    cfg = tmp_path / "sim.toml"
    cfg.write_text(CONFIG)
    assert [a.institutional for a in load_config(cfg).accounts] == [True] * 4 + [False]
    cfg.write_text('[[accounts]]\napi_key = "k"\nsecret = "s"\ninstitutional = "no"\n')
    with pytest.raises(HftctlError, match=r"accounts\[0\].institutional must be true or false"):
        load_config(cfg)
