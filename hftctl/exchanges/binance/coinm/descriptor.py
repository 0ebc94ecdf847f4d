"""Binance COIN-M futures as hftctl registers it, under hftbacktest's collector name."""

from hftctl.exchanges.binance.coinm.venues import VENUES
from hftctl.exchanges.descriptor import ExchangeDescriptor

DESCRIPTOR = ExchangeDescriptor("binancefuturescm", "Binance COIN-M futures", VENUES, __package__, trading=False)
