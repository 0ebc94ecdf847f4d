"""Binance USD-M futures (``binancefutures``): its descriptor is in ``descriptor.py``."""
