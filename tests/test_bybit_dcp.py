"""Bybit's disconnection protection (DCP) against the sim: the endpoints (order/dcp.mdx,
account/dcp-info.mdx), the trigger (websocket/private/dcp.mdx: all private connections that
subscribed dcp.future gone for the window -> every order cancelled, CancelByDCP), and the client's
side of it (arm_dead_man / disarm_dead_man), down to a SIGKILLed process holding the sockets."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from hftctl.children import preexec
from hftctl.exchanges.base import Instrument, NullSink, OrderRequest
from hftctl.exchanges.bybit.client import BybitClient
from hftctl.exchanges.errors import NotSupported
from tests.test_bybit_client import _config, _in_process
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
BTC = Instrument("BTCUSDT", 0.1, 0.001)


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
            assert WINDOW - 0.2 <= elapsed < WINDOW + 2.0, elapsed
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
            if how == "reconnect":      # leave DCP cleanly: no timer left running for the next test
                await member.send_str('{"op":"unsubscribe","args":["dcp.future"],"req_id":"u"}')
                await _next(member, lambda d: d.get("req_id") == "u")
            await member.close()
            await post(s, base, "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"}, cred=c)

        await asyncio.gather(cancelled("a1"), stays("a2", "reconnect"), stays("a3", "unsubscribe"),
                             stays("plain", "close"))


async def test_client_arms_dcp_resubscribes_after_a_reconnect_and_disarms(tmp_path):
    """arm_dead_man sets the window and subscribes dcp.future (then pings); a dropped private
    socket comes back subscribed within the window, so nothing is cancelled; disarm and a clean
    close take the socket out of DCP; refusals are NotSupported."""
    async with _in_process(tmp_path, short_limits=False) as (sim, info):
        dcp = sim.protocol.rest.dcp
        account = sim.engine.accounts[0]
        client = BybitClient(_config(info["connector_config"], reconnect_min_s=0.2, reconnect_max_s=0.5))
        try:
            await client.connect_market(NullSink(), timeout_s=10)
            await client.connect_user(timeout_s=10)
            assert client.dead_man_mechanism == "DCP"
            for bad in (2.9, 301):
                with pytest.raises(NotSupported, match="3 to 300 whole seconds"):
                    await client.arm_dead_man(["BTCUSDT"], bad)
            await client.arm_dead_man(["BTCUSDT"], 3.7)               # whole seconds: 3
            assert dcp.windows(account)["DERIVATIVES"] == 3 and len(dcp._members[id(account)]) == 1
            posts = sim.protocol.requests
            await client.arm_dead_man(["BTCUSDT"], 3)                  # refreshing an armed switch: no request
            assert sim.protocol.requests == posts
            book = sim.engine.books["BTCUSDT"]
            px = float(book.spec.price_str(book.best_bid - 3000))
            await client.submit(OrderRequest(BTC, "tc-7-1-1", 1, px, 0.01, "limit", "gtc"))
            sim.protocol.streams.drop_private(None)                    # the private socket is cut
            deadline = time.monotonic() + 5
            while not (client._dcp_confirmed == client.private.connects == 2 and id(account) not in dcp._timing):
                assert time.monotonic() < deadline, "the client did not come back into DCP"
                await asyncio.sleep(0.05)
            await asyncio.sleep(3.5)
            assert sim.engine.counters["countdowns_fired"] == 0 and [o.client_id for o in account.orders.values()] == ["tc-7-1-1"]
            await client.disarm_dead_man(["BTCUSDT"])
            assert not dcp._members[id(account)]
            await client.arm_dead_man(["BTCUSDT"], 3)                  # on again, then a clean close
            assert len(dcp._members[id(account)]) == 1
        finally:
            await client.close()
        assert not dcp._members[id(account)]
        await asyncio.sleep(3.5)
        assert sim.engine.counters["countdowns_fired"] == 0 and len(account.orders) == 1        # a clean stop leaves them to cancel_on_stop

        plain = BybitClient(_config(info["connector_config"]))
        sim.engine.accounts[0].institutional = False
        try:
            await plain.connect_market(NullSink(), timeout_s=10)
            with pytest.raises(NotSupported, match="10005 .* institutional accounts only"):
                await plain.arm_dead_man(["BTCUSDT"], 5)
        finally:
            await plain.close()


def _child(sim, name: str, window: int, px: float) -> subprocess.Popen:
    child = Path(__file__).resolve().parent / "bybit_dcp_child.py"
    return subprocess.Popen([sys.executable, str(child), json.dumps(sim.connector_config), f"{name}-key",
                             f"{name}-secret", name, str(window), "3", str(px)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=Path(__file__).resolve().parent.parent, preexec_fn=preexec())


async def test_sigkilled_client_process_orders_cancelled_by_the_exchange_within_the_window(dcp_sim):
    """Two processes hold a client's sockets with three resting orders each, one with DCP armed
    (3 s), one without; both are SIGKILLed. The armed one's orders are cancelled by the exchange
    after the window and not before; the other's stay (so this test can fail)."""
    base = dcp_sim.rest_url
    async with aiohttp.ClientSession() as s:
        px = await _bid(s, base) - 200
    procs = {"a1": _child(dcp_sim, "a1", WINDOW, px), "a2": _child(dcp_sim, "a2", 0, px)}
    try:
        for name, p in procs.items():
            line = await asyncio.wait_for(asyncio.to_thread(p.stdout.readline), 30)
            assert line.split()[:2] == [b"ready", b"3"], (name, line, p.stdout.read() if p.poll() is not None else "")
        async with aiohttp.ClientSession() as s:
            links = {n: await _open(s, base, cred(n)) for n in procs}
            assert links == {n: [f"{n}-1-1-{i}" for i in range(3)] for n in procs}
            t0 = time.monotonic()
            for p in procs.values():
                p.send_signal(signal.SIGKILL)
            await asyncio.sleep(WINDOW - 1.0)
            assert {n: await _open(s, base, cred(n)) for n in procs} == links, "cancelled before the window"
            while await _open(s, base, cred("a1")):
                assert time.monotonic() - t0 < WINDOW + 3, "DCP did not cancel the killed process's orders"
                await asyncio.sleep(0.1)
            assert time.monotonic() - t0 >= WINDOW - 0.2
            for link in links["a1"]:
                q = await get(s, base, "/v5/order/realtime", f"category=linear&symbol=BTCUSDT&orderLinkId={link}",
                              cred=cred("a1"))
                (row,) = q["result"]["list"]
                assert (row["orderStatus"], row["cancelType"]) == ("Cancelled", "CancelByDCP")
            await asyncio.sleep(1.0)
            assert await _open(s, base, cred("a2")) == links["a2"]      # never armed: left resting
            await post(s, base, "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"}, cred=cred("a2"))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait(5)
            p.stdout.close()


def test_sim_config_institutional_flag(tmp_path):
    from hftctl.errors import HftctlError
    from hftctl.sim.config import load_config
    cfg = tmp_path / "sim.toml"
    cfg.write_text(CONFIG)
    assert [a.institutional for a in load_config(cfg).accounts] == [True] * 4 + [False]
    cfg.write_text('[[accounts]]\napi_key = "k"\nsecret = "s"\ninstitutional = "no"\n')
    with pytest.raises(HftctlError, match=r"accounts\[0\].institutional must be true or false"):
        load_config(cfg)
