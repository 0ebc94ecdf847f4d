"""The connector under fire: dropped websockets, depth gaps, 429s/503s, an expired listenKey and a
shifted server clock while a bot trades; at the end the bot's view must equal the sim's.

HFTCTL_FAULT_SECONDS sets how long the faults last (default 20 s for CI; e.g. 60 or 300 by hand).
"""

from __future__ import annotations

import os
import time

import pytest

from hftctl.sim.process import start_sim
from tests.connector_procs import bot, bot_view, connector, sim_fault, sim_state, wait_for, write_config
from tests.test_connector_sim import _assert_view_matches_sim, _replay_done

FAULT_SECONDS = float(os.environ.get("HFTCTL_FAULT_SECONDS", "20"))
RECORDING_SECONDS = 345.0      # span of the USD-M recording


def test_view_converges_to_the_sim_after_faults(shared_data, tmp_path):
    rec = shared_data / "recordings/usdm/btcusdt_20240808.gz"
    speed = RECORDING_SECONDS / FAULT_SECONDS
    sim_args = ["--replay", str(rec), "--speed", f"{speed:.2f}", "--drop-ws-every", "4",
                "--gap-every", "1000", "--rest-429-rate", "0.05", "--rest-5xx-rate", "0.03"]
    with start_sim(extra_args=sim_args) as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="flt",
                           extra="reconcile_interval_s = 3.0\nretry_after_cap_s = 1.0\n"
                                 "reconnect_max_s = 2.0\nbot_heartbeat_timeout_s = 10.0")
        out = tmp_path / "bot.json"
        with connector("ctflt", cfg, tmp_path) as conn:
            with bot("ctflt", out, "--mode", "flow", "--flow-seconds", str(FAULT_SECONDS * 0.8)) as b:
                t0 = time.monotonic()
                wait_for(lambda: time.monotonic() - t0 > FAULT_SECONDS * 0.3, FAULT_SECONDS, "phase 1")
                sim_fault(sim, clock_shift_ms=7000, expire_user_stream=True, skip_depth_seq=1)
                wait_for(lambda: time.monotonic() - t0 > FAULT_SECONDS * 0.6, FAULT_SECONDS, "phase 2")
                sim_fault(sim, clock_shift_ms=-4000, skip_depth_seq=1)
                wait_for(lambda: _replay_done(sim), FAULT_SECONDS * 3, "replay end", 0.3)
                sim_fault(sim, drop_ws_every_s=0, gap_every=0, rest_429_rate=0, rest_5xx_rate=0,
                          clock_shift_ms=0)

                # Faults over and the market still: the bot's view must settle to the sim's.
                last_err: list[str] = []

                def converged() -> bool:
                    view, state = bot_view(b, out), sim_state(sim)
                    try:
                        _assert_view_matches_sim(view, state, "flt")
                    except AssertionError as e:
                        last_err[:] = [str(e)[:500]]
                        return False
                    return True

                try:
                    wait_for(converged, 30, "bot view == sim state", 1.0)
                except AssertionError:
                    pytest.fail(f"no convergence: {last_err}")
                view = bot_view(b, out)
                assert view["fills"] >= 3
                assert view["clears"] >= 1 and view["snapshots"] >= 2
        text = conn.text()
        counters = sim_state(sim)["counters"]
    # The faults really happened, and the connector really handled them.
    assert "depth gap" in text
    assert "reconnecting in" in text
    assert "re-measuring server clock" in text
    assert "HTTP 429" in text or "HTTP 503" in text
    assert "listenKey expired" in text or "listenKey renewed" in text
    assert "reconciling orders and positions by REST (user stream reconnected)" in text
    assert "Traceback" not in text
    assert counters, "sim counters missing"
