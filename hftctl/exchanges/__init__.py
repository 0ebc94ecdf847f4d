"""Every exchange hftctl speaks, registered once; the rest of hftctl goes through this module.

Exchange names, URLs and wire formats live in the exchange folders below (``binance/futures``,
``binance/coinm``, ``binance/spot``, ``bybit``); nothing outside ``hftctl/exchanges`` names an exchange (a test
checks it). Adding an exchange means adding a folder and one line here.
"""

from __future__ import annotations

from hftctl.errors import HftctlError
from hftctl.exchanges.binance.coinm.descriptor import DESCRIPTOR as _BINANCE_COINM
from hftctl.exchanges.binance.futures.descriptor import DESCRIPTOR as _BINANCE_FUTURES
from hftctl.exchanges.binance.spot.descriptor import DESCRIPTOR as _BINANCE_SPOT
from hftctl.exchanges.bybit.descriptor import DESCRIPTOR as _BYBIT
from hftctl.exchanges.descriptor import ExchangeDescriptor
from hftctl.exchanges.venues import Venue, parse_stand_in

DESCRIPTORS: dict[str, ExchangeDescriptor] = {d.name: d for d in (_BINANCE_FUTURES, _BINANCE_SPOT, _BYBIT,
                                                                   _BINANCE_COINM)}
NAMES: tuple[str, ...] = tuple(DESCRIPTORS)
DEFAULT: str = NAMES[0]     # the testnet guide's exchange: the sim's and the demo's default


def get(name: str) -> ExchangeDescriptor:
    """The descriptor of ``name``, or a one-line error listing the known ones."""
    d = DESCRIPTORS.get(name)
    if d is None:
        raise HftctlError(f"unknown exchange {name!r} (expected one of {', '.join(NAMES)})")
    return d


def venue(exchange: str, name: str | None = None, stand_in: str | None = None) -> Venue:
    """``exchange``'s venue ``name`` (its connector default if None), with its official URLs.
    ``stand_in`` (``HOST:PORT``, loopback only) serves the same URL set from a local stand-in such
    as ``hftctl sim``: what tests use to exercise a venue's URLs without leaving the machine."""
    table = get(exchange).venues
    try:
        chosen = table[name or table.default]
    except HftctlError as e:
        raise HftctlError(f"{exchange}: {e}") from None
    return chosen.on(*parse_stand_in(stand_in)) if stand_in else chosen


def detect(sample: bytes, lines: int = 500) -> str | None:
    """Which exchange wrote a recording, from its first lines (``<local_ts> <message>`` each):
    every exchange's converter mapper votes on each message; None if nobody recognises any."""
    mappers = {name: d.mapper() for name, d in DESCRIPTORS.items()}
    votes = dict.fromkeys(mappers, 0)
    for line in sample.split(b"\n")[:lines]:
        msg = line.partition(b" ")[2].strip()
        for name, mapper in mappers.items():
            if mapper.recognises(msg):
                votes[name] += 1
    best = max(votes, key=lambda k: votes[k])
    return best if votes[best] else None


def test_hosts() -> set[str]:
    """Every documented testnet/demo host of every exchange (the mainnet guard's allow list)."""
    return set().union(*(d.venues.test_hosts() for d in DESCRIPTORS.values()))


def money_hosts() -> set[str]:
    """Every documented host of every exchange where orders move real money."""
    return set().union(*(d.venues.money_hosts() for d in DESCRIPTORS.values()))


def check_test_venue(urls: dict[str, str], allow_mainnet: bool, what: str = "trade real money") -> None:
    """Refuse URLs that are not loopback or a known test host unless ``allow_mainnet``."""
    from hftctl.exchanges.venues import check_test_venue as check
    check(urls, test_hosts(), money_hosts(), allow_mainnet, what)
