"""The connector end to end: real `hftctl sim`, real connector and bot processes, real shared memory.

The sim replays the real USD-M recording (no --loop), so once the replay ends its book stops
moving and the bots' views can be compared with the sim's own state exactly.
"""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request

import pytest

from hftctl.connector.routing import parse_client_id
from hftctl.sim.process import start_sim
from tests.connector_procs import (bot, bot_view, connector, segments, sim_state, wait_for,
                                   write_config)

SPEED = 40.0     # the 6-minute recording in ~9 s


@pytest.fixture
def replay_sim(shared_data):
    rec = shared_data / "recordings/usdm/btcusdt_20240808.gz"
    with start_sim(extra_args=["--replay", str(rec), "--speed", str(SPEED)]) as sim:
        yield sim


def _account(state: dict) -> dict:
    return state["accounts"][0]


def _ours(state: dict, prefix: str) -> list[dict]:
    return [o for o in _account(state)["open_orders"] if o["client_order_id"].startswith(prefix + "-")]


def _position(state: dict) -> float:
    for p in _account(state)["positions"]:
        if p["symbol"] == "BTCUSDT":
            return float(p["qty"])
    return 0.0


def _levels(levels, n=20):
    return [(round(float(p), 1), round(float(q), 3)) for p, q in levels[:n]]


def _assert_view_matches_sim(view: dict, state: dict, prefix: str) -> None:
    # Orders: the bot's open orders are exactly the sim's open orders with its client ids.
    sim_open = {o["client_order_id"]: o for o in _ours(state, prefix)
                if parse_client_id(prefix, o["client_order_id"]).bot_id == view["bot_id"]}
    assert sorted(sim_open) == view["open_cids"]
    by_cid = {o["cid"]: o for o in view["orders"].values()}
    for cid, o in sim_open.items():
        assert by_cid[cid]["cum"] == pytest.approx(float(o["filled"]))
        assert by_cid[cid]["px"] == pytest.approx(float(o["price"]))
        assert by_cid[cid]["qty"] == pytest.approx(float(o["qty"]))
    # Position: as reported, and as the sum of every fill the bot was told about (no missed fill).
    pos = _position(state)
    assert view["position"] == pytest.approx(pos, abs=1e-9)
    assert view["filled_signed"] == pytest.approx(pos, abs=1e-9)
    # Book: the top 20 levels equal the sim's.
    assert view["book_ok"]
    assert _levels(view["bids"]) == _levels(state["book"]["bids"])
    assert _levels(view["asks"]) == _levels(state["book"]["asks"])


def converge(get_view, get_state, check, timeout: float = 20.0):
    """(view, state) once ``check`` passes; the last failure if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        view, state = get_view(), get_state()
        try:
            check(view, state)
            return view, state
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def _replay_done(sim) -> bool:
    return all(r["finished"] for r in sim_state(sim)["replay"])


def _unrouted_paths_absent(sim) -> bool:
    """The sim serves USD-M's routed websockets only (no --legacy-ws-paths): /ws is not there."""
    try:
        urllib.request.urlopen(f"{sim.rest_url}/ws", timeout=10)
    except urllib.error.HTTPError as e:
        return e.code == 404
    return False


def test_bot_orders_fills_positions_and_book_equal_the_sims(replay_sim, tmp_path):
    assert _unrouted_paths_absent(replay_sim)      # everything below comes over /public, /market, /private
    cfg = write_config(tmp_path / "c.toml", replay_sim, prefix="t", extra="listen_key_keepalive_s = 1.0")
    out = tmp_path / "bot.json"
    with connector("cte2e", cfg, tmp_path) as conn:
        with bot("cte2e", out, "--mode", "flow", "--flow-seconds", "5") as b:
            wait_for(lambda: _replay_done(replay_sim), 60, "replay end", 0.3)
            # The market is still now; let the last events drain through connector and bot.
            view, state = converge(lambda: bot_view(b, out), lambda: sim_state(replay_sim),
                                   lambda v, s: _assert_view_matches_sim(v, s, "t"))
            orders = view["orders"]
            # The scripted part: modify, cancel, market fill, post-only refusal.
            assert orders["1"]["qty"] == pytest.approx(0.02) and orders["1"]["status"] == "new"
            assert orders["2"]["status"] == "canceled"
            assert orders["3"]["status"] == "new"
            assert orders["4"]["status"] == "filled" and orders["4"]["cum"] == pytest.approx(0.01)
            assert orders["5"]["status"] in ("expired", "rejected")
            assert view["fills"] >= 2 and len(orders) > 8
            _assert_view_matches_sim(view, state, "t")
            assert view["errors"] == [] or all("cancel failed" in e for e in view["errors"])
            assert _ours(state, "t"), "the bot should have open orders left for the shutdown check"
        # SIGTERM: every open order cancelled, clean exit, shared memory gone.
        rc = conn.stop(signal.SIGTERM)
        assert rc == 0, conn.text()[-2000:]
        assert _ours(sim_state(replay_sim), "t") == []
        assert segments("cte2e") == []
        assert "Connected to market data stream" in conn.text()
        assert "Connected to user data stream" in conn.text()
        assert "Traceback" not in conn.text()
        assert "listenKey keepalive failed" not in conn.text() and "renewing" not in conn.text()
