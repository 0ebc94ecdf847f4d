"""Bad values are errors, never silently accepted: unknown keys (with a "did you mean"), numbers
out of what the exchange accepts, non-finite numbers, a --exchange that contradicts a recording.

Each case is one line on stderr and exit 1 through the real command, or a one-line HftctlError
from the loader the command calls.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hftctl import exchanges
from hftctl.collector.options import resolve_venue
from hftctl.configfile import ConfigReader
from hftctl.connector.run import load
from hftctl.connector.settings import ConnectorSettings, config_keys
from hftctl.errors import HftctlError

ROOT = Path(__file__).resolve().parent.parent
BINANCE = {"stream_url": "ws://127.0.0.1:9/ws", "api_url": "http://127.0.0.1:9", "order_prefix": "t",
           "api_key": "k", "secret": "s"}
BYBIT = {"public_url": "ws://127.0.0.1:9/v5/public/linear", "private_url": "ws://127.0.0.1:9/v5/private",
         "trade_url": "ws://127.0.0.1:9/v5/trade", "rest_url": "http://127.0.0.1:9",
         "order_prefix": "t", "api_key": "k", "secret": "s"}


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"' if v not in ("nan", "inf", "-inf") else v
    return repr(v)


def write(path: Path, values: dict) -> Path:
    path.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in values.items()))
    return path


def hftctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)


def one_line_error(r: subprocess.CompletedProcess, *expect: str) -> str:
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for e in expect:
        assert e in lines[0], lines[0]
    return lines[0]


# --- unknown keys ------------------------------------------------------------------------------

def test_connector_typo_is_an_error_with_a_suggestion(tmp_path):
    cfg = write(tmp_path / "c.toml", {**BINANCE, "cancel_on_stpo": "all"})
    one_line_error(hftctl("connector", "cfgtest", "binancefutures", str(cfg)),
                   "unknown key 'cancel_on_stpo'", "did you mean 'cancel_on_stop'")


@pytest.mark.parametrize("exchange,base,typo,suggestion", [
    ("binancefutures", BINANCE, "snapshot_limt", "snapshot_limit"),
    ("binancespot", BINANCE, "recv_windw_ms", "recv_window_ms"),
    ("bybit", BYBIT, "book_dept", "book_depth"),
    ("bybit", BYBIT, "reconcile_interval", "reconcile_interval_s"),
    ("binancefutures", BINANCE, "colour", None),
    # main's keys: websocket order entry, the dead man's switch, the venue
    ("binancefutures", BINANCE, "order_transprt", "order_transport"),
    ("binancespot", BINANCE, "ws_api_ur", "ws_api_url"),
    ("bybit", BYBIT, "trade_ur", "trade_url"),
    ("bybit", BYBIT, "dead_man_windows", "dead_man_window_s"),
    ("binancespot", BINANCE, "dead_man_fallbak", "dead_man_fallback"),
    ("binancefutures", BINANCE, "venu", "venue"),
])
def test_unknown_keys_in_every_exchange_config(tmp_path, exchange, base, typo, suggestion):
    cfg = write(tmp_path / "c.toml", {**base, typo: 1})
    with pytest.raises(HftctlError, match=f"unknown key '{typo}'") as e:
        load(exchange, cfg)
    if suggestion:
        assert f"did you mean '{suggestion}'" in str(e.value)
    else:
        assert "did you mean" not in str(e.value)


def test_a_table_is_an_unknown_key_too(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in BINANCE.items()) + "[bots]\nx = 1\n")
    with pytest.raises(HftctlError, match="unknown key 'bots'"):
        load("binancefutures", cfg)


@pytest.mark.parametrize("exchange,base", [("binancefutures", BINANCE), ("binancespot", BINANCE),
                                           ("bybit", BYBIT)])
def test_config_keys_are_exactly_what_the_loaders_read(exchange, base):
    """config_keys (the collector's list of connector keys) = the keys the loaders ask for."""
    module = exchanges.get(exchange).connector()
    # the keys read only when given (else derived or defaulted) are given
    optional = {"order_transport": "ws"} | ({} if exchange == "bybit" else {"ws_api_url": "ws://127.0.0.1:9/ws"})
    r = ConfigReader({**base, **optional}, "c.toml", env={})
    module.load_config(r)
    ConnectorSettings.read(r)
    assert r.asked == config_keys(module)


def test_collector_config_typo_is_an_error_and_a_connector_config_is_accepted(tmp_path):
    typo = write(tmp_path / "typo.toml", {"stream_url": "ws://127.0.0.1:9/ws", "api_ur1": "http://127.0.0.1:9"})
    r = hftctl("collect", "binancefutures", "btcusdt", "--config", str(typo), "--out", str(tmp_path / "d"))
    one_line_error(r, "unknown key 'api_ur1'", "did you mean 'api_url'")
    # A full connector config (every optional key set) is a valid --config for the collector.
    full = write(tmp_path / "conn.toml", {**BINANCE, "snapshot_limit": 500, "cancel_on_stop": "none",
                                          "reconcile_interval_s": 5.0, "throttle_ratio": 0.8})
    full = write(tmp_path / "conn.toml", {**BINANCE, "snapshot_limit": 500, "cancel_on_stop": "none",
                                          "reconcile_interval_s": 5.0, "throttle_ratio": 0.8,
                                          "order_transport": "rest", "ws_api_url": "ws://127.0.0.1:9/ws-fapi/v1",
                                          "dead_man_window_s": 0, "venue": "testnet"})
    venue = resolve_venue("binancefutures", None, full, None, None)
    assert venue.rest == "http://127.0.0.1:9"
    with pytest.raises(HftctlError, match="unknown key 'book_depth'"):   # a Bybit key, Binance file
        resolve_venue("binancefutures", None, write(tmp_path / "x.toml", {**BINANCE, "book_depth": 50}), None, None)
    # COIN-M has no connector: its --config holds the collector's own keys only
    coinm = write(tmp_path / "cm.toml", {"venue": "testnet", "stream_url": "ws://127.0.0.1:9/ws"})
    assert resolve_venue("binancefuturescm", None, coinm, None, None).name == "custom"
    with pytest.raises(HftctlError, match="unknown key 'order_prefix'"):
        resolve_venue("binancefuturescm", None, write(tmp_path / "cm2.toml", {"order_prefix": "t"}), None, None)


def test_keys_a_setting_leaves_unused_are_still_known(tmp_path):
    """Bybit's trade_url with order_transport = "rest", the venue key next to named URLs: valid
    keys a setting makes unused are not "unknown" (and a bad trade_url is still an error)."""
    cfg, *_ = load("bybit", write(tmp_path / "b.toml", {**BYBIT, "order_transport": "rest"}))
    assert cfg.order_transport == "rest" and cfg.trade_url == "" and "trade_url" not in cfg.urls()
    with pytest.raises(HftctlError, match="'trade_url'"):
        load("bybit", write(tmp_path / "b2.toml", {**BYBIT, "order_transport": "rest", "trade_url": "http://x"}))
    load("binancefutures", write(tmp_path / "v.toml", {**BINANCE, "venue": "testnet"}))


# --- numbers the exchange would refuse, or that make no sense ------------------------------------

def test_snapshot_limit_must_be_one_the_exchange_accepts(tmp_path):
    cfg = write(tmp_path / "c.toml", {**BINANCE, "snapshot_limit": 7})
    one_line_error(hftctl("connector", "cfgtest", "binancefutures", str(cfg)),
                   "'snapshot_limit'", "5, 10, 20, 50, 100, 500, 1000")
    assert load("binancefutures", write(tmp_path / "ok.toml", {**BINANCE, "snapshot_limit": 100}))[0].snapshot_limit == 100
    # spot takes any size from 1 to 5000
    assert load("binancespot", write(tmp_path / "s.toml", {**BINANCE, "snapshot_limit": 7}))[0].snapshot_limit == 7
    with pytest.raises(HftctlError, match="1..5000"):
        load("binancespot", write(tmp_path / "s2.toml", {**BINANCE, "snapshot_limit": 5001}))


BAD_NUMBERS = [
    # (exchange, key, value)
    ("binancefutures", "recv_window_ms", 0), ("binancefutures", "recv_window_ms", 60_001),
    ("binancefutures", "listen_key_keepalive_s", 3600.0), ("binancefutures", "listen_key_keepalive_s", 0.0),
    ("binancefutures", "reconnect_min_s", 0.0), ("binancefutures", "reconnect_min_s", 61.0),
    ("binancefutures", "reconnect_max_s", 0.1),          # below reconnect_min_s (0.2)
    ("binancefutures", "request_timeout_s", 0.0), ("binancefutures", "request_timeout_s", 1e9),
    ("binancefutures", "time_resync_s", 0.5), ("binancefutures", "weight_limit_1m", 0),
    ("binancefutures", "order_limit_10s", -1), ("binancefutures", "order_limit_1m", 10**12),
    ("binancefutures", "throttle_ratio", 1.5), ("binancefutures", "throttle_ratio", 0.0),
    ("binancefutures", "retry_after_cap_s", -1.0), ("binancefutures", "retry_after_cap_s", 1e6),
    ("binancefutures", "bot_heartbeat_timeout_s", -1.0), ("binancefutures", "bot_heartbeat_timeout_s", 1e9),
    ("binancefutures", "reconcile_interval_s", -5.0), ("binancefutures", "unknown_outcome_window_s", 0.5),
    ("binancefutures", "heartbeat_interval_s", 0.0), ("binancefutures", "heartbeat_interval_s", 3600.0),
    ("binancefutures", "reconcile_interval_s", "nan"), ("binancefutures", "request_timeout_s", "inf"),
    ("binancefutures", "retry_after_cap_s", "-inf"), ("binancefutures", "snapshot_limit", 1000.0),
    ("binancefutures", "recv_window_ms", True), ("binancefutures", "throttle_ratio", "0.5"),
    ("bybit", "book_depth", 7), ("bybit", "ping_interval_s", 0.1), ("bybit", "ping_interval_s", 1e4),
    ("bybit", "recv_window_ms", 10**9), ("bybit", "reconnect_max_s", "nan"),
    ("binancefutures", "dead_man_window_s", 0.5), ("binancefutures", "dead_man_window_s", 1e5),
    ("bybit", "dead_man_window_s", "nan"), ("binancespot", "dead_man_window_s", -1.0),
]


@pytest.mark.parametrize("exchange,key,value", BAD_NUMBERS)
def test_every_numeric_field_is_range_checked(tmp_path, exchange, key, value):
    base = BYBIT if exchange == "bybit" else BINANCE
    cfg = write(tmp_path / "c.toml", {**base, key: value})
    with pytest.raises(HftctlError, match=f"'{key}'") as e:
        load(exchange, cfg)
    assert "\n" not in str(e.value) and str(cfg) in str(e.value)


def test_shipped_configs_still_load():
    for exchange, name in (("binancefutures", "binancefutures_testnet"), ("binancespot", "binancespot_testnet"),
                           ("bybit", "bybit_testnet"), ("binancefutures", "local_sim")):
        load(exchange, ROOT / "configs" / f"{name}.toml")


# --- other commands ------------------------------------------------------------------------------

def test_convert_refuses_an_exchange_that_contradicts_the_recording(shared_data, tmp_path):
    usdm = shared_data / "recordings/usdm/btcusdt_20240808.gz"
    out = tmp_path / "o.npz"
    one_line_error(hftctl("convert", str(usdm), str(out), "--exchange", "binancespot"),
                   "--exchange binancespot contradicts the content", "binancefutures recording")
    assert not out.exists()
    spot = shared_data / "recordings/spot/btcusdt_20240808.gz"
    one_line_error(hftctl("convert", str(spot), str(out), "--exchange", "bybit"), "contradicts")


def test_sim_refuses_an_infinite_balance(tmp_path):
    cfg = tmp_path / "sim.toml"
    for value in ("1e400", "inf", "nan", "-1.0"):
        cfg.write_text(f'[[accounts]]\napi_key = "a"\nsecret = "b"\nbalances = {{ USDT = {value} }}\n')
        r = subprocess.run([sys.executable, "-m", "hftctl", "sim", "--config", str(cfg), "--port", "0"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
        one_line_error(r, "balances")


def test_backtest_maker_fee_nan_is_refused(tmp_path):
    r = hftctl("mm", "--backtest", str(tmp_path / "none.npz"), "--maker-fee", "nan")
    one_line_error(r, "--maker-fee")
