"""Helpers for the sim tests: a plain aiohttp client that signs like a user's program would.

(No tests here; the name keeps it among the sim helper's files.)"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from hftctl.exchanges.base import NullSink
from hftctl.exchanges.binance.common.signing import binance_signature

KEY = "hftctl-sim-key"
SECRET = "hftctl-sim-secret"
TAKER = {"key": "taker-key", "secret": "taker-secret"}


def two_accounts(spread_ticks: int) -> str:
    """A sim config: the default account (the maker, KEY/SECRET) and a taker (TAKER) on a frozen
    synthetic market, so fills come only from the taker's orders, in queue order."""
    return f"""
[[accounts]]
name = "maker"
api_key = "{KEY}"
secret = "{SECRET}"

[[accounts]]
name = "taker"
api_key = "{TAKER['key']}"
secret = "{TAKER['secret']}"

[synthetic]
move_prob = 0.0        # the touch never moves and nothing trades: fills come only from users
trades_per_s = 0.0
spread_ticks = {spread_ticks}
"""


class OrderSink(NullSink):
    """What the connector would receive of an exchange client's order updates."""

    def __init__(self) -> None:
        self.updates: list = []

    def order(self, update) -> None:
        self.updates.append(update)

    def of(self, cid: str) -> list:
        return [u for u in self.updates if u.client_order_id == cid]


async def until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def sign(params: dict, secret: str = SECRET, ts_ms: int | None = None) -> str:
    params = dict(params)
    params.setdefault("timestamp", ts_ms if ts_ms is not None else int(time.time() * 1000))
    query = urlencode(params)
    return f"{query}&signature={binance_signature(secret, query)}"


async def signed(session: aiohttp.ClientSession, method: str, base: str, path: str, params: dict,
                 key: str = KEY, secret: str = SECRET, ts_ms: int | None = None):
    """Returns (status, json body, headers)."""
    # encoded=True: send the query exactly as signed (yarl would otherwise re-quote it)
    url = URL(f"{base}{path}?{sign(params, secret, ts_ms)}", encoded=True)
    async with session.request(method, url, headers={"X-MBX-APIKEY": key}) as r:
        return r.status, await r.json(), r.headers


async def next_event(ws, predicate, timeout: float = 5.0) -> dict:
    """The next JSON text frame ``predicate`` accepts (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        d = orjson.loads(msg.data)
        if predicate(d):
            return d


async def public(session: aiohttp.ClientSession, base: str, path: str, params: dict | None = None,
                 method: str = "GET", key: str | None = None):
    headers = {"X-MBX-APIKEY": key} if key else {}
    async with session.request(method, f"{base}{path}", params=params or {}, headers=headers) as r:
        return r.status, await r.json(), r.headers


class LocalBook:
    """A client-side book rebuilt the way Binance's docs say: snapshot, then diffs with u > id."""

    def __init__(self, snapshot: dict) -> None:
        self.last = snapshot["lastUpdateId"]
        self.bids = {p: q for p, q in snapshot["bids"]}
        self.asks = {p: q for p, q in snapshot["asks"]}
        self.synced = False

    def apply(self, d: dict) -> None:
        if self.stale(d):
            return
        self.check_sequence(d)
        for side, levels in ((self.bids, d["b"]), (self.asks, d["a"])):
            for p, q in levels:
                if float(q) == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        self.last = d["u"]

    def stale(self, d: dict) -> bool:
        return d["u"] < self.last

    def check_sequence(self, d: dict) -> None:
        if not self.synced:
            # Binance USD-M: the first processed event has U <= lastUpdateId <= u
            assert d["U"] <= self.last <= d["u"], (d["U"], d["u"], self.last)
            self.synced = True
        else:
            assert d["pu"] == self.last, ("gap", d["pu"], self.last)

    def levels(self) -> tuple[list, list]:
        bids = sorted(([p, q] for p, q in self.bids.items()), key=lambda x: -float(x[0]))
        asks = sorted(([p, q] for p, q in self.asks.items()), key=lambda x: float(x[0]))
        return bids, asks
