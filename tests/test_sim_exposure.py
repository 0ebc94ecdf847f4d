"""The sim's unauthenticated /_sim/* endpoints never show a credential (API key, secret, listen
key), and a sim listening beyond loopback says so loudly."""

from __future__ import annotations

import contextlib

import aiohttp
import orjson
import pytest

from hftctl.sim.process import start_sim
from hftctl.sim.server import Sim, SimOptions
from tests.binance_ws_api import WsApi
from tests.test_sim_support import public

EXCHANGES = ["binancefutures", "binancespot", "bybit"]
ACCOUNTS = {"alice": ("alice-key-0123", "alice-secret-0123"), "bob": ("k", "s")}   # bob: too short to grep
CONFIG = "".join(f'[[accounts]]\nname = "{name}"\napi_key = "{key}"\nsecret = "{secret}"\n'
                 for name, (key, secret) in ACCOUNTS.items())
# Every /_sim route, with the requests that exercise it (errors included: they echo input).
REQUESTS = {
    ("GET", "/_sim/state"): [("GET", "/_sim/state", None), ("GET", "/_sim/state?symbol=BTCUSDT&depth=5", None),
                             ("GET", "/_sim/state?depth=x", None), ("GET", "/_sim/state?symbol=alice-key-0123", None)],
    ("GET", "/_sim/fault"): [("GET", "/_sim/fault", None)],
    ("POST", "/_sim/fault"): [("POST", "/_sim/fault", {"skip_depth_seq": 0}),
                              ("POST", "/_sim/fault", {"rest_5xx_rate": "alice-secret-0123"}),
                              ("POST", "/_sim/fault", {"alice-key-0123": 1}),
                              ("POST", "/_sim/fault", {"expire_user_stream": True})],
}
LISTEN_KEY_PATHS = {"binancefutures": "/fapi/v1/listenKey"}
SESSIONS = {"binancefutures", "binancespot"}     # exchanges whose sim counts user-data sessions


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_the_requests_below_cover_every_control_route(exchange):
    sim = Sim(SimOptions(exchange=exchange, port=0))
    for coro in sim.background:
        coro.close()
    routes = {(r.method, r.resource.canonical) for r in sim.app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/_sim") and r.method != "HEAD"}
    assert routes == set(REQUESTS)


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_no_control_route_shows_a_credential(exchange, tmp_path):
    cfg = tmp_path / "sim.toml"
    cfg.write_text(CONFIG)
    with start_sim(exchange, extra_args=["--config", str(cfg), "--no-rate-limits"]) as sim:
        async with aiohttp.ClientSession() as s, contextlib.AsyncExitStack() as stack:
            listen_keys = []
            if exchange in LISTEN_KEY_PATHS:
                for key, _ in ACCOUNTS.values():
                    status, body, _ = await public(s, sim.rest_url, LISTEN_KEY_PATHS[exchange], method="POST",
                                                   key=key)
                    assert status == 200, body
                    listen_keys.append(body["listenKey"])
            elif exchange == "binancespot":     # user data: WebSocket API subscriptions
                api = WsApi(await stack.enter_async_context(s.ws_connect(sim.extra["ws_api_url"])))
                for key, secret in ACCOUNTS.values():
                    reply = await api.call("userDataStream.subscribe.signature", signed=True, key=key, secret=secret)
                    assert reply["status"] == 200, reply
            secrets = [v for pair in ACCOUNTS.values() for v in pair] + listen_keys
            bodies = {}
            for method, path, payload in [r for reqs in REQUESTS.values() for r in reqs]:
                data = None if payload is None else orjson.dumps(payload)
                async with s.request(method, f"{sim.rest_url}{path}", data=data) as r:
                    text = await r.text()
                    bodies[(method, path, str(payload))] = (r.status, text)
    for (method, path, payload), (status, text) in bodies.items():
        for secret in secrets:
            shown = f'"{secret}"' in text if len(secret) < 8 else secret in text
            assert not shown, f"{method} {path} {payload} shows {secret!r}: {text[:300]}"
    status, state = bodies[("GET", "/_sim/state", "None")]
    accounts = orjson.loads(state)["accounts"]
    assert status == 200 and [a["name"] for a in accounts] == ["alice", "bob"]
    assert all(a["user_streams"] == (1 if exchange in SESSIONS else 0) for a in accounts)
    status, expired = bodies[("POST", "/_sim/fault", "{'expire_user_stream': True}")]
    assert status == 200
    assert sorted(orjson.loads(expired)["expired"]) == (["alice", "bob"] if exchange in SESSIONS else [])
    # the fault switch given a secret as its value: its error would echo it, so it is withheld
    status, echoed = bodies[("POST", "/_sim/fault", "{'rest_5xx_rate': 'alice-secret-0123'}")]
    assert status in (400, 500) and "error" in orjson.loads(echoed)


async def test_a_response_that_would_show_a_credential_is_withheld(tmp_path):
    """Fail-closed: an account named after its own API key would put the key in /_sim/state."""
    cfg = tmp_path / "sim.toml"
    cfg.write_text('[[accounts]]\nname = "carol-key-0123"\napi_key = "carol-key-0123"\nsecret = "carol-secret"\n')
    with start_sim(extra_args=["--config", str(cfg)]) as sim:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{sim.control_url}/state") as r:
                status, text = r.status, await r.text()
            async with s.get(f"{sim.control_url}/fault") as r:
                assert r.status == 200          # responses without the key are served as usual
        log = sim.log_text()
    assert status == 500 and "carol-key-0123" not in text
    assert orjson.loads(text)["error"].startswith("response withheld: it would show the API key of account #1")
    assert "withheld a /_sim response" in log and "carol-key-0123" not in log


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("127.0.0.1", False)])
def test_non_loopback_host_is_warned_about_even_at_log_level_error(host, warned):
    with start_sim(extra_args=["--host", host, "--log-level", "error"]) as sim:
        log = sim.log_text()
    assert ("WARNING: hftctl sim listens on 0.0.0.0, not on loopback" in log) == warned, log
