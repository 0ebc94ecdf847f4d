"""The dead man's switch end to end: a real `hftctl sim`, a real connector, a real bot quoting
through it; the connector is SIGKILLed and its orders must go (USD-M: the exchange's own
countdownCancelAll; Bybit: DCP, or the guardian for an account DCP is refused to; spot: the
guardian process), and must stay when the switch is off. A clean
stop with cancel_on_stop = "none" leaves the orders and disarms. Refresh failures are reported
by `hftctl health` and retried, never fatal."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from rich.console import Console

from hftctl.connector.routing import parse_client_id
from hftctl.health import check
from hftctl.health.render import render, to_json
from hftctl.sim.process import start_sim
from tests.connector_procs import bot, connector, sim_fault, sim_state, wait_for, write_config
from tests.test_sim_support import signed

SPOT_BOT = ("--tick", "0.01", "--lot", "0.00001", "--qty", "0.001")


OTHER_TAG = "zz99zz"       # another connector instance's tag (same prefix): never ours to cancel


def _own_open(sim, prefix: str) -> list[dict]:
    acct = sim_state(sim)["accounts"][0]
    return [o for o in acct["open_orders"]
            if (p := parse_client_id(prefix, o["client_order_id"])) and p.tag != OTHER_TAG]


def _countdowns(sim) -> dict:
    return sim_state(sim)["accounts"][0]["countdowns"]


def _dead_man(name: str):
    (c,) = check(name).connectors
    return c.dead_man


def _health_text(name: str) -> tuple[str, dict]:
    """What `hftctl health` prints about the switch, and its --json form."""
    report = check(name)
    con = Console(record=True, width=300)
    render(report, con)
    (line,) = [x.strip() for x in con.export_text().splitlines() if "dead man's switch" in x]
    return line, json.loads(to_json(report))["connectors"][0]["dead_man"]


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: the guardian is not our child, init reaps it when it will)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _kill_if_left(pid: int | None) -> None:
    if pid is not None and not _gone(pid):
        os.kill(pid, signal.SIGKILL)


def _quoting(sim, name: str, cfg: Path, tmp_path: Path, prefix: str, exchange: str, *bot_args: str):
    """(connector, bot) contexts with the bot's six far quotes resting at the sim."""
    conn_cm = connector(name, cfg, tmp_path, exchange=exchange)
    conn = conn_cm.__enter__()
    bot_cm = bot(name, tmp_path / "bot.json", "--mode", "rest", *bot_args)
    bot_cm.__enter__()
    wait_for(lambda: len(_own_open(sim, prefix)) == 6, 30, "the bot's six quotes at the sim")
    return conn, conn_cm, bot_cm


@pytest.mark.parametrize("switch", ["on", "off"])
def test_usdm_killed_connector_orders_are_cancelled_by_the_exchange(tmp_path, switch):
    window = 2.0 if switch == "on" else 0
    name, prefix = f"dmf{switch}", f"dmf{switch}"
    with start_sim("binancefutures") as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix=prefix, extra=f"dead_man_window_s = {window}")
        conn, conn_cm, bot_cm = _quoting(sim, name, cfg, tmp_path, prefix, "binancefutures")
        try:
            dm = wait_for(lambda: (d := _dead_man(name)) and (d.symbols or switch == "off") and d, 10,
                          "status with the switch")
            if switch == "on":
                assert ("Dead man's switch: countdownCancelAll on every symbol the bots trade, window 2.0s"
                        in conn.text())
                assert (dm.mechanism, dm.state, dm.symbols) == ("countdownCancelAll", "armed", ["BTCUSDT"])
                assert 0 < _countdowns(sim)["BTCUSDT"] <= window
                line, js = _health_text(name)
                assert line.startswith("dead man's switch: countdownCancelAll armed on BTCUSDT, window 2 s, "
                                       "refreshed ")
                assert (js["mechanism"], js["state"], js["window_s"], js["symbols"]) == (
                    "countdownCancelAll", "armed", 2.0, ["BTCUSDT"])
                assert 0 <= js["last_refresh_age"] < window + 1.5     # refreshed every 0.67 s, status every 1 s
            conn.stop(signal.SIGKILL)                  # nothing of the connector runs after this
            if switch == "on":
                wait_for(lambda: not _own_open(sim, prefix), 20, "the exchange cancelling the orders", 0.1)
                assert sim_state(sim)["counters"]["countdowns_fired"] == 1   # the exchange did it
                assert _countdowns(sim) == {}
            else:
                time.sleep(3 * 2.0)                    # three times the window the "on" case uses
                assert len(_own_open(sim, prefix)) == 6
                assert _countdowns(sim) == {} and sim_state(sim)["counters"]["countdowns_fired"] == 0
                assert (dm.mechanism, dm.state) == ("", "off")
                assert "Dead man's switch off (dead_man_window_s = 0)" in conn.text()
        finally:
            bot_cm.__exit__(None, None, None)
            conn_cm.__exit__(None, None, None)


async def _foreign_order(sim, cid: str = "by-hand-1") -> int:
    """An order of the same account that is not the connector's (placed by hand, or by another
    connector instance with the same prefix): it must stay."""
    async with aiohttp.ClientSession() as s:
        status, body, _ = await signed(s, "POST", sim.rest_url, "/api/v3/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
            "price": "10000.00", "newClientOrderId": cid})
        assert status == 200, body
        return body["orderId"]


@pytest.mark.parametrize("switch", ["on", "off"])
def test_spot_killed_connector_orders_are_cancelled_by_the_guardian(tmp_path, switch):
    """Spot documents no cancel-on-disconnect: the guardian cancels the connector's own orders
    (over REST, though this connector sends its orders over the WebSocket API), not the
    account's others: neither one placed by hand nor one with the same prefix and another
    connector instance's tag."""
    name, prefix = f"dms{switch}", f"dms{switch}"
    fallback = "guardian" if switch == "on" else "none"
    extra = f'dead_man_window_s = 2.0\ndead_man_fallback = "{fallback}"\norder_transport = "ws"'
    guardian = None
    with start_sim("binancespot") as sim:
        asyncio.run(_foreign_order(sim))
        cfg = write_config(tmp_path / "c.toml", sim, prefix=prefix, extra=extra)
        conn, conn_cm, bot_cm = _quoting(sim, name, cfg, tmp_path, prefix, "binancespot", *SPOT_BOT)
        other = f"{prefix}-{OTHER_TAG}-1-1-1"
        try:
            asyncio.run(_foreign_order(sim, other))
            wait_for(lambda: f"open order {other} has prefix '{prefix}' but another connector's tag" in conn.text(),
                     10, "the connector leaving the other instance's order alone")
            dm = wait_for(lambda: (d := _dead_man(name)) and (d.symbols or switch == "off") and d, 10,
                          "status with the switch")
            if switch == "on":
                assert (dm.mechanism, dm.state, dm.symbols) == ("guardian", "armed", ["BTCUSDT"])
                guardian = dm.guardian_pid
                assert f"guardian process (pid {guardian})" in conn.text()
                line, js = _health_text(name)
                assert line.startswith(f"dead man's switch: guardian pid {guardian} armed on BTCUSDT")
                assert (js["mechanism"], js["guardian_pid"]) == ("guardian", guardian)
                assert not _gone(guardian)
                # not in its argv, not in its environment
                assert b"hftctl-sim-secret" not in Path(f"/proc/{guardian}/cmdline").read_bytes()
                assert b"hftctl-sim-secret" not in Path(f"/proc/{guardian}/environ").read_bytes()
            else:
                assert (dm.mechanism, dm.state) == ("", "unprotected")
                assert _health_text(name)[0] == ('dead man\'s switch: none (no exchange mechanism, '
                                                 'dead_man_fallback = "none")')
                assert 'dead_man_fallback = "none": if this connector is killed its orders stay' in conn.text()
            conn.stop(signal.SIGKILL)
            if switch == "on":
                wait_for(lambda: not _own_open(sim, prefix), 30, "the guardian cancelling the orders", 0.1)
                wait_for(lambda: _gone(guardian), 30, "the guardian's exit")
                log = conn.text()     # the guardian writes where the connector wrote
                assert re.search(rf"guardian: connector {name} is gone without a clean stop: cancelling its "
                                 rf"open orders \(prefix {prefix}, tag [0-9a-z]{{6}}\) on BTCUSDT", log), log[-3000:]
                assert f"guardian: cancelled 6 open order(s) of connector {name}; exiting" in log
                assert "hftctl-sim-secret" not in log and "Traceback" not in log
            else:
                time.sleep(3 * 2.0)
                assert len(_own_open(sim, prefix)) == 6
            acct = sim_state(sim)["accounts"][0]
            assert {"by-hand-1", other} <= {o["client_order_id"] for o in acct["open_orders"]}
        finally:
            _kill_if_left(guardian)
            bot_cm.__exit__(None, None, None)
            conn_cm.__exit__(None, None, None)


@pytest.mark.parametrize("exchange", ["binancefutures", "binancespot"])
def test_clean_stop_with_cancel_on_stop_none_leaves_the_orders_and_disarms(tmp_path, exchange):
    name = prefix = f"dmn{exchange[7]}"
    bot_args = SPOT_BOT if exchange == "binancespot" else ()
    with start_sim(exchange) as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix=prefix,
                           extra='dead_man_window_s = 1.0\ncancel_on_stop = "none"')
        conn, conn_cm, bot_cm = _quoting(sim, name, cfg, tmp_path, prefix, exchange, *bot_args)
        try:
            dm = wait_for(lambda: (d := _dead_man(name)) and d.symbols and d, 10, "status with the switch")
            assert dm.state == "armed"
            bot_cm.__exit__(None, None, None)           # its orders are cancelled by the connector...
            wait_for(lambda: not _own_open(sim, prefix), 15, "the departed bot's orders cancelled")
            bot_cm = bot(name, tmp_path / "bot2.json", "--mode", "rest", *bot_args)
            bot_cm.__enter__()                           # ...so a second bot quotes, then the stop
            wait_for(lambda: len(_own_open(sim, prefix)) == 6, 30, "the second bot's quotes")
            assert conn.stop(signal.SIGTERM) == 0
            if exchange == "binancefutures":
                assert _countdowns(sim) == {}          # disarmed before the connector exited
                assert "countdownCancelAll disarmed on BTCUSDT" in conn.text()
            else:
                wait_for(lambda: _gone(dm.guardian_pid), 10, "the guardian leaving on the stop message")
                assert "guardian: connector" not in conn.text()    # it did nothing
            time.sleep(3 * 1.0)                        # three windows: nobody cancels them
            assert len(_own_open(sim, prefix)) == 6
            assert sim_state(sim)["counters"]["countdowns_fired"] == 0
        finally:
            bot_cm.__exit__(None, None, None)
            conn_cm.__exit__(None, None, None)
            _kill_if_left(dm.guardian_pid if exchange == "binancespot" else None)


def test_refresh_failures_are_reported_and_retried_and_never_fatal(tmp_path):
    """Every REST call fails for a while: the connector stays up, warns, `hftctl health` says the
    switch is failing; once the exchange answers again it is armed again."""
    name = prefix = "dmfail"
    with start_sim("binancefutures") as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix=prefix,
                           extra="dead_man_window_s = 3.0\nreconcile_interval_s = 0")
        conn, conn_cm, bot_cm = _quoting(sim, name, cfg, tmp_path, prefix, "binancefutures")
        try:
            wait_for(lambda: (d := _dead_man(name)) and d.symbols, 10, "status with the switch")
            sim_fault(sim, rest_5xx_rate=1.0)
            dm = wait_for(lambda: (d := _dead_man(name)) and d.state == "failing" and d, 20, "a failing switch")
            assert dm.error and dm.mechanism == "countdownCancelAll"
            report = check(name)
            assert report.verdict == "degraded"
            assert any("dead man's switch countdownCancelAll failing" in p for p in report.problems), \
                report.problems
            assert "dead man's switch countdownCancelAll failing" in conn.text()
            sim_fault(sim, rest_5xx_rate=0.0)
            wait_for(lambda: _dead_man(name).state == "armed", 20, "the switch armed again")
            assert "dead man's switch countdownCancelAll working again" in conn.text()
            assert conn.p.poll() is None and "Traceback" not in conn.text()
        finally:
            sim_fault(sim, rest_5xx_rate=0.0)
            bot_cm.__exit__(None, None, None)
            conn_cm.__exit__(None, None, None)


@pytest.mark.parametrize("account", ["institutional", "ordinary"])
def test_bybit_killed_connector_orders_are_cancelled_by_dcp_or_the_guardian(tmp_path, account):
    """An institutional account arms Bybit's DCP: the sim cancels (CancelByDCP) once the killed
    connector's private socket has been gone for the window. An ordinary account is refused DCP
    (institutional-only since 2026-03-10) and the guardian cancels instead."""
    name = prefix = f"dmb{account[0]}"
    sim_cfg = tmp_path / "sim.toml"
    sim_cfg.write_text('[[accounts]]\nname = "default"\napi_key = "hftctl-sim-key"\nsecret = "hftctl-sim-secret"\n'
                       f'institutional = {"true" if account == "institutional" else "false"}\n')
    with start_sim("bybit", extra_args=["--config", str(sim_cfg)]) as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix=prefix, extra="dead_man_window_s = 3")
        conn, conn_cm, bot_cm = _quoting(sim, name, cfg, tmp_path, prefix, "bybit")
        guardian = None
        try:
            dm = wait_for(lambda: (d := _dead_man(name)) and d.symbols and d, 15, "status with the switch")
            if account == "institutional":
                assert (dm.mechanism, dm.state) == ("DCP", "armed")
            else:
                guardian = dm.guardian_pid
                assert guardian and dm.mechanism == "guardian" and "DCP" in conn.text()
            killed = time.monotonic()
            conn.stop(signal.SIGKILL)
            wait_for(lambda: not _own_open(sim, prefix), 30, "the orders cancelled", 0.1)
            if account == "institutional":
                assert time.monotonic() - killed >= 2.5          # not before the window (3 s, whole seconds)
                assert sim_state(sim)["counters"]["countdowns_fired"] == 1
            else:
                assert sim_state(sim)["counters"]["countdowns_fired"] == 0
                wait_for(lambda: _gone(guardian), 30, "the guardian to exit", 0.1)
        finally:
            bot_cm.__exit__(None, None, None)
            conn_cm.__exit__(None, None, None)
            _kill_if_left(guardian)
