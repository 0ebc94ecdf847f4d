"""The connector on Binance spot, end to end against `hftctl sim --exchange binancespot` replaying
the real spot recording: orders, fills, balances and book equal to the sim's, with user data
over the WebSocket API only (the listenKey endpoints are gone) through a reconnect and an
``eventStreamTerminated``, and orders on either transport."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import aiohttp
import pytest

from hftctl.connector.routing import parse_client_id
from hftctl.sim.process import start_sim
from tests.connector_procs import bot, bot_view, connector, segments, sim_fault, sim_state, wait_for, write_config
from tests.test_connector_sim import converge
from tests.test_sim_support import signed

SPEED = 40.0


def _levels(levels, n=20):
    return [(round(float(p), 2), round(float(q), 5)) for p, q in levels[:n]]


def _matches(view: dict, state: dict, prefix: str = "sp") -> None:
    acct = state["accounts"][0]
    sim_open = {o["client_order_id"]: o for o in acct["open_orders"]
                if o["client_order_id"].startswith(f"{prefix}-")
                and parse_client_id(prefix, o["client_order_id"]).bot_id == view["bot_id"]}
    assert sorted(sim_open) == view["open_cids"]
    by_cid = {o["cid"]: o for o in view["orders"].values()}
    for cid, o in sim_open.items():
        assert by_cid[cid]["cum"] == pytest.approx(float(o["filled"]))
        assert by_cid[cid]["px"] == pytest.approx(float(o["price"]))
        assert by_cid[cid]["qty"] == pytest.approx(float(o["qty"]))
    for asset in ("BTC", "USDT"):
        assert view["balances"][asset][1] == pytest.approx(acct["balances"][asset], abs=1e-8)
    assert view["book_ok"]
    assert _levels(view["bids"]) == _levels(state["book"]["bids"])
    assert _levels(view["asks"]) == _levels(state["book"]["asks"])


def _user_streams(sim) -> int:
    return sim_state(sim)["accounts"][0]["user_streams"]


@contextlib.contextmanager
def _session(shared_data, tmp_path, prefix: str, config: str):
    """The sim replaying the spot recording, a connector on it and the flow bot, as (sim, conn,
    bot, out); once the bot is gone the connector must stop cleanly and leave nothing behind."""
    rec = shared_data / "recordings/spot/btcusdt_20240808.gz"
    name = f"ct{prefix}"
    with start_sim("binancespot", extra_args=["--replay", str(rec), "--speed", str(SPEED)]) as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix=prefix, extra=config)
        out = tmp_path / "bot.json"
        with connector(name, cfg, tmp_path, exchange="binancespot") as conn:
            with bot(name, out, "--mode", "flow", "--flow-seconds", "5",
                     "--tick", "0.01", "--lot", "0.00001") as b:
                yield sim, conn, b, out
            assert "Traceback" not in conn.text()
            assert conn.stop(signal.SIGTERM) == 0
        after = sim_state(sim)["accounts"][0]
        assert [o for o in after["open_orders"] if o["client_order_id"].startswith(f"{prefix}-")] == []
        assert after["user_streams"] == 0                              # unsubscribed or disconnected
        assert segments(name) == []


def _replay_end(sim) -> None:
    wait_for(lambda: all(r["finished"] for r in sim_state(sim)["replay"]), 60, "replay end", 0.3)


@pytest.mark.parametrize("transport", ["rest", "ws"])
def test_spot_orders_fills_balances_and_book_equal_the_sims(shared_data, tmp_path, transport):
    # No periodic reconciliation: passive fills can only come over the user data subscription (or
    # the reconciliation that follows each resubscription).
    prefix = f"sp{transport[0]}"
    config = f'order_transport = "{transport}"\nreconcile_interval_s = 0\nreconnect_max_s = 1.0'
    with _session(shared_data, tmp_path, prefix, config) as (sim, conn, b, out):
        # the bot trades (its orders are at the sim) before it is asked for its view
        wait_for(lambda: sim_state(sim)["counters"]["fills"] >= 1, 30, "a first fill", 0.2)
        wait_for(lambda: bot_view(b, out)["fills"] >= 1, 30, "the bot's first fill")
        assert _user_streams(sim) == 1
        # every websocket cut: the connector reconnects and subscribes again
        sim_fault(sim, drop_ws=True)
        wait_for(lambda: conn.text().count("user data subscribed") >= 2, 20, "a new subscription")
        # the exchange ends the subscription (the connection stays): subscribe again on it
        assert sim_fault(sim, expire_user_stream=True)["expired"] == ["default"]
        wait_for(lambda: "terminated; subscribing again" in conn.text() and _user_streams(sim) == 1, 20,
                 "the subscription renewed")
        fills_before = bot_view(b, out)["fills"]
        _replay_end(sim)
        view, state = converge(lambda: bot_view(b, out), lambda: sim_state(sim),
                               lambda v, st: _matches(v, st, prefix))
        orders = view["orders"]
        # the modify (a new price): cancel-replaced at the exchange, one order for the bot
        assert (orders["1"]["status"], orders["1"]["qty"]) == ("new", pytest.approx(0.02))
        assert orders["1"]["cid"] in view["open_cids"] and not any("amend" in e for e in view["errors"])
        assert orders["2"]["status"] == "canceled"
        assert orders["3"]["status"] == "new"                    # LIMIT_MAKER resting
        assert orders["4"]["status"] == "filled" and orders["4"]["cum"] == pytest.approx(0.01)
        assert orders["5"]["status"] in ("expired", "rejected")  # LIMIT_MAKER through the ask
        assert view["open_cids"] and view["fills"] > fills_before
        if transport == "ws":             # the orders did not go over REST
            assert state["counters"]["rest_requests"] < len(orders) / 2
        text = conn.text()
        assert text.count("reconciling orders and positions by REST (user stream reconnected)") >= 2
        assert "listenKey" not in text


_SIM_STATUS = {"NEW": "new", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled",
               "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired"}


def _sim_orders(sim) -> dict[str, str]:
    """Every order of the account the sim knows (open and done): client id -> status."""
    async def fetch():
        async with aiohttp.ClientSession() as s:
            _, body, _ = await signed(s, "GET", sim.rest_url, "/api/v3/allOrders", {"symbol": "BTCUSDT", "limit": 1000})
        return {o["clientOrderId"]: _SIM_STATUS[o["status"]] for o in body}
    return asyncio.run(fetch())


@pytest.mark.parametrize("transport", ["rest", "ws"])
def test_unknown_outcomes_end_with_the_bot_knowing_the_truth(shared_data, tmp_path, transport):
    """-1007 after and before execution on a share of the new orders (and cancels): every order
    the bot placed ends in the state the exchange has for it, and none is left behind."""
    prefix = f"uo{transport[0]}"
    config = f'order_transport = "{transport}"\nunknown_outcome_window_s = 1'
    with _session(shared_data, tmp_path, prefix, config) as (sim, conn, b, out):
        wait_for(lambda: sim_state(sim)["counters"]["orders_received"] >= 3, 30, "the bot trading", 0.2)
        sim_fault(sim, unknown_after_exec_rate=0.3, unknown_before_exec_rate=0.3)
        wait_for(lambda: conn.text().count("outcome unknown") >= 4, 30, "unknown outcomes")
        sim_fault(sim, unknown_after_exec_rate=0, unknown_before_exec_rate=0)
        _replay_end(sim)

        def settled(view: dict, state: dict) -> None:
            _matches(view, state, prefix)
            at_exchange = _sim_orders(sim)
            for o in view["orders"].values():
                assert o["status"] != "pending", o
                # rejected by the connector = never at the exchange; else the same state
                assert at_exchange.get(o["cid"], "rejected") == o["status"], o
        view, _ = converge(lambda: bot_view(b, out), lambda: sim_state(sim), settled, timeout=40)
        assert any(o["status"] == "rejected" for o in view["orders"].values())
