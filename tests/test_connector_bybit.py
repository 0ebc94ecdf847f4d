"""The connector on Bybit v5 linear, end to end against `hftctl sim --exchange bybit`.

The sim's synthetic market is frozen after seeding (one book step per 10^9 ms, no trades), so
the bot's book can be compared with the sim's exactly; fills come from the bot's own market order.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import orjson
import pytest

from hftctl.connector.claim import instance_tag
from hftctl.connector.routing import parse_client_id
from hftctl.exchanges.bybit.signing import bybit_signature
from hftctl.sim.process import start_sim
from hftctl.status import read_statuses
from tests.connector_procs import bot, bot_view, connector, segments, sim_fault, sim_state, wait_for

STATIC_MARKET = """
[[accounts]]
name = "default"
api_key = "hftctl-sim-key"
secret = "hftctl-sim-secret"

[synthetic]
interval_ms = 1000000000
trades_per_s = 0
"""


def _config(path, sim, prefix: str, extra: str = ""):
    path.write_text(f'public_url = "{sim.ws_url}"\nprivate_url = "{sim.extra["private_ws_url"]}"\n'
                    f'trade_url = "{sim.extra["trade_ws_url"]}"\nrest_url = "{sim.rest_url}"\n'
                    f'category = "linear"\norder_prefix = "{prefix}"\napi_key = "hftctl-sim-key"\n'
                    f'secret = "hftctl-sim-secret"\n{extra}\n')
    return path


def status_stats(pid: int) -> dict | None:
    """The client counters of the connector with this pid, from its status file."""
    recs = [r for r in read_statuses("connector") if r.pid == pid]
    return recs[0].data.get("stats") if recs else None


def _levels(levels, n=20):
    return [(round(float(p), 1), round(float(q), 3)) for p, q in levels[:n]]


@pytest.mark.parametrize("transport", ["ws", "rest"])
def test_bybit_orders_fills_position_and_book_equal_the_sims(tmp_path, transport):
    """The scripted flow (submit, amend, cancel, a fill, a post-only that would take) with orders
    over the order websocket (the default) and over REST: the bot's view is the sim's state."""
    sim_cfg = tmp_path / "sim.toml"
    sim_cfg.write_text(STATIC_MARKET)
    with start_sim("bybit", extra_args=["--config", str(sim_cfg)]) as sim:
        cfg = _config(tmp_path / "c.toml", sim, "by", f'order_transport = "{transport}"')
        out = tmp_path / "bot.json"
        with connector("ctbybit", cfg, tmp_path, exchange="bybit") as conn:
            with bot("ctbybit", out, "--mode", "flow", "--flow-seconds", "2") as b:
                def settled() -> tuple[dict, dict] | None:
                    """The scripted flow is done and the bot's view agrees with the sim's state."""
                    view, state = bot_view(b, out), sim_state(sim)
                    acct = state["accounts"][0]
                    sim_open = sorted(o["client_order_id"] for o in acct["open_orders"]
                                      if parse_client_id("by", o["client_order_id"]) is not None)
                    pos = sum(float(p["qty"]) for p in acct["positions"] if p["symbol"] == "BTCUSDT")
                    done = (len(view["orders"]) >= 8 and view["open_cids"] == sim_open
                            and round(view["position"], 6) == round(pos, 6) and view["book_ok"])
                    return (view, state) if done else None

                # SIGUSR1 (bot_view) before the bot installed its handler would kill it
                wait_for(lambda: f"(testbot-{b.pid}," in conn.text(), 30, "the bot to connect")
                view, state = wait_for(settled, 30, "the bot's view to agree with the sim", 0.5)
            orders = view["orders"]
            assert orders["1"]["qty"] == pytest.approx(0.02) and orders["1"]["status"] == "new"   # amended
            assert orders["2"]["status"] == "canceled"
            assert orders["3"]["status"] == "new"
            assert orders["4"]["status"] == "filled" and orders["4"]["cum"] == pytest.approx(0.01)
            assert orders["5"]["status"] == "canceled"       # PostOnly that would take
            acct = state["accounts"][0]
            sim_open = {o["client_order_id"]: o for o in acct["open_orders"]
                        if parse_client_id("by", o["client_order_id"]) is not None}
            assert sorted(sim_open) == view["open_cids"]
            by_cid = {o["cid"]: o for o in orders.values()}
            for cid, o in sim_open.items():
                assert by_cid[cid]["cum"] == pytest.approx(float(o["filled"]))
                assert by_cid[cid]["px"] == pytest.approx(float(o["price"]))
            pos = sum(float(p["qty"]) for p in acct["positions"] if p["symbol"] == "BTCUSDT")
            assert view["position"] == pytest.approx(pos) and view["filled_signed"] == pytest.approx(pos)
            assert pos != 0
            assert view["book_ok"] and view["bbo"], "no BestBidOffer from orderbook.1"
            via = {"ws": "orders go over the order websocket", "rest": 'orders go over REST (order_transport = "rest")'}
            assert via[transport] in conn.text()
            stats = wait_for(lambda: status_stats(conn.p.pid), 10, "the connector's status")
            # every create, amend and cancel over the chosen transport, none fell back
            assert (stats["order_ws_requests"] > 0, stats["order_rest_fallbacks"]) == (transport == "ws", 0)
            assert view["bbo"] == [float(state["book"]["bids"][0][0]), float(state["book"]["asks"][0][0])]
            assert _levels(view["bids"]) == _levels(state["book"]["bids"])
            assert _levels(view["asks"]) == _levels(state["book"]["asks"])
            assert conn.stop(signal.SIGTERM) == 0
        after = sim_state(sim)["accounts"][0]["open_orders"]
        assert [o for o in after if o["client_order_id"].startswith("by-")] == []
        assert segments("ctbybit") == []


SLOW_MARKET = STATIC_MARKET.replace("interval_ms = 1000000000\ntrades_per_s = 0", "interval_ms = 500\ntrades_per_s = 3")


def test_bybit_view_converges_after_drops_gaps_rate_limits_5xx_and_clock_shift(tmp_path):
    sim_cfg = tmp_path / "sim.toml"
    sim_cfg.write_text(SLOW_MARKET)
    args = ["--config", str(sim_cfg), "--drop-ws-every", "3", "--rest-429-rate", "0.05", "--rest-5xx-rate", "0.03",
            "--gap-every", "4"]
    with start_sim("bybit", extra_args=args) as sim:
        cfg = _config(tmp_path / "c.toml", sim, "byf", "reconcile_interval_s = 2.0\nreconnect_max_s = 1.0\n"
                      "retry_after_cap_s = 1.0\nbot_heartbeat_timeout_s = 10.0")
        out = tmp_path / "bot.json"
        with connector("ctbyf", cfg, tmp_path, exchange="bybit") as conn:
            with bot("ctbyf", out, "--mode", "flow", "--flow-seconds", "8") as b:
                wait_for(lambda: all(x in conn.text() for x in ("reconnecting in", "orderbook gap: u=")), 30,
                         "a dropped websocket and a depth gap under the faults", 0.2)
                sim_fault(sim, clock_shift_ms=7000)
                wait_for(lambda: "re-measuring server clock" in conn.text(), 30,
                         "the connector to notice the shifted clock", 0.2)
                sim_fault(sim, drop_ws_every_s=0, rest_429_rate=0, rest_5xx_rate=0, clock_shift_ms=0, gap_every=0)
                last: list[str] = []

                def converged() -> bool:
                    view, state = bot_view(b, out), sim_state(sim)
                    acct = state["accounts"][0]
                    sim_open = sorted(o["client_order_id"] for o in acct["open_orders"]
                                      if o["client_order_id"].startswith("byf-"))
                    pos = sum(float(p["qty"]) for p in acct["positions"] if p["symbol"] == "BTCUSDT")
                    got = (view["open_cids"], round(view["position"], 6), round(view["filled_signed"], 6),
                           view["book_ok"] and _levels(view["bids"], 5), view["book_ok"] and _levels(view["asks"], 5))
                    want = (sim_open, round(pos, 6), round(pos, 6), _levels(state["book"]["bids"], 5),
                            _levels(state["book"]["asks"], 5))
                    last[:] = [f"{got} != {want}"]
                    return got == want

                try:
                    wait_for(converged, 30, "bot view == sim state", 0.5)
                except AssertionError:
                    pytest.fail(f"no convergence: {last}")
                assert len(bot_view(b, out)["orders"]) > 8
        text = conn.text()
    assert "reconnecting in" in text
    assert "orderbook gap: u=" in text and "resubscribing" in text      # a skipped u, resynced
    assert "re-measuring server clock" in text
    assert "reconciling orders and positions by REST (user stream reconnected)" in text
    assert "Traceback" not in text


def _rest(sim, path: str, body: dict | None = None, query: str = "") -> dict:
    """A signed Bybit REST call with the connector's account (POST with ``body``, else GET)."""
    return asyncio.run(_rest_many(sim, [(path, body, query)]))[0]


async def _rest_many(sim, calls: list[tuple[str, dict | None, str]]) -> list[dict]:
    key, secret = "hftctl-sim-key", "hftctl-sim-secret"

    async def one(s: aiohttp.ClientSession, path: str, body: dict | None, query: str) -> dict:
        payload = orjson.dumps(body).decode() if body is not None else query
        ts = str(int(time.time() * 1000))
        headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": "5000",
                   "X-BAPI-SIGN": bybit_signature(secret, ts, key, "5000", payload), "Content-Type": "application/json"}
        method, url = ("POST", sim.rest_url + path) if body is not None else ("GET", f"{sim.rest_url}{path}?{query}")
        async with s.request(method, url, data=payload if body is not None else None, headers=headers) as r:
            return await r.json()

    async with aiohttp.ClientSession() as s:
        return list(await asyncio.gather(*(one(s, *c) for c in calls)))


def _create(**kw) -> tuple[str, dict, str]:
    return ("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                                 "qty": "0.010", **kw}, "")


FREE_MARKET = STATIC_MARKET + "\n[rate_limits]\nenabled = false\n"


def test_bybit_reconciliation_pages_through_more_than_20_open_orders(tmp_path):
    """order/realtime answers 20 orders a page by default: a connector that reads one page
    leaves orders of its previous run behind. 27 are there (ids with the tag of an earlier run of
    this connector NAME on this host: provably its own); all are found and cancelled."""
    sim_cfg = tmp_path / "sim.toml"
    sim_cfg.write_text(FREE_MARKET)
    earlier = instance_tag("ctbypg", int(time.time()) - 100)
    with start_sim("bybit", extra_args=["--config", str(sim_cfg)]) as sim:
        bid = float(sim_state(sim)["book"]["bids"][0][0])
        left = _rest_many(sim, [_create(price=f"{bid - 200 - i:.1f}", orderLinkId=f"pg-{earlier}-3-1-{i}")
                                for i in range(27)])
        assert all(r["retCode"] == 0 for r in asyncio.run(left))
        first = _rest(sim, "/v5/order/realtime", query="category=linear&settleCoin=USDT")["result"]
        assert len(first["list"]) == 20 and first["nextPageCursor"]         # open-order.mdx: 20 a page
        cfg = _config(tmp_path / "c.toml", sim, "pg", "reconcile_interval_s = 0")   # the startup reconcile only
        with connector("ctbypg", cfg, tmp_path, exchange="bybit") as conn:
            wait_for(lambda: not sim_state(sim)["accounts"][0]["open_orders"], 30,
                     "every order of the previous run cancelled", 0.2)
            assert "cancelling 27 orphan order(s) of earlier runs of this connector" in conn.text()
            assert conn.stop(signal.SIGTERM) == 0


def test_bybit_flat_position_and_order_closed_while_the_connector_was_down(tmp_path):
    """While the connector is stopped and cut off: its position is closed (position/list then
    leaves the symbol out: flat) and one of its orders is cancelled, then pushed out of
    order/realtime's 500 most recent closed orders; after the reconnect the bot knows both,
    the order through order/history."""
    sim_cfg = tmp_path / "sim.toml"
    sim_cfg.write_text(FREE_MARKET)
    with start_sim("bybit", extra_args=["--config", str(sim_cfg)]) as sim:
        assert _rest(sim, *_create(orderType="Market")[:2])["retCode"] == 0         # long 0.01 BTCUSDT
        # dead_man_window_s = 0: while the connector is stopped, Bybit's DCP would rightly cancel
        # every order; this test is about what the connector learns after the cut, not that
        cfg = _config(tmp_path / "c.toml", sim, "dn", "bot_heartbeat_timeout_s = 60.0\nreconcile_interval_s = 0\n"
                      "dead_man_window_s = 0")
        out = tmp_path / "bot.json"
        with connector("ctbydn", cfg, tmp_path, exchange="bybit") as conn:
            with bot("ctbydn", out, "--mode", "rest") as b:
                wait_for(lambda: f"(testbot-{b.pid}," in conn.text(), 30, "the bot to connect")
                view = wait_for(lambda: (v := bot_view(b, out)) and len(v["open_cids"]) == 6
                                and round(v["position"], 6) == 0.01 and v, 30, "6 open orders and the position", 0.3)
                victim = view["open_cids"][0]
                victim_id = str(parse_client_id("dn", victim).order_id)
                conn.p.send_signal(signal.SIGSTOP)
                try:
                    sim_fault(sim, drop_ws=True)
                    assert _rest(sim, "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT",
                                                           "orderLinkId": victim})["retCode"] == 0
                    assert _rest(sim, *_create(side="Sell", orderType="Market", reduceOnly=True)[:2])["retCode"] == 0
                    ask = float(sim_state(sim)["book"]["asks"][0][0])
                    for i in range(0, 500, 100):     # post-only orders that would take: closed at once
                        asyncio.run(_rest_many(sim, [_create(price=f"{ask + 5:.1f}", timeInForce="PostOnly",
                                                             orderLinkId=f"po-{j}") for j in range(i, i + 100)]))
                    gone = _rest(sim, "/v5/order/realtime", query=f"category=linear&symbol=BTCUSDT&orderLinkId={victim}")
                    assert gone["result"]["list"] == []
                finally:
                    conn.p.send_signal(signal.SIGCONT)

                def caught_up() -> dict | None:
                    v = bot_view(b, out)
                    done = v["orders"][victim_id]["status"] == "canceled" and v["position"] == 0
                    return v if done else None
                view = wait_for(caught_up, 30, "the bot to learn of the cancel and the flat position", 0.3)
                assert len(view["open_cids"]) == 5 and victim not in view["open_cids"]
            assert conn.stop(signal.SIGTERM) == 0
        text = conn.text()
    assert "reconciling orders and positions by REST (user stream reconnected)" in text
    assert "Traceback" not in text
