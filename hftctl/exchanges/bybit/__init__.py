"""Bybit v5, linear contracts (``bybit``): its descriptor is in ``descriptor.py``."""
