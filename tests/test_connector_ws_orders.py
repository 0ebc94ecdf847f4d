"""The USD-M connector placing a bot's orders over the WebSocket API (the default transport),
end to end with real processes: every socket is cut while the answers to the bot's orders are
held back, and each order still ends in the exchange's state at the bot, none doubled."""

from __future__ import annotations

import asyncio
import signal

import aiohttp

from hftctl.connector.routing import parse_client_id
from hftctl.sim.process import start_sim
from tests.connector_procs import bot, bot_view, connector, segments, sim_fault, sim_state, wait_for, write_config
from tests.test_sim_support import signed


def _every_order(sim) -> list[str]:
    async def fetch():
        async with aiohttp.ClientSession() as s:
            _, body, _ = await signed(s, "GET", sim.rest_url, "/fapi/v1/allOrders", {"symbol": "BTCUSDT", "limit": 1000})
        return [o["clientOrderId"] for o in body]
    return asyncio.run(fetch())


def test_orders_in_flight_across_a_reconnect_end_known_and_single(tmp_path):
    with start_sim() as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="wsf",
                           extra="unknown_outcome_window_s = 1\nreconnect_max_s = 0.5\nreconcile_interval_s = 0")
        out = tmp_path / "bot.json"
        with connector("ctwsf", cfg, tmp_path) as conn:
            assert "WebSocket API" not in conn.text()          # connected, no REST fallback warning
            sim_fault(sim, ws_delay_ms=700)                    # answers (and market data) held back
            try:
                with bot("ctwsf", out, "--mode", "rest") as b:
                    wait_for(lambda: sim_state(sim)["counters"]["orders_received"] >= 2, 30, "orders at the sim", 0.02)
                    assert sim_fault(sim, drop_ws=True)["dropped"] >= 3     # market, user, order
                    sim_fault(sim, ws_delay_ms=0)
                    wait_for(lambda: out.exists() and len(bot_view(b, out)["open_cids"]) == 6, 30,
                             "the bot's six orders open")
                    view = bot_view(b, out)
                    sim_open = {o["client_order_id"] for o in sim_state(sim)["accounts"][0]["open_orders"]
                                if o["client_order_id"].startswith("wsf-")}
                    assert set(view["open_cids"]) == sim_open
                    assert {parse_client_id("wsf", c).bot_id for c in sim_open} == {view["bot_id"]}
                    every = _every_order(sim)
                    assert all(every.count(c) == 1 for c in sim_open)          # none placed twice
                    assert all(o["status"] == "new" for o in view["orders"].values())
                    assert not view["rejects"]
            finally:
                sim_fault(sim, ws_delay_ms=0)
            text = conn.text()
            assert "outcome unknown" in text                   # the in-flight ones were found by query
            assert "order stream disconnected" in text         # the order socket was among the cut
            assert "Traceback" not in text
            assert conn.stop(signal.SIGTERM) == 0
        assert not [o for o in sim_state(sim)["accounts"][0]["open_orders"] if o["client_order_id"].startswith("wsf-")]
        assert segments("ctwsf") == []
