"""Binance USD-M futures recordings to event rows, exactly as hftbacktest 2.4.4 does (see
``hftctl.exchanges.binance.common.convert``)."""

from __future__ import annotations

from hftctl.exchanges.binance.common.convert import BinanceMapper


class BinanceFuturesMapper(BinanceMapper):
    name = "binancefutures"
    parallel_safe = True


MAPPER = BinanceFuturesMapper
