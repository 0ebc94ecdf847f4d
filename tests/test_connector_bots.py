"""Two bots on one connector: isolation, a silent bot and a killed bot lose their orders (futures, spot,
Bybit), secrets stay out of logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time

import aiohttp
import orjson
import pytest

from hftctl.connector.routing import parse_client_id
from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import BotEndpoint
from hftctl.sim.process import start_sim
from tests.connector_procs import ROOT, bot, connector, segments, sim_state, wait_for, write_config
from tests.test_sim_support import signed

API_KEY = "env-api-key-7f3a9c21"
SECRET = "env-secret-b84d02e6f1c3"


def _open_cids(sim, prefix: str) -> set[str]:
    st = sim_state(sim)
    return {o["client_order_id"] for a in st["accounts"] for o in a["open_orders"]
            if o["client_order_id"].startswith(prefix + "-")}


def _dump(path):
    return json.loads(path.read_text()) if path.exists() else None


def test_isolation_watchdog_kill_and_secrets(tmp_path):
    sim_cfg = tmp_path / "sim.toml"
    sim_cfg.write_text(f'[[accounts]]\nname = "env"\napi_key = "{API_KEY}"\nsecret = "{SECRET}"\n')
    with start_sim(extra_args=["--config", str(sim_cfg)]) as sim:
        _check_wrong_secret_is_one_line(sim, tmp_path)
        # The file holds placeholders; the real credentials come from the environment.
        cfg = write_config(tmp_path / "c.toml", sim, prefix="iso", api_key="placeholder-key",
                           secret="placeholder-secret", extra="bot_heartbeat_timeout_s = 1.5")
        env = {"HFTCTL_API_KEY": API_KEY, "HFTCTL_SECRET": SECRET}
        with connector("ctiso", cfg, tmp_path, env=env, args=["--log-level", "debug"]) as conn:
            _check_raw_publishing("ctiso")
            out_a, out_b = tmp_path / "a.json", tmp_path / "b.json"
            with contextlib.ExitStack() as stack:
                a = stack.enter_context(bot("ctiso", out_a, "--mode", "rest"))
                va = wait_for(lambda: _dump(out_a), 30, "bot A's orders")
                # B joins once the book is long in sync: its snapshot comes from the connector's copy.
                b = stack.enter_context(bot("ctiso", out_b, "--mode", "rest"))
                vb = wait_for(lambda: _dump(out_b), 30, "bot B's orders")
                assert vb["book_ok"] and vb["snapshots"] == 1 and vb["clears"] == 0
                ida, idb = va["bot_id"], vb["bot_id"]
                assert ida != idb
                # Each bot saw updates for its own orders only, and all of them are live at the sim.
                for v in (va, vb):
                    assert len(v["open_cids"]) == 6
                    assert {parse_client_id("iso", c).bot_id for c in v["cids_seen"]} == {v["bot_id"]}
                assert _open_cids(sim, "iso") == set(va["open_cids"]) | set(vb["open_cids"])

                # B stops (alive, but silent): the watchdog cancels its orders, A's stay.
                b.send_signal(signal.SIGSTOP)
                try:
                    wait_for(lambda: _open_cids(sim, "iso") == set(va["open_cids"]), 15,
                             "silent bot's orders cancelled")
                finally:
                    b.send_signal(signal.SIGCONT)
                # A is SIGKILLed: no Bye, no heartbeat; its orders go too.
                a.kill()
                a.wait(5)
                wait_for(lambda: not _open_cids(sim, "iso"), 15, "killed bot's orders cancelled")
            text = conn.text()
            assert "silent for more than 1.5s" in text
            assert "detached from the channel" in text or "bot process gone" in text
            assert "Connected to user data stream" in text
            for secret in (API_KEY, SECRET):
                assert secret not in text


def _check_raw_publishing(name: str) -> None:
    """What `hftctl collect --ipc` relies on: verbatim envelopes and REST snapshot bodies."""
    with BotEndpoint.attach(name, "raw-subscriber") as ep:
        ep.send(s.SubscribeRaw(ep.bot_id, "BTCUSDT"))
        streams: dict[str, bytes] = {}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not {"btcusdt@depth@0ms", "btcusdt@trade", "depthSnapshot"} <= set(streams):
            m = ep.recv(0.2)
            if isinstance(m, s.RawMessage):
                assert m.exchange == "binancefutures" and m.symbol == "BTCUSDT" and m.local_ts > 0
                streams.setdefault(m.stream, m.raw)
        assert {"btcusdt@depth@0ms", "btcusdt@trade", "depthSnapshot"} <= set(streams), sorted(streams)
        env = orjson.loads(streams["btcusdt@depth@0ms"])
        assert env["stream"] == "btcusdt@depth@0ms" and env["data"]["e"] == "depthUpdate"
        assert "lastUpdateId" in orjson.loads(streams["depthSnapshot"])
        # A lapped recorder asks again: it gets a fresh raw REST snapshot, not only the book.
        first_id = orjson.loads(streams["depthSnapshot"])["lastUpdateId"]
        time.sleep(0.3)                      # let the market move past the first snapshot
        while ep.recv(0.0) is not None:      # drop what came before the request
            pass
        ep.send(s.SnapshotRequest(ep.bot_id, "BTCUSDT"))
        deadline = time.monotonic() + 10
        fresh = None
        while time.monotonic() < deadline and fresh is None:
            m = ep.recv(0.2)
            if isinstance(m, s.RawMessage) and m.stream == "depthSnapshot":
                fresh = orjson.loads(m.raw)
        assert fresh is not None, "no raw snapshot after SnapshotRequest"
        assert fresh["lastUpdateId"] > first_id


def _check_wrong_secret_is_one_line(sim, tmp_path) -> None:
    """The exchange refuses the credentials: one line, exit 1, no secret, nothing left in /dev/shm."""
    cfg = write_config(tmp_path / "wrong.toml", sim, api_key=API_KEY, secret="wrong-secret-5d1e")
    r = subprocess.run([sys.executable, "-m", "hftctl", "connector", "ctbad", "binancefutures", str(cfg),
                        "--log-level", "debug"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and any(c in last for c in ("-1022", "-2014", "-2015")), last
    assert "wrong-secret-5d1e" not in r.stderr and API_KEY not in r.stderr
    assert segments("ctbad") == []


def test_orders_left_by_a_killed_connector_are_cancelled_by_the_next(tmp_path):
    with start_sim() as sim:
        # The exchange's dead man's switch would cancel them first: this is about the next run.
        cfg = write_config(tmp_path / "c.toml", sim, prefix="orph", extra="dead_man_window_s = 0")
        out = tmp_path / "a.json"
        with connector("ctorph", cfg, tmp_path) as conn:
            with bot("ctorph", out, "--mode", "rest"):
                wait_for(lambda: _dump(out), 30, "bot's orders")
                assert len(_open_cids(sim, "orph")) == 6
                conn.stop(signal.SIGKILL)        # no chance to cancel anything
            assert len(_open_cids(sim, "orph")) == 6
        with connector("ctorph", cfg, tmp_path) as conn2:
            wait_for(lambda: not _open_cids(sim, "orph"), 15, "orphans cancelled")
            assert "cancelling 6 orphan order(s) of earlier runs" in conn2.text()


def test_unknown_symbol_gets_an_error_not_a_retry_storm(tmp_path):
    with start_sim() as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="unk")
        with connector("ctunk", cfg, tmp_path) as conn:
            with BotEndpoint.attach("ctunk", "unknown-symbol-bot") as ep:
                ep.send(s.RegisterInstrument(ep.bot_id, "NOSUCHUSDT", 0.1, 0.001))
                err = wait_for(lambda: next((m for m in iter(lambda: ep.recv(0.1), None)
                                             if isinstance(m, s.Error)), None), 15, "Error for NOSUCHUSDT")
                assert err.symbol == "NOSUCHUSDT" and err.code == -1121 and "Invalid symbol" in err.message
                # Trading the refused symbol is refused too, with a clear error.
                ep.send(s.SubmitOrder(ep.bot_id, 7, "NOSUCHUSDT", 1, 1, 1.0, 1.0, "limit", "gtc"))
                err2 = wait_for(lambda: next((m for m in iter(lambda: ep.recv(0.1), None)
                                              if isinstance(m, s.Error) and m.req_id == 7), None), 10, "order error")
                assert "register the instrument first" in err2.message
            time.sleep(1.0)
            assert conn.text().count("depth snapshot failed") <= 1


@pytest.mark.parametrize("mode, left", [("own", {"manual"}), ("all", set()), ("none", {"bot", "manual"})])
def test_cancel_on_stop_decides_which_orders_a_stopping_connector_cancels(tmp_path, mode, left):
    """A bot's orders (this connector's prefix) and an order placed by hand on the same account:
    at SIGTERM, "own" cancels only the former, "all" both, "none" neither."""
    with start_sim() as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="stp", extra=f'cancel_on_stop = "{mode}"')
        out = tmp_path / "a.json"
        with connector("ctstop", cfg, tmp_path) as conn:
            with bot("ctstop", out, "--mode", "rest"):
                wait_for(lambda: _dump(out), 30, "bot's orders")
                bid = float(sim_state(sim)["book"]["bids"][0][0])
                status, body, _ = asyncio.run(_manual_order(sim, round(bid - 500.0, 1)))
                assert status == 200, body
                assert len(_open_cids(sim, "stp")) == 6 and _open_cids(sim, "manual") == {"manual-1"}
                assert conn.stop(signal.SIGTERM) == 0, conn.text()[-2000:]
        still = {"bot"} if _open_cids(sim, "stp") else set()
        still |= {"manual"} if _open_cids(sim, "manual") else set()
        assert still == left
        assert "Traceback" not in conn.text()


async def _manual_order(sim, price: float):
    async with aiohttp.ClientSession() as session:
        return await signed(session, "POST", sim.rest_url, "/fapi/v1/order",
                            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                             "quantity": "0.01", "price": f"{price:.1f}", "newClientOrderId": "manual-1"})


@pytest.mark.parametrize("exchange", ["binancespot", "bybit"])
def test_killed_bots_orders_are_cancelled_on_spot_and_bybit(tmp_path, exchange):
    """Cancel-on-death through each exchange's own cancel path (the futures case is above)."""
    from tests.test_connector_bybit import _config as bybit_config

    name = f"ctkd{exchange[:2]}"
    with start_sim(exchange) as sim:
        if exchange == "bybit":
            cfg = bybit_config(tmp_path / "c.toml", sim, "kd")
            lot_args: tuple[str, ...] = ()
        else:
            cfg = write_config(tmp_path / "c.toml", sim, prefix="kd")
            lot_args = ("--tick", "0.01", "--lot", "0.00001")           # spot BTCUSDT
        out = tmp_path / "a.json"
        with connector(name, cfg, tmp_path, exchange=exchange) as conn:
            with bot(name, out, "--mode", "rest", *lot_args) as b:
                view = wait_for(lambda: _dump(out), 30, "the bot's orders")
                assert len(view["open_cids"]) == 6 and _open_cids(sim, "kd") == set(view["open_cids"])
                b.kill()                         # no Bye, no heartbeat, nothing cancelled by the bot
                b.wait(5)
                wait_for(lambda: not _open_cids(sim, "kd"), 15, "the killed bot's orders cancelled")
            text = conn.text()
        assert "detached from the channel" in text or "bot process gone" in text
        assert "Traceback" not in text
