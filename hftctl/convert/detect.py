"""Which exchange wrote a recording, told from the messages themselves (not the file name).

Bybit v5 messages carry a ``topic``; Binance messages come in a ``{"stream": ...}`` envelope, and
futures and spot differ in their fields: futures depth updates carry ``pu`` and ``T``, futures
trades ``X``, futures bookTickers an ``e`` field -- spot's have none of these.
"""

from __future__ import annotations

import orjson

from hftctl.errors import HftctlError

EXCHANGES = ("binancefutures", "binancespot", "bybit")
SAMPLE_LINES = 500


def detect_exchange(sample: bytes, path: str) -> str:
    """Guess from the first lines of a file; raises if nothing recognisable is there."""
    votes = {name: 0 for name in EXCHANGES}
    for line in sample.split(b"\n")[:SAMPLE_LINES]:
        _, _, msg = line.partition(b" ")
        vote = _classify(msg.strip())
        if vote:
            votes[vote] += 1
    best = max(votes, key=lambda k: votes[k])
    if votes[best] == 0:
        raise HftctlError(f"{path}: cannot tell the exchange from the content "
                          "(no Binance or Bybit market-data messages in the first lines); "
                          "pass --exchange")
    return best


def _classify(msg: bytes) -> str | None:
    if msg.startswith(b'{"topic":"'):
        return "bybit"
    if not msg.startswith(b'{"stream":"'):
        return None
    try:
        data = orjson.loads(msg).get("data")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    if data.get("e") == "depthUpdate":
        return "binancefutures" if "pu" in data or "T" in data else "binancespot"
    if data.get("e") == "trade":
        return "binancefutures" if "X" in data else "binancespot"
    if "u" in data and "b" in data and "B" in data:     # bookTicker
        return "binancefutures" if "e" in data else "binancespot"
    return None
