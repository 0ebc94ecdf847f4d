"""Binance COIN-M recordings to event rows: hftbacktest 2.4.4 converts them with its futures
converter (``binancefutures.convert``), so the rows are USD-M's; only telling the two apart
differs (``common.convert.coin_margined``)."""

from __future__ import annotations

from hftctl.exchanges.binance.common.convert import BinanceMapper


class BinanceCoinmMapper(BinanceMapper):
    name = "binancefuturescm"
    parallel_safe = True
    coin_margined = True


MAPPER = BinanceCoinmMapper
