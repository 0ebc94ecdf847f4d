"""Exchange name to its converter mapper; the only place the generic converter names exchanges."""

from __future__ import annotations

import importlib

from hftctl.convert.mapper import Mapper, MapOptions
from hftctl.errors import HftctlError

_MAPPERS = {
    "binancefutures": ("hftctl.exchanges.binancefutures.convert", "BinanceFuturesMapper"),
    "binancespot": ("hftctl.exchanges.binancespot.convert", "BinanceSpotMapper"),
    "bybit": ("hftctl.exchanges.bybit.convert", "BybitMapper"),
}


def make_mapper(exchange: str, options: MapOptions) -> Mapper:
    try:
        module, cls = _MAPPERS[exchange]
    except KeyError:
        raise HftctlError(f"unknown exchange {exchange!r} (expected one of {', '.join(_MAPPERS)})") from None
    return getattr(importlib.import_module(module), cls)(options)
