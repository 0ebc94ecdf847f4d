"""The connector on Binance spot, end to end against `hftctl sim --exchange binancespot` replaying
the real spot recording: orders, fills, balances and book equal to the sim's."""

from __future__ import annotations

import signal

import pytest

from hftctl.connector.routing import parse_client_id
from hftctl.sim.process import start_sim
from tests.connector_procs import bot, bot_view, connector, segments, sim_state, wait_for, write_config
from tests.test_connector_sim import converge

SPEED = 40.0


def _levels(levels, n=20):
    return [(round(float(p), 2), round(float(q), 5)) for p, q in levels[:n]]


def _matches(view: dict, state: dict) -> None:
    acct = state["accounts"][0]
    sim_open = {o["client_order_id"]: o for o in acct["open_orders"]
                if o["client_order_id"].startswith("sp-")
                and parse_client_id("sp", o["client_order_id"]).bot_id == view["bot_id"]}
    assert sorted(sim_open) == view["open_cids"]
    by_cid = {o["cid"]: o for o in view["orders"].values()}
    for cid, o in sim_open.items():
        assert by_cid[cid]["cum"] == pytest.approx(float(o["filled"]))
    for asset in ("BTC", "USDT"):
        assert view["balances"][asset][1] == pytest.approx(acct["balances"][asset], abs=1e-8)
    assert view["book_ok"]
    assert _levels(view["bids"]) == _levels(state["book"]["bids"])
    assert _levels(view["asks"]) == _levels(state["book"]["asks"])


def test_spot_orders_fills_balances_and_book_equal_the_sims(shared_data, tmp_path):
    rec = shared_data / "recordings/spot/btcusdt_20240808.gz"
    with start_sim("binancespot", extra_args=["--replay", str(rec), "--speed", str(SPEED)]) as sim:
        # A 1 s keepalive so spot's PUT /api/v3/userDataStream?listenKey= is exercised too.
        cfg = write_config(tmp_path / "c.toml", sim, prefix="sp", extra="listen_key_keepalive_s = 1.0")
        out = tmp_path / "bot.json"
        with connector("ctspot", cfg, tmp_path, exchange="binancespot") as conn:
            with bot("ctspot", out, "--mode", "flow", "--flow-seconds", "4", "--no-modify",
                     "--tick", "0.01", "--lot", "0.00001") as b:
                wait_for(lambda: all(r["finished"] for r in sim_state(sim)["replay"]), 60, "replay end", 0.3)
                view, state = converge(lambda: bot_view(b, out), lambda: sim_state(sim), _matches)
            orders = view["orders"]
            assert orders["2"]["status"] == "canceled"
            assert orders["3"]["status"] == "new"                    # LIMIT_MAKER resting
            assert orders["4"]["status"] == "filled" and orders["4"]["cum"] == pytest.approx(0.01)
            assert orders["5"]["status"] in ("expired", "rejected")  # LIMIT_MAKER through the ask
            assert view["open_cids"]
            assert "listenKey keepalive failed" not in conn.text() and "renewing" not in conn.text()
            rc = conn.stop(signal.SIGTERM)
            assert rc == 0
        after = sim_state(sim)["accounts"][0]["open_orders"]
        assert [o for o in after if o["client_order_id"].startswith("sp-")] == []
        assert segments("ctspot") == []
