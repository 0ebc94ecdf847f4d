"""Connector pieces that need no processes: client ids, update folding, config errors, secrets."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import orjson
import pytest

from hftctl.configfile import ConfigReader, open_config
from hftctl.connector.claim import DEAD, FOREIGN, OTHER, OWN, Ownership, instance_tag
from hftctl.connector.routing import OrderRecord, OrderTable, make_client_id, parse_client_id
from hftctl.secrets import RedactingFilter, Secret
from hftctl.errors import HftctlError
from hftctl.exchanges.base import Instrument
from hftctl.exchanges.binance.common.rate_limit import RateLimiter
from hftctl.exchanges.binance.futures import messages as wire
from hftctl.exchanges.binance.futures.client import load_config
from hftctl.exchanges.wire import MalformedMessage, fmt_step
from hftctl.ipc.schema import OrderUpdate

INST = Instrument("BTCUSDT", 0.1, 0.001)


BINANCE_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")     # newClientOrderId (USD-M and spot docs)
BYBIT_CID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")            # orderLinkId: letters, digits, - and _


def test_client_ids_round_trip_and_stay_within_exchange_limits():
    tag = instance_tag("bf", 7)
    assert re.fullmatch(r"[0-9a-z]{6}", tag) and tag == instance_tag("bf", 7)
    cid = make_client_id("sim", tag, 7, 12, 123456789)
    assert parse_client_id("sim", cid) == (tag, 7, 12, 123456789)
    assert parse_client_id("other", cid) is None
    assert parse_client_id("sim", "web_abc123") is None
    assert parse_client_id("sim", "sim-7-12-5") is None          # the format before instance tags
    # The longest id still fits both exchanges' rules.
    longest = make_client_id("abcdefgh", instance_tag("x" * 64, 1295), 200, 9999, 10**11 - 1)
    assert BINANCE_CID.match(longest) and BYBIT_CID.match(longest), longest
    with pytest.raises(HftctlError, match="exceeds 36"):
        make_client_id("abcdefgh", tag, 200, 99999, 2**63 - 1)


def test_ownership_is_proved_by_the_instance_tag():
    """Own (this run), dead (an earlier run of this NAME on this host), other (anyone else)."""
    me = instance_tag("bf", 5, host="h1")
    own = Ownership("p", me)
    earlier = instance_tag("bf", 4, host="h1")
    other_name = instance_tag("bf2", 5, host="h1")
    other_host = instance_tag("bf", 5, host="h2")
    assert earlier != me and earlier[:4] == me[:4]
    assert other_name[:4] != me[:4] and other_host[:4] != me[:4]

    def of(tag):
        cid = make_client_id("p", tag, 1, 1, 9)
        return own.of(parse_client_id("p", cid).tag, cid)
    assert (of(me), of(earlier), of(other_name), of(other_host)) == (OWN, DEAD, OTHER, OTHER)
    assert own.of(None, "p-1-1-9") == OTHER              # our prefix, no tag: cannot prove it ours
    assert own.of(None, "web_abc123") == FOREIGN


def _upd(status, cum, last=0.0, last_px=0.0, px=100.0, qty=1.0, cid="p-1-1-5"):
    return OrderUpdate("BTCUSDT", 0, cid, "9", 1, px, qty, max(0, qty - cum), last, last_px, cum,
                       status, "limit", "gtc", 0, 0)


def test_updates_are_folded_idempotently():
    table = OrderTable("p")
    rec = OrderRecord(1, 1, 5, "p-1-1-5", INST, 1, 100.0, 1.0, "limit", "gtc", pending_req_id=42)
    table.add(rec)
    _, out = table.apply(_upd("new", 0.0), from_rest_avg=True)
    assert out.order_id == 5 and out.req_id == 42 and out.status == "new"
    _, out = table.apply(_upd("partially_filled", 0.4, 0.4, 99.5))
    assert (out.exec_qty, out.exec_px, out.cum_qty) == (0.4, 99.5, 0.4) and out.req_id is None
    assert table.apply(_upd("partially_filled", 0.4, 0.4, 99.5)) is None       # duplicate
    assert table.apply(_upd("new", 0.0), from_rest_avg=True) is None             # stale REST body
    # REST reconciliation found the rest filled at an average of 99.8: the missed fill is 0.6 @ 100.0
    _, out = table.apply(_upd("filled", 1.0, 0.0, 99.8), from_rest_avg=True)
    assert out.status == "filled" and out.exec_qty == pytest.approx(0.6)
    assert out.exec_px == pytest.approx((99.8 * 1.0 - 0.4 * 99.5) / 0.6)
    assert table.apply(_upd("filled", 1.0, 0.6, 100.0)) is None                 # late stream copy
    assert not rec.is_open and table.open_orders() == []


def test_amendment_changes_price_and_reaches_the_bot():
    table = OrderTable("p")
    table.add(OrderRecord(1, 1, 5, "p-1-1-5", INST, 1, 100.0, 1.0, "limit", "gtc"))
    table.apply(_upd("new", 0.0))
    _, out = table.apply(_upd("new", 0.0, px=101.0, qty=2.0))
    assert (out.px, out.qty, out.leaves_qty) == (101.0, 2.0, 2.0)


def test_price_and_quantity_formatting_matches_the_step():
    assert fmt_step(0.1 * 3, 0.1) == "0.3"
    assert fmt_step(61800.20000000001, 0.1) == "61800.2"
    assert fmt_step(0.0015, 0.001) in ("0.002", "0.001")
    assert fmt_step(5.0, 1.0) == "5"


def test_order_trade_update_from_binance_docs_example():
    msg = {"e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650, "o": {
        "s": "BTCUSDT", "c": "p-1-1-5", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "0.001",
        "p": "7000", "ap": "0", "sp": "0", "x": "TRADE", "X": "PARTIALLY_FILLED", "i": 8886774,
        "l": "0.0005", "z": "0.0005", "L": "7000", "T": 1568879465650, "t": 1}}
    u = wire.order_trade_update(wire.user_event(orjson.dumps(msg)), 1)
    assert (u.side, u.status, u.exec_qty, u.cum_qty, u.leaves_qty) == (-1, "partially_filled", 0.0005, 0.0005, 0.0005)
    with pytest.raises(MalformedMessage):
        wire.user_event(orjson.dumps({"e": "ORDER_TRADE_UPDATE", "o": {"s": "X"}}))
    assert wire.user_event(b'{"e":"TRADE_LITE","E":1}') is None        # a kind the connector does not use


GOOD = {"stream_url": "wss://fstream.binancefuture.com/ws", "api_url": "https://demo-fapi.binance.com",
        "order_prefix": "t", "api_key": "k" * 16, "secret": "s" * 16}


@pytest.mark.parametrize("change,msg", [
    ({"api_url": None}, "missing key 'api_url'"),
    ({"stream_url": 5}, "expected a non-empty string for key 'stream_url'"),
    ({"stream_url": "https://x"}, "expected a ws/wss URL for key 'stream_url'"),
    ({"order_prefix": "a-b"}, "key 'order_prefix'"),
    ({"secret": None}, "missing key 'secret' (or set HFTCTL_SECRET)"),
    ({"api_key": " padded "}, "leading/trailing whitespace"),
    ({"recv_window_ms": "5000"}, "expected an integer for key 'recv_window_ms'"),
])
def test_config_errors_name_the_key(change, msg):
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(HftctlError) as e:
        load_config(ConfigReader(data, "cfg.toml", env={}))
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_connector_settings_defaults_and_errors():
    from hftctl.connector.settings import ConnectorSettings

    assert ConnectorSettings.read(ConfigReader({}, "cfg.toml", env={})).cancel_on_stop == "own"
    got = ConnectorSettings.read(ConfigReader({"cancel_on_stop": "all"}, "cfg.toml", env={}))
    assert got.cancel_on_stop == "all"
    with pytest.raises(HftctlError) as e:
        ConnectorSettings.read(ConfigReader({"cancel_on_stop": "yes"}, "cfg.toml", env={}))
    assert "expected one of 'own', 'all', 'none' for key 'cancel_on_stop'" in str(e.value)
    d = ConnectorSettings.read(ConfigReader({}, "cfg.toml", env={}))
    assert (d.dead_man_window_s, d.dead_man_fallback) == (5.0, "guardian")
    assert ConnectorSettings.read(ConfigReader({"dead_man_window_s": 0}, "cfg.toml", env={})).dead_man_window_s == 0
    for bad, msg in [({"dead_man_window_s": 0.5}, "expected 0 (off) or a number >= 1 for key 'dead_man_window_s'"),
                     ({"dead_man_window_s": -1}, "expected a number from 0 to 3600 for key 'dead_man_window_s'"),
                     ({"dead_man_fallback": "exchange"}, "expected one of 'guardian', 'none' for key "
                                                         "'dead_man_fallback'")]:
        with pytest.raises(HftctlError) as e:
            ConnectorSettings.read(ConfigReader(bad, "cfg.toml", env={}))
        assert msg in str(e.value)


def test_env_secrets_override_the_file_and_never_show():
    cfg = load_config(ConfigReader(GOOD, "cfg.toml", env={"HFTCTL_SECRET": "from-env-secret"}))
    assert cfg.secret.reveal() == "from-env-secret"
    assert "from-env-secret" not in repr(cfg) and "k" * 16 not in repr(cfg)
    assert "from-env" not in f"{cfg.secret} {cfg.secret!r}"
    record = logging.LogRecord("x", logging.INFO, "", 0, "signed url ?sig=%s&x", ("from-env-secret",), None)
    RedactingFilter(["from-env-secret"]).filter(record)
    assert record.getMessage() == "signed url ?sig=***&x"
    assert Secret("a") == Secret("a")


def test_open_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("api_url = [\n")
    with pytest.raises(HftctlError, match="malformed TOML"):
        open_config(bad)
    with pytest.raises(HftctlError, match="config file not found"):
        open_config(tmp_path / "none.toml")


@pytest.mark.parametrize("args,expect", [
    (["bf", "binancefutures", "{missing}"], "config file not found"),
    (["bf", "binancefutures", "{nokey}"], "missing key 'api_url'"),
    (["bf", "binancefutures", "{mainnet}"], "is a mainnet URL; pass --allow-mainnet"),
    (["bf", "bybit", "configs/local_sim.toml"], "missing key 'public_url'"),
    (["bf", "kraken", "configs/local_sim.toml"], "unknown exchange 'kraken'"),
    (["b f", "binancefutures", "configs/local_sim.toml"], "invalid connector name"),
    (["bf", "binancefutures", "configs/local_sim.toml", "--log-level", "loud"], "unknown log level 'loud'"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, expect):
    nokey = tmp_path / "nokey.toml"
    nokey.write_text('stream_url = "ws://127.0.0.1:1/ws"\n')
    mainnet = tmp_path / "mainnet.toml"
    mainnet.write_text("\n".join(f'{k} = "{v}"' for k, v in {**GOOD, "api_url": "https://fapi.binance.com"}.items()))
    args = [a.format(missing=tmp_path / "none.toml", nokey=nokey, mainnet=mainnet) for a in args]
    r = subprocess.run([sys.executable, "-m", "hftctl", "connector", *args], capture_output=True,
                       text=True, timeout=60, cwd=__import__("pathlib").Path(__file__).parent.parent)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert lines[-1].startswith("error: ") and expect in lines[-1], r.stderr


def test_rate_limiter_holds_requests_before_the_exchange_would_refuse():
    now = [1000.5]
    rl = RateLimiter(100, 10, 100, ratio=0.9, clock=lambda: now[0])
    rl.update({"X-MBX-USED-WEIGHT-1M": "50", "X-MBX-ORDER-COUNT-10S": "9"})
    assert rl.wait_for(is_order=False) == 0            # weight is fine
    assert 0 < rl.wait_for(is_order=True) <= 10        # order budget of this 10 s window nearly spent
    rl.update({"X-MBX-USED-WEIGHT-1M": "95"})
    assert rl.wait_for(is_order=False) == pytest.approx(1020 - 1000.5 + 0.05)   # until the minute rolls
    now[0] = 1021.0                                    # new windows: fresh budgets
    assert rl.wait_for(is_order=True) == 0


def test_final_orders_are_forgotten_after_a_while_and_open_ones_never():
    table = OrderTable("p")
    done = OrderRecord(1, 1, 5, "p-1-1-5", INST, 1, 100.0, 1.0, "limit", "gtc")
    live = OrderRecord(1, 1, 6, "p-1-1-6", INST, 1, 100.0, 1.0, "limit", "gtc")
    unknown = OrderRecord(1, 1, 7, "p-1-1-7", INST, 1, 100.0, 1.0, "limit", "gtc", outcome_unknown=True)
    for r in (done, live, unknown):
        table.add(r)
    table.apply(_upd("canceled", 0.0, cid="p-1-1-5"))
    table.apply(_upd("new", 0.0, cid="p-1-1-6"))
    table.local_update(unknown, "rejected", "outcome unknown", 0, None)
    unknown.reuse_after = done.final_at + 1000
    assert table.prune(done.final_at + 30) == 0           # too recent
    assert table.prune(done.final_at + 61) == 1           # the cancelled one goes
    assert table.get(1, 5) is None and "p-1-1-5" not in table.by_cid
    assert table.get(1, 6) is live and table.get(1, 7) is unknown   # open, and revivable, stay
    assert table.apply(_upd("filled", 1.0, cid="p-1-1-5")) is None  # a late event: not ours any more
    assert table.prune(done.final_at + 2000) == 1 and table.get(1, 6) is live
