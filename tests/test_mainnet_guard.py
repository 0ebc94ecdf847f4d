"""The mainnet guard fails closed: only loopback and the documented testnet/demo hosts pass.

Spellings DNS treats as the same host (trailing dot, upper case, IDNA forms), ports, userinfo
and IP literals must not get a mainnet host past it, in the library check and through the real
`hftctl connector` process (one line, exit 1, nothing started), for every URL that can carry
orders or account data: the streams, REST, and the order websockets (Binance's `ws_api_url`,
Bybit's `trade_url`). `hftctl collect` records public data, which moves no money: it needs no
--allow-mainnet (test_venues.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hftctl import exchanges
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import host_of, is_loopback, normalize_host

ROOT = Path(__file__).resolve().parent.parent

# Not testnet, whatever the spelling: each must be refused without --allow-mainnet.
REFUSED = [
    "https://fapi.binance.com.",                   # trailing dot: the same host to DNS
    "wss://fstream.binance.com./ws",
    "https://api.bybit.com.",
    "https://api.bybit.com..",
    "https://api.bybit.nl",                        # regional mainnet hosts
    "https://api.bybit.eu",
    "https://api.bytick.com",
    "https://api1.binance.com",
    "https://FAPI.Binance.COM",                     # case
    "https://fapi.binance.com:443",                 # explicit port
    "wss://fstream.binance.com:9443/ws",
    "https://xn--fpi-8ma.binance.com",              # punycode lookalike of fapi (à)
    "https://f\u0430pi.binance.com",                # Cyrillic 'а' lookalike
    "https://demo-fapi.binance.com.evil.com",       # a test host as a prefix
    "https://evil.com#@demo-fapi.binance.com",      # test host only after the fragment
    "https://demo-fapi.binance.com@evil.com",       # test host only as userinfo
    "http://10.0.0.1:8080",                         # IP literals that are not loopback
    "http://0.0.0.0:17001",
    "http://[2001:db8::1]:17001",
    "http://[::]:17001",
    "http://127.0.0.1.nip.io",                      # resolves to loopback today, not a loopback name
    "http://localhost.evil.com",
    "http://foo.localhost",                         # not every resolver maps *.localhost to loopback
    "http://2130706433",                            # 127.0.0.1 as a decimal: not a literal we trust
]

# Test hosts and loopback in any spelling that is the same host.
ALLOWED = [
    "https://demo-fapi.binance.com",
    "https://DEMO-FAPI.binance.com.",
    "https://demo-fapi.binance.com:443",
    "wss://fstream.binancefuture.com./ws",
    "https://api-testnet.bybit.com.",
    "https://testnet.binance.vision",
    "https://user:pw@testnet.binance.vision/api",
    "http://127.0.0.1:17001",
    "http://127.0.0.2:17001",
    "ws://[::1]:17001/ws",
    "http://localhost:17001",
    "http://localhost.:17001",
    "http://LOCALHOST:17001",
]


@pytest.mark.parametrize("url", REFUSED)
def test_guard_refuses_every_spelling_of_a_non_test_host(url):
    with pytest.raises(HftctlError, match="--allow-mainnet"):
        exchanges.check_test_venue({"api_url": url}, allow_mainnet=False)
    exchanges.check_test_venue({"api_url": url}, allow_mainnet=True)   # explicit consent passes


@pytest.mark.parametrize("url", ALLOWED)
def test_guard_allows_test_hosts_and_loopback_in_any_spelling(url):
    exchanges.check_test_venue({"api_url": url}, allow_mainnet=False)


def test_known_mainnet_hosts_are_named_as_mainnet():
    for url in ("https://fapi.binance.com.", "https://API.BYBIT.NL", "wss://stream.bybit.com./v5/private"):
        with pytest.raises(HftctlError, match="is a mainnet URL"):
            exchanges.check_test_venue({"u": url}, allow_mainnet=False)


def test_no_venue_host_is_both_test_and_money():
    """A host on both sides (a demo venue reading mainnet's public stream) counts as mainnet."""
    assert not exchanges.test_hosts() & exchanges.money_hosts()
    for host in exchanges.money_hosts():
        assert not is_loopback(host)


def test_normalization():
    assert normalize_host("FAPI.binance.COM.") == "fapi.binance.com"
    assert normalize_host("[::1]") == "::1"
    assert normalize_host("b\u00fccher.example") == "xn--bcher-kva.example"
    assert host_of("wss://fstream.binance.com.:443/ws") == "fstream.binance.com"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost.")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("x.localhost")
    with pytest.raises(HftctlError):
        host_of("https://")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)


def _one_line_refusal(r: subprocess.CompletedProcess, url: str) -> None:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--allow-mainnet" in lines[0], r.stderr
    assert url in lines[0]


# The attack's own URLs and one of each other class; the library tests above cover the rest.
CLI_URLS = ["https://fapi.binance.com.", "wss://fstream.binance.com./ws", "https://api.bybit.com.",
            "https://api.bybit.nl", "https://xn--fpi-8ma.binance.com", "http://[2001:db8::1]:9"]


@pytest.mark.parametrize("url", CLI_URLS)
def test_connector_refuses_a_mainnet_config(tmp_path, url):
    ws = url.startswith("ws")
    if "bybit" in url:
        cfg = {"public_url": "wss://stream-testnet.bybit.com/v5/public/linear",
               "private_url": "wss://stream-testnet.bybit.com/v5/private",
               "trade_url": "wss://stream-testnet.bybit.com/v5/trade", "rest_url": url}
        exchange = "bybit"
    else:
        cfg = {"stream_url": url if ws else "ws://127.0.0.1:9/ws",
               "api_url": "http://127.0.0.1:9" if ws else url}
        exchange = "binancefutures"
    cfg |= {"order_prefix": "t", "api_key": "k", "secret": "s"}
    path = tmp_path / "c.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in cfg.items()))
    _one_line_refusal(_run("connector", "guardtest", exchange, str(path)), url)


# The order websockets, whose URL a config may name apart from the streams'.
ORDER_SOCKETS = [
    ("binancefutures", "ws_api_url", "wss://ws-fapi.binance.com./ws-fapi/v1"),
    ("binancespot", "ws_api_url", "wss://ws-api.binance.com:443/ws-api/v3"),
    ("bybit", "trade_url", "wss://stream.bybit.com./v5/trade"),
    ("bybit", "trade_url", "wss://stream.bybit.nl/v5/trade"),
]


@pytest.mark.parametrize("exchange,key,url", ORDER_SOCKETS)
def test_connector_refuses_a_mainnet_order_websocket(tmp_path, exchange, key, url):
    if exchange == "bybit":
        cfg = {"public_url": "ws://127.0.0.1:9/v5/public/linear", "private_url": "ws://127.0.0.1:9/v5/private",
               "rest_url": "http://127.0.0.1:9"}
    else:
        cfg = {"stream_url": "ws://127.0.0.1:9/ws", "api_url": "http://127.0.0.1:9"}
    cfg |= {key: url, "order_prefix": "t", "api_key": "k", "secret": "s"}
    path = tmp_path / "c.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in cfg.items()))
    _one_line_refusal(_run("connector", "guardtest", exchange, str(path)), url)
