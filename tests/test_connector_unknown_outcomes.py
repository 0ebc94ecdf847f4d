"""Unknown outcomes end to end on USD-M and Bybit (spot has its own, on both of its order
transports, in test_connector_spot.py): the sim answers a share of new orders and cancels with
each exchange's "may or may not have executed" error, after executing the request or before;
the real connector finds each order by its client id (connector/outcomes.py) and the flow bot's
view ends equal to the exchange's: every order in the state the exchange has for it, orders the
connector called rejected absent from the exchange, and nothing left open at the end."""

from __future__ import annotations

import signal

import pytest

from hftctl.connector.routing import parse_client_id
from hftctl.sim.process import start_sim
from tests.connector_procs import bot, bot_view, connector, segments, sim_fault, sim_state, wait_for, write_config
from tests.test_connector_sim import converge

SPEED = 20.0
# Bybit has no expired status: an IOC remainder or a post-only order that would take is Cancelled
# (docs/v5/enum.mdx § orderStatus), which the engine calls expired.
AS_REPORTED = {"bybit": {"expired": "canceled"}}


def _exchange_orders(sim, prefix: str, bot_id: int) -> dict[str, str]:
    """client id -> status of every order of this bot the sim still knows (finished included)."""
    acct = sim_state(sim, all_orders=True)["accounts"][0]
    reported = AS_REPORTED.get(sim.exchange, {})
    return {o["client_order_id"]: reported.get(o["status"], o["status"]) for o in acct["orders"]
            if (parsed := parse_client_id(prefix, o["client_order_id"])) and parsed.bot_id == bot_id}


@pytest.mark.parametrize("exchange", ["binancefutures", "bybit"])
def test_unknown_outcomes_end_with_the_bot_knowing_the_truth(shared_data, tmp_path, exchange):
    rec = shared_data / "recordings/usdm/btcusdt_20240808.gz"
    prefix, name = f"uo{exchange[:2]}", f"ctuo{exchange[:2]}"
    with start_sim(exchange, extra_args=["--replay", str(rec), "--speed", str(SPEED)]) as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix=prefix, extra="unknown_outcome_window_s = 1")
        out = tmp_path / "bot.json"
        with connector(name, cfg, tmp_path, exchange=exchange) as conn:
            with bot(name, out, "--mode", "flow", "--flow-seconds", "8", "--no-modify") as b:
                wait_for(lambda: sim_state(sim)["counters"]["orders_received"] >= 3, 30, "the bot trading", 0.2)
                sim_fault(sim, unknown_after_exec_rate=0.3, unknown_before_exec_rate=0.3)
                wait_for(lambda: conn.text().count("outcome unknown") >= 4, 40, "unknown outcomes", 0.2)
                sim_fault(sim, unknown_after_exec_rate=0, unknown_before_exec_rate=0)

                def settled(view: dict, state: dict) -> None:
                    at_exchange = _exchange_orders(sim, prefix, view["bot_id"])
                    sim_open = sorted(c for c, st in at_exchange.items() if st in ("new", "partially_filled"))
                    assert sim_open == view["open_cids"]
                    for o in view["orders"].values():
                        assert o["status"] != "pending", o
                        # rejected by the connector = never at the exchange; else the same state
                        assert at_exchange.get(o["cid"], "rejected") == o["status"], o
                view, _ = converge(lambda: bot_view(b, out), lambda: sim_state(sim), settled, timeout=60)
                statuses = [o["status"] for o in view["orders"].values()]
                # both fault kinds happened: orders found after the lost answer, and absent ones
                assert "rejected" in statuses and len(view["orders"]) > statuses.count("rejected")
            assert "Traceback" not in conn.text()
            assert conn.stop(signal.SIGTERM) == 0
        left = [o for o in sim_state(sim)["accounts"][0]["open_orders"]
                if o["client_order_id"].startswith(f"{prefix}-")]
        assert left == []
        assert segments(name) == []
