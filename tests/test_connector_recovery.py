"""Recovery after a fault storm: every fault switch on for 45 s, then off; 10 s later both
streams are up and each bot's view of its orders and of the position equals the exchange's.

The connector runs with its default settings, so an injected 429 makes it honour the sim's
Retry-After (up to the next minute boundary, as Binance's weight window does). That back-off
must not keep the websockets down: they reconnect at once with the live listenKey. While the
user stream is down the bots are told (ConnectorStatus), and strategies stop quoting.

HFTCTL_STORM_SECONDS shortens or lengthens the storm (default 45, the issue's figure).
"""

from __future__ import annotations

import os
import time

import pytest

from hftctl.sim.process import start_sim
from hftctl.status import read_statuses
from tests.connector_procs import bot, bot_view, connector, sim_fault, sim_state, wait_for, write_config
from tests.test_connector_sim import _position, _ours
from hftctl.connector.routing import parse_client_id

STORM_S = float(os.environ.get("HFTCTL_STORM_SECONDS", "45"))
RECORDING_SECONDS = 345.0
SETTLE_S = 10.0


def _streams(name: str) -> dict[str, str]:
    for rec in read_statuses("connector"):
        if rec.name == name and rec.alive:
            return {k: v.get("state", "?") for k, v in (rec.data.get("streams") or {}).items()}
    return {}


def _orders_and_position_match(view: dict, state: dict, prefix: str) -> None:
    sim_open = {o["client_order_id"]: o for o in _ours(state, prefix)
                if parse_client_id(prefix, o["client_order_id"]).bot_id == view["bot_id"]}
    assert sorted(sim_open) == view["open_cids"], (sorted(sim_open), view["open_cids"])
    by_cid = {o["cid"]: o for o in view["orders"].values()}
    for cid, o in sim_open.items():
        assert by_cid[cid]["cum"] == pytest.approx(float(o["filled"]))
        assert by_cid[cid]["px"] == pytest.approx(float(o["price"]))
        assert by_cid[cid]["qty"] == pytest.approx(float(o["qty"]))
    assert view["position"] == pytest.approx(_position(state), abs=1e-9)


@pytest.mark.slow
def test_streams_and_orders_recover_within_10s_of_a_fault_storm(shared_data, tmp_path):
    rec = shared_data / "recordings/usdm/btcusdt_20240808.gz"
    storm = ["--drop-ws-every", "4", "--gap-every", "500", "--rest-429-rate", "0.1",
             "--rest-5xx-rate", "0.1", "--ws-delay-ms", "20", "--rest-delay-ms", "20"]
    # The replay ends with the storm, so the market is still when the views are compared.
    speed = RECORDING_SECONDS / STORM_S
    with start_sim(extra_args=["--replay", str(rec), "--speed", f"{speed:.3f}", *storm]) as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="rcv")
        with connector("ctrcv", cfg, tmp_path) as conn:
            out1, out2 = tmp_path / "b1.json", tmp_path / "b2.json"
            flow = f"{STORM_S * 0.8:.0f}"
            with bot("ctrcv", out1, "--mode", "flow", "--flow-seconds", flow) as b1, \
                    bot("ctrcv", out2, "--mode", "flow", "--flow-seconds", flow) as b2:
                t0 = time.monotonic()
                while time.monotonic() - t0 < STORM_S:
                    time.sleep(0.5)
                sim_fault(sim, drop_ws_every_s=0, gap_every=0, rest_429_rate=0, rest_5xx_rate=0,
                          ws_delay_ms=0, rest_delay_ms=0)
                calm = time.monotonic()
                last: list[str] = []

                def recovered() -> bool:
                    streams = _streams("ctrcv")
                    if streams.get("market") != "connected" or streams.get("user") != "connected":
                        last[:] = [f"streams {streams}"]
                        return False
                    try:
                        state = sim_state(sim)
                        for b, out in ((b1, out1), (b2, out2)):
                            _orders_and_position_match(bot_view(b, out), state, "rcv")
                    except AssertionError as e:
                        last[:] = [str(e)[:600]]
                        return False
                    return True

                try:
                    wait_for(recovered, SETTLE_S, "streams up and views equal to the sim", 0.5)
                except AssertionError:
                    pytest.fail(f"not recovered {SETTLE_S:.0f}s after the faults stopped "
                                f"({time.monotonic() - calm:.1f}s): {last}")
                views = [bot_view(b, o) for b, o in ((b1, out1), (b2, out2))]
        text = conn.text()
    assert sum(v["fills"] for v in views) >= 2, "the bots traded during the storm"
    # The storm really hit: drops, 429 back-offs, reconnects with the live listenKey.
    assert "throttling requests for" in text          # a 429's Retry-After honoured
    assert text.count("user stream disconnected; reconnecting") >= 3
    assert "Traceback" not in text and "unhandled exception" not in text
