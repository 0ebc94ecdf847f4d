"""Binance COIN-M wire messages that differ from USD-M's (conventions:
``hftctl.exchanges.binance.common.schemas``): the depth diff, bookTicker and REST depth snapshot
carry the pair ``ps`` / ``pair`` too. Trades, aggregate trades, mark price and liquidation
messages are USD-M's (``futures/schemas.py``).

Sources (checked 2026-12-01): COIN-M "Diff. Book Depth Streams", "Individual Symbol Book Ticker
Streams", REST "Order Book" (the official SDK's models, 2026-08-21, list the fields), and the
shared COIN-M recording made by hftbacktest's collector (2024-08-08), whose frames these match.
"""

from __future__ import annotations

import msgspec

from hftctl.exchanges.binance.common.schemas import Dec, Level


class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    """``<symbol>@depth[@100ms|@0ms]``."""

    E: int              # event time, ms
    T: int              # transaction time, ms
    s: str              # symbol, e.g. BTCUSD_PERP
    ps: str             # pair, e.g. BTCUSD
    U: int              # first update id in event
    u: int              # final update id in event
    pu: int             # final update id in the previous event of this stream
    b: list[Level]      # bids to update
    a: list[Level]      # asks to update


class BookTicker(msgspec.Struct, kw_only=True):
    """``<symbol>@bookTicker``: COIN-M sends ``u`` before ``e`` (the recording shows it), so ``e``
    is a plain field here rather than a tag (a tag is always encoded first)."""

    u: int              # order book update id
    e: str = "bookTicker"
    s: str              # symbol
    ps: str             # pair
    b: Dec              # best bid price
    B: Dec              # best bid qty
    a: Dec              # best ask price
    A: Dec              # best ask qty
    T: int              # transaction time, ms
    E: int              # event time, ms


class DepthSnapshot(msgspec.Struct):
    """REST ``GET /dapi/v1/depth``, in the recorded key order (E and T before the names)."""

    lastUpdateId: int
    E: int              # message output time, ms
    T: int              # transaction time, ms
    symbol: str
    pair: str
    bids: list[Level]
    asks: list[Level]
