"""Binance USD-M futures as hftctl registers it."""

from hftctl.exchanges.binance.futures.venues import VENUES
from hftctl.exchanges.descriptor import ExchangeDescriptor

DESCRIPTOR = ExchangeDescriptor("binancefutures", "Binance USD-M futures", VENUES, __package__)
