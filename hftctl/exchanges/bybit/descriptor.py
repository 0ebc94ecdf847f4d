"""Bybit v5 linear (USDT perpetuals) as hftctl registers it."""

from hftctl.exchanges.bybit.venues import VENUES
from hftctl.exchanges.descriptor import ExchangeDescriptor

DESCRIPTOR = ExchangeDescriptor("bybit", "Bybit v5 linear", VENUES, __package__)
