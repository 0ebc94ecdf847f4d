"""Binance spot as hftctl registers it."""

from hftctl.exchanges.binance.spot.venues import VENUES
from hftctl.exchanges.descriptor import ExchangeDescriptor

DESCRIPTOR = ExchangeDescriptor("binancespot", "Binance spot", VENUES, __package__)
