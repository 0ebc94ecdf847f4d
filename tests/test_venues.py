"""Venues: ``--venue mainnet|testnet|demo`` (and the ``venue`` config key) give every exchange's
official URL set, the collector records mainnet by default without --allow-mainnet, the connector
still refuses real money without it, and each venue's URL set works against the sim standing in
for its hosts (``--stand-in``, loopback only)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hftctl import exchanges
from hftctl.collector.options import resolve_venue
from hftctl.connector.run import load
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import DEMO, MAINNET, TESTNET, host_of, is_loopback, parse_stand_in
from hftctl.sim.process import start_sim
from tests.connector_procs import connector, wait_for
from tests.conftest import ROOT

KEYS = 'order_prefix = "t"\napi_key = "hftctl-sim-key"\nsecret = "hftctl-sim-secret"\n'
TRADING = [n for n, d in exchanges.DESCRIPTORS.items() if d.venues.config_urls is not None]
ALL_VENUES = [(n, v) for n, d in exchanges.DESCRIPTORS.items() for v in d.venues.venues]


def keys_only(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(KEYS + extra)
    return path


# --- the tables --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(exchanges.NAMES))
def test_each_table_has_mainnet_and_testnet_with_sources(name):
    table = exchanges.get(name).venues
    assert table.venues[MAINNET].real_money and not table.venues[TESTNET].real_money
    for v in table.venues.values():
        assert v.source and v.checked == "2026-12-01", v
        assert v.rest.startswith("https://") and all(u.startswith("wss://") for u in v.ws.values()), v
        if v.real_money:
            assert v.hosts() <= table.money_hosts()


@pytest.mark.parametrize("name,venue", ALL_VENUES)
def test_test_venues_send_nothing_to_a_mainnet_host_but_documented_public_data(name, venue):
    """A demo or testnet venue's URLs are all test hosts, except a public market-data stream the
    docs say comes from mainnet (Bybit demo): that one only reads."""
    v = exchanges.get(name).venues.venues[venue]
    if v.real_money:
        return
    urls = {"rest": v.rest, **v.ws}
    for route, url in urls.items():
        if route == "public" and v.note:
            continue
        assert host_of(url) in exchanges.test_hosts(), (route, url)


def test_venue_notes_say_what_is_missing():
    assert "public market data comes from mainnet" in exchanges.venue("bybit", DEMO).note
    assert "trade" not in exchanges.venue("bybit", DEMO).ws
    assert exchanges.venue("binancefutures", DEMO).rest == exchanges.venue("binancefutures", TESTNET).rest
    assert "testnet" in exchanges.venue("binancefutures", DEMO).note


def test_stand_in_is_loopback_only_and_keeps_the_paths():
    assert parse_stand_in("127.0.0.1:17001") == ("127.0.0.1", 17001)
    assert parse_stand_in("[::1]:80") == ("::1", 80)
    for bad in ("fapi.binance.com:443", "10.0.0.1:80", "0.0.0.0:1", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(HftctlError):
            parse_stand_in(bad)
    local = exchanges.venue("binancespot", MAINNET, "127.0.0.1:9")
    assert local.rest == "http://127.0.0.1:9" and local.ws["api"] == "ws://127.0.0.1:9/ws-api/v3"
    assert all(is_loopback(h) for h in local.hosts()) and local.real_money


# --- the connector: venue, config key, explicit URLs, the guard ---------------------------------

@pytest.mark.parametrize("name", TRADING)
def test_connector_config_without_urls_uses_the_testnet(tmp_path, name):
    cfg, *_ = load(name, keys_only(tmp_path))
    assert cfg.urls() == {**{k: "" for k in cfg.urls()},
                          **exchanges.get(name).venues.config_urls(exchanges.venue(name, TESTNET))}


@pytest.mark.parametrize("name", TRADING)
def test_connector_venue_key_and_flag(tmp_path, name):
    table = exchanges.get(name).venues
    cfg, *_ = load(name, keys_only(tmp_path, 'venue = "demo"\n'))
    assert set(cfg.urls().values()) - {""} == set(table.config_urls(table.venues[DEMO]).values())
    cfg, *_ = load(name, keys_only(tmp_path, 'venue = "demo"\n'), venue=TESTNET)     # the flag wins
    assert set(cfg.urls().values()) - {""} == set(table.config_urls(table.venues[TESTNET]).values())


@pytest.mark.parametrize("name", TRADING)
def test_connector_refuses_the_mainnet_venue_without_allow_mainnet(tmp_path, name):
    with pytest.raises(HftctlError, match="venue mainnet trades real money; pass --allow-mainnet"):
        load(name, keys_only(tmp_path), venue=MAINNET)
    with pytest.raises(HftctlError, match="pass --allow-mainnet"):          # a stand-in changes nothing
        load(name, keys_only(tmp_path), venue=MAINNET, stand_in="127.0.0.1:9")
    with pytest.raises(HftctlError, match="pass --allow-mainnet"):
        load(name, keys_only(tmp_path, 'venue = "mainnet"\n'))
    cfg, *_ = load(name, keys_only(tmp_path), allow_mainnet=True, venue=MAINNET)
    assert set(cfg.urls().values()) - {""} == set(exchanges.get(name).venues.config_urls(
        exchanges.venue(name, MAINNET)).values())


def test_connector_explicit_urls_override_and_conflict_with_the_flag(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('stream_url = "ws://127.0.0.1:9"\napi_url = "http://127.0.0.1:9"\nvenue = "mainnet"\n' + KEYS)
    cfg, *_ = load("binancefutures", path)             # explicit loopback URLs: no real money
    assert cfg.urls() == {"stream_url": "ws://127.0.0.1:9", "api_url": "http://127.0.0.1:9",
                          "ws_api_url": "ws://127.0.0.1:9/ws-fapi/v1"}     # derived: the same host
    with pytest.raises(HftctlError, match="names its URLs \\(api_url, stream_url\\)"):
        load("binancefutures", path, venue=TESTNET)
    path.write_text('api_url = "https://fapi.binance.com"\nstream_url = "wss://fstream.binance.com"\n' + KEYS)
    with pytest.raises(HftctlError, match="is a mainnet URL; pass --allow-mainnet"):
        load("binancefutures", path)


def test_the_guard_leaves_public_data_alone_and_nothing_else(tmp_path):
    """Bybit demo reads mainnet's public stream: allowed, whether from the venue or spelled out;
    a private or REST URL on a mainnet host is not."""
    demo = exchanges.get("bybit").venues.config_urls(exchanges.venue("bybit", DEMO))
    path = tmp_path / "c.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in demo.items()) + KEYS)
    cfg, *_ = load("bybit", path)
    assert cfg.public_url.startswith("wss://stream.bybit.com/") and cfg.trade_url == ""
    for key in ("private_url", "rest_url"):
        bad = {**demo, key: exchanges.get("bybit").venues.config_urls(exchanges.venue("bybit", MAINNET))[key]}
        path.write_text("".join(f'{k} = "{v}"\n' for k, v in bad.items()) + KEYS)
        with pytest.raises(HftctlError, match=f"{key} = .* is a mainnet URL"):
            load("bybit", path)


def test_connector_bad_venue_is_one_line(tmp_path):
    with pytest.raises(HftctlError, match="expected one of 'mainnet', 'testnet', 'demo' for key 'venue'"):
        load("bybit", keys_only(tmp_path, 'venue = "prod"\n'))
    r = subprocess.run([sys.executable, "-m", "hftctl", "connector", "v", "bybit", str(keys_only(tmp_path)),
                        "--venue", "moon"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == \
        "error: bybit: unknown venue 'moon' (expected one of mainnet, testnet, demo)", r.stderr


# --- the collector: mainnet by default, per-URL overrides ---------------------------------------

@pytest.mark.parametrize("name", list(exchanges.NAMES))
def test_collector_defaults_to_mainnet(tmp_path, name):
    assert resolve_venue(name, None, None, None, None) == exchanges.venue(name, MAINNET)
    cfg = tmp_path / "c.toml"
    cfg.write_text('venue = "testnet"\n')
    assert resolve_venue(name, None, cfg, None, None) == exchanges.venue(name, TESTNET)


def test_collector_explicit_urls_override_the_venue():
    v = resolve_venue("binancefutures", MAINNET, None, "ws://127.0.0.1:9/ws", None)
    assert v.name == "custom" and v.ws["market"] == "ws://127.0.0.1:9/market"
    assert v.rest == exchanges.venue("binancefutures", MAINNET).rest
    v = resolve_venue("bybit", DEMO, None, None, "http://127.0.0.1:9")
    assert v.rest == "http://127.0.0.1:9" and v.ws["public"] == "wss://stream.bybit.com/v5/public/linear"


# --- every venue's URL set against the sim standing in for its hosts ----------------------------

def _recorded(out: Path) -> list[bytes]:
    return [ln.split(b" ", 1)[1] for p in sorted(out.iterdir()) for ln in gzip.decompress(p.read_bytes()).splitlines()]


@pytest.mark.parametrize("name,venue", ALL_VENUES)
def test_venue_url_set_against_the_sim(tmp_path, name, venue):
    """collect (no --allow-mainnet, also on mainnet) and the connector (--allow-mainnet on mainnet
    only) reach every service of the venue through its own URLs, served by the sim."""
    symbol = exchanges.get(name).sim().default_symbols[0].lower()
    with start_sim(name, ["--venue", venue]) as sim:
        stand_in = f"127.0.0.1:{sim.port}"
        out = tmp_path / "rec"
        r = subprocess.run([sys.executable, "-m", "hftctl", "collect", name, symbol, "--venue", venue,
                            "--stand-in", stand_in, "--out", str(out), "--duration", "2.5", "--no-progress"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert f"from {venue} (" in r.stderr
        body = b"\n".join(_recorded(out))
        if name == "bybit":
            assert b'"topic":"orderbook.1000.BTCUSDT","type":"snapshot"' in body
        else:
            assert b'"lastUpdateId"' in body and b'@depth' in body
        table = exchanges.get(name).venues
        if table.config_urls is None:
            return
        args = ["--venue", venue, "--stand-in", stand_in] + (["--allow-mainnet"] if venue == MAINNET else [])
        with connector(f"v{name[:4]}{venue[:2]}", keys_only(tmp_path), tmp_path, args=args, exchange=name) as c:
            assert "Connected to user data stream" in c.text()
            urls = table.config_urls(exchanges.venue(name, venue, stand_in))
            assert all(f"{k}={u}" in c.text() for k, u in urls.items()), c.text()
        if "trade" in exchanges.venue(name, TESTNET).ws and "trade" not in exchanges.venue(name, venue).ws:
            # a venue without a service: the sim standing in for it does not serve it either
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(f"http://127.0.0.1:{sim.port}/v5/trade", timeout=5)


def test_a_fresh_mainnet_recording_replays_without_allow_mainnet(tmp_path):
    """The sim's --replay of what `collect` just recorded from mainnet (here: the sim standing in
    for mainnet's hosts) needs no flag, and speaks the recording's exchange unless told otherwise."""
    with start_sim("binancefutures", ["--venue", MAINNET]) as sim:
        r = subprocess.run([sys.executable, "-m", "hftctl", "collect", "binancefutures", "btcusdt",
                            "--stand-in", f"127.0.0.1:{sim.port}", "--out", str(tmp_path / "rec"),
                            "--duration", "2.5", "--no-progress"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    (rec,) = (tmp_path / "rec").iterdir()
    ready = tmp_path / "ready.json"
    p = subprocess.Popen([sys.executable, "-m", "hftctl", "sim", "--replay", str(rec), "--port", "0",
                          "--ready-file", str(ready)], cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: ready.exists() or p.poll() is not None, 30, "sim ready")
        assert p.poll() is None, p.communicate()[1]
        assert json.loads(ready.read_text())["exchange"] == "binancefutures"
    finally:
        p.terminate()
        p.wait(15)
