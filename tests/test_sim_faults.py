"""Every fault switch of the sim, observed from the client's side of a real sim process."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from hftctl.sim.process import start_sim
from tests.test_sim_support import public, signed


@pytest.fixture(scope="module")
def sim():
    with start_sim(extra_args=["--seed", "3", "--no-rate-limits"]) as handle:
        yield handle


async def _fault(session, sim, **switches) -> dict:
    async with session.post(f"{sim.control_url}/fault", data=orjson.dumps(switches)) as r:
        body = await r.json()
        assert r.status == 200, body
        return body


@pytest.fixture
async def session(sim):
    async with aiohttp.ClientSession() as s:
        yield s
        # every test leaves the sim healthy for the next
        await _fault(s, sim, drop_ws_every_s=0, gap_every=0, skip_depth_seq=0, ws_delay_ms=0,
                     rest_delay_ms=0, rest_5xx_rate=0, rest_429_rate=0, clock_shift_ms=0)


async def _closed_within(ws, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return False
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR,
                        aiohttp.WSMsgType.CLOSING):
            return True
    return False


async def test_drop_websockets_now(sim, session):
    async with session.ws_connect(f"{sim.ws_url}/btcusdt@depth@0ms") as ws:
        await ws.receive(timeout=5)
        body = await _fault(session, sim, drop_ws=True)
        assert body["dropped"] >= 1
        assert await _closed_within(ws, 3)


async def test_drop_websockets_every_n_seconds(sim, session):
    await _fault(session, sim, drop_ws_every_s=0.5)
    for _ in range(2):       # a reconnecting client is dropped again
        async with session.ws_connect(f"{sim.ws_url}/btcusdt@bookTicker") as ws:
            # generous: without the switch nothing closes the socket for minutes (pings every 180 s)
            assert await _closed_within(ws, 10)


async def test_skipped_depth_sequence_is_a_visible_gap(sim, session):
    async with session.ws_connect(f"{sim.ws_url}/btcusdt@depth@0ms") as ws:
        prev = orjson.loads((await ws.receive(timeout=5)).data)["u"]
        await _fault(session, sim, skip_depth_seq=1)
        gaps = 0
        for _ in range(15):
            d = orjson.loads((await ws.receive(timeout=5)).data)
            if d["pu"] != prev:
                gaps += 1
                assert d["pu"] > prev       # u jumped: an update the client never got
            prev = d["u"]
        assert gaps == 1
        state = await (await session.get(f"{sim.control_url}/state?symbol=BTCUSDT&depth=1")).json()
        assert state["counters"]["gaps_injected"] >= 1


async def test_ws_delay(sim, session):
    await _fault(session, sim, ws_delay_ms=400)
    async with session.ws_connect(f"{sim.ws_url}/btcusdt@depth@0ms") as ws:
        lags = []
        for _ in range(5):
            d = orjson.loads((await ws.receive(timeout=5)).data)
            lags.append(time.time() * 1000 - d["E"])
        assert min(lags) >= 350, lags


async def test_rest_errors_and_delay(sim, session):
    base = sim.rest_url
    await _fault(session, sim, rest_5xx_rate=1.0)
    status, body, _ = await public(session, base, "/fapi/v1/time")
    assert (status, body["code"]) == (503, -1001)
    await _fault(session, sim, rest_5xx_rate=0, rest_429_rate=1.0)
    status, body, headers = await public(session, base, "/fapi/v1/time")
    assert (status, body["code"]) == (429, -1003) and "Retry-After" in headers
    await _fault(session, sim, rest_429_rate=0.5)
    statuses = [(await public(session, base, "/fapi/v1/ping"))[0] for _ in range(60)]
    assert 10 <= statuses.count(429) <= 50 and statuses.count(200) + statuses.count(429) == 60
    await _fault(session, sim, rest_429_rate=0, rest_delay_ms=300)
    t0 = time.monotonic()
    status, _, _ = await public(session, base, "/fapi/v1/ping")
    assert status == 200 and time.monotonic() - t0 >= 0.29
    # the control endpoint itself is never faulted, and refuses nonsense
    async with session.post(f"{sim.control_url}/fault", data=b'{"rest_5xx_rate": 3}') as r:
        assert r.status == 400 and "fraction" in (await r.json())["error"]
    async with session.post(f"{sim.control_url}/fault", data=b'{"nonsense": 1}') as r:
        assert r.status == 400 and "unknown fault switch" in (await r.json())["error"]


async def test_expire_user_stream(sim, session):
    base = sim.rest_url
    _, lk, _ = await public(session, base, "/fapi/v1/listenKey", method="POST", key="hftctl-sim-key")
    key = lk["listenKey"]
    async with session.ws_connect(f"{sim.extra['private_ws_url']}/{key}") as ws:
        body = await _fault(session, sim, expire_user_stream=key)
        assert body["expired"] == ["default"]          # the owner's name, never the key
        d = orjson.loads((await ws.receive(timeout=5)).data)
        assert d["e"] == "listenKeyExpired" and d["listenKey"] == key and int(d["E"]) > 0
        assert await _closed_within(ws, 3)
    status, body, _ = await public(session, base, "/fapi/v1/listenKey", {"listenKey": key}, method="PUT",
                                   key="hftctl-sim-key")
    assert (status, body["code"]) == (400, -1125)
    async with session.ws_connect(f"{sim.extra['private_ws_url']}/{key}") as ws:
        assert await _closed_within(ws, 3)           # a dead key cannot be streamed
    _, lk2, _ = await public(session, base, "/fapi/v1/listenKey", method="POST", key="hftctl-sim-key")
    assert lk2["listenKey"] != key


async def test_clock_shift(sim, session):
    await _fault(session, sim, clock_shift_ms=10_000)
    _, body, _ = await public(session, sim.rest_url, "/fapi/v1/time")
    assert 9_000 < body["serverTime"] - time.time() * 1000 < 11_000
    status, body, _ = await signed(session, "GET", sim.rest_url, "/fapi/v2/balance", {})
    assert (status, body["code"]) == (400, -1021)
    server_now = (await public(session, sim.rest_url, "/fapi/v1/time"))[1]["serverTime"]
    status, _, _ = await signed(session, "GET", sim.rest_url, "/fapi/v2/balance", {}, ts_ms=server_now)
    assert status == 200                 # a client that measured the offset is fine


def test_fault_flags_on_the_command_line():
    async def check(h):
        async with aiohttp.ClientSession() as s:
            _, body, _ = await public(s, h.rest_url, "/fapi/v1/time")
            # 5 s ahead, less however long the answer took to arrive (generous on a busy machine)
            assert 2_000 < body["serverTime"] - time.time() * 1000 <= 5_050
            async with s.ws_connect(f"{h.ws_url}/ethusdt@depth@0ms") as ws:
                prev, gaps = None, 0
                for _ in range(12):
                    d = orjson.loads((await ws.receive(timeout=5)).data)
                    gaps += prev is not None and d["pu"] != prev
                    prev = d["u"]
                assert gaps >= 2
            # the server pings (Binance: every 3 min) and drops a client that never answers
            async with s.ws_connect(f"{h.extra['market_ws_url']}/ethusdt@trade", autoping=False) as ws:
                kinds = []
                while True:
                    msg = await ws.receive(timeout=5)
                    kinds.append(msg.type)
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
                assert aiohttp.WSMsgType.PING in kinds
    with start_sim(extra_args=["--gap-every", "4", "--clock-shift-ms", "5000", "--ws-ping-interval", "0.6"]) as h:
        asyncio.run(check(h))


def test_listen_key_expires_without_keepalive(tmp_path):
    """Binance expires a listenKey that is not kept alive (the sim's TTL is configurable)."""
    cfg = tmp_path / "sim.toml"
    cfg.write_text("listen_key_ttl_s = 1.5\n")

    async def check(h):
        async with aiohttp.ClientSession() as s:
            _, a, _ = await public(s, h.rest_url, "/fapi/v1/listenKey", method="POST", key="hftctl-sim-key")
            async with s.ws_connect(f"{h.extra['private_ws_url']}/{a['listenKey']}") as ws:
                t0 = time.monotonic()
                for _ in range(4):                       # keepalive holds it past its TTL
                    await asyncio.sleep(0.5)
                    status, _, _ = await public(s, h.rest_url, "/fapi/v1/listenKey", method="PUT",
                                                key="hftctl-sim-key")
                    assert status == 200
                assert time.monotonic() - t0 > 1.5
                d = orjson.loads((await ws.receive(timeout=5)).data)     # then it lapses
                assert d == {"e": "listenKeyExpired", "E": d["E"], "listenKey": a["listenKey"]}
    with start_sim(extra_args=["--config", str(cfg)]) as h:
        asyncio.run(check(h))
