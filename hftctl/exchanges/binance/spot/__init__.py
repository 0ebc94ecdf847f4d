"""Binance spot (``binancespot``): its descriptor is in ``descriptor.py``."""
