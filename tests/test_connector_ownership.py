"""Two connectors on one account: orders they cannot prove theirs are left alone.

Real connectors, bots and sim. Every client order id carries the connector instance's tag
(connector/claim.py), so a connector cancels as orphans only its own orders and those of its own
dead earlier runs; a second connector with the same account and order prefix on this host is
refused; a connector that stops leaves the account's listenKey to a connector still using it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hftctl.connector.routing import parse_client_id
from hftctl.sim.process import start_sim
from tests.connector_procs import ROOT, bot, connector, sim_state, wait_for, write_config


def _open(sim, prefix: str) -> dict[str, str]:
    """Open client order ids of the sim's account with ``prefix`` -> their instance tag."""
    out = {}
    for a in sim_state(sim)["accounts"]:
        for o in a["open_orders"]:
            p = parse_client_id(prefix, o["client_order_id"])
            if p is not None:
                out[o["client_order_id"]] = p.tag
    return out


def _dump(path):
    return json.loads(path.read_text()) if path.exists() else None


def test_same_account_and_prefix_never_take_each_others_orders(tmp_path):
    """Two connectors with one prefix, as on two hosts (separate status directories): each keeps
    its orders through reconciles and stream events; a killed one's orders are cancelled by its
    own restart only; a stop cancels only its own."""
    with start_sim() as sim:
        extra = "reconcile_interval_s = 1.0\nbot_heartbeat_timeout_s = 10.0"
        cfg = write_config(tmp_path / "c.toml", sim, prefix="same", extra=extra)
        host_b = {"HFTCTL_STATUS_DIR": str(tmp_path / "host-b-status")}
        with contextlib.ExitStack() as stack:
            conn_a = stack.enter_context(connector("ctowa", cfg, tmp_path))
            conn_b = stack.enter_context(connector("ctowb", cfg, tmp_path, env=host_b))
            out_a, out_b = tmp_path / "a.json", tmp_path / "b.json"
            bot_a = stack.enter_context(bot("ctowa", out_a, "--mode", "rest"))
            stack.enter_context(bot("ctowb", out_b, "--mode", "rest"))
            va = wait_for(lambda: _dump(out_a), 30, "bot A's orders")
            vb = wait_for(lambda: _dump(out_b), 30, "bot B's orders")
            mine_a, mine_b = set(va["open_cids"]), set(vb["open_cids"])
            assert len(mine_a) == len(mine_b) == 6
            tags = {parse_client_id("same", c).tag for c in mine_a | mine_b}
            assert len(tags) == 2, tags
            # Three reconciles each, every order event seen by both: nothing of the other's touched.
            wait_for(lambda: conn_a.text().count("reconciling orders") >= 3
                     and conn_b.text().count("reconciling orders") >= 3, 30, "reconciles")
            assert set(_open(sim, "same")) == mine_a | mine_b
            for c in (conn_a, conn_b):
                assert "cancelling orphan" not in c.text()
            assert "but another connector's tag" in conn_a.text() + conn_b.text()

            # A dies without cleaning up; its orders stay open. Its restart cancels them (its
            # own dead run), and B's, with the same prefix, stay.
            bot_a.kill()
            conn_a.stop(signal.SIGKILL)
            assert set(_open(sim, "same")) == mine_a | mine_b
            with connector("ctowa", cfg, tmp_path) as conn_a2:
                wait_for(lambda: set(_open(sim, "same")) == mine_b, 15, "A's orphans cancelled")
                assert "cancelling 6 orphan order(s) of earlier runs" in conn_a2.text()
                # A's new run takes new ids: same name, new tag.
                b2 = stack.enter_context(bot("ctowa", tmp_path / "a2.json", "--mode", "rest"))
                va2 = wait_for(lambda: _dump(tmp_path / "a2.json"), 30, "bot A2's orders")
                new_a = set(va2["open_cids"])
                assert not new_a & mine_a and len(new_a) == 6
                # A stops: it cancels what it can prove its own, nothing of B's.
                b2.kill()
            wait_for(lambda: set(_open(sim, "same")) == mine_b, 15, "A's orders cancelled at stop")
            assert set(_open(sim, "same")) == mine_b
        text_b = conn_b.text()
    assert "cancelling orphan" not in text_b and "Traceback" not in text_b


def test_second_connector_with_same_account_and_prefix_is_refused(tmp_path):
    status = Path(os.environ["HFTCTL_STATUS_DIR"])
    before = set(status.glob("account.*.lock"))      # killed connectors of other tests leave theirs
    with start_sim() as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="dup")
        with connector("ctdup1", cfg, tmp_path):
            r = subprocess.run([sys.executable, "-m", "hftctl", "connector", "ctdup2", "binancefutures", str(cfg)],
                               capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
            assert r.returncode == 1, r.stderr[-2000:]
            lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
            assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
            assert "('ctdup1', pid" in lines[0] and "order_prefix 'dup'" in lines[0], lines[0]
            # Another prefix on the same account is fine.
            other = write_config(tmp_path / "o.toml", sim, prefix="dup2")
            with connector("ctdup3", other, tmp_path):
                pass
    # Clean stops take their claims with them.
    assert not [p.name for p in set(status.glob("account.*.lock")) - before]


def test_a_stopping_connector_leaves_a_shared_listen_key_alone(tmp_path):
    """Binance has one listenKey per account: the first connector to stop must not delete it
    while another connector of this host still streams with it."""
    with start_sim() as sim:
        cfg_a = write_config(tmp_path / "a.toml", sim, prefix="lka")
        cfg_b = write_config(tmp_path / "b.toml", sim, prefix="lkb")
        with connector("ctlkb", cfg_b, tmp_path) as conn_b:
            with connector("ctlka", cfg_a, tmp_path) as conn_a:
                pass                        # A starts and stops (SIGTERM: its full shutdown)
            assert "stopped; shared memory removed" in conn_a.text()
            # B's user stream must stay up: a deleted key closes it at once in the sim.
            out = tmp_path / "b.json"
            with bot("ctlkb", out, "--mode", "rest"):
                wait_for(lambda: _dump(out), 30, "bot B's orders")
            assert "user stream disconnected" not in conn_b.text(), conn_b.text()[-2000:]
        # The last user of the account deletes the key on its way out.
        assert "stopped; shared memory removed" in conn_b.text()
