"""Where an exchange's APIs live, per environment, and the guard that keeps tests off real money.

Each exchange folder holds one ``VenueTable`` (``venues.py``): mainnet / testnet / demo, each
with its REST base and its websocket routes (public market data, a second market route where
the exchange splits them, private user data, the websocket order API), every entry with the
official document it was checked against and the date. The connector, the collector and the sim
all read it, so a URL is written once.

``hftctl collect --venue`` (default mainnet: public data moves no money), ``hftctl connector
--venue`` / a config's ``venue`` key (default testnet) and ``hftctl sim --venue`` pick one; URLs a
user names still override it. ``--stand-in HOST:PORT`` (tests) serves a venue's URL set from a
loopback stand-in such as the sim: it can redirect a venue only to this machine.

The mainnet guard fails closed: a host is safe for placing orders only if it is loopback or one
of the documented testnet/demo hosts of some venue table; anything else (a mainnet host, a
regional mirror, a typo, a trailing-dot spelling) needs ``--allow-mainnet``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit, urlunsplit

from hftctl.errors import HftctlError

MAINNET, TESTNET, DEMO = "mainnet", "testnet", "demo"
VENUE_NAMES = (MAINNET, TESTNET, DEMO)


@dataclass(frozen=True)
class Venue:
    """One environment of one exchange."""

    name: str                        # mainnet | testnet | demo
    rest: str                        # REST base URL, no trailing slash
    ws: Mapping[str, str]            # websocket route name -> base URL (see the table's ROUTES)
    real_money: bool                 # orders here move real money
    source: str                      # official document and section the URLs were checked against
    checked: str                     # date they were checked, YYYY-MM-DD
    # Further hosts of this environment the docs name (mirrors, regional hosts); the mainnet
    # guard needs them only to say "mainnet" in its message, never to allow anything.
    other_hosts: tuple[str, ...] = ()
    # One line for users where the venue lacks a service of its own or shares another's (said
    # when it is used, e.g. "public market data comes from mainnet").
    note: str = ""

    def url(self, route: str) -> str:
        try:
            return self.ws[route]
        except KeyError:
            raise HftctlError(f"{self.name} has no {route!r} websocket route") from None

    def hosts(self) -> set[str]:
        return {host_of(u) for u in (self.rest, *self.ws.values())} | {normalize_host(h) for h in self.other_hosts}

    def on(self, host: str, port: int) -> "Venue":
        """The same venue served by a local stand-in (the sim): scheme downgraded (https -> http,
        wss -> ws), host and port replaced, paths kept; every host is then that one."""
        return replace(self, rest=_local(self.rest, host, port),
                       ws={k: _local(v, host, port) for k, v in self.ws.items()}, other_hosts=())


@dataclass(frozen=True)
class VenueTable:
    venues: Mapping[str, Venue]
    default: str = TESTNET                 # what the connector uses unless told otherwise
    # Documented test hosts that are in no venue's URLs (older testnet names still served).
    extra_test_hosts: tuple[str, ...] = ()
    routes: Mapping[str, str] = field(default_factory=dict)   # stream kind -> ws route name
    # A venue's URLs as the connector config keys of this exchange (``stream_url``, ``api_url``...);
    # None: hftctl has no connector for it.
    config_urls: Callable[[Venue], dict[str, str]] | None = None
    # Config keys whose URL carries public market data only (no orders, no account): the host
    # guard leaves them alone, as public data moves no money (Bybit demo reads mainnet's).
    public_data_keys: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Venue:
        try:
            return self.venues[name]
        except KeyError:
            if name in VENUE_NAMES:
                raise HftctlError(f"there is no {name} venue here: the exchange documents "
                                  f"{', '.join(self.venues)} only") from None
            raise HftctlError(f"unknown venue {name!r} (expected one of {', '.join(self.venues)})") from None

    def test_hosts(self) -> set[str]:
        """Hosts of the test environments, less any a real-money venue also uses (a demo venue
        may read mainnet's public data: that host must still count as mainnet)."""
        out = {normalize_host(h) for h in self.extra_test_hosts}
        for v in self.venues.values():
            if not v.real_money:
                out |= v.hosts()
        return out - self.money_hosts()

    def money_hosts(self) -> set[str]:
        out: set[str] = set()
        for v in self.venues.values():
            if v.real_money:
                out |= v.hosts()
        return out


def parse_stand_in(text: str) -> tuple[str, int]:
    """``HOST:PORT`` of a local stand-in for a venue's hosts (``hftctl sim``), loopback only: a
    stand-in can only ever point a venue's URL set at this machine, never elsewhere."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise HftctlError(f"--stand-in {text!r}: expected HOST:PORT, e.g. 127.0.0.1:17001")
    if not is_loopback(host):
        raise HftctlError(f"--stand-in {text!r}: only a loopback host can stand in for a venue")
    return host, int(port)


def _local(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    scheme = {"https": "http", "wss": "ws"}.get(parts.scheme, parts.scheme)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


# --- the guard ------------------------------------------------------------------------------

def normalize_host(host: str) -> str:
    """One spelling per host: lower case, no trailing dots, IDNA (punycode) for non-ASCII names.

    ``fapi.binance.com.`` is the same host as ``fapi.binance.com`` to DNS; comparing spellings
    instead of hosts is how a guard is bypassed.
    """
    h = host.strip().lower().rstrip(".")
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    try:
        h = h.encode("idna").decode("ascii")
    except UnicodeError:
        pass    # not a valid IDNA name: compared as given, so it can only fail closed
    return h


def host_of(url: str) -> str:
    """The normalized host of a URL; a URL without one is an error."""
    try:
        host = urlsplit(url).hostname
    except ValueError as e:
        raise HftctlError(f"{url!r} is not a valid URL: {e}") from None
    if not host:
        raise HftctlError(f"{url!r} has no host")
    return normalize_host(host)


def is_loopback(host: str) -> bool:
    """``localhost`` and loopback IP literals only: ``*.localhost`` maps to loopback only where
    the resolver follows RFC 6761, so it fails closed."""
    h = normalize_host(host)
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_test_venue(urls: Mapping[str, str], test_hosts: Iterable[str], money_hosts: Iterable[str],
                     allow_mainnet: bool, what: str = "trade real money") -> None:
    """Refuse any URL that is neither loopback nor a documented test host, unless allowed.
    ``money_hosts`` only sharpen the message (a known mainnet host is named as one)."""
    if allow_mainnet:
        return
    safe = {normalize_host(h) for h in test_hosts}
    for key, url in urls.items():
        if not url:
            continue
        host = host_of(url)
        if is_loopback(host) or host in safe:
            continue
        if host in money_hosts:
            raise HftctlError(f"{key} = {url} is a mainnet URL; pass --allow-mainnet to {what}")
        raise HftctlError(f"{key} = {url} is not a known testnet or demo host (it may be mainnet); "
                          f"pass --allow-mainnet to {what}")
